"""Reminders held back over the daily cap (`reports.reminder_cap`), as their owners' next prompt lists them.

A folded reminder is listed while its task or action item is still open and still its person's, once
per item (the most urgent first, by its due date now); the prompt that lists it consumes it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import date

from models import ActionStatus
from reports.records import MemberRow
from reports.reminder_cap import tier
from reports.rows import FoldedReminder
from reports.rules import ACTION_DUE, ACTION_DUE_TODAY, ACTION_OVERDUE
from reports.snapshot import Snapshot

ACTION_JOBS = frozenset((ACTION_DUE, ACTION_DUE_TODAY, ACTION_OVERDUE))


def folded_reminders(
    data: Snapshot, project_id: int, today: date, members: dict[int, MemberRow], *, away: Collection[int]
) -> tuple[dict[int, tuple[FoldedReminder, ...]], tuple[int, ...]]:
    """(member id → the folded reminders to list, most urgent first; the job_run ids they consume)."""
    rows = [r for r in data.folded(project_id) if r.day <= today]
    if not rows:
        return {}, ()
    tasks = {t.id: t for t in data.open_tasks(project_id)}
    actions = {a.id: a for a in data.actions(project_id) if a.status == ActionStatus.OPEN}
    found: defaultdict[int, dict[str, tuple[tuple[int, int, date, int], FoldedReminder]]] = defaultdict(dict)
    runs: list[int] = []
    for row in rows:
        item = actions.get(row.item_id) if row.job in ACTION_JOBS else tasks.get(row.item_id)
        if item is None or item.owner_id is None or item.due_date is None or item.owner_id in away:
            continue
        owner = members.get(item.owner_id)
        if owner is None or owner.user_id != row.user_id:  # closed, or someone else's now
            continue
        is_action = row.job in ACTION_JOBS
        order = (tier(item.due_date, today), is_action, item.due_date, item.number)
        found[owner.id][item.ref] = (order, FoldedReminder(item.ref, item.due_date, row.job))
        runs.append(row.run_id)
    listed = {owner: tuple(f for _, f in sorted(items.values(), key=lambda x: x[0])) for owner, items in found.items()}
    return listed, tuple(runs)
