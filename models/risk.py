"""The risk register (风险问题跟踪表)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base
from models.enums import RiskLevel, RiskStatus, RiskStrategy, enum_column
from models.project import Member
from models.task import Task


class Risk(Base):
    __tablename__ = "risk"
    __table_args__ = (UniqueConstraint("project_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    description: Mapped[str] = mapped_column(Text)
    level: Mapped[RiskLevel] = mapped_column(enum_column(RiskLevel), default=RiskLevel.MEDIUM)
    impact: Mapped[str | None] = mapped_column(Text)
    strategy: Mapped[RiskStrategy | None] = mapped_column(enum_column(RiskStrategy))
    mitigation: Mapped[str | None] = mapped_column(Text)
    trigger: Mapped[str | None] = mapped_column(String(200))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    status: Mapped[RiskStatus] = mapped_column(enum_column(RiskStatus), default=RiskStatus.OPEN)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    close_note: Mapped[str | None] = mapped_column(Text)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id", ondelete="SET NULL"))  # adopted from its update


    owner: Mapped[Member | None] = relationship(foreign_keys=[owner_id])
    task: Mapped[Task | None] = relationship()

    @property
    def ref(self) -> str:
        return f"R{self.number}"

