"""Scheduler slots: each (project, job, slot) is claimed once, which makes posting exactly-once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class JobRun(Base):
    __tablename__ = "job_run"
    __table_args__ = (UniqueConstraint("project_id", "job", "slot"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    job: Mapped[str] = mapped_column(String(40))  # daily-prompt | weekly-agenda | digest | reminder kinds
    slot: Mapped[str] = mapped_column(String(80))  # local date, or an incident key
    claimed_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(20), default="posted")  # posted | empty | skipped | superseded
