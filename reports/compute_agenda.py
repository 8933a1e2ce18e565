"""The weekly meeting's reports: the agenda (as posted, and as it stands now) and the minutes.

上周完成 is "completed since the previous agenda was built": each posted agenda is remembered
(`models.rhythm.AgendaRun`: its meeting, when it was built, where its window began), so every
completion appears in exactly one posted agenda, and a meeting skipped for a holiday (no agenda is
built for it) leaves its completions to the next one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from models import ActionStatus, Project, RiskLevel, RiskStatus, TaskStatus
from models.calendar import WorkCalendar
from reports.compute_base import calendar_for, changed_at, member_of, snapshot_for
from reports.forecast import milestones_at_risk
from reports.holidays import around_holiday_until, long_holiday_ahead
from reports.records import AgendaRunRow, MemberRow, TaskRow, TopicRow
from reports.rows import (
    ActionEntry,
    Agenda,
    Blocked,
    DecisionItem,
    HolidayAhead,
    HolidayDue,
    Minutes,
    RiskItem,
    Slip,
    TaskItem,
    TopicItem,
)
from reports.rules import LONG_BLOCK, MEETING_WINDOW, behind_plan, is_overdue, local_time, next_meeting_day, readiness, urgency
from reports.snapshot import Snapshot
from reports.snapshot_rhythm import AGENDA_LOOKBACK


def agenda_start(runs: list[AgendaRunRow], meeting: date | None, project: Project, at: datetime) -> datetime:
    """Where the agenda for `meeting` begins its 上周完成: the start of the one already posted for that
    meeting; else the moment the previous posted agenda was built; else the project's start (at most
    eight weeks back)."""
    for run in runs:
        if run.meeting_day == meeting:
            return run.covers_from
    earlier = [run.built_at for run in runs if meeting is None or run.meeting_day < meeting]
    return max(earlier) if earlier else max(project.created_at, at - AGENDA_LOOKBACK)


def open_topics(topics: list[TopicRow], meeting: date | None) -> list[TopicRow]:
    """Topics not yet through a meeting: never listed, or listed in this meeting's agenda."""
    return [t for t in topics if t.meeting_day is None or (meeting is not None and t.meeting_day >= meeting)]


