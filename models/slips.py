"""Slip warnings: which slips of a task its dependents' owners were told about, and whether it is clear.

A task that becomes blocked, is moved later, or passes its due date unfinished warns the owners of the
tasks depending on it once (`handlers.slips`, `scheduler` for the overdue case); one open row per
(task, cause) — a partial unique index, so two messages or processes cannot both warn — until the cause
is gone and they are told it is clear (`cleared_at`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, bindparam, exists, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base
from models.task import task_dependency


class SlipCause(StrEnum):
    BLOCKED = "blocked"
    MOVED = "moved"  # its due date was moved later
    OVERDUE = "overdue"


class SlipWarning(Base):
    __tablename__ = "slip_warning"
    __table_args__ = (
        Index(
            "uq_slip_warning_open", "task_id", "cause", unique=True,
            sqlite_where=text("cleared_at IS NULL"), postgresql_where=text("cleared_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"))
    cause: Mapped[str] = mapped_column(String(16))
    due_date: Mapped[date | None]  # moved: the due date before the move; overdue: the date it passed
    warned_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]


def open_slip_warnings(session: Session, /, *, task_ids: Collection[int]) -> Sequence[SlipWarning]:
    """The warnings not yet cleared for these tasks."""
    if not task_ids:
        return []
    return session.scalars(
        select(SlipWarning).where(SlipWarning.task_id.in_(sorted(task_ids)), SlipWarning.cleared_at.is_(None))
        .order_by(SlipWarning.id)
    ).all()


_SLIP_STATE = select(
    exists().where(task_dependency.c.predecessor_id.in_(bindparam("ids", expanding=True))),
    exists().where(SlipWarning.task_id.in_(bindparam("ids", expanding=True)), SlipWarning.cleared_at.is_(None)),
)


def slip_state(session: Session, /, *, task_ids: Collection[int]) -> tuple[bool, bool]:
    """Whether any task depends on these, and whether any of them has a warning not yet cleared: the
    two questions every status or date change asks first, in one statement (built once)."""
    found = session.execute(_SLIP_STATE, {"ids": sorted(task_ids)}).one()
    return bool(found[0]), bool(found[1])


def add_slip_warning(
    session: Session, /, *, project_id: int, task_id: int, cause: SlipCause, due_date: date | None, at: datetime
) -> SlipWarning:
    warning = SlipWarning(project_id=project_id, task_id=task_id, cause=cause.value, due_date=due_date, warned_at=at)
    session.add(warning)
    session.flush()
    return warning


def record_slip_news(
    session: Session, /, *, project_id: int, warned: Sequence[tuple[int, SlipCause, date | None]],
    cleared: Sequence[SlipWarning], at: datetime,
) -> None:
    """Write what was just told: new warnings (task id, cause, date) and the ones now clear."""
    for warning in cleared:
        warning.cleared_at = at
    session.flush()  # a cleared (task, cause) may be warned again in the same message
    for task_id, cause, due in warned:
        add_slip_warning(session, project_id=project_id, task_id=task_id, cause=cause, due_date=due, at=at)
