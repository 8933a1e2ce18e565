"""What an import compares a spreadsheet with: the project's tasks as plain rows (three statements)."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from models.enums import TaskStatus
from models.project import Member, Project
from models.task import Task, department_names, task_dependency


class SheetTaskRow(NamedTuple):
    id: int
    number: int
    title: str
    wbs_code: str | None
    owner: str | None
    departments: tuple[str, ...]  # the primary first
    start_date: date | None
    due_date: date | None
    deliverable: str | None
    acceptance: str | None
    parent: int | None  # the parent's number
    predecessors: tuple[int, ...]  # numbers, ascending
    cancelled: bool


def sheet_task_rows(session: Session, /, *, project_id: int) -> list[SheetTaskRow]:
    owner, parent = aliased(Member), aliased(Task)
    rows = session.execute(
        select(Task.id, Task.number, Task.title, Task.wbs_code, owner.name, Task.start_date, Task.due_date,
               Task.deliverable, Task.acceptance_criteria, parent.number, Task.status)
        .outerjoin(owner, owner.id == Task.owner_id)
        .outerjoin(parent, parent.id == Task.parent_id)
        .where(Task.project_id == project_id)
        .order_by(Task.number)
    ).all()
    departments = department_names(session, project_id=project_id)
    successor, predecessor = aliased(Task), aliased(Task)
    predecessors: dict[int, list[int]] = {}
    for task_id, number in session.execute(
        select(task_dependency.c.task_id, predecessor.number)
        .join(successor, successor.id == task_dependency.c.task_id)
        .join(predecessor, predecessor.id == task_dependency.c.predecessor_id)
        .where(successor.project_id == project_id)
    ):
        predecessors.setdefault(task_id, []).append(number)
    return [
        SheetTaskRow(task_id, number, title, wbs, owner_name, tuple(departments.get(task_id, ())), start, due,
                     deliverable, acceptance, parent_no, tuple(sorted(predecessors.get(task_id, ()))),
                     status == TaskStatus.CANCELLED)
        for task_id, number, title, wbs, owner_name, start, due, deliverable, acceptance, parent_no, status in rows
    ]


def list_projects(session: Session, /) -> list[Project]:
    """Every project, newest first (closed ones too: an operator may export a finished project)."""
    return list(session.scalars(select(Project).order_by(Project.id.desc())))
