"""What a closed project leaves behind: each goal's result as the PM entered it, and the retrospective
(复盘) entries: what went well, what to improve, what to reuse — who said it, when, and the action item an
improvement became."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base
from models.meeting import ActionItem
from models.project import Member

RETRO_KINDS = ("good", "improve", "reuse")


class GoalResult(Base):
    """The result of the project's goal number `goal_index` (1-based, in the order the goals are listed)."""

    __tablename__ = "goal_result"
    __table_args__ = (UniqueConstraint("project_id", "goal_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    goal_index: Mapped[int]
    result: Mapped[str] = mapped_column(Text)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    set_at: Mapped[datetime]


class RetroEntry(Base):
    __tablename__ = "retro_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # good | improve | reuse
    content: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    action_id: Mapped[int | None] = mapped_column(ForeignKey("action_item.id", ondelete="SET NULL"))

    author: Mapped[Member | None] = relationship()
    action: Mapped[ActionItem | None] = relationship()


def goal_results(session: Session, /, *, project_id: int) -> dict[int, str]:
    rows = session.execute(
        select(GoalResult.goal_index, GoalResult.result).where(GoalResult.project_id == project_id)
    )
    return {index: result for index, result in rows}


def find_goal_result(session: Session, /, *, project_id: int, goal_index: int) -> GoalResult | None:
    return session.scalar(
        select(GoalResult).where(GoalResult.project_id == project_id, GoalResult.goal_index == goal_index)
    )


def retro_entries(session: Session, /, *, project_id: int) -> Sequence[RetroEntry]:
    """A project's retrospective entries in the order they were added, with authors and actions."""
    return session.scalars(
        select(RetroEntry).where(RetroEntry.project_id == project_id).order_by(RetroEntry.created_at, RetroEntry.id)
    ).all()
