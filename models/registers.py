"""The project's registers as query functions: task lists with filters, risks, action items, decisions,
members, and the counts the lists show. Each returns rows and, for lists, the total, in a constant number
of statements whatever the project's size (lists are the first `limit` rows)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, bindparam, case, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session, joinedload

from models.enums import OPEN_TASK_STATUSES, ActionStatus, RiskLevel, RiskStatus, Role, TaskStatus
from models.meeting import ActionItem, Decision
from models.project import Member
from models.risk import Risk
from models.task import Task, task_department

Row = TypeVar("Row")


@dataclass(frozen=True, slots=True)
class Page(Generic[Row]):
    rows: Sequence[Row]
    total: int


def _count(session: Session, query: Select[Any]) -> int:
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


# ---------------------------------------------------------------------------- tasks


class TaskFilter(StrEnum):
    OPEN = "open"
    OWNER = "owner"  # open tasks of `owner_id`
    BLOCKED = "blocked"
    OVERDUE = "overdue"  # open and due before `today`
    DONE = "done"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class TaskListRow:
    """What a task list line shows (columns, not Task objects: loading 50 entities costs more than the query)."""

    number: int
    status: TaskStatus
    progress: int
    title: str
    owner_name: str | None
    due_date: date | None
    blocked_reason: str | None
    is_milestone: bool = False


def list_tasks(
    session: Session,
    /,
    *,
    project_id: int,
    kind: TaskFilter,
    owner_id: int | None = None,
    department_id: int | None = None,
    today: date | None = None,
    limit: int,
) -> Page[TaskListRow]:
    """Overdue first, then by due date (undated last), then by number; the total as a window count."""
    params: dict[str, object] = {"project_id": project_id, "limit": limit}
    if department_id is not None:
        params["department_id"] = department_id
    if kind == TaskFilter.OWNER:
        params["owner_id"] = owner_id
    elif kind == TaskFilter.OVERDUE:
        params["today"] = today
    rows = session.execute(_task_list(kind, department_id is not None), params).all()
    return Page([TaskListRow(*row[:-1]) for row in rows], rows[0][-1] if rows else 0)


@cache
def _task_list(kind: TaskFilter, by_department: bool) -> Select[tuple[Any, ...]]:
    """One statement per filter, built once (the lists run for every `/任务 列表`)."""
    conditions: list[ColumnElement[bool]] = [Task.project_id == bindparam("project_id")]
    if by_department:
        cooperating = select(task_department.c.task_id).where(task_department.c.department_id == bindparam("department_id"))
        conditions.append(or_(Task.department_id == bindparam("department_id"), Task.id.in_(cooperating)))
    if kind in (TaskFilter.OPEN, TaskFilter.OWNER, TaskFilter.OVERDUE):
        conditions.append(Task.status.in_(OPEN_TASK_STATUSES))
    if kind == TaskFilter.OWNER:
        conditions.append(Task.owner_id == bindparam("owner_id"))
    elif kind == TaskFilter.OVERDUE:
        conditions.append(Task.due_date < bindparam("today"))
    elif kind == TaskFilter.BLOCKED:
        conditions.append(Task.status == TaskStatus.BLOCKED)
    elif kind == TaskFilter.DONE:
        conditions.append(Task.status == TaskStatus.DONE)
    columns = (
        Task.number, Task.status, Task.progress, Task.title, Member.name, Task.due_date, Task.blocked_reason,
        Task.is_milestone,
    )
    return (
        select(*columns, func.count().over())
        .outerjoin(Member, Member.id == Task.owner_id)
        .where(*conditions)
        .order_by(case((Task.due_date.is_(None), 1), else_=0), Task.due_date, Task.number)
        .limit(bindparam("limit"))
    )


def task_status_counts(session: Session, /, *, project_id: int) -> dict[TaskStatus, int]:
    rows = session.execute(
        select(Task.status, func.count()).where(Task.project_id == project_id).group_by(Task.status)
    ).all()
    return {TaskStatus(status): count for status, count in rows}


def open_task_counts(
    session: Session, /, *, project_id: int, by: InstrumentedAttribute[int | None]
) -> dict[int, int]:
    """Open tasks per owner (`Task.owner_id`) or per department (`Task.department_id`): one grouped statement."""
    rows = session.execute(
        select(by, func.count())
        .where(Task.project_id == project_id, Task.status.in_(OPEN_TASK_STATUSES), by.isnot(None))
        .group_by(by)
    ).all()
    return {key: count for key, count in rows if key is not None}


# ---------------------------------------------------------------------------- risks


def list_risks(
    session: Session, /, *, project_id: int, status: RiskStatus | None, level: RiskLevel | None = None, limit: int
) -> Page[Risk]:
    """Open before closed, high before low, then by number; owners loaded with them."""
    query = select(Risk).where(Risk.project_id == project_id)
    if status is not None:
        query = query.where(Risk.status == status)
    if level is not None:
        query = query.where(Risk.level == level)
    total = _count(session, query)
    if not total:
        return Page([], 0)
    level_order = case({RiskLevel.HIGH: 0, RiskLevel.MEDIUM: 1, RiskLevel.LOW: 2}, value=Risk.level, else_=3)
    status_order = case((Risk.status == RiskStatus.OPEN, 0), else_=1)
    rows = session.scalars(
        query.options(joinedload(Risk.owner)).order_by(status_order, level_order, Risk.number).limit(limit)
    ).all()
    return Page(rows, total)


# ---------------------------------------------------------------------------- action items and decisions


def list_actions(
    session: Session,
    /,
    *,
    project_id: int,
    status: ActionStatus | None,
    owner_id: int | None = None,
    due_before: date | None = None,
    limit: int,
) -> Page[ActionItem]:
    """Open first, then by due date (undated last), then by number; owners loaded with them."""
    query = select(ActionItem).where(ActionItem.project_id == project_id)
    if status is not None:
        query = query.where(ActionItem.status == status)
    if owner_id is not None:
        query = query.where(ActionItem.owner_id == owner_id)
    if due_before is not None:
        query = query.where(ActionItem.due_date < due_before)
    total = _count(session, query)
    if not total:
        return Page([], 0)
    status_order = case((ActionItem.status == ActionStatus.OPEN, 0), else_=1)
    rows = session.scalars(
        query.options(joinedload(ActionItem.owner))
        .order_by(status_order, case((ActionItem.due_date.is_(None), 1), else_=0), ActionItem.due_date, ActionItem.number)
        .limit(limit)
    ).all()
    return Page(rows, total)


def list_decisions(session: Session, /, *, project_id: int, limit: int) -> Page[Decision]:
    """Newest first, with who decided."""
    query = select(Decision).where(Decision.project_id == project_id)
    total = _count(session, query)
    if not total:
        return Page([], 0)
    rows = session.scalars(
        query.options(joinedload(Decision.decided_by)).order_by(Decision.number.desc()).limit(limit)
    ).all()
    return Page(rows, total)


def decision_actions(session: Session, /, *, decision_id: int) -> Sequence[ActionItem]:
    return session.scalars(
        select(ActionItem).where(ActionItem.decision_id == decision_id).order_by(ActionItem.number)
    ).all()


# ---------------------------------------------------------------------------- members


def project_members(session: Session, /, *, project_id: int, with_department: bool = False) -> Sequence[Member]:
    """Active members in the order they joined; `with_department` only those in a department (loaded with them)."""
    query = select(Member).where(Member.project_id == project_id, Member.removed_at.is_(None)).order_by(Member.id)
    if with_department:
        query = query.where(Member.department_id.isnot(None))
    return session.scalars(query.options(joinedload(Member.department))).all()


def member_ids(session: Session, /, *, project_id: int) -> set[int]:
    """The active members' ids."""
    return set(session.scalars(select(Member.id).where(Member.project_id == project_id, Member.removed_at.is_(None))))


def active_member_names(session: Session, /, *, project_id: int) -> list[str]:
    """Display names of the project's active members, in the order they joined (for “是不是 李四？”)."""
    return list(session.scalars(
        select(Member.name).where(Member.project_id == project_id, Member.removed_at.is_(None)).order_by(Member.id)
    ))


def managers(session: Session, /, *, project_id: int) -> Sequence[Member]:
    """The PM and co-PMs."""
    return session.scalars(
        select(Member).where(
            Member.project_id == project_id, Member.role.in_([Role.PM, Role.CO_PM]), Member.removed_at.is_(None)
        )
    ).all()


def count_role(session: Session, /, *, project_id: int, role: Role) -> int:
    return session.scalar(
        select(func.count()).select_from(Member).where(
            Member.project_id == project_id, Member.role == role, Member.removed_at.is_(None)
        )
    ) or 0
