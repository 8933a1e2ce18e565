"""Which scheduler slots (`job_run` rows) may go: only those that can no longer matter for exactly-once.

A slot row stops a second post of the same (project, job, key). The scheduler looks for due and
missed slots at most a day plus the grace period back, so a dated slot is dead once both its claim
and the date in its key are older than the cutoff (days, not hours: a dated key is a local date).
Reminder and escalation incidents are keyed by task or risk *and* a date or a moment:
- the reminders (`remind-due`, `remind-due-today`, `remind-action-due`, `remind-action-today`: task or
  action item + due date; `remind-overdue`, `remind-action-overdue`: + day) are dated like the timed jobs;
- `escalate-blocked` (task + when it became blocked) and `escalate-risk` (risk + its last change)
  match again for as long as the incident lasts, whatever its age, so they are deleted only once it
  is over: the task is no longer blocked, the risk no longer open and high (or it is gone);
- `calendar-estimate` (the year) is kept until that year is over.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, String, and_, cast, exists, func, literal, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from models import JobRun, Risk, RiskLevel, RiskStatus, Task, TaskStatus
from models.retention import Page, prune_page
from reports.rules import DATED_REMINDERS, ESCALATE_BLOCKED, ESCALATE_RISK
from scheduler.slots import (
    AGENDA,
    CALENDAR_NOTICE,
    DAILY_PROMPT,
    DIGEST,
    HOLIDAY_NOTICE,
    MINUTES,
    NUDGE,
    SLIP_CHECK,
    WEEKLY_DIGEST,
)

DATED_JOBS = (DAILY_PROMPT, NUDGE, HOLIDAY_NOTICE, SLIP_CHECK, DIGEST, AGENDA, MINUTES, *DATED_REMINDERS)  # key ends in a date


def prune_job_runs(session: Session, /, *, before: datetime, after_id: int = 0, limit: int = 500) -> Page:
    table = JobRun.__table__
    day = (before - timedelta(days=1)).date()  # a local date: a day of margin for any time zone
    week = day.isocalendar()
    slot = table.c.slot
    key_date = func.substr(slot, func.length(slot) - 9)  # the last 10 characters: YYYY-MM-DD

    def incident_of(entity_id: ColumnElement[int] | InstrumentedAttribute[int]) -> ColumnElement[bool]:  # "<id>:…" keys
        return slot.like(cast(entity_id, String) + literal(":%"))

    still_blocked = exists(
        select(Task.id).where(
            Task.project_id == table.c.project_id, Task.status == TaskStatus.BLOCKED, incident_of(Task.id)
        )
    )
    still_stale = exists(
        select(Risk.id).where(
            Risk.project_id == table.c.project_id,
            Risk.status == RiskStatus.OPEN,
            Risk.level == RiskLevel.HIGH,
            incident_of(Risk.id),
        )
    )
    deletable = or_(
        and_(table.c.job.in_(DATED_JOBS), key_date < day.isoformat()),
        and_(table.c.job == WEEKLY_DIGEST, slot < f"{week.year}-W{week.week:02d}"),
        and_(table.c.job == CALENDAR_NOTICE, slot < str(day.year)),
        and_(table.c.job == ESCALATE_BLOCKED, ~still_blocked),
        and_(table.c.job == ESCALATE_RISK, ~still_stale),
    )
    return prune_page(session, table, table.c.claimed_at, deletable, before=before, after_id=after_id, limit=limit)
