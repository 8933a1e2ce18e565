"""When each job falls due for a project: pure functions of its settings, its calendar and a moment.

A *slot* is one occurrence of a timed job: (job, key) with the moment it falls due, computed in the
project's own time zone with zoneinfo (so 17:00 stays 17:00 local across daylight-saving switches).
The key is what "exactly once" is about: the local date for daily jobs, the meeting's date for the
agenda and the minutes, the ISO week for the weekly digest. A slot is *due* at T when
due_at ≤ T < due_at + grace; once the grace period is over without it having been posted it is *missed*.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from models import Project
from models.calendar import WorkCalendar
from models.card_views import PROMPT_JOB
from reports.holidays import long_holiday_after
from reports.rules import MEETING_WINDOW

DAILY_PROMPT = PROMPT_JOB  # "daily-prompt" (its posts are found by their origin: models.card_views)
NUDGE = "nudge"
AGENDA = "weekly-agenda"
MINUTES = "minutes"
DIGEST = "digest"
WEEKLY_DIGEST = "weekly-digest"
CALENDAR_NOTICE = "calendar-estimate"
HOLIDAY_NOTICE = "holiday-notice"  # the last workday before a long holiday; key: its first day off
REMINDERS = "reminders"
RETRO_PROMPT = "retro-prompt"  # after closing; key: the local day it closed
RETRO_WORKDAYS = 3  # the retrospective is prompted within this many workdays after closing
SLIP_CHECK = "slip-check"  # tasks past their due date unfinished warn their dependents' owners (daily, prompt time)
# One private prompt for someone with open tasks in several projects (scheduler.person_prompt); key: the
# local day and the person, one row per project it covers (the lowest project id's row is the claim).
PERSON_PROMPT = "person-prompt"

# What `tandem jobs run KIND` covers (the scheduler runs all of them).
KINDS: dict[str, tuple[str, ...]] = {
    "daily-prompt": (PERSON_PROMPT, DAILY_PROMPT, NUDGE, HOLIDAY_NOTICE, SLIP_CHECK),
    "weekly-agenda": (AGENDA, MINUTES),
    "digest": (DIGEST, WEEKLY_DIGEST),
    "reminders": (REMINDERS,),
    "retro-prompt": (RETRO_PROMPT,),
}
TIMED_JOBS = (DAILY_PROMPT, NUDGE, HOLIDAY_NOTICE, SLIP_CHECK, AGENDA, MINUTES, DIGEST, WEEKLY_DIGEST)
DEFAULT_GRACE = timedelta(hours=1)
MISSED_LOOKBACK = timedelta(days=1)  # how far behind the grace period missed slots are still noticed
REMINDER_INTERVAL = timedelta(minutes=30)
MEETING_LOOKAHEAD = 16  # days: the workday before a meeting is never further back than this


@dataclass(frozen=True, slots=True)
class Slot:
    job: str
    key: str
    due_at: datetime  # aware
    day: date  # the local day the content is about (the meeting's day for agenda and minutes)


def _at(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """A local wall-clock time on a day, as UTC (so later arithmetic is exact across DST switches).

    A time skipped by a spring-forward switch lands just after it; a repeated one is its first occurrence.
    """
    return datetime.combine(day, clock, tz).astimezone(UTC)


def _days(start: date, end: date) -> Iterable[date]:
    current = start
    while current <= end:
        yield current
        current += timedelta(days=1)


def slots_between(
    project: Project, calendar: WorkCalendar, job: str, *, start: datetime, end: datetime
) -> list[Slot]:
    """The slots of `job` falling due in (start, end], none before the project existed."""
    tz = ZoneInfo(project.timezone)
    first, last = start.astimezone(tz).date() - timedelta(days=1), end.astimezone(tz).date() + timedelta(days=1)
    found: list[Slot] = []
    if job in (DAILY_PROMPT, NUDGE, DIGEST, WEEKLY_DIGEST, SLIP_CHECK):
        clock = {
            SLIP_CHECK: project.daily_prompt_time if project.slip_alerts else None,
            DAILY_PROMPT: project.daily_prompt_time,
            NUDGE: project.nudge_time,
            DIGEST: project.digest_time,
            WEEKLY_DIGEST: project.digest_time,
        }[job]
        if clock is None:
            return []
        for day in _days(first, last):
            if not calendar.is_workday(day):
                continue
            if job == WEEKLY_DIGEST:
                if not _last_workday_of_week(calendar, day):
                    continue
                iso = day.isocalendar()
                key = f"{iso.year}-W{iso.week:02d}"
            else:
                key = day.isoformat()
            found.append(Slot(job, key, _at(day, clock, tz), day))
    elif job == AGENDA:
        for meeting in _meetings(project, calendar, first, last + timedelta(days=MEETING_LOOKAHEAD)):
            before = calendar.previous_workday(meeting)
            if before is not None:
                clock = project.agenda_time or project.daily_prompt_time
                found.append(Slot(job, meeting.isoformat(), _at(before, clock, tz), meeting))
    elif job == HOLIDAY_NOTICE:
        for day in _days(first, last):
            holiday = long_holiday_after(calendar, day)
            if holiday is not None:  # with the day's prompt, once per holiday (keyed by its first day off)
                found.append(Slot(job, holiday.first.isoformat(), _at(day, project.daily_prompt_time, tz), day))
    elif job == MINUTES:
        for meeting in _meetings(project, calendar, first, last):
            found.append(Slot(job, meeting.isoformat(), _at(meeting, project.meeting_time, tz) + MEETING_WINDOW, meeting))
    else:
        raise ValueError(f"not a timed job: {job}")
    return [s for s in found if start < s.due_at <= end and s.due_at >= project.created_at]


def prompt_due_at(project: Project, calendar: WorkCalendar, day: date) -> datetime | None:
    """When the project's daily prompt for `day` (its local date) falls due; None when `day` is no
    workday of its calendar or the project did not exist yet."""
    if not calendar.is_workday(day):
        return None
    due_at = _at(day, project.daily_prompt_time, ZoneInfo(project.timezone))
    return due_at if due_at >= project.created_at else None


def _meetings(project: Project, calendar: WorkCalendar, first: date, last: date) -> Iterable[date]:
    """Meeting days in [first, last]: the meeting weekday, when it is a workday (else that week has none)."""
    offset = (project.meeting_weekday - first.weekday()) % 7
    day = first + timedelta(days=offset)
    while day <= last:
        if calendar.is_workday(day):
            yield day
        day += timedelta(days=7)


def _last_workday_of_week(calendar: WorkCalendar, day: date) -> bool:
    return not any(calendar.is_workday(day + timedelta(days=n)) for n in range(1, 7 - day.weekday()))


def classify(slots: Iterable[Slot], at: datetime, grace: timedelta) -> tuple[list[Slot], list[Slot]]:
    """(due now, missed): due when due_at ≤ at < due_at + grace, missed once the grace period is over."""
    due: list[Slot] = []
    missed: list[Slot] = []
    for slot in slots:
        if slot.due_at > at:
            continue
        (due if at < slot.due_at + grace else missed).append(slot)
    return due, missed


def timed_slots(
    project: Project, calendar: WorkCalendar, jobs: Iterable[str], at: datetime, grace: timedelta
) -> tuple[list[Slot], list[Slot]]:
    """Due and missed slots of these jobs at `at` (missed ones are looked for one day back)."""
    due: list[Slot] = []
    missed: list[Slot] = []
    for job in jobs:
        slots = slots_between(project, calendar, job, start=at - grace - MISSED_LOOKBACK, end=at)
        d, m = classify(slots, at, grace)
        due += d
        missed += m
    return due, missed


def in_working_hours(project: Project, calendar: WorkCalendar, at: datetime) -> bool:
    """Reminders run only on workdays within the project's working hours (local time)."""
    local = at.astimezone(ZoneInfo(project.timezone))
    if not calendar.is_workday(local.date()):
        return False
    return project.work_start <= local.time().replace(tzinfo=None) < project.work_end


@dataclass(frozen=True, slots=True)
class RetroWindow:
    """When a closed project's retrospective prompt may go out: from the first workday after closing at
    the prompt time, until the end of the third workday (a scheduler down all that while misses it)."""

    key: str
    due_at: datetime
    until: datetime
    closed_on: date
    last_day: date


def retro_window(project: Project, calendar: WorkCalendar) -> RetroWindow | None:
    if project.closed_at is None:
        return None
    tz = ZoneInfo(project.timezone)
    closed_on = project.closed_at.astimezone(tz).date()
    days: list[date] = []
    current: date | None = closed_on
    while current is not None and len(days) < RETRO_WORKDAYS:
        current = calendar.next_workday(current)
        if current is not None:
            days.append(current)
    if not days:
        return None
    due_at = max(_at(days[0], project.daily_prompt_time, tz), project.closed_at)
    until = _at(days[-1] + timedelta(days=1), time(0), tz)
    return RetroWindow(closed_on.isoformat(), due_at, until, closed_on, days[-1])
