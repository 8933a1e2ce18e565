"""The Snapshot's loaders for the rhythm's judgements: predecessors, activity, due-date moves, agendas.

Each is `(session, project ids, at, since) → (project id, item)` pairs, one statement per chunk of
projects, called by `reports.snapshot.Snapshot` the first time a builder asks for that kind of row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from models import (
    OPEN_TASK_STATUSES,
    ActionItem,
    AgendaRun,
    AgendaTopic,
    Change,
    DueRequest,
    Task,
    TaskStatus,
    task_dependency,
)
from models.rhythm import AGENDA_LOOKBACK_DAYS, PENDING
from reports.records import AgendaRunRow, DueMove, Prereq, TaskRow, TopicRow, as_utc

AGENDA_LOOKBACK = timedelta(days=AGENDA_LOOKBACK_DAYS)


def prereqs(session: Session, ids: list[int]) -> Iterable[tuple[int, tuple[int, Prereq]]]:
    """Open task id → whether a predecessor is still open, and when the last one was finished."""
    predecessor = aliased(Task)
    rows = session.execute(
        select(Task.project_id, Task.id, predecessor.status, predecessor.completed_at)
        .join(task_dependency, task_dependency.c.task_id == Task.id)
        .join(predecessor, predecessor.id == task_dependency.c.predecessor_id)
        .where(Task.project_id.in_(ids), Task.status.in_(OPEN_TASK_STATUSES))
    )
    found: dict[int, tuple[int, bool, datetime | None]] = {}
    for project_id, task_id, status, completed_at in rows:
        _, is_open, last = found.get(task_id, (project_id, False, None))
        is_open = is_open or status in OPEN_TASK_STATUSES
        if status == TaskStatus.DONE and completed_at is not None and (last is None or completed_at > last):
            last = completed_at
        found[task_id] = (project_id, is_open, last)
    for task_id, (project_id, is_open, last) in found.items():
        yield project_id, (task_id, Prereq(is_open, last))


def activity(session: Session, ids: list[int], at: datetime, since: datetime) -> Iterable[tuple[int, tuple[int, datetime]]]:
    """Member id → their last recorded change of anything (task, risk, action item, note) in [since, at]."""
    rows = session.execute(
        select(Change.project_id, Change.actor_id, func.max(Change.at))
        .where(Change.project_id.in_(ids), Change.actor_id.is_not(None), Change.at >= since, Change.at <= at)
        .group_by(Change.project_id, Change.actor_id)
    )
    for project_id, actor_id, last in rows:
        yield project_id, (actor_id, as_utc(last))


def due_moves(session: Session, ids: list[int], at: datetime, since: datetime) -> Iterable[tuple[int, DueMove]]:
    """Every change of a task's or action item's due date in [since, at], oldest first."""
    base = (Change.project_id.in_(ids), Change.field == "due", Change.at >= since, Change.at <= at)
    tasks = session.execute(
        select(Change.project_id, Task.number, Task.title, Change.actor_id, Change.at, Change.old_value,
               Change.new_value, Change.note, Change.id)
        .join(Task, Task.id == Change.entity_id)
        .where(Change.entity == "task", *base)
    ).all()
    actions = session.execute(
        select(Change.project_id, ActionItem.number, ActionItem.content, Change.actor_id, Change.at, Change.old_value,
               Change.new_value, Change.note, Change.id)
        .join(ActionItem, ActionItem.id == Change.entity_id)
        .where(Change.entity == "action", *base)
    ).all()
    moves = [("task", f"#{r[1]}", r) for r in tasks] + [("action", f"A{r[1]}", r) for r in actions]
    moves.sort(key=lambda m: (m[2][0], as_utc(m[2][4]), m[2][8]))
    for entity, ref, (project_id, _, title, actor_id, moved_at, old, new, note, _id) in moves:
        yield project_id, DueMove(entity, ref, title, actor_id, as_utc(moved_at), _date(old), _date(new), note)


def pending_requests(session: Session, ids: list[int]) -> Iterable[tuple[int, DueMove]]:
    """Deadline moves waiting for the PM (`/项目 设置 延期审批 开`), oldest first."""
    rows = session.execute(
        select(DueRequest.project_id, Task.number, Task.title, DueRequest.requested_by_id, DueRequest.requested_at,
               DueRequest.old_due, DueRequest.new_due, DueRequest.note)
        .join(Task, Task.id == DueRequest.task_id)
        .where(DueRequest.project_id.in_(ids), DueRequest.status == PENDING, Task.status.in_(OPEN_TASK_STATUSES))
        .order_by(DueRequest.project_id, DueRequest.requested_at, DueRequest.id)
    )
    for project_id, number, title, actor_id, requested_at, old, new, note in rows:
        yield project_id, DueMove("task", f"#{number}", title, actor_id, as_utc(requested_at), old, new, note)


def agenda_runs(session: Session, ids: list[int], at: datetime) -> Iterable[tuple[int, AgendaRunRow]]:
    """The agendas posted in the last eight weeks (and any built for a later meeting), by meeting day."""
    rows = session.execute(
        select(AgendaRun.project_id, AgendaRun.meeting_day, AgendaRun.built_at, AgendaRun.covers_from)
        .where(AgendaRun.project_id.in_(ids), AgendaRun.built_at >= at - AGENDA_LOOKBACK, AgendaRun.built_at <= at)
        .order_by(AgendaRun.project_id, AgendaRun.meeting_day)
    )
    for project_id, meeting_day, built_at, covers_from in rows:
        yield project_id, AgendaRunRow(meeting_day, built_at, covers_from)


def topics(session: Session, ids: list[int], at: datetime) -> Iterable[tuple[int, TopicRow]]:
    """Topics added up to `at` that have not gone through a meeting more than a week before `at`."""
    recent = (at - timedelta(days=8)).date()
    rows = session.execute(
        select(AgendaTopic.project_id, AgendaTopic.id, AgendaTopic.content, AgendaTopic.added_by_id,
               AgendaTopic.added_at, AgendaTopic.meeting_day)
        .where(
            AgendaTopic.project_id.in_(ids),
            AgendaTopic.added_at <= at,
            AgendaTopic.meeting_day.is_(None) | (AgendaTopic.meeting_day >= recent),
        )
        .order_by(AgendaTopic.project_id, AgendaTopic.id)
    )
    for project_id, *row in rows:
        yield project_id, TopicRow(*row)


def completions(session: Session, ids: list[int], at: datetime) -> Iterable[tuple[int, tuple[datetime, TaskRow]]]:
    """Tasks completed in the last eight weeks up to `at`, in the order they were completed."""
    rows = session.execute(
        select(Task.project_id, Task.id, Task.number, Task.title, Task.progress, Task.due_date, Task.owner_id,
               Task.completed_at)
        .where(
            Task.project_id.in_(ids), Task.status == TaskStatus.DONE,
            Task.completed_at >= at - AGENDA_LOOKBACK, Task.completed_at <= at,
        )
        .order_by(Task.project_id, Task.completed_at, Task.number)
    )
    for project_id, task_id, number, title, progress, due, owner_id, completed_at in rows:
        task = TaskRow(task_id, project_id, number, title, TaskStatus.DONE, progress, due, owner_id, None, False)
        yield project_id, (completed_at, task)


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None
