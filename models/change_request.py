"""Change requests (变更申请单, `/变更`): a proposed change to the plan — new dates, new or cancelled
tasks — with its reason and impact, numbered C1, C2…; applied only once approved.

`plan` holds what the change does, as plain JSON, checked when it is asked for and again when it is
applied (through the normal task paths):
`{"edits": [{"task": 8, "due": "2026-10-30", "start": null}], "new_tasks": [{"title": …, "owner_id": …,
"due": …}], "cancel": [9]}` (dates ISO, absent keys: unchanged).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, joinedload, mapped_column, relationship

from models.base import Base
from models.project import Member

PENDING = "pending"
APPLIED = "applied"  # approved (by everyone the project's rule asks) and applied
REJECTED = "rejected"
CHANGE_STATUSES = (PENDING, APPLIED, REJECTED)


class ChangeRequest(Base):
    __tablename__ = "change_request"
    __table_args__ = (UniqueConstraint("project_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    number: Mapped[int]
    content: Mapped[str | None] = mapped_column(Text)  # the change in words, besides what `plan` does
    reason: Mapped[str] = mapped_column(Text)
    impact: Mapped[str | None] = mapped_column(Text)  # as the requester describes it
    goal_impact: Mapped[str | None] = mapped_column(Text)
    budget_impact: Mapped[str | None] = mapped_column(String(200))
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime]
    pm_approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    pm_approved_at: Mapped[datetime | None]
    sponsor_approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    sponsor_approved_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]  # applied or rejected
    decision_note: Mapped[str | None] = mapped_column(Text)  # the reason of a rejection

    requested_by: Mapped[Member | None] = relationship(foreign_keys=[requested_by_id])
    pm_approved_by: Mapped[Member | None] = relationship(foreign_keys=[pm_approved_by_id])
    sponsor_approved_by: Mapped[Member | None] = relationship(foreign_keys=[sponsor_approved_by_id])
    decided_by: Mapped[Member | None] = relationship(foreign_keys=[decided_by_id])

    @property
    def ref(self) -> str:
        return f"C{self.number}"


def get_change_request(session: Session, /, *, project_id: int, number: int) -> ChangeRequest | None:
    return session.scalar(
        select(ChangeRequest).where(ChangeRequest.project_id == project_id, ChangeRequest.number == number)
    )


def list_change_requests(session: Session, /, *, project_id: int) -> list[ChangeRequest]:
    """Every change request of a project, in number order, with the people named on it."""
    return list(session.scalars(
        select(ChangeRequest)
        .options(joinedload(ChangeRequest.requested_by), joinedload(ChangeRequest.decided_by))
        .where(ChangeRequest.project_id == project_id)
        .order_by(ChangeRequest.number)
    ))
