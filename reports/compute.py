"""The reports' computations: (session, project, at) → rows (`reports.rows`) | None. Read only, no clock.

This module holds the daily prompt and the nudge and gathers the others: the weekly meeting
(`compute_agenda`), the PM's digests (`compute_digest`), reminders and escalations (`compute_reminders`).

`at` is the moment the report is for (the slot's time, or a `/议程` message's own time); every date is
that moment's date in the project's time zone. Passing a `Snapshot` shared by many projects lets the
scheduler compute for a whole batch of projects with a constant number of statements.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from models import Project
from reports.compute_agenda import agenda, agenda_start, minutes
from reports.compute_base import snapshot_for
from reports.compute_digest import digest, risk_events, tracking_table, who_updated
from reports.compute_folded import folded_reminders
from reports.compute_reminders import find_reminders
from reports.records import MemberRow, TaskRow
from reports.rows import DailyPrompt, Nudge, OwnerTasks
from reports.rules import day_start, local_time, urgency
from reports.snapshot import Snapshot

__all__ = [
    "agenda",
    "agenda_start",
    "daily_prompt",
    "digest",
    "find_reminders",
    "minutes",
    "not_updated_owners",
    "nudge",
    "risk_events",
    "snapshot_for",
    "tracking_table",
    "who_updated",
]


# ---------------------------------------------------------------------------- daily prompt


def _open_tasks_by_owner(
    data: Snapshot, project: Project, today: date
) -> tuple[dict[int, MemberRow], dict[int, list[TaskRow]], int]:
    """Open tasks by owner; the tasks of someone on leave today are nobody's to be prompted about."""
    members = data.members(project.id)
    by_owner: dict[int, list[TaskRow]] = defaultdict(list)
    unassigned = 0
    away = data.away(project.id, today)
    for task in data.open_tasks(project.id):
        if task.owner_id is not None and task.owner_id in away:
            continue
        if task.owner_id is not None and task.owner_id in members:
            by_owner[task.owner_id].append(task)
        else:
            unassigned += 1
    return members, by_owner, unassigned


def daily_prompt(session: Session, project: Project, at: datetime, *, data: Snapshot | None = None) -> DailyPrompt | None:
    """Each owner with open tasks, overdue first; None when nobody owns an open task."""
    data = snapshot_for(session, project, at, data)
    today = local_time(project, at).date()
    members, by_owner, unassigned = _open_tasks_by_owner(data, project, today)
    # Reminders held back over the daily cap are listed in their owner's block (an owner with only those too).
    folded, folded_runs = folded_reminders(data, project.id, today, members, away=data.away(project.id, today))
    if not by_owner and not folded:
        return None
    for tasks in by_owner.values():
        tasks.sort(key=lambda t: urgency(t, today))
    # Owners with something overdue first, then in the order they joined.
    owners = sorted(
        (members[oid] for oid in {*by_owner, *folded}),
        key=lambda m: (urgency(by_owner[m.id][0], today)[0] if by_owner.get(m.id) else 1, m.id),
    )
    blocks = tuple(OwnerTasks(o, tuple(by_owner.get(o.id, ())), folded.get(o.id, ())) for o in owners)
    return DailyPrompt(today, blocks, unassigned, folded_runs)


def not_updated_owners(data: Snapshot, project: Project, at: datetime) -> tuple[list[MemberRow], list[MemberRow]]:
    """(updated today, owners of open tasks who have not updated today), as of `at`."""
    today = local_time(project, at).date()
    since = day_start(project, today)
    members, by_owner, _ = _open_tasks_by_owner(data, project, today)
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
    _, by_owner, _ = _open_tasks_by_owner(data, project, today)
    return Nudge(
        today, tuple(OwnerTasks(o, tuple(sorted(by_owner[o.id], key=lambda t: urgency(t, today)))) for o in missing)
    )
