"""Acceptance of deliverables (成果验收确认单, `/验收`): one round per request, the people or departments
asked to confirm, and each one's answer (accepted or rejected, with a note or reason).

A round is accepted when every one asked has accepted; one rejection ends it as rejected, and a new
`/验收 #12 …` starts the next round. A task's acceptance state is its latest round's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, select
from sqlalchemy.orm import Mapped, Session, joinedload, mapped_column, relationship, selectinload

from models.base import Base
from models.enums import TaskStatus
from models.project import Department, Member
from models.task import Task

PENDING = "pending"
ACCEPTED = "accepted"
REJECTED = "rejected"
ACCEPTANCE_LABELS = {PENDING: "待验收", ACCEPTED: "已通过", REJECTED: "已驳回"}


class Acceptance(Base):
    __tablename__ = "acceptance"
    __table_args__ = (Index("ix_acceptance_task", "task_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"))
    round: Mapped[int]  # 1, 2 … per task
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]

    task: Mapped[Task] = relationship()
    requested_by: Mapped[Member | None] = relationship()
    signoffs: Mapped[list[AcceptanceSignoff]] = relationship(
        back_populates="acceptance", order_by="AcceptanceSignoff.id", cascade="all, delete-orphan"
    )


class AcceptanceSignoff(Base):
    """One party asked to confirm: a person, or a department (any of its members answers for it)."""

    __tablename__ = "acceptance_signoff"

    id: Mapped[int] = mapped_column(primary_key=True)
    acceptance_id: Mapped[int] = mapped_column(ForeignKey("acceptance.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id", ondelete="SET NULL"))
    decision: Mapped[str] = mapped_column(String(16), default=PENDING)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)

    acceptance: Mapped[Acceptance] = relationship(back_populates="signoffs")
    member: Mapped[Member | None] = relationship(foreign_keys=[member_id])
    department: Mapped[Department | None] = relationship()
    decided_by: Mapped[Member | None] = relationship(foreign_keys=[decided_by_id])

    @property
    def party(self) -> str:
        if self.member is not None:
            return self.member.name
        return self.department.name if self.department is not None else "（已删除）"


def _rounds(session: Session, project_id: int, task_id: int | None = None) -> list[Acceptance]:
    query = (
        select(Acceptance)
        .options(
            joinedload(Acceptance.task), joinedload(Acceptance.requested_by),
            selectinload(Acceptance.signoffs).options(
                joinedload(AcceptanceSignoff.member), joinedload(AcceptanceSignoff.department),
                joinedload(AcceptanceSignoff.decided_by),
            ),
        )
        .where(Acceptance.project_id == project_id)
        .order_by(Acceptance.task_id, Acceptance.round)
    )
    if task_id is not None:
        query = query.where(Acceptance.task_id == task_id)
    return list(session.scalars(query).unique())


def acceptance_rounds(session: Session, /, *, project_id: int, task_id: int | None = None) -> list[Acceptance]:
    """Every round (of one task, or of the project), by task then round, with the parties loaded."""
    return _rounds(session, project_id, task_id)


def latest_rounds(session: Session, /, *, project_id: int) -> dict[int, Acceptance]:
    """task id -> its latest round."""
    latest: dict[int, Acceptance] = {}
    for acceptance in _rounds(session, project_id):
        latest[acceptance.task_id] = acceptance
    return latest


def unaccepted_deliverables(session: Session, /, *, project_id: int) -> list[tuple[Task, Acceptance | None]]:
    """Deliverables not accepted: tasks (not cancelled) with a deliverable or acceptance criteria, or with an
    acceptance asked for, whose latest round is not accepted; with that round (None: never asked)."""
    latest = latest_rounds(session, project_id=project_id)
    tasks = session.scalars(
        select(Task).where(
            Task.project_id == project_id, Task.status != TaskStatus.CANCELLED,
            Task.deliverable.isnot(None) | Task.acceptance_criteria.isnot(None) | Task.id.in_(list(latest) or [-1]),
        ).order_by(Task.number)
    )
    found: list[tuple[Task, Acceptance | None]] = []
    for task in tasks:
        current = latest.get(task.id)
        if current is None or current.status != ACCEPTED:
            found.append((task, current))
    return found
