"""Read-only rows for the builders, loaded for a *set* of projects at once.

A `Snapshot` covers the projects of one unit of work; each kind of row (open tasks, members, risks …)
is loaded for all of them in one statement the first time a builder asks for it. So building the daily
prompt for 500 projects costs the same few statements as for one, whatever their members and tasks.
Rows are plain frozen dataclasses (`reports.records`): nothing ORM-bound leaves the unit of work.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import String, func, select, type_coerce
from sqlalchemy.orm import Session

from models import (
    OPEN_TASK_STATUSES,
    ActionItem,
    ActionStatus,
    Change,
    Decision,
    JobRun,
    Leave,
    Member,
    Risk,
    RiskLevel,
    RiskStatus,
    Role,
    Task,
    TaskStatus,
)
from models.schedule import FOLDED
from reports import snapshot_rhythm as rhythm
from reports.records import (
    ActionRow,
    AgendaRunRow,
    ChangeRow,
    DecisionRow,
    DueMove,
    FoldedRow,
    MemberRow,
    Prereq,
    RiskRow,
    TaskDetail,
    TaskRow,
    TopicRow,
)

CHUNK = 500  # ids per IN (...) list: far below SQLite's and PostgreSQL's parameter limits
DEFAULT_LOOKBACK = timedelta(days=8)  # a week, plus any time zone's offset

R = TypeVar("R")


class Snapshot:
    """Rows for a set of projects as of `at`; one statement per kind of row, loaded on first use.

    Windows that depend on a project's time zone ("today", "this week") are loaded with a common lower
    bound (`at - lookback`) and filtered per project by the builders.
    """

    def __init__(
        self, session: Session, project_ids: Collection[int], *, at: datetime, lookback: timedelta = DEFAULT_LOOKBACK
    ) -> None:
        self.session = session
        self.project_ids = sorted(set(project_ids))
        self._covered = frozenset(self.project_ids)
        self.at = at
        self.since = at - lookback
        self._cache: dict[str, dict[int, Any]] = {}

    def covers(self, project_id: int) -> bool:
        return project_id in self._covered

    def _covered_id(self, project_id: int) -> int:
        if project_id not in self._covered:
            raise ValueError(f"project {project_id} is not in this snapshot")
        return project_id

    # ------------------------------------------------------------------ kinds of rows

    def members(self, project_id: int) -> dict[int, MemberRow]:
        return self._load("members", self._members, dict)[self._covered_id(project_id)]

    def tasks(self, project_id: int, task_ids: Collection[int]) -> dict[int, TaskRow]:
        """These tasks of the project as they are now, open or not (a card shown earlier, rendered
        again: a task finished from it stays on it, shown as done). One statement, not cached."""
        statuses, dates = _TASK_STATUSES, _DateCache()
        found: dict[int, TaskRow] = {}
        wanted = sorted(set(task_ids))
        for start in range(0, len(wanted), 500):
            rows = self.session.connection().execute(
                select(*_TASK_COLUMNS).where(Task.project_id == project_id, Task.id.in_(wanted[start : start + 500]))
            ).all()
            for task_id, project, number, title, status, progress, due, owner_id, reason in rows:
                task_status = statuses[status]
                found[task_id] = TaskRow(
                    task_id, project, number, title, task_status, progress, dates(due), owner_id, reason, task_status in _OPEN
                )
        return found

    def open_tasks(self, project_id: int) -> list[TaskRow]:
        return self._load("open_tasks", self._open_tasks, list)[self._covered_id(project_id)]

    def task_details(self, project_id: int) -> dict[int, TaskDetail]:
        """Plan and timestamps of the open tasks and of the tasks completed since `since`."""
        self._load_tasks_in_full()
        return self._cache["task_details"][self._covered_id(project_id)]

    def completed_tasks(self, project_id: int) -> list[TaskRow]:
        """Tasks completed in [since, at], in the order they were completed."""
        self._load_tasks_in_full()
        return self._cache["completed_tasks"][self._covered_id(project_id)]

    def task_updaters(self, project_id: int) -> dict[int, datetime]:
        """Member id → their last task change in [since, at]."""
        return self._load("task_updaters", self._task_updaters, dict)[self._covered_id(project_id)]

    def risks(self, project_id: int) -> list[RiskRow]:
        return self._load("risks", self._risks, list)[self._covered_id(project_id)]

    def risks_touched(self, project_id: int) -> dict[int, datetime]:
        """Open high risk id → when its history last recorded a change (up to `at`), however long ago."""
        return self._load("risks_touched", self._risks_touched, dict)[self._covered_id(project_id)]

    def risk_changes(self, project_id: int) -> list[ChangeRow]:
        return self._load("risk_changes", self._risk_changes, list)[self._covered_id(project_id)]

    def actions(self, project_id: int) -> list[ActionRow]:
        """Open action items, and those created in [since, at]."""
        return self._load("actions", self._actions, list)[self._covered_id(project_id)]

    def prereqs(self, project_id: int) -> dict[int, Prereq]:
        """Open task id → its predecessors' state (tasks without predecessors are absent)."""
        return self._load("prereqs", partial(rhythm.prereqs, self.session), dict)[self._covered_id(project_id)]

    def activity(self, project_id: int) -> dict[int, datetime]:
        """Member id → their last change of anything (task, risk, action item, note) in [since, at]."""
        loader = partial(rhythm.activity, self.session, at=self.at, since=self.since)
        return self._load("activity", loader, dict)[self._covered_id(project_id)]

    def due_moves(self, project_id: int) -> list[DueMove]:
        """Due-date changes of tasks and action items in [since, at], oldest first."""
        loader = partial(rhythm.due_moves, self.session, at=self.at, since=self.since)
        return self._load("due_moves", loader, list)[self._covered_id(project_id)]

    def pending_requests(self, project_id: int) -> list[DueMove]:
        """Deadline moves waiting for the PM's approval."""
        return self._load("pending_requests", partial(rhythm.pending_requests, self.session), list)[
            self._covered_id(project_id)
        ]

    def agenda_runs(self, project_id: int) -> list[AgendaRunRow]:
        """Agendas posted in the last eight weeks, by meeting day."""
        return self._load("agenda_runs", partial(rhythm.agenda_runs, self.session, at=self.at), list)[
            self._covered_id(project_id)
        ]

    def topics(self, project_id: int) -> list[TopicRow]:
        """Topics added for meetings (`/议程 新增`) not yet through a meeting long past."""
        return self._load("topics", partial(rhythm.topics, self.session, at=self.at), list)[self._covered_id(project_id)]

    def completions(self, project_id: int) -> list[tuple[datetime, TaskRow]]:
        """(completed at, task) for the tasks completed in the last eight weeks, oldest first."""
        return self._load("completions", partial(rhythm.completions, self.session, at=self.at), list)[
            self._covered_id(project_id)
        ]

    def leaves(self, project_id: int) -> list[tuple[int, date, date]]:
        """(member id, first day, last day) of the leaves around `at` (two days either side), not cancelled."""
        return self._load("leaves", self._leaves, list)[self._covered_id(project_id)]

    def away(self, project_id: int, day: date) -> set[int]:
        """The members on leave on `day` (the project's date)."""
        return {member_id for member_id, first, last in self.leaves(project_id) if first <= day <= last}

    def folded(self, project_id: int) -> list[FoldedRow]:
        """Reminders held back over their person's daily cap since `since`, not yet shown in a prompt."""
        return self._load("folded", self._folded, list)[self._covered_id(project_id)]

    def decisions(self, project_id: int) -> list[DecisionRow]:
        """Decisions recorded in [since, at]."""
        return self._load("decisions", self._decisions, list)[self._covered_id(project_id)]

    # ------------------------------------------------------------------ loading

    def _load(self, name: str, loader: Callable[[list[int]], Iterable[tuple[int, Any]]], empty: type) -> dict[int, Any]:
        """Run `loader` over the projects (in chunks) once; group what it yields by project."""
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        grouped: defaultdict[int, Any] = defaultdict(empty)
        if empty is dict:
            for chunk in _chunks(self.project_ids):
                for project_id, (key, item) in loader(chunk):
                    grouped[project_id][key] = item
        else:
            for chunk in _chunks(self.project_ids):
                current_id: int | None = None
                current: list[Any] = []
                for project_id, item in loader(chunk):
                    if project_id != current_id:  # rows come ordered by project: one lookup per project
                        current_id, current = project_id, grouped[project_id]
                    current.append(item)
        self._cache[name] = grouped
        return grouped

    # The two big loads (members, open tasks) skip SQLAlchemy's per-value Enum and Date processing
    # (type_coerce to String, then a dict lookup / date.fromisoformat): about half the cost per row.

    def _leaves(self, ids: list[int]) -> Iterable[tuple[int, tuple[int, date, date]]]:
        around = self.at.date()
        rows = self.session.execute(
            select(Leave.project_id, Leave.member_id, Leave.first_day, Leave.last_day)
            .where(Leave.project_id.in_(ids), Leave.cancelled_at.is_(None),
                   Leave.first_day <= around + timedelta(days=2), Leave.last_day >= around - timedelta(days=2))
            .order_by(Leave.project_id, Leave.id)
        ).all()
        for project_id, member_id, first, last in rows:
            yield project_id, (member_id, first, last)

    def _members(self, ids: list[int]) -> Iterable[tuple[int, tuple[int, MemberRow]]]:
        rows = self.session.connection().execute(
            select(
                Member.id, Member.project_id, Member.user_id, Member.name, type_coerce(Member.role, String),
                Member.is_sponsor & Member.removed_at.is_(None),
            )
            .where(Member.project_id.in_(ids))
            .order_by(Member.id)
        ).all()
        roles = _ROLES
        for member_id, project_id, user_id, name, role, sponsor in rows:
            yield project_id, (member_id, MemberRow(member_id, project_id, user_id, name, roles[role], bool(sponsor)))

    def _open_tasks(self, ids: list[int]) -> Iterable[tuple[int, TaskRow]]:
        statuses, dates = _TASK_STATUSES, _DateCache()
        rows = self.session.connection().execute(  # .all() = fetchall: far cheaper than row by row
            select(*_TASK_COLUMNS)
            .where(Task.project_id.in_(ids), Task.status.in_(OPEN_TASK_STATUSES))
            .order_by(Task.project_id, Task.number)
        ).all()
        for task_id, project_id, number, title, status, progress, due, owner_id, reason in rows:
            yield project_id, TaskRow(
                task_id, project_id, number, title, statuses[status], progress, dates(due), owner_id, reason, True
            )

    def _load_tasks_in_full(self) -> None:
        """Open tasks with their plan and timestamps, and the recently completed ones, in one statement.

        For the builders that need more than the daily prompt does (agenda, digests, reminders).
        """
        if "task_details" in self._cache:
            return
        open_tasks: defaultdict[int, list[TaskRow]] = defaultdict(list)
        completed: defaultdict[int, list[tuple[datetime, TaskRow]]] = defaultdict(list)
        details: defaultdict[int, dict[int, TaskDetail]] = defaultdict(dict)
        statuses, dates = _TASK_STATUSES, _DateCache()
        for chunk in _chunks(self.project_ids):
            rows = self.session.connection().execute(
                select(
                    *_TASK_COLUMNS, type_coerce(Task.start_date, String), type_coerce(Task.created_at, String),
                    type_coerce(Task.status_changed_at, String), type_coerce(Task.completed_at, String),
                )
                .where(
                    Task.project_id.in_(chunk),
                    Task.status.in_(OPEN_TASK_STATUSES)
                    | ((Task.status == TaskStatus.DONE) & (Task.completed_at >= self.since)),
                )
                .order_by(Task.project_id, Task.number)
            ).all()
            for task_id, project_id, number, title, status, progress, due, owner, reason, *times in rows:
                task_status = statuses[status]
                is_open = task_status in _OPEN
                task = TaskRow(task_id, project_id, number, title, task_status, progress, dates(due), owner, reason, is_open)
                start, created, changed, done = times
                detail = TaskDetail(dates(start), created, changed, done)
                details[project_id][task_id] = detail
                if is_open:
                    open_tasks[project_id].append(task)
                elif detail.completed_at is not None and detail.completed_at <= self.at:
                    completed[project_id].append((detail.completed_at, task))
        self._cache["task_details"] = details
        self._cache["completed_tasks"] = defaultdict(
            list, {pid: [t for _, t in sorted(done, key=lambda d: (d[0], d[1].number))] for pid, done in completed.items()}
        )
        self._cache.setdefault("open_tasks", open_tasks)

    def _task_updaters(self, ids: list[int]) -> Iterable[tuple[int, tuple[int, datetime]]]:
        last = func.max(Change.at).label("last")
        rows = self.session.execute(
            select(Change.project_id, Change.actor_id, last)
            .where(
                Change.project_id.in_(ids),
                Change.entity == "task",
                Change.actor_id.is_not(None),
                Change.at >= self.since,
                Change.at <= self.at,
            )
            .group_by(Change.project_id, Change.actor_id)
        )
        for project_id, actor_id, at in rows:
            yield project_id, (actor_id, _aware(at))

    def _risks(self, ids: list[int]) -> Iterable[tuple[int, RiskRow]]:
        rows = self.session.execute(
            select(
                Risk.id, Risk.project_id, Risk.number, Risk.description, Risk.level, Risk.status, Risk.strategy,
                Risk.mitigation, Risk.owner_id, Risk.created_at, Risk.updated_at, Risk.closed_at,
            )
            .where(Risk.project_id.in_(ids))
            .order_by(Risk.project_id, Risk.number)
        )
        for row in rows:
            yield row[1], RiskRow(*row)

    def _risks_touched(self, ids: list[int]) -> Iterable[tuple[int, tuple[int, datetime]]]:
        # By (entity, entity_id) — the change log's own index — for the few risks that can escalate,
        # rather than scanning every change of the projects.
        wanted = [
            r.id for pid in ids for r in self.risks(pid) if r.status == RiskStatus.OPEN and r.level == RiskLevel.HIGH
        ]
        for chunk in _chunks(wanted):
            rows = self.session.execute(
                select(Change.project_id, Change.entity_id, func.max(Change.at))
                .where(Change.entity == "risk", Change.entity_id.in_(chunk), Change.at <= self.at)
                .group_by(Change.project_id, Change.entity_id)
            )
            for project_id, risk_id, at in rows:
                yield project_id, (risk_id, _aware(at))

    def _risk_changes(self, ids: list[int]) -> Iterable[tuple[int, ChangeRow]]:
        rows = self.session.execute(
            select(
                Change.project_id, Change.entity, Change.entity_id, Change.actor_id, Change.at, Change.field,
                Change.old_value, Change.new_value, Change.note,
            )
            .where(
                Change.project_id.in_(ids),
                Change.entity == "risk",
                Change.at >= self.since,
                Change.at <= self.at,
            )
            .order_by(Change.project_id, Change.at, Change.id)
        )
        for row in rows:
            yield row[0], ChangeRow(*row)

    def _actions(self, ids: list[int]) -> Iterable[tuple[int, ActionRow]]:
        rows = self.session.execute(
            select(
                ActionItem.id, ActionItem.project_id, ActionItem.number, ActionItem.content, ActionItem.owner_id,
                ActionItem.due_date, ActionItem.status, ActionItem.created_at, ActionItem.done_at,
            )
            .where(
                ActionItem.project_id.in_(ids),
                (ActionItem.status == ActionStatus.OPEN)
                | (ActionItem.created_at >= self.since)
                | (ActionItem.done_at >= self.since),
            )
            .order_by(ActionItem.project_id, ActionItem.number)
        )
        for row in rows:
            yield row[1], ActionRow(*row)

    def _folded(self, ids: list[int]) -> Iterable[tuple[int, FoldedRow]]:
        rows = self.session.execute(
            select(JobRun.id, JobRun.project_id, JobRun.job, JobRun.slot, JobRun.user_id, JobRun.day)
            .where(JobRun.project_id.in_(ids), JobRun.outcome == FOLDED, JobRun.day >= self.since.date())
            .order_by(JobRun.project_id, JobRun.id)
        )
        for run_id, project_id, job, slot, user_id, day in rows:
            if user_id is not None and day is not None:
                yield project_id, FoldedRow(run_id, project_id, job, slot, user_id, day)

    def _decisions(self, ids: list[int]) -> Iterable[tuple[int, DecisionRow]]:
        rows = self.session.execute(
            select(
                Decision.id, Decision.project_id, Decision.number, Decision.content, Decision.decided_by_id,
                Decision.created_at,
            )
            .where(Decision.project_id.in_(ids), Decision.created_at >= self.since, Decision.created_at <= self.at)
            .order_by(Decision.project_id, Decision.number)
        )
        for row in rows:
            yield row[1], DecisionRow(*row)


_ROLES = {r.value: r for r in Role}
_TASK_STATUSES = {t.value: t for t in TaskStatus}
_OPEN = frozenset(OPEN_TASK_STATUSES)
_TASK_COLUMNS = (
    Task.id, Task.project_id, Task.number, Task.title, type_coerce(Task.status, String), Task.progress,
    type_coerce(Task.due_date, String), Task.owner_id, Task.blocked_reason,
)


class _DateCache(dict[object, "date | None"]):
    """Parse each distinct DATE value once (a project's tasks share few due dates)."""

    def __call__(self, value: date | str | None) -> date | None:
        try:
            return self[value]
        except KeyError:
            parsed = self[value] = _as_date(value)
            return parsed


def _as_date(value: date | str | None) -> date | None:
    """A DATE column read without type processing: text on SQLite, a date from PostgreSQL's driver."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start : start + CHUNK])


def _aware(value: datetime | str) -> datetime:
    """Aggregates may come back untyped on SQLite: naive UTC text or datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
