"""What an import compares a spreadsheet with: the project's tasks as plain rows (one statement)."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from models.project import Department, Member, Project
from models.task import Task


class SheetTaskRow(NamedTuple):
    number: int
    title: str
    owner: str | None
    department: str | None
    start_date: date | None
    due_date: date | None
    deliverable: str | None


def sheet_task_rows(session: Session, /, *, project_id: int) -> list[SheetTaskRow]:
    owner, department = aliased(Member), aliased(Department)
    rows = session.execute(
        select(Task.number, Task.title, owner.name, department.name, Task.start_date, Task.due_date, Task.deliverable)
        .outerjoin(owner, owner.id == Task.owner_id)
        .outerjoin(department, department.id == Task.department_id)
        .where(Task.project_id == project_id)
        .order_by(Task.number)
    ).all()
    return [SheetTaskRow(*row) for row in rows]


def list_projects(session: Session, /) -> list[Project]:
    """Every project, newest first (closed ones too: an operator may export a finished project)."""
    return list(session.scalars(select(Project).order_by(Project.id.desc())))
