"""Replies shown again from the database: a message that carries a `Reply.view` (the daily prompt's
day and tasks) is rebuilt by the same report code that built it, as its tasks are now — a card
re-rendered in place after a button is pressed or a task on it changes by typed text.

A task finished from the card stays on it, shown as done, so people see what happened; one moved to
another owner stays under the owner it was shown for; one deleted from the project is left out.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.messages import Reply
from models import Project
from reports import text, text_person
from reports.compute_base import snapshot_for
from reports.rows import DailyPrompt, FoldedReminder, OwnerTasks, PersonPrompt
from reports.snapshot import Snapshot


def shown_task_ids(view: dict[str, Any]) -> set[int]:
    """The tasks a view shows (a change to one of them means the message is out of date)."""
    if view.get("kind") != text.PROMPT_VIEW:
        return set()
    return {int(t) for _, tasks in view.get("owners", ()) for t in tasks}


def view_day(view: dict[str, Any]) -> date | None:
    try:
        return date.fromisoformat(str(view.get("day")))
    except ValueError:
        return None


def rebuild(session: Session, project: Project, view: dict[str, Any], at: datetime) -> Reply | None:
    """The reply `view` describes, built again from the project's data now (None: a view this code
    does not know, or nothing left to show)."""
    if view.get("kind") != text.PROMPT_VIEW:
        return None
    today = view_day(view)
    if today is None:
        return None
    data = snapshot_for(session, project, at, None)
    members = data.members(project.id)
    tasks = data.tasks(project.id, shown_task_ids(view))
    folded = _folded(view)
    owners: list[OwnerTasks] = []
    for owner_id, task_ids in view.get("owners", ()):
        owner = members.get(int(owner_id))
        shown = tuple(tasks[int(t)] for t in task_ids if int(t) in tasks)
        listed = folded.get(int(owner_id), ())
        if owner is not None and (shown or listed):
            owners.append(OwnerTasks(owner, shown, listed))
    if not owners:
        return None
    prompt = DailyPrompt(today, tuple(owners), int(view.get("unassigned") or 0))
    note = view.get("note")
    privately = [int(m) for m in view.get("privately", ())]  # still named without @ after a refresh
    return text.daily_prompt(
        prompt, project_name=project.name, note=note if isinstance(note, str) else None, privately=privately
    )


def rebuild_person(session: Session, view: dict[str, Any], at: datetime) -> Reply | None:
    """The merged private prompt `view` describes (`text_person.PERSON_VIEW`), built again as its
    tasks are now, each project's block as it was listed (None: not such a view, or nothing left)."""
    if view.get("kind") != text_person.PERSON_VIEW:
        return None
    today = view_day(view)
    try:
        listed = [(int(project), int(owner), [int(t) for t in tasks]) for project, owner, tasks in view["projects"]]
    except (KeyError, TypeError, ValueError):
        return None
    if today is None or not listed:
        return None
    projects = {p.id: p for p in session.scalars(select(Project).where(Project.id.in_({pid for pid, _, _ in listed})))}
    data = Snapshot(session, sorted(projects), at=at)
    folded = _folded(view)
    rows: list[tuple[str, OwnerTasks]] = []
    for project_id, owner_id, task_ids in listed:
        if project_id not in projects:
            continue
        owner = data.members(project_id).get(owner_id)
        tasks = data.tasks(project_id, task_ids)
        shown = tuple(tasks[t] for t in task_ids if t in tasks)
        if owner is not None and (shown or folded.get(owner_id)):
            rows.append((projects[project_id].name, OwnerTasks(owner, shown, folded.get(owner_id, ()))))
    return text_person.person_prompt(PersonPrompt(today, tuple(rows))) if rows else None


def _folded(view: dict[str, Any]) -> dict[int, tuple[FoldedReminder, ...]]:
    """The reminders held back over the daily cap the message listed, as it listed them."""
    found: dict[int, tuple[FoldedReminder, ...]] = {}
    try:
        for owner_id, items in view.get("folded", ()):
            found[int(owner_id)] = tuple(FoldedReminder(str(ref), date.fromisoformat(due), str(job)) for ref, due, job in items)
    except (TypeError, ValueError):
        return {}
    return found


def touches(view: dict[str, Any], task_ids: Collection[int]) -> bool:
    return not shown_task_ids(view).isdisjoint(task_ids)
