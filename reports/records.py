"""The plain rows a `Snapshot` loads: frozen and ORM-free, so nothing session-bound leaves the unit of work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import NamedTuple

from models import ActionStatus, RiskLevel, RiskStatus, RiskStrategy, Role, TaskStatus


@dataclass(frozen=True, slots=True)
class MemberRow:
    id: int
    project_id: int
    user_id: str
    name: str
    role: Role
    is_sponsor: bool = False  # the project's sponsor (发起人): escalations @ them too

    @property
    def is_manager(self) -> bool:
        return self.role in (Role.PM, Role.CO_PM)


@dataclass(frozen=True, slots=True)
class TaskRow:
    id: int
    project_id: int
    number: int
    title: str
    status: TaskStatus
    progress: int
    due_date: date | None
    owner_id: int | None
    blocked_reason: str | None
    is_open: bool

    @property
    def ref(self) -> str:
        return f"#{self.number}"


class TaskDetail:
    """A task's plan and timestamps; a timestamp is parsed when first read (most builders read few)."""

    __slots__ = ("_changed", "_completed", "_created", "start_date")

    def __init__(
        self,
        start_date: date | None,
        created_at: datetime | str,
        status_changed_at: datetime | str,
        completed_at: datetime | str | None,
    ) -> None:
        self.start_date = start_date
        self._created = created_at
        self._changed = status_changed_at
        self._completed = completed_at

    @property
    def created_at(self) -> datetime:
        if not isinstance(self._created, datetime) or self._created.tzinfo is None:
            self._created = as_utc(self._created)
        return self._created

    @property
    def status_changed_at(self) -> datetime:
        if not isinstance(self._changed, datetime) or self._changed.tzinfo is None:
            self._changed = as_utc(self._changed)
        return self._changed

    @property
    def completed_at(self) -> datetime | None:
        if self._completed is not None and (not isinstance(self._completed, datetime) or self._completed.tzinfo is None):
            self._completed = as_utc(self._completed)
        return self._completed


@dataclass(frozen=True, slots=True)
class RiskRow:
    id: int
    project_id: int
    number: int
    description: str
    level: RiskLevel
    status: RiskStatus
    strategy: RiskStrategy | None
    mitigation: str | None
    owner_id: int | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None

    @property
    def ref(self) -> str:
        return f"R{self.number}"


@dataclass(frozen=True, slots=True)
class ActionRow:
    id: int
    project_id: int
    number: int
    content: str
    owner_id: int | None
    due_date: date | None
    status: ActionStatus
    created_at: datetime
    done_at: datetime | None = None

    @property
    def ref(self) -> str:
        return f"A{self.number}"


@dataclass(frozen=True, slots=True)
class DecisionRow:
    id: int
    project_id: int
    number: int
    content: str
    decided_by_id: int | None
    created_at: datetime

    @property
    def ref(self) -> str:
        return f"D{self.number}"


@dataclass(frozen=True, slots=True)
class ChangeRow:
    project_id: int
    entity: str
    entity_id: int
    actor_id: int | None
    at: datetime
    field: str
    old_value: str | None
    new_value: str | None
    note: str | None


def as_utc(value: datetime | str) -> datetime:
    """A timestamp read without type processing: naive UTC text on SQLite, aware from PostgreSQL's driver."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


class Prereq(NamedTuple):
    """An open task's predecessors: whether one is still open, and when the last one was finished."""

    open: bool
    last_done: datetime | None


@dataclass(frozen=True, slots=True)
class AgendaRunRow:
    meeting_day: date
    built_at: datetime
    covers_from: datetime


@dataclass(frozen=True, slots=True)
class TopicRow:
    id: int
    content: str
    added_by_id: int | None
    added_at: datetime
    meeting_day: date | None  # the meeting whose posted agenda first listed it


@dataclass(frozen=True, slots=True)
class DueMove:
    """One change of a task's or action item's due date (the history's `due` rows)."""

    entity: str  # task | action
    ref: str  # #12 | A3
    title: str
    actor_id: int | None
    at: datetime
    old: date | None
    new: date | None
    note: str | None


@dataclass(frozen=True, slots=True)
class FoldedRow:
    """A reminder held back over its person's daily cap (a `job_run` row with outcome `folded`)."""

    run_id: int
    project_id: int
    job: str
    slot: str  # "<task or action item id>:<date>"
    user_id: str
    day: date  # the project's local day it was held back on

    @property
    def item_id(self) -> int:
        return int(self.slot.split(":", 1)[0])
