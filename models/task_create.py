"""A new task: its number taken, its row inserted, its `created` history row written — the one way a
task comes to be, for `/任务 新增` and for an import alike."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from models.base import insert_now
from models.enums import TaskStatus
from models.history import record_change
from models.project import Member, Project, allocate_number
from models.task import Task


def create_task(
    session: Session,
    /,
    project: Project,
    *,
    title: str,
    actor: Member | None,
    at: datetime,
    owner_id: int | None = None,
    department_id: int | None = None,
    start: date | None = None,
    due: date | None = None,
    deliverable: str | None = None,
    acceptance: str | None = None,
    wbs_code: str | None = None,
    parent_id: int | None = None,
    number: int | None = None,
) -> Task:
    """`number`: one taken already (`allocate_number(…, count=n)` for many tasks at once)."""
    task = Task(
        project_id=project.id,
        number=number if number is not None else allocate_number(session, project, "next_task_no"),
        title=title,
        owner_id=owner_id,
        department_id=department_id,
        start_date=start,
        due_date=due,
        status=TaskStatus.TODO,
        progress=0,
        deliverable=deliverable,
        acceptance_criteria=acceptance,
        wbs_code=wbs_code,
        parent_id=parent_id,
        created_by_id=actor.id if actor else None,
        created_at=at,
        updated_at=at,
        status_changed_at=at,
    )
    insert_now(session, task)
    record_change(session, project_id=project.id, entity="task", entity_id=task.id, actor=actor, at=at,
                  field="created", new=title)
    return task
