"""The reports' computations: (session, project, at) → rows (`reports.rows`) | None. Read only, no clock.

`at` is the moment the report is for (the slot's time, or a `/议程` message's own time); every date is
that moment's date in the project's time zone. Passing a `Snapshot` shared by many projects lets the
scheduler compute for a whole batch of projects with a constant number of statements.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from models import ActionStatus, Project, RiskLevel, RiskStatus, TaskStatus
from models.calendar import WorkCalendar, load_calendar
from reports.records import MemberRow, TaskDetail, TaskRow
from reports.rows import (
    ActionEntry,
    Agenda,
    Blocked,
    DailyPrompt,
    DecisionItem,
    Digest,
    Incident,
    Minutes,
    Nudge,
    OwnerTasks,
    RiskEvent,
    RiskEventKind,
    RiskItem,
    Slip,
    TaskItem,
    TrackingRow,
    TrackingTable,
)
from reports.rules import (
    ESCALATE_AFTER,
    ESCALATE_BLOCKED,
    ESCALATE_RISK,
    LONG_BLOCK,
    MEETING_WINDOW,
    REMIND_DUE,
    REMIND_OVERDUE,
    Health,
    behind_plan,
    completed_on,
    day_start,
    health,
    is_overdue,
    local_time,
    next_meeting_day,
    urgency,
)
from reports.snapshot import Snapshot


def snapshot_for(session: Session, project: Project, at: datetime, data: Snapshot | None) -> Snapshot:
    if data is not None and data.covers(project.id):
        return data
    return Snapshot(session, [project.id], at=at)


def _calendar(session: Session, project: Project, calendar: WorkCalendar | None) -> WorkCalendar:
    return calendar if calendar is not None else load_calendar(session, project_id=project.id)


def _member(members: dict[int, MemberRow], member_id: int | None) -> MemberRow | None:
    return members.get(member_id) if member_id is not None else None


def _changed_at(details: dict[int, TaskDetail], task: TaskRow, at: datetime) -> datetime:
    detail = details.get(task.id)
    return detail.status_changed_at if detail else at


def _completed_at(details: dict[int, TaskDetail], task: TaskRow) -> datetime:
    detail = details.get(task.id)
    assert detail is not None and detail.completed_at is not None
    return detail.completed_at


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S")


# ---------------------------------------------------------------------------- daily prompt


def _open_tasks_by_owner(
    data: Snapshot, project: Project
) -> tuple[dict[int, MemberRow], dict[int, list[TaskRow]], int]:
    members = data.members(project.id)
    by_owner: dict[int, list[TaskRow]] = defaultdict(list)
    unassigned = 0
    for task in data.open_tasks(project.id):
        if task.owner_id is not None and task.owner_id in members:
            by_owner[task.owner_id].append(task)
        else:
            unassigned += 1
    return members, by_owner, unassigned


def daily_prompt(session: Session, project: Project, at: datetime, *, data: Snapshot | None = None) -> DailyPrompt | None:
    """Each owner with open tasks, overdue first; None when nobody owns an open task."""
    data = snapshot_for(session, project, at, data)
    today = local_time(project, at).date()
    members, by_owner, unassigned = _open_tasks_by_owner(data, project)
    if not by_owner:
        return None
    for tasks in by_owner.values():
        tasks.sort(key=lambda t: urgency(t, today))
    # Owners with something overdue first, then in the order they joined.
    owners = sorted((members[oid] for oid in by_owner), key=lambda m: (urgency(by_owner[m.id][0], today)[0], m.id))
    return DailyPrompt(today, tuple(OwnerTasks(o, tuple(by_owner[o.id])) for o in owners), unassigned)


def not_updated_owners(data: Snapshot, project: Project, at: datetime) -> tuple[list[MemberRow], list[MemberRow]]:
    """(updated today, owners of open tasks who have not updated today), as of `at`."""
    today = local_time(project, at).date()
    since = day_start(project, today)
    members, by_owner, _ = _open_tasks_by_owner(data, project)
    updaters = data.task_updaters(project.id)
    updated = [m for m in members.values() if updaters.get(m.id, since - timedelta(1)) >= since]
    updated_ids = {m.id for m in updated}
    missing = [members[oid] for oid in sorted(by_owner) if oid not in updated_ids]
    return updated, missing


def nudge(session: Session, project: Project, at: datetime, *, data: Snapshot | None = None) -> Nudge | None:
    """The owners who have not updated any task today, with their open tasks; None when everyone has."""
    data = snapshot_for(session, project, at, data)
    today = local_time(project, at).date()
    _, missing = not_updated_owners(data, project, at)
    if not missing:
        return None
    _, by_owner, _ = _open_tasks_by_owner(data, project)
    return Nudge(
        today, tuple(OwnerTasks(o, tuple(sorted(by_owner[o.id], key=lambda t: urgency(t, today)))) for o in missing)
    )


# ---------------------------------------------------------------------------- weekly meeting


def agenda(
    session: Session,
    project: Project,
    at: datetime,
    *,
    meeting_day: date | None = None,
    data: Snapshot | None = None,
    calendar: WorkCalendar | None = None,
) -> Agenda | None:
    """The weekly meeting's agenda as of `at` (the workday before the meeting); None when there is nothing."""
    data = snapshot_for(session, project, at, data)
    calendar = _calendar(session, project, calendar)
    tz = ZoneInfo(project.timezone)
    today = local_time(project, at).date()
    meeting = meeting_day or next_meeting_day(project, calendar, at)
    members = data.members(project.id)
    details = data.task_details(project.id)
    open_tasks = data.open_tasks(project.id)
    by_urgency = sorted(open_tasks, key=lambda t: urgency(t, today))

    def item(task: TaskRow) -> TaskItem:
        return TaskItem(task, _member(members, task.owner_id))

    week_ago = at - timedelta(days=7)
    completed = [item(t) for t in data.completed_tasks(project.id) if _completed_at(details, t) >= week_ago]
    slipping: list[Slip] = []
    for task in by_urgency:
        if task.status == TaskStatus.BLOCKED:
            continue
        if is_overdue(task, today):
            slipping.append(Slip(task, _member(members, task.owner_id), None))
        elif (gap := behind_plan(task, details.get(task.id), today, tz)) is not None:
            slipping.append(Slip(task, _member(members, task.owner_id), gap))
    blocked = [
        Blocked(t, _member(members, t.owner_id), _changed_at(details, t, at))
        for t in sorted((t for t in open_tasks if t.status == TaskStatus.BLOCKED), key=lambda t: _changed_at(details, t, at))
    ]
    open_risks = [r for r in data.risks(project.id) if r.status == RiskStatus.OPEN]
    due_next_week: list[TaskItem] = []
    if meeting is not None:
        horizon = meeting + timedelta(days=7)
        due_next_week = [item(t) for t in by_urgency if t.due_date is not None and meeting <= t.due_date < horizon]
    result = Agenda(
        project_name=project.name,
        at=at,
        today=today,
        meeting=meeting,
        meeting_time=project.meeting_time,
        completed=tuple(completed),
        slipping=tuple(slipping),
        blocked=tuple(blocked),
        high_risks=tuple(RiskItem(r, _member(members, r.owner_id)) for r in open_risks if r.level == RiskLevel.HIGH),
        overdue_actions=tuple(
            ActionEntry(a, _member(members, a.owner_id))
            for a in data.actions(project.id)
            if a.status == ActionStatus.OPEN and a.due_date is not None and a.due_date < today
        ),
        undecided_risks=tuple(r for r in open_risks if r.strategy is None and r.level != RiskLevel.LOW),
        long_blocked=tuple(
            b for b in blocked if calendar.working_time_between(b.since, at, tz, limit=LONG_BLOCK) > LONG_BLOCK
        ),
        due_next_week=tuple(due_next_week),
    )
    sections = (result.completed, result.slipping, result.blocked, result.high_risks, result.overdue_actions,
                result.undecided_risks, result.long_blocked, result.due_next_week)
    if not any(sections) and not open_tasks:
        return None
    return result


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
        DecisionItem(d, _member(members, d.decided_by_id)) for d in data.decisions(project.id) if start <= d.created_at < end
    ]
    actions = [ActionEntry(a, _member(members, a.owner_id)) for a in data.actions(project.id) if start <= a.created_at < end]
    if not decisions and not actions:
        return None
    today = local_time(project, at).date()
    return Minutes(project.name, today, meeting_day, project.meeting_time, tuple(decisions), tuple(actions))


