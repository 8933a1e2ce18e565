"""The meeting rhythm's own memory: when each agenda was built, the topics people add for a meeting,
and deadline moves waiting for the PM's approval."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base
from models.project import Member

AGENDA_LOOKBACK_DAYS = 56  # an agenda covers at most eight weeks back (a long-paused project)


class AgendaRun(Base):
    """One posted agenda: the meeting it was for, when it was built, and where its 上周完成 began."""

    __tablename__ = "agenda_run"
    __table_args__ = (UniqueConstraint("project_id", "meeting_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    meeting_day: Mapped[date]
    built_at: Mapped[datetime]
    covers_from: Mapped[datetime]


class AgendaTopic(Base):
    """A topic someone added for the meeting (`/议程 新增`): listed until the meeting whose agenda
    first showed it has been held."""

    __tablename__ = "agenda_topic"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    content: Mapped[str] = mapped_column(Text)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    added_at: Mapped[datetime]
    meeting_day: Mapped[date | None]  # the meeting whose posted agenda first listed it

    added_by: Mapped[Member | None] = relationship()


class DueRequest(Base):
    """An owner's move of their own deadline later, waiting for the PM (`/项目 设置 延期审批 开`)."""

    __tablename__ = "due_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    old_due: Mapped[date | None]
    new_due: Mapped[date]
    note: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | approved | rejected | withdrawn
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]

    requested_by: Mapped[Member | None] = relationship(foreign_keys=[requested_by_id])


PENDING = "pending"


def record_agenda(
    session: Session, /, *, project_id: int, meeting_day: date, built_at: datetime, covers_from: datetime
) -> None:
    """Remember a posted agenda, and mark the topics it listed as belonging to its meeting."""
    session.add(AgendaRun(project_id=project_id, meeting_day=meeting_day, built_at=built_at, covers_from=covers_from))
    session.execute(
        update(AgendaTopic)
        .where(AgendaTopic.project_id == project_id, AgendaTopic.meeting_day.is_(None), AgendaTopic.added_at <= built_at)
        .values(meeting_day=meeting_day)
    )
    session.flush()


def add_topic(session: Session, /, *, project_id: int, content: str, added_by: Member | None, at: datetime) -> AgendaTopic:
    topic = AgendaTopic(project_id=project_id, content=content, added_by=added_by, added_at=at)
    session.add(topic)
    session.flush()
    return topic


def pending_due_request(session: Session, /, *, task_id: int) -> DueRequest | None:
    return session.scalar(
        select(DueRequest).where(DueRequest.task_id == task_id, DueRequest.status == PENDING).order_by(DueRequest.id.desc())
    )
