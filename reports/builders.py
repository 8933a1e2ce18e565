"""The reports as the scheduler posts them and `/议程 /汇总 /周报` show them: computed, then rendered as text.

Each `build_*` is `(session, project, at) → Reply | None`: read only, no clock. A `Snapshot` shared by
many projects lets the scheduler build for a whole batch with a constant number of statements.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime

from sqlalchemy.orm import Session

from bot.messages import Reply
from models import Project
from models.calendar import WorkCalendar
from reports import compute, text
from reports.holidays import makeup_note
from reports.rows import DailyPrompt
from reports.snapshot import Snapshot


def build_daily_prompt(
    session: Session,
    project: Project,
    at: datetime,
    *,
    data: Snapshot | None = None,
    calendar: WorkCalendar | None = None,
    privately: Collection[int] = (),
) -> Reply | None:
    """The daily progress prompt: @ each owner with open tasks and list them, overdue first (on a make-up
    workday it says so, when given the project's calendar); `privately`: the owners (member ids) who got
    the day's merged private prompt, listed without the @."""
    rows = compute.daily_prompt(session, project, at, data=data)
    return daily_prompt_reply(rows, project, calendar, privately=privately) if rows else None


def daily_prompt_reply(
    rows: DailyPrompt, project: Project, calendar: WorkCalendar | None = None, *, privately: Collection[int] = ()
) -> Reply:
    """The daily prompt's rows as the group's message (the scheduler keeps the rows: what it consumes)."""
    note = makeup_note(calendar, rows.today) if calendar is not None else None
    return text.daily_prompt(rows, project_name=project.name, note=note, privately=privately)


def build_nudge(
    session: Session, project: Project, at: datetime, *, data: Snapshot | None = None, privately: Collection[int] = ()
) -> Reply | None:
    """The optional second nudge: @ only the owners who have not updated any task today (named, not @-ed,
    when they got the merged private prompt)."""
    rows = compute.nudge(session, project, at, data=data)
    return text.nudge(rows, project_name=project.name, privately=privately) if rows else None


def build_weekly_agenda(
    session: Session,
    project: Project,
    at: datetime,
    *,
    meeting_day: date | None = None,
    data: Snapshot | None = None,
    calendar: WorkCalendar | None = None,
) -> Reply | None:
    """The weekly meeting's agenda, built from the data as of `at` (the workday before the meeting)."""
    rows = compute.agenda(session, project, at, meeting_day=meeting_day, data=data, calendar=calendar)
    return text.agenda(rows) if rows else None


def build_minutes(
    session: Session, project: Project, at: datetime, *, meeting_day: date, data: Snapshot | None = None
) -> Reply | None:
    """Minutes after the meeting window: the decisions and action items recorded during it."""
    rows = compute.minutes(session, project, at, meeting_day=meeting_day, data=data)
    return text.minutes(rows) if rows else None


def build_digest(
    session: Session, project: Project, at: datetime, *, data: Snapshot | None = None, calendar: WorkCalendar | None = None
) -> Reply | None:
    """The PM's daily digest: who updated, new blockers, overdue and due-soon tasks, risk changes."""
    rows = compute.digest(session, project, at, data=data, calendar=calendar)
    return text.digest(rows) if rows else None


def build_weekly_digest(session: Session, project: Project, at: datetime, *, data: Snapshot | None = None) -> Reply | None:
    """The weekly tracking table (进度跟踪表): task, owner, planned, actual, 状态 正常/延迟/风险."""
    rows = compute.tracking_table(session, project, at, data=data)
    return text.tracking_table(rows) if rows else None