# ---------------------------------------------------------------------------- PM digests


def digest(
    session: Session,
    project: Project,
    at: datetime,
    *,
    data: Snapshot | None = None,
    calendar: WorkCalendar | None = None,
) -> Digest | None:
    """The PM's day: who updated, new blockers, overdue and due-soon tasks, risk changes."""
    data = snapshot_for(session, project, at, data)
    calendar = _calendar(session, project, calendar)
    today = local_time(project, at).date()
    since = day_start(project, today)
    members = data.members(project.id)
    details = data.task_details(project.id)
    open_tasks = sorted(data.open_tasks(project.id), key=lambda t: urgency(t, today))
    updated, missing = not_updated_owners(data, project, at)

    def item(task: TaskRow) -> TaskItem:
        return TaskItem(task, _member(members, task.owner_id))

    soon_until = calendar.next_workday(today) or today + timedelta(days=1)
    events = risk_events(data, project, since, members)
    completed_today = [t for t in data.completed_tasks(project.id) if _completed_at(details, t) >= since]
    if not (open_tasks or updated or events or completed_today):
        return None
    return Digest(
        project_name=project.name,
        today=today,
        updated=tuple(updated),
        missing=tuple(missing),
        completed_today=tuple(completed_today),
        open_count=len(open_tasks),
        new_blockers=tuple(
            item(t) for t in open_tasks if t.status == TaskStatus.BLOCKED and since <= _changed_at(details, t, at) <= at
        ),
        overdue=tuple(item(t) for t in open_tasks if is_overdue(t, today)),
        due_soon=tuple(item(t) for t in open_tasks if t.due_date is not None and today < t.due_date <= soon_until),
        soon_until=soon_until,
        risk_events=tuple(events),
    )


