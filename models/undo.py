"""Taking back what one message changed: find the message, check nothing later depends on it, restore.

History rows carry the message that wrote them (`change.event_key`) and the columns they overwrote
as they were (`change.before`). Undoing a message restores, for every row it changed, the earliest
remembered value of each column (the value before the message), and writes one history row per
change taken back, marked `undo_of` (an undo is itself never a candidate for undo). A task, action
item or risk the message created is cancelled (closed) rather than deleted: numbers are never reused
and the history stays. Nothing is restored when a later message (not itself undone) changed the same
columns of the same row since, or when the message made a change that cannot be reversed (project
the calendar, decisions, departments): the caller is told why, and nothing is half changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import Session, joinedload

from models.base import Base
from models.enums import ActionStatus, RiskStatus, TaskStatus
from models.history import Change, message_ref, record_change, wrote_undoable
from models.leave import reopen_settled
from models.meeting import ActionItem
from models.project import Member, Project
from models.risk import Risk
from models.risk_proposal import reopen_adopted
from models.snapshots import OTHER_DEPARTMENTS, PREDECESSORS, column_values, decode_value
from models.task import Task, set_other_departments

ENTITY_MODELS: dict[str, type[Base]] = {
    "task": Task, "risk": Risk, "action": ActionItem, "member": Member, "project": Project,
}
# What taking back a creation means: the row stays (its number is never reused) but is no longer open.
_UNCREATE = {"task": TaskStatus.CANCELLED, "action": ActionStatus.CANCELLED, "risk": RiskStatus.CLOSED}
UNDO_NOTE = "撤销"


class UndoRefused(Exception):
    """The message's changes cannot be taken back as they are; `change` says which one stands in the way."""

    def __init__(self, reason: str, change: Change) -> None:
        super().__init__(reason)
        self.reason = reason  # "later" (changed again since) | "irreversible"
        self.change = change


@dataclass(slots=True)
class Taken:
    """One change taken back: the row, the history field, and the values from → to (as history shows them)."""

    entity: str
    row: Base
    field: str
    old: str | None  # the value the message had set (now gone)
    new: str | None  # the value restored


@dataclass(slots=True)
class UndoResult:
    event_key: str
    author: Member | None  # who made the change taken back
    at: datetime  # when
    taken: list[Taken] = field(default_factory=list)
    uncompleted: list[Task] = field(default_factory=list)  # tasks that were done and no longer are


def _undone_messages(project_id: int) -> Any:
    return select(Change.undo_of).where(Change.project_id == project_id, Change.undo_of.isnot(None))


def last_undoable_message(
    session: Session, /, *, project_id: int, actor_id: int | None = None,
    entity: str | None = None, entity_id: int | None = None,
) -> Change | None:
    """The newest history row of the latest message not yet undone (notes alone are not changes),
    by that actor and/or about that row; None when there is none."""
    query = select(Change).where(
        Change.project_id == project_id,
        Change.event_key.isnot(None),
        Change.undo_of.is_(None),
        Change.field != "note",
        Change.event_key.not_in(_undone_messages(project_id)),
    )
    if actor_id is not None:
        query = query.where(Change.actor_id == actor_id)
    if entity is not None:
        query = query.where(Change.entity == entity, Change.entity_id == entity_id)
    return session.scalar(query.options(joinedload(Change.actor)).order_by(Change.id.desc()).limit(1))


_CHANGED_SOMETHING = select(
    exists().where(
        Change.project_id == bindparam("project_id"),
        Change.event_key == bindparam("event_key"),
        Change.undo_of.is_(None),
        Change.field != "note",
    )
)


def message_changed(session: Session, /, *, project_id: int, event_key: str) -> bool:
    """Whether the message changed something `/撤销` can take back (its notes alone are not changes);
    for the message this session is processing, from what it wrote (`wrote_undoable`)."""
    if event_key == message_ref(session):
        return wrote_undoable(session)
    return bool(session.scalar(_CHANGED_SOMETHING, {"project_id": project_id, "event_key": event_key}))


def undone(session: Session, /, *, project_id: int, event_key: str) -> bool:
    """Whether that message's changes have been taken back already."""
    return bool(session.scalar(select(exists().where(Change.project_id == project_id, Change.undo_of == event_key))))


def message_changes(session: Session, /, *, project_id: int, event_key: str) -> Sequence[Change]:
    return session.scalars(
        select(Change)
        .where(Change.project_id == project_id, Change.event_key == event_key, Change.undo_of.is_(None))
        .options(joinedload(Change.actor))
        .order_by(Change.id)
    ).all()


