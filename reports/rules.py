"""The rules reports apply to a project's rows: urgency, the linear plan, health, the next meeting.

Pure functions of rows and dates, with no wording in them: `reports.compute` uses them to decide what a
report contains, and anything else that needs the same judgement (a card, a spreadsheet, a web page)
asks them too.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import NamedTuple
from zoneinfo import ZoneInfo

from models import Project, TaskStatus
from models.calendar import WorkCalendar
from reports.records import MemberRow, Prereq, TaskDetail, TaskRow

SLIP_MARGIN = 20  # percentage points behind the linear plan that count as slipping
MEETING_WINDOW = timedelta(hours=2)  # minutes go out at its end, with what was recorded during it
ESCALATE_AFTER = timedelta(hours=24)  # blocked / high risk unchanged: one working day (days off not counted)
LONG_BLOCK = timedelta(hours=48)  # blocked this long (working time): the agenda asks for a decision

# Reminder and escalation job names: also the JobRun.job of each incident.
REMIND_DUE = "remind-due"  # task due by the next workday (key: task + due date)
REMIND_DUE_TODAY = "remind-due-today"  # task due today (task + due date)
REMIND_OVERDUE = "remind-overdue"  # task overdue (task + day: once a day)
ACTION_DUE = "remind-action-due"  # the same three for action items
ACTION_DUE_TODAY = "remind-action-today"
ACTION_OVERDUE = "remind-action-overdue"
OVERDUE_JOBS = (REMIND_OVERDUE, ACTION_OVERDUE)
DUE_TODAY_JOBS = (REMIND_DUE_TODAY, ACTION_DUE_TODAY)
DUE_SOON_JOBS = (REMIND_DUE, ACTION_DUE)
DATED_REMINDERS = (*DUE_SOON_JOBS, *DUE_TODAY_JOBS, *OVERDUE_JOBS)  # "<id>:<date>" keys
ESCALATE_BLOCKED = "escalate-blocked"
ESCALATE_RISK = "escalate-risk"


class Health(StrEnum):
    """The tracking table's 状态, decided by `health` (its rules are the legend the table shows)."""

    OK = "ok"  # 正常
    LATE = "late"  # 延迟: late already (or finished late)
    RISK = "risk"  # 风险: blocked, or measurably behind its plan
    UNSCHEDULED = "unscheduled"  # 未排期: no due date, so no plan to be behind


def local_time(project: Project, at: datetime) -> datetime:
    return at.astimezone(ZoneInfo(project.timezone))


def day_start(project: Project, on: date) -> datetime:
    """Local midnight, as UTC (arithmetic on datetimes sharing a ZoneInfo is wall-clock, not exact)."""
    return datetime.combine(on, time(0), ZoneInfo(project.timezone)).astimezone(UTC)


def managers(members: dict[int, MemberRow]) -> list[MemberRow]:
    """PM first, then co-PMs."""
    return sorted((m for m in members.values() if m.is_manager), key=lambda m: (m.role != "pm", m.id))


def escalation_recipients(members: dict[int, MemberRow]) -> list[MemberRow]:
    """Who an escalation @s: the PM and co-PMs, then the project's sponsor (发起人) when there is one."""
    found = managers(members)
    return found + [m for m in members.values() if m.is_sponsor and m not in found]


def is_overdue(task: TaskRow, today: date) -> bool:
    return task.is_open and task.due_date is not None and task.due_date < today


def urgency(task: TaskRow, today: date) -> tuple[int, date, int]:
    """Overdue first (oldest first), then by due date (undated last), then by number."""
    due = task.due_date
    return (0 if due is not None and due < today and task.is_open else 1, due or date.max, task.number)


class Readiness(NamedTuple):
    """Where a task's plan starts, and whether it is measured against it yet."""

    start: date | None  # the day its linear plan starts from
    waiting: bool  # before its start date, or a predecessor is still open: not measured yet


def planned_start(detail: TaskDetail | None, tz: ZoneInfo) -> date | None:
    """The start date given, else the day the task was added."""
    if detail is None:
        return None
    return detail.start_date or detail.created_at.astimezone(tz).date()


def readiness(detail: TaskDetail | None, prereq: Prereq | None, today: date, tz: ZoneInfo) -> Readiness:
    """A task is measured from its start date, and only once its predecessors are done: then from the
    later of its start and the day the last predecessor was finished."""
    start = planned_start(detail, tz)
    if prereq is not None:
        if prereq.open:
            return Readiness(start, True)
        if prereq.last_done is not None:
            done = prereq.last_done.astimezone(tz).date()
            start = done if start is None or done > start else start
    return Readiness(start, start is not None and today < start)


def planned_progress(start: date | None, due: date | None, today: date) -> int | None:
    """The linear plan: 0% on the start date, 100% on the due date."""
    if due is None:
        return None
    if today >= due:
        return 100
    if start is None or today <= start:
        return 0
    return round(100 * (today - start).days / max((due - start).days, 1))


def behind_plan(task: TaskRow, ready: Readiness, today: date) -> int | None:
    """How many points a task is behind its linear plan, when that is at least SLIP_MARGIN; None when it
    is not measured (no due date, before its start, waiting on a predecessor) or not that far behind."""
    if ready.waiting or task.due_date is None:
        return None
    plan = planned_progress(ready.start, task.due_date, today)
    if plan is None:
        return None
    gap = plan - task.progress
    return gap if gap >= SLIP_MARGIN else None


def completed_on(task: TaskRow, detail: TaskDetail | None, today: date, tz: ZoneInfo) -> date:
    """The local date a finished task was completed (today when its timestamp is missing)."""
    return detail.completed_at.astimezone(tz).date() if detail and detail.completed_at else today


def health(task: TaskRow, detail: TaskDetail | None, ready: Readiness, today: date, tz: ZoneInfo) -> Health:
    """The tracking table's 状态, by these rules in this order (the table's legend says the same):

    1. finished: 延迟 if it was finished after its due date, else 正常;
    2. no due date: 未排期 (there is no plan to measure it against);
    3. open past its due date: 延迟;
    4. blocked: 风险;
    5. not started yet by plan (before its start date, or a predecessor still open): 正常;
    6. at least SLIP_MARGIN (20) points behind its linear plan — 0% on the day it can start (its start
       date, or the day its last predecessor was finished, whichever is later), 100% on its due date: 风险;
    7. otherwise 正常.
    """
    if task.status == _DONE:
        late = task.due_date is not None and completed_on(task, detail, today, tz) > task.due_date
        return _LATE if late else _OK
    if task.due_date is None:
        return _UNSCHEDULED
    if task.due_date < today:
        return _LATE
    if task.status == _BLOCKED:
        return _RISK
    return _RISK if behind_plan(task, ready, today) is not None else _OK


# Module constants: `health` runs for every task of a weekly table (an Enum member lookup costs more).
_OK, _LATE, _RISK, _UNSCHEDULED = Health.OK, Health.LATE, Health.RISK, Health.UNSCHEDULED
_DONE, _BLOCKED = TaskStatus.DONE, TaskStatus.BLOCKED


def next_meeting_day(project: Project, calendar: WorkCalendar, at: datetime) -> date | None:
    """The next meeting (today's if it has not started yet); meetings on days off are skipped."""
    now = local_time(project, at)
    for offset in range(0, 7 * 8):
        candidate = now.date() + timedelta(days=offset)
        if candidate.weekday() != project.meeting_weekday or not calendar.is_workday(candidate):
            continue
        if offset == 0 and now.time() >= project.meeting_time:
            continue
        return candidate
    return None