def risk_events(data: Snapshot, project: Project, since: datetime, members: dict[int, MemberRow]) -> list[RiskEvent]:
    """New risks, field changes and notes, and closed risks since `since`, in that order."""
    risks = {r.id: r for r in data.risks(project.id)}
    events: list[RiskEvent] = [
        RiskEvent(RiskEventKind.NEW, risk, _member(members, risk.owner_id))
        for risk in risks.values()
        if since <= risk.created_at <= data.at
    ]
    changes = data.risk_changes(project.id)
    for change in changes:
        changed = risks.get(change.entity_id)
        if change.at < since or changed is None or change.field == "created":
            continue
        owner = _member(members, changed.owner_id)
        if change.field == "note":
            events.append(RiskEvent(RiskEventKind.NOTE, changed, owner, note=change.note))
        else:
            events.append(
                RiskEvent(RiskEventKind.FIELD, changed, owner, change.field, change.old_value, change.new_value, change.note)
            )
    changed_status = {c.entity_id for c in changes if c.field == "status" and c.at >= since}
    events += [
        RiskEvent(RiskEventKind.CLOSED, risk, _member(members, risk.owner_id))
        for risk in risks.values()
        if risk.closed_at and since <= risk.closed_at <= data.at and risk.id not in changed_status
    ]
    return events


def tracking_table(session: Session, project: Project, at: datetime, *, data: Snapshot | None = None) -> TrackingTable | None:
    """Open tasks and the ones finished this week, each with its plan and health; None when there are none."""
    data = snapshot_for(session, project, at, data)
    tz = ZoneInfo(project.timezone)
    today = local_time(project, at).date()
    week_start = day_start(project, today - timedelta(days=today.weekday()))
    members = data.members(project.id)
    details = data.task_details(project.id)
    done = [t for t in data.completed_tasks(project.id) if _completed_at(details, t) >= week_start]
    tasks = data.open_tasks(project.id) + done
    if not tasks:
        return None
    order = {Health.LATE: 0, Health.RISK: 1, Health.OK: 2}
    counts = dict.fromkeys(order, 0)
    owner_of, detail_of, done_status = members.get, details.get, TaskStatus.DONE  # 10,000 rows: no lookups in the loop
    keyed: list[tuple[tuple[int, date, int], TrackingRow]] = []
    for task in tasks:
        detail = detail_of(task.id)
        state = health(task, detail, today, tz)
        counts[state] += 1
        done_on = completed_on(task, detail, today, tz) if task.status == done_status else None
        row = TrackingRow(task, owner_of(task.owner_id) if task.owner_id is not None else None, state, done_on, today, tz, detail)
        keyed.append(((order[state], task.due_date or date.max, task.number), row))
    keyed.sort(key=itemgetter(0))
    return TrackingTable(
        project_name=project.name,
        today=today,
        done_count=len(done),
        open_count=len(tasks) - len(done),
        ok=counts[Health.OK],
        late=counts[Health.LATE],
        at_risk=counts[Health.RISK],
        rows=tuple(row for _, row in keyed),
    )


# ---------------------------------------------------------------------------- reminders and escalation


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
    calendar = _calendar(session, project, calendar)
    tz = ZoneInfo(project.timezone)
    today = local_time(project, at).date()
    next_day = calendar.next_workday(today) or today + timedelta(days=1)
    members = data.members(project.id)
    details = data.task_details(project.id)
    incidents: list[Incident] = []
    for task in sorted(data.open_tasks(project.id), key=lambda t: urgency(t, today)):
        owner = _member(members, task.owner_id)
        if owner is not None and task.due_date is not None:
            if today < task.due_date <= next_day:
                incidents.append(Incident(REMIND_DUE, f"{task.id}:{task.due_date.isoformat()}", owner, at, today, task=task))
            elif task.due_date < today:
                incidents.append(Incident(REMIND_OVERDUE, f"{task.id}:{today.isoformat()}", owner, at, today, task=task))
        if task.status == TaskStatus.BLOCKED:
            since = _changed_at(details, task, at)
            if calendar.working_time_between(since, at, tz, limit=ESCALATE_AFTER) > ESCALATE_AFTER:
                key = f"{task.id}:{_stamp(since)}"
                incidents.append(Incident(ESCALATE_BLOCKED, key, None, at, today, task=task, responsible=owner, since=since))
    touched = data.risks_touched(project.id)
    for risk in data.risks(project.id):
        if risk.status != RiskStatus.OPEN or risk.level != RiskLevel.HIGH:
            continue
        # "Unchanged" since its last update, whichever of the row and its history says so.
        unchanged = max(risk.updated_at, risk.created_at, touched.get(risk.id, risk.created_at))
        if calendar.working_time_between(unchanged, at, tz, limit=ESCALATE_AFTER) > ESCALATE_AFTER:
            incidents.append(
                Incident(
                    ESCALATE_RISK, f"{risk.id}:{_stamp(unchanged)}", None, at, today,
                    risk=risk, responsible=_member(members, risk.owner_id), since=unchanged,
                )
            )
    return incidents
