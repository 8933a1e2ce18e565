"""Scheduler slots: each (project, job, slot) is claimed once, which makes posting exactly-once.

A reminder to a person also records who it is for (`user_id`) and the project's local day it was
claimed on (`day`): the daily reminder cap counts the reminders posted to a person on a day across all
their projects, and the reminders held back over the cap (`folded`) wait there for the next prompt.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, func, select, text, update
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from models.base import Base
from models.project import USER_ID_MAX, Member, Project

FOLDED = "folded"  # a reminder over the person's daily cap: not sent, listed in their next daily prompt
FOLDED_SHOWN = "folded-shown"  # … and since listed in a posted prompt (never again)
# One lock for every scheduler deciding reminders against the cap (PostgreSQL: held to the commit).
REMINDER_CAP_LOCK = 0x7A6E_6361_7001  # "tandem reminder cap"
CHUNK = 500


class JobRun(Base):
    __tablename__ = "job_run"
    __table_args__ = (
        UniqueConstraint("project_id", "job", "slot"),
        Index("ix_job_run_day_user", "day", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    job: Mapped[str] = mapped_column(String(40))  # daily-prompt | weekly-agenda | digest | reminder kinds
    slot: Mapped[str] = mapped_column(String(80))  # local date, or an incident key
    claimed_at: Mapped[datetime]
    # posted | empty | skipped | superseded | withheld | folded | folded-shown
    outcome: Mapped[str] = mapped_column(String(20), default="posted")
    user_id: Mapped[str | None] = mapped_column(String(USER_ID_MAX))  # a reminder's person (platform: the project's)
    day: Mapped[date | None]  # the project's local day a reminder was claimed on


def lock_reminder_cap(session: Session, /) -> None:
    """Serialise the schedulers' reminder decisions until this transaction ends (PostgreSQL: an advisory
    transaction lock; SQLite's write transactions are serialised already by `BEGIN IMMEDIATE`)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": REMINDER_CAP_LOCK})


def reminders_sent(
    session: Session, /, *, project_ids: Collection[int], days: Collection[date], jobs: Collection[str]
) -> Counter[tuple[str, str, date]]:
    """Reminders posted on each of `days` to each member of these projects, as (platform, user_id, day),
    counted across all their projects: one statement per 500 projects, whatever their members."""
    counts: Counter[tuple[str, str, date]] = Counter()
    ids = sorted(set(project_ids))
    if not ids or not days:
        return counts
    sent_in = aliased(Project)
    for start in range(0, len(ids), CHUNK):
        # The batch's people, once each, then their reminders by the (day, user_id) index.
        people = (
            select(Member.user_id, Project.platform)
            .join(Project, Project.id == Member.project_id)
            .where(Member.project_id.in_(ids[start : start + CHUNK]))
            .distinct()
            .subquery()
        )
        rows = session.execute(
            select(sent_in.platform, JobRun.user_id, JobRun.day, func.count())
            .join(people, people.c.user_id == JobRun.user_id)
            .join(sent_in, (sent_in.id == JobRun.project_id) & (sent_in.platform == people.c.platform))
            .where(JobRun.day.in_(sorted(set(days))), JobRun.outcome == "posted", JobRun.job.in_(sorted(jobs)))
            .group_by(sent_in.platform, JobRun.user_id, JobRun.day)
        )
        for platform, user, day, n in rows:
            if user is not None and day is not None:
                counts[(platform, user, day)] = n  # the same person in two chunks counts the same rows
    return counts


def claimed_incidents(
    session: Session, /, *, project_ids: Collection[int], jobs: Collection[str], from_day: date
) -> set[tuple[int, str, str]]:
    """The incidents of these jobs claimed for these projects whose key's date ("<id>:<date>") is on or
    after `from_day` (every reminder that can apply from that day on): one statement per 500 projects."""
    found: set[tuple[int, str, str]] = set()
    ids = sorted(set(project_ids))
    slot = JobRun.slot
    key_date = func.substr(slot, func.length(slot) - 9)  # the last 10 characters: YYYY-MM-DD
    for start in range(0, len(ids), CHUNK):
        rows = session.execute(
            select(JobRun.project_id, JobRun.job, JobRun.slot).where(
                JobRun.project_id.in_(ids[start : start + CHUNK]), JobRun.job.in_(sorted(jobs)),
                key_date >= from_day.isoformat(),
            )
        )
        found.update((project_id, job, key) for project_id, job, key in rows)
    return found


def claimed_slots(session: Session, /, wanted: Collection[tuple[int, str, str]]) -> dict[tuple[int, str, str], str]:
    """The outcomes recorded for some (project, job, slot) keys: one statement per 500 projects."""
    found: dict[tuple[int, str, str], str] = {}
    if not wanted:
        return found
    keys = set(wanted)
    project_ids = sorted({w[0] for w in keys})
    jobs = sorted({w[1] for w in keys})
    slots = sorted({w[2] for w in keys})
    for start in range(0, len(project_ids), CHUNK):
        rows = session.execute(
            select(JobRun.project_id, JobRun.job, JobRun.slot, JobRun.outcome).where(
                JobRun.project_id.in_(project_ids[start : start + CHUNK]), JobRun.job.in_(jobs), JobRun.slot.in_(slots)
            )
        )
        for project_id, job, slot, outcome in rows:
            if (project_id, job, slot) in keys:
                found[(project_id, job, slot)] = outcome
    return found


def mark_folded_shown(session: Session, /, run_ids: Collection[int]) -> None:
    """The folded reminders a posted prompt listed: not listed again."""
    ids = sorted(set(run_ids))
    for start in range(0, len(ids), CHUNK):
        session.execute(
            update(JobRun)
            .where(JobRun.id.in_(ids[start : start + CHUNK]), JobRun.outcome == FOLDED)
            .values(outcome=FOLDED_SHOWN)
            .execution_options(synchronize_session=False)
        )
