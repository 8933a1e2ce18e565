"""Risk candidates: a worried update (“估计赶不上”) proposed to the PM as a risk-register entry.

One row per task and kind of worry (`handlers.worry_words.WorryKind`), whatever became of it: the
same task is never proposed twice for the same worry. The PM adopts it (a `Risk` linked to the task)
or dismisses it, in one command (`/风险 采纳 #3`, `/风险 忽略 #3`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base
from models.enums import RiskLevel, enum_column
from models.project import Member
from models.task import Task


class ProposalStatus(StrEnum):
    PENDING = "pending"
    ADOPTED = "adopted"
    DISMISSED = "dismissed"


class RiskProposal(Base):
    __tablename__ = "risk_proposal"
    __table_args__ = (UniqueConstraint("task_id", "worry"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"))
    worry: Mapped[str] = mapped_column(String(16))
    level: Mapped[RiskLevel] = mapped_column(enum_column(RiskLevel))
    words: Mapped[str] = mapped_column(Text)  # the update as typed
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    proposed_at: Mapped[datetime]
    status: Mapped[ProposalStatus] = mapped_column(enum_column(ProposalStatus), default=ProposalStatus.PENDING)
    risk_id: Mapped[int | None] = mapped_column(ForeignKey("risk.id", ondelete="SET NULL"))
    settled_at: Mapped[datetime | None]

    task: Mapped[Task] = relationship()
    proposed_by: Mapped[Member | None] = relationship()


def already_proposed(session: Session, /, *, task_id: int, worry: str) -> bool:
    return session.scalar(
        select(RiskProposal.id).where(RiskProposal.task_id == task_id, RiskProposal.worry == worry)
    ) is not None


def pending_proposals(session: Session, /, *, project_id: int, task_id: int | None = None) -> Sequence[RiskProposal]:
    """Waiting for the PM, oldest first (of one task when `task_id` is given)."""
    query = select(RiskProposal).where(
        RiskProposal.project_id == project_id, RiskProposal.status == ProposalStatus.PENDING
    )
    if task_id is not None:
        query = query.where(RiskProposal.task_id == task_id)
    return session.scalars(query.order_by(RiskProposal.proposed_at, RiskProposal.id)).all()


def reopen_adopted(session: Session, /, *, risk_ids: Sequence[int]) -> None:
    """The proposals adopted as these risks wait for the PM again (their risks' creation was undone)."""
    if risk_ids:
        session.execute(
            update(RiskProposal)
            .where(RiskProposal.risk_id.in_(risk_ids), RiskProposal.status == ProposalStatus.ADOPTED)
            .values(status=ProposalStatus.PENDING, risk_id=None, settled_at=None)
            .execution_options(synchronize_session="fetch")
        )
