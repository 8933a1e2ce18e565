"""The PM's digests: the daily digest (who did what, blockers, deadlines and their moves, risk changes)
and the weekly tracking table (进度跟踪表)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from operator import itemgetter
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from models import ActionStatus, Project, TaskStatus
from models.calendar import WorkCalendar
from reports.compute_base import calendar_for, changed_at, completed_at, member_of, snapshot_for
from reports.forecast import milestones_at_risk
from reports.records import MemberRow, TaskRow
from reports.rows import (
    ActionEntry,
    Digest,
    DueMoveItem,
    RiskEvent,
    RiskEventKind,
    TaskItem,
    TrackingRow,
    TrackingTable,
)
from reports.rules import (
    Health,
    completed_on,
    day_start,
    health,
    is_overdue,
    local_time,
    readiness,
    urgency,
)
from reports.snapshot import Snapshot


def who_updated(data: Snapshot, project: Project, at: datetime) -> tuple[list[MemberRow], list[MemberRow]]:
    """(the team members who recorded any change today, those with something open who did not).

    Any change counts — a task, a risk, an action item, a note. Only owners of open tasks or open action
    items can be missing. The PM and co-PMs are in neither list: the digest is theirs, about the team.
    """
    today = local_time(project, at).date()
    since = day_start(project, today)
    members = data.members(project.id)
    activity = data.activity(project.id)
    away = data.away(project.id, today)  # on leave: never 未更新
    updated = [m for m in members.values() if not m.is_manager and activity.get(m.id, since - timedelta(1)) >= since]
    done = {m.id for m in updated}
    owners = {t.owner_id for t in data.open_tasks(project.id) if t.owner_id is not None}
    owners |= {a.owner_id for a in data.actions(project.id) if a.status == ActionStatus.OPEN and a.owner_id is not None}
    missing = [
        members[oid] for oid in sorted(owners)
        if oid in members and oid not in done and oid not in away and not members[oid].is_manager
    ]
    return updated, missing


def digest_window_start(project: Project, calendar: WorkCalendar, at: datetime, data: Snapshot) -> datetime:
    """Deadline moves since the previous workday's digest (so each lands in the next digest), at most as
    far back as the snapshot reaches."""
    today = local_time(project, at).date()
    before = calendar.previous_workday(today) or today - timedelta(days=1)
    tz = ZoneInfo(project.timezone)
    return max(datetime.combine(before, project.digest_time, tz), data.since)


def digest(
    session: Session,
    project: Project,
    at: datetime,
    *,
    data: Snapshot | None = None,
    calendar: WorkCalendar | None = None,
) -> Digest | None:
    """The PM's day: who updated, completions, new blockers, overdue and due-soon work, deadline moves
    and risk changes."""
    data = snapshot_for(session, project, at, data)
    calendar = calendar_for(session, project, calendar)
    today = local_time(project, at).date()
    since = day_start(project, today)
    members = data.members(project.id)
    details = data.task_details(project.id)
    open_tasks = sorted(data.open_tasks(project.id), key=lambda t: urgency(t, today))
    updated, missing = who_updated(data, project, at)

    def item(task: TaskRow) -> TaskItem:
        return TaskItem(task, member_of(members, task.owner_id))

    soon_until = calendar.next_workday(today) or today + timedelta(days=1)
    events = risk_events(data, project, since, members)
    completed_today = [t for t in data.completed_tasks(project.id) if completed_at(details, t) >= since]
    completed_actions = [
        a for a in data.actions(project.id) if a.status == ActionStatus.DONE and a.done_at is not None and a.done_at >= since
    ]
    moves_from = digest_window_start(project, calendar, at, data)
    moves = [
        DueMoveItem(m, member_of(members, m.actor_id))
        for m in data.due_moves(project.id)
        if m.at > moves_from and m.old != m.new
    ]
    open_actions = [a for a in data.actions(project.id) if a.status == ActionStatus.OPEN and a.due_date is not None]
    pending = [DueMoveItem(m, member_of(members, m.actor_id)) for m in data.pending_requests(project.id)]
    if not (open_tasks or updated or events or completed_today or completed_actions or moves or open_actions or pending):
        return None
    return Digest(
        project_name=project.name,
        today=today,
        updated=tuple(updated),
        missing=tuple(missing),
        completed_today=tuple(completed_today),
        completed_actions=tuple(completed_actions),
        open_count=len(open_tasks),
        new_blockers=tuple(
            item(t) for t in open_tasks if t.status == TaskStatus.BLOCKED and since <= changed_at(details, t, at) <= at
        ),
        overdue=tuple(item(t) for t in open_tasks if is_overdue(t, today)),
        due_soon=tuple(item(t) for t in open_tasks if t.due_date is not None and today < t.due_date <= soon_until),
        soon_until=soon_until,
        risk_events=tuple(events),
        due_moves=tuple(moves),
        overdue_actions=tuple(
            ActionEntry(a, member_of(members, a.owner_id)) for a in open_actions if a.due_date and a.due_date < today
        ),
        due_soon_actions=tuple(
            ActionEntry(a, member_of(members, a.owner_id))
            for a in open_actions
            if a.due_date and today < a.due_date <= soon_until
        ),
        pending_moves=tuple(pending),
        milestones_at_risk=milestones_at_risk(session, project, at, calendar=calendar),
    )


def risk_events(data: Snapshot, project: Project, since: datetime, members: dict[int, MemberRow]) -> list[RiskEvent]:
    """New risks, field changes and notes, and closed risks since `since`, in that order."""
    risks = {r.id: r for r in data.risks(project.id)}
    events: list[RiskEvent] = [
        RiskEvent(RiskEventKind.NEW, risk, member_of(members, risk.owner_id))
        for risk in risks.values()
        if since <= risk.created_at <= data.at
    ]
    changes = data.risk_changes(project.id)
    for change in changes:
        changed = risks.get(change.entity_id)
        if change.at < since or changed is None or change.field == "created":
            continue
        owner = member_of(members, changed.owner_id)
        if change.field == "note":
            events.append(RiskEvent(RiskEventKind.NOTE, changed, owner, note=change.note))
        else:
            events.append(
                RiskEvent(RiskEventKind.FIELD, changed, owner, change.field, change.old_value, change.new_value, change.note)
            )
    changed_status = {c.entity_id for c in changes if c.field == "status" and c.at >= since}
    events += [
        RiskEvent(RiskEventKind.CLOSED, risk, member_of(members, risk.owner_id))
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
    prereqs = data.prereqs(project.id)
    done = [t for t in data.completed_tasks(project.id) if completed_at(details, t) >= week_start]
    tasks = data.open_tasks(project.id) + done
    if not tasks:
        return None
    order = {Health.LATE: 0, Health.RISK: 1, Health.UNSCHEDULED: 2, Health.OK: 3}
    counts = dict.fromkeys(order, 0)
    owner_of, detail_of, prereq_of, done_status = members.get, details.get, prereqs.get, TaskStatus.DONE
    keyed: list[tuple[tuple[int, date, int], TrackingRow]] = []
    for task in tasks:  # 10,000 rows: no lookups in the loop
        detail = detail_of(task.id)
        ready = readiness(detail, prereq_of(task.id), today, tz)
        state = health(task, detail, ready, today, tz)
        counts[state] += 1
        done_on = completed_on(task, detail, today, tz) if task.status == done_status else None
        row = TrackingRow(task, owner_of(task.owner_id) if task.owner_id is not None else None, state, done_on, today, ready)
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
        unscheduled=counts[Health.UNSCHEDULED],
        rows=tuple(row for _, row in keyed),
    )
