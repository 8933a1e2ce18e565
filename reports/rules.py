"""The rules reports apply to a project's rows: urgency, the linear plan, health, the next meeting.

Pure functions of rows and dates, with no wording in them: `reports.compute` uses them to decide what a
report contains, and anything else that needs the same judgement (a card, a spreadsheet, a web page)
asks them too.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from models import Project, TaskStatus
from models.calendar import WorkCalendar
from reports.records import MemberRow, TaskDetail, TaskRow

SLIP_MARGIN = 20  # percentage points behind the linear plan that count as slipping
MEETING_WINDOW = timedelta(hours=2)  # minutes go out at its end, with what was recorded during it
ESCALATE_AFTER = timedelta(hours=24)  # blocked / high risk unchanged, not counting days off
LONG_BLOCK = timedelta(hours=48)  # blocked this long (working time): the agenda asks for a decision

# Reminder and escalation job names: also the JobRun.job of each incident.
REMIND_DUE = "remind-due"
REMIND_OVERDUE = "remind-overdue"
ESCALATE_BLOCKED = "escalate-blocked"
ESCALATE_RISK = "escalate-risk"


class Health(StrEnum):
    """The tracking table's 状态."""

    OK = "ok"  # 正常
    LATE = "late"  # 延迟: late already (or finished late)
    RISK = "risk"  # 风险: blocked or behind plan


def local_time(project: Project, at: datetime) -> datetime:
    return at.astimezone(ZoneInfo(project.timezone))


def day_start(project: Project, on: date) -> datetime:
    """Local midnight, as UTC (arithmetic on datetimes sharing a ZoneInfo is wall-clock, not exact)."""
    return datetime.combine(on, time(0), ZoneInfo(project.timezone)).astimezone(UTC)


def managers(members: dict[int, MemberRow]) -> list[MemberRow]:
    """PM first, then co-PMs."""
    return sorted((m for m in members.values() if m.is_manager), key=lambda m: (m.role != "pm", m.id))


def is_overdue(task: TaskRow, today: date) -> bool:
    return task.is_open and task.due_date is not None and task.due_date < today


def urgency(task: TaskRow, today: date) -> tuple[int, date, int]:
    """Overdue first (oldest first), then by due date (undated last), then by number."""
    due = task.due_date
    return (0 if due is not None and due < today and task.is_open else 1, due or date.max, task.number)


def planned_start(detail: TaskDetail | None, tz: ZoneInfo) -> date | None:
    if detail is None:
        return None
    return detail.start_date or detail.created_at.astimezone(tz).date()


def planned_progress(start: date | None, due: date | None, today: date) -> int | None:
    """The linear plan: 0% on the start date, 100% on the due date."""
    if due is None:
        return None
    if today >= due:
        return 100
    if start is None or today <= start:
        return 0
    return round(100 * (today - start).days / max((due - start).days, 1))


def behind_plan(task: TaskRow, detail: TaskDetail | None, today: date, tz: ZoneInfo) -> int | None:
    """How many points the task is behind its linear plan (None when not behind by SLIP_MARGIN)."""
    plan = planned_progress(planned_start(detail, tz), task.due_date, today)
    if plan is None:
        return None
    gap = plan - task.progress
    return gap if gap >= SLIP_MARGIN else None


def completed_on(task: TaskRow, detail: TaskDetail | None, today: date, tz: ZoneInfo) -> date:
    """The local date a finished task was completed (today when its timestamp is missing)."""
    return detail.completed_at.astimezone(tz).date() if detail and detail.completed_at else today


def health(task: TaskRow, detail: TaskDetail | None, today: date, tz: ZoneInfo) -> Health:
    if task.status == _DONE:
        late = task.due_date is not None and completed_on(task, detail, today, tz) > task.due_date
        return _LATE if late else _OK
    if is_overdue(task, today):
        return _LATE
    if task.status == _BLOCKED or behind_plan(task, detail, today, tz) is not None:
        return _RISK
    return _OK


# Module constants: `health` runs for every task of a weekly table (an Enum member lookup costs more).
_OK, _LATE, _RISK = Health.OK, Health.LATE, Health.RISK
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
