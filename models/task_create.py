"""New tasks: numbers taken, rows inserted, each one's `created` history row written — the one way a
task comes to be, for `/任务 新增` (`create_task`, one) and for an import (`create_tasks`, many in a
few statements: 2,000 rows must not cost 4,000 round trips)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from models.base import insert_now
from models.enums import TaskStatus
from models.history import record_change, record_changes
from models.project import Member, Project, allocate_number
from models.task import Task, task_dependency


@dataclass(frozen=True, slots=True)
class NewTask:
    title: str
    owner_id: int | None = None
    department_id: int | None = None
    start: date | None = None
    due: date | None = None
    deliverable: str | None = None
    acceptance: str | None = None
    wbs_code: str | None = None
    parent_id: int | None = None
    milestone: bool = False


def _values(project: Project, spec: NewTask, *, number: int, actor: Member | None, at: datetime) -> dict[str, Any]:
    return {
        "project_id": project.id, "number": number, "title": spec.title, "owner_id": spec.owner_id,
        "department_id": spec.department_id, "start_date": spec.start, "due_date": spec.due,
        "status": TaskStatus.TODO, "progress": 0, "deliverable": spec.deliverable,
        "acceptance_criteria": spec.acceptance, "wbs_code": spec.wbs_code, "parent_id": spec.parent_id,
        "created_by_id": actor.id if actor else None, "created_at": at, "updated_at": at, "status_changed_at": at,
        "is_milestone": spec.milestone,
    }


def create_task(session: Session, /, project: Project, spec: NewTask, *, actor: Member | None, at: datetime) -> Task:
    task = Task(**_values(project, spec, number=allocate_number(session, project, "next_task_no"), actor=actor, at=at))
    insert_now(session, task)
    record_change(session, project_id=project.id, entity="task", entity_id=task.id, actor=actor, at=at,
                  field="created", new=spec.title)
    return task


def create_tasks(
    session: Session, /, project: Project, specs: list[NewTask], *, actor: Member | None, at: datetime,
    note: str | None = None,
) -> list[Task]:
    """Many new tasks, numbered consecutively in the given order: one counter step, one INSERT … RETURNING
    for the rows, one for their history; the tasks loaded back in that order."""
    if not specs:
        return []
    first = allocate_number(session, project, "next_task_no", count=len(specs))
    rows = [_values(project, spec, number=first + i, actor=actor, at=at) for i, spec in enumerate(specs)]
    table = Task.__table__
    ids = [row.id for row in session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)]
    record_changes(session, project_id=project.id, entity="task", actor=actor, at=at,
                   changes=[(task_id, "created", None, spec.title, note) for task_id, spec in zip(ids, specs, strict=True)])
    loaded = {t.id: t for t in session.scalars(select(Task).where(Task.id.in_(ids)))}
    return [loaded[task_id] for task_id in ids]


def link_new_tasks(
    session: Session, /, tasks: Sequence[Task], *, parents: Mapping[int, int], edges: Sequence[tuple[int, int]]
) -> None:
    """Parents (task id → parent id) and dependencies ((task id, predecessor id)) of tasks `create_tasks`
    just made: one statement each for all of them, the loaded tasks given their parent."""
    if parents:
        table = Task.__table__
        session.execute(
            update(table).where(table.c.id == bindparam("_id")).values(parent_id=bindparam("parent_id")),
            [{"_id": task_id, "parent_id": parent_id} for task_id, parent_id in parents.items()],
        )
        by_id = {task.id: task for task in tasks}
        for task_id, parent_id in parents.items():
            set_committed_value(by_id[task_id], "parent_id", parent_id)
    if edges:
        session.execute(insert(task_dependency), [{"task_id": t, "predecessor_id": p} for t, p in edges])
