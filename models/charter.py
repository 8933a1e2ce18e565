"""The charter's acknowledgements (`/项目 章程 确认`): who confirmed which version of the charter, when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base


class CharterAck(Base):
    __tablename__ = "charter_ack"
    __table_args__ = (UniqueConstraint("project_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    version: Mapped[int]  # the project's charter_version confirmed
    acknowledged_at: Mapped[datetime]


def charter_acks(session: Session, /, *, project_id: int) -> dict[int, CharterAck]:
    """member id -> their acknowledgement (of whatever version), one statement."""
    rows = session.scalars(select(CharterAck).where(CharterAck.project_id == project_id))
    return {ack.member_id: ack for ack in rows}