def undo_message(session: Session, /, *, project_id: int, event_key: str, actor: Member, at: datetime) -> UndoResult:
    """Take back every change of that message (see the module's docstring); raises UndoRefused."""
    changes = [c for c in message_changes(session, project_id=project_id, event_key=event_key) if c.field != "note"]
    if not changes:
        raise LookupError(event_key)
    befores: dict[tuple[str, int], dict[str, Any]] = {}
    created: dict[tuple[str, int], Change] = {}
    for change in changes:
        key = (change.entity, change.entity_id)
        if change.field == "created" and change.entity in _UNCREATE:
            created[key] = change
        elif change.before is None or change.entity not in ENTITY_MODELS:
            raise UndoRefused("irreversible", change)
        else:
            remembered = befores.setdefault(key, {})
            for column, value in change.before.items():
                remembered.setdefault(column, value)  # the first value remembered is the one before the message
    _refuse_later_changes(session, project_id, event_key, changes, befores, created)
    result = UndoResult(event_key, changes[0].actor, changes[0].at)
    for change in changes:
        key = (change.entity, change.entity_id)
        row = session.get(ENTITY_MODELS[change.entity], change.entity_id)
        if row is None or key in created:
            continue
        columns = tuple(change.before or ())
        record_change(
            session, project_id=project_id, entity=change.entity, entity_id=change.entity_id, actor=actor, at=at,
            field=change.field, old=change.new_value, new=change.old_value, note=UNDO_NOTE,
            before=column_values(row, columns), undo_of=event_key,
        )
        result.taken.append(Taken(change.entity, row, change.field, change.new_value, change.old_value))
    for (entity, entity_id), values in befores.items():
        row = session.get(ENTITY_MODELS[entity], entity_id)
        if row is None:
            continue
        was_done = isinstance(row, Task) and row.status == TaskStatus.DONE
        _restore(session, row, values, at)
        if was_done and isinstance(row, Task) and row.status != TaskStatus.DONE:
            result.uncompleted.append(row)
    for (entity, entity_id), change in created.items():
        row = session.get(ENTITY_MODELS[entity], entity_id)
        if row is None:
            continue
        status = _UNCREATE[entity]
        old = row.status.value  # type: ignore[attr-defined]
        record_change(
            session, project_id=project_id, entity=entity, entity_id=entity_id, actor=actor, at=at,
            field="status", old=old, new=status.value, note=f"{UNDO_NOTE}新增",
            before=column_values(row, ("status",)), undo_of=event_key,
        )
        values = {"status": status.value}
        if isinstance(row, Task):
            values["status_changed_at"] = at.isoformat()
        elif isinstance(row, Risk):
            values["closed_at"] = at.isoformat()
        was_done = isinstance(row, Task) and row.status == TaskStatus.DONE
        _restore(session, row, values, at)
        if was_done and isinstance(row, Task):
            result.uncompleted.append(row)
        result.taken.append(Taken(entity, row, "created", change.new_value, None))
    # What the message settled along with its changes is unsettled with them: a proposal adopted as a
    # risk it created, a handover it confirmed or handed back by changing an owner (a step back).
    reopen_adopted(session, risk_ids=[entity_id for entity, entity_id in created if entity == "risk"])
    owners = [(c.entity, c.entity_id) for c in changes if c.field == "owner" and (c.entity, c.entity_id) not in created]
    reopen_settled(session, items=owners, at=changes[0].at)
    session.flush()
    return result


def _refuse_later_changes(
    session: Session, project_id: int, event_key: str, changes: list[Change],
    befores: dict[tuple[str, int], dict[str, Any]], created: dict[tuple[str, int], Change],
) -> None:
    """A later message (not itself undone) that changed the same columns of the same row wins: refuse."""
    last_id = max(c.id for c in changes)
    touched = set(befores) | set(created)
    later = session.scalars(
        select(Change)
        .where(
            Change.project_id == project_id,
            Change.id > last_id,
            Change.undo_of.is_(None),
            Change.entity.in_({entity for entity, _ in touched}),
            Change.entity_id.in_({entity_id for _, entity_id in touched}),
        )
        .options(joinedload(Change.actor))
        .order_by(Change.id)
    ).all()
    undone = set(session.scalars(_undone_messages(project_id)))
    for change in later:
        key = (change.entity, change.entity_id)
        if key not in touched or change.event_key == event_key or (change.event_key and change.event_key in undone):
            continue
        if key in created or set(change.before or ()) & set(befores.get(key, ())):
            raise UndoRefused("later", change)


def _restore(session: Session, row: Base, values: dict[str, Any], at: datetime) -> None:
    model = type(row)
    for column, value in values.items():
        if column == PREDECESSORS:
            ids = list(value or [])
            found = {t.id: t for t in session.scalars(select(Task).where(Task.id.in_(ids)))} if ids else {}
            row.predecessors = [found[i] for i in ids if i in found]  # type: ignore[attr-defined]
        elif column == OTHER_DEPARTMENTS:
            set_other_departments(session, task_id=row.id, department_ids=list(value or []))  # type: ignore[attr-defined]
        else:
            setattr(row, column, decode_value(model, column, value))
    if hasattr(row, "updated_at"):
        row.updated_at = at
    session.flush()
    session.expire(row)  # relationships (owner, department, parent) follow the restored ids