def agenda(
    session: Session,
    project: Project,
    at: datetime,
    *,
    meeting_day: date | None = None,
    data: Snapshot | None = None,
    calendar: WorkCalendar | None = None,
) -> Agenda | None:
    """The agenda of the meeting `meeting_day` (default: the next one) as of `at`; None when empty."""
    data = snapshot_for(session, project, at, data)
    calendar = calendar_for(session, project, calendar)
    tz = ZoneInfo(project.timezone)
    today = local_time(project, at).date()
    meeting = meeting_day or next_meeting_day(project, calendar, at)
    members = data.members(project.id)
    details = data.task_details(project.id)
    prereqs = data.prereqs(project.id)
    open_tasks = data.open_tasks(project.id)
    by_urgency = sorted(open_tasks, key=lambda t: urgency(t, today))

    def item(task: TaskRow) -> TaskItem:
        return TaskItem(task, member_of(members, task.owner_id))

    since = agenda_start(data.agenda_runs(project.id), meeting, project, at)
    completed = [item(t) for done_at, t in data.completions(project.id) if since <= done_at <= at]
    slipping: list[Slip] = []
    for task in by_urgency:
        if task.status == TaskStatus.BLOCKED:
            continue
        if is_overdue(task, today):
            slipping.append(Slip(task, member_of(members, task.owner_id), None))
            continue
        ready = readiness(details.get(task.id), prereqs.get(task.id), today, tz)
        if (gap := behind_plan(task, ready, today)) is not None:
            slipping.append(Slip(task, member_of(members, task.owner_id), gap))
    blocked_tasks = sorted((t for t in open_tasks if t.status == TaskStatus.BLOCKED), key=lambda t: changed_at(details, t, at))
    blocked = []
    for task in blocked_tasks:
        began = changed_at(details, task, at)
        blocked.append(Blocked(task, member_of(members, task.owner_id), began, calendar.working_time_between(began, at, tz)))
    open_risks = [r for r in data.risks(project.id) if r.status == RiskStatus.OPEN]
    due_next_week: list[TaskItem] = []
    if meeting is not None:
        horizon = meeting + timedelta(days=7)
        due_next_week = [item(t) for t in by_urgency if t.due_date is not None and meeting <= t.due_date < horizon]
    topics = tuple(
        TopicItem(t, member_of(members, t.added_by_id)) for t in open_topics(data.topics(project.id), meeting)
    )
    holiday = _holiday_ahead(project, calendar, today, by_urgency, members)
    result = Agenda(
        project_name=project.name,
        at=at,
        today=today,
        meeting=meeting,
        meeting_time=project.meeting_time,
        covers_from=since.astimezone(tz),
        completed=tuple(completed),
        slipping=tuple(slipping),
        blocked=tuple(blocked),
        high_risks=tuple(RiskItem(r, member_of(members, r.owner_id)) for r in open_risks if r.level == RiskLevel.HIGH),
        overdue_actions=tuple(
            ActionEntry(a, member_of(members, a.owner_id))
            for a in data.actions(project.id)
            if a.status == ActionStatus.OPEN and a.due_date is not None and a.due_date < today
        ),
        undecided_risks=tuple(r for r in open_risks if r.strategy is None and r.level != RiskLevel.LOW),
        long_blocked=tuple(b for b in blocked if b.age > LONG_BLOCK),
        due_next_week=tuple(due_next_week),
        topics=topics,
        milestones_at_risk=milestones_at_risk(session, project, at, calendar=calendar),
        holiday=holiday,
    )
    sections = (result.completed, result.slipping, result.blocked, result.high_risks, result.overdue_actions,
                result.undecided_risks, result.long_blocked, result.due_next_week, result.topics)
    if not any(sections) and not open_tasks:
        return None
    return result


def _holiday_ahead(
    project: Project, calendar: WorkCalendar, today: date, tasks: list[TaskRow], members: dict[int, MemberRow]
) -> HolidayAhead | None:
    """A long holiday within two weeks, with the open tasks due inside it or in the first workdays after
    it and the working days really left (/项目 设置 节假日截止 关: none)."""
    if not project.holiday_deadlines:
        return None
    holiday = long_holiday_ahead(calendar, today)
    if holiday is None:
        return None
    until = around_holiday_until(calendar, holiday)
    due = []
    for task in tasks:
        if task.due_date is None or not holiday.first <= task.due_date <= until:
            continue
        workdays = len(calendar.workdays(today + timedelta(days=1), task.due_date))
        due.append(HolidayDue(task, member_of(members, task.owner_id), task.due_date <= holiday.last,
                              (task.due_date - today).days, workdays))
    due.sort(key=lambda d: (d.task.due_date or date.max, d.task.number))
    return HolidayAhead(holiday.name, holiday.first, holiday.last, holiday.back_on, tuple(due))


def minutes(
    session: Session, project: Project, at: datetime, *, meeting_day: date, data: Snapshot | None = None
) -> Minutes | None:
    """The decisions and action items recorded during the meeting window; None when there are none."""
    data = snapshot_for(session, project, at, data)
    tz = ZoneInfo(project.timezone)
    start = datetime.combine(meeting_day, project.meeting_time, tz).astimezone(UTC)
    end = min(start + MEETING_WINDOW, at) if at > start else start + MEETING_WINDOW
    members = data.members(project.id)
    decisions = [
        DecisionItem(d, member_of(members, d.decided_by_id)) for d in data.decisions(project.id) if start <= d.created_at < end
    ]
    actions = [ActionEntry(a, member_of(members, a.owner_id)) for a in data.actions(project.id) if start <= a.created_at < end]
    if not decisions and not actions:
        return None
    today = local_time(project, at).date()
    return Minutes(project.name, today, meeting_day, project.meeting_time, tuple(decisions), tuple(actions))
