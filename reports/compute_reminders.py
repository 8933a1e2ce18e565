"""Reminders and escalations: which incidents apply at a moment (claiming decides which are new).

Tasks and action items alike: due by the next workday → the owner, once per due date; due today →
the owner, once; overdue → the owner, once a day. A task blocked, or a high risk unchanged, for more
than a working day (24 hours not counting the project calendar's days off) → the PM, once per incident.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from models import ActionStatus, Project, RiskLevel, RiskStatus, TaskStatus
from models.calendar import WorkCalendar
from reports.compute_base import calendar_for, changed_at, member_of, snapshot_for, stamp
from reports.rows import Incident
from reports.rules import (
    ACTION_DUE,
    ACTION_DUE_TODAY,
    ACTION_OVERDUE,
    ESCALATE_AFTER,
    ESCALATE_BLOCKED,
    ESCALATE_RISK,
    REMIND_DUE,
    REMIND_DUE_TODAY,
    REMIND_OVERDUE,
    local_time,
    urgency,
)
from reports.snapshot import Snapshot


def _due_job(due: date, today: date, next_day: date, jobs: tuple[str, str, str]) -> tuple[str, str] | None:
    """(job, the key's date part) for something due on `due`: soon, today, overdue (or nothing yet)."""
    soon, on_the_day, overdue = jobs
    if today < due <= next_day:
        return soon, due.isoformat()
    if due == today:
        return on_the_day, due.isoformat()
    if due < today:
        return overdue, today.isoformat()
    return None


def find_reminders(
    session: Session,
    project: Project,
    at: datetime,
    *,
    data: Snapshot | None = None,
    calendar: WorkCalendar | None = None,
) -> list[Incident]:
    """Every reminder and escalation that applies at `at` (claiming decides which are new)."""
    data = snapshot_for(session, project, at, data)
    calendar = calendar_for(session, project, calendar)
    tz = ZoneInfo(project.timezone)
    today = local_time(project, at).date()
    next_day = calendar.next_workday(today) or today + timedelta(days=1)
    members = data.members(project.id)
    details = data.task_details(project.id)
    away = data.away(project.id, today)  # their reminders go to the PM
    incidents: list[Incident] = []
    for task in sorted(data.open_tasks(project.id), key=lambda t: urgency(t, today)):
        owner = member_of(members, task.owner_id)
        if owner is not None and task.due_date is not None:
            found = _due_job(task.due_date, today, next_day, (REMIND_DUE, REMIND_DUE_TODAY, REMIND_OVERDUE))
            if found is not None and owner.id in away:
                incidents.append(Incident(found[0], f"{task.id}:{found[1]}", None, at, today, task=task,
                                          responsible=owner, away=True))
            elif found is not None:
                incidents.append(Incident(found[0], f"{task.id}:{found[1]}", owner, at, today, task=task))
        if task.status == TaskStatus.BLOCKED:
            since = changed_at(details, task, at)
            age = calendar.working_time_between(since, at, tz)
            if age > ESCALATE_AFTER:
                key = f"{task.id}:{stamp(since)}"
                incidents.append(
                    Incident(ESCALATE_BLOCKED, key, None, at, today, task=task, responsible=owner, since=since, age=age)
                )
    for action in sorted(data.actions(project.id), key=lambda a: (a.due_date or date.max, a.number)):
        owner = member_of(members, action.owner_id)
        if action.status != ActionStatus.OPEN or owner is None or action.due_date is None:
            continue
        found = _due_job(action.due_date, today, next_day, (ACTION_DUE, ACTION_DUE_TODAY, ACTION_OVERDUE))
        if found is not None and owner.id in away:
            incidents.append(Incident(found[0], f"{action.id}:{found[1]}", None, at, today, action=action,
                                      responsible=owner, away=True))
        elif found is not None:
            incidents.append(Incident(found[0], f"{action.id}:{found[1]}", owner, at, today, action=action))
    touched = data.risks_touched(project.id)
    for risk in data.risks(project.id):
        if risk.status != RiskStatus.OPEN or risk.level != RiskLevel.HIGH:
            continue
        # "Unchanged" since its last update, whichever of the row and its history says so.
        unchanged = max(risk.updated_at, risk.created_at, touched.get(risk.id, risk.created_at))
        age = calendar.working_time_between(unchanged, at, tz)
        if age > ESCALATE_AFTER:
            incidents.append(
                Incident(
                    ESCALATE_RISK, f"{risk.id}:{stamp(unchanged)}", None, at, today,
                    risk=risk, responsible=member_of(members, risk.owner_id), since=unchanged, age=age,
                )
            )
    return incidents
