"""The change log: one row for every change to a task, risk, action item or project (who, when, from → to).

Every row a message writes carries that message's reference (`event_key`, set once per processed
event by the dispatcher with `set_message_ref`), and the columns of the changed row as they were
before (`before`, JSON), so `models.undo` can take back everything one message changed, exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, bindparam, insert, select
from sqlalchemy.orm import Mapped, Session, joinedload, mapped_column, relationship

from models.base import Base
from models.delivery import EVENT_KEY_MAX
from models.project import Member
from models.snapshots import encode_values


class Change(Base):
    __tablename__ = "change"
    __table_args__ = (
        Index("ix_change_entity", "entity", "entity_id"),
        Index("ix_change_project_at", "project_id", "at"),
        Index("ix_change_project_event", "project_id", "event_key"),
        Index("ix_change_project_actor", "project_id", "actor_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(16))  # task | risk | action | decision | project | member
    entity_id: Mapped[int]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    at: Mapped[datetime]
    field: Mapped[str] = mapped_column(String(32))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    # The message that made the change (the inbox event key; None: the scheduler, the CLI, an import).
    event_key: Mapped[str | None] = mapped_column(String(EVENT_KEY_MAX))
    # On the rows an undo writes: the message whose changes it took back (an undo is never undone).
    undo_of: Mapped[str | None] = mapped_column(String(EVENT_KEY_MAX))
    # The changed row's columns before this change ({column: JSON value}); None: nothing to restore.
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    actor: Mapped[Member | None] = relationship()


_INSERT_CHANGE = insert(Change.__table__)
_MESSAGE_REF = "tandem.message_ref"
_CHANGED = "tandem.changed"
_UNDOABLE = "tandem.undoable"


def set_message_ref(session: Session, /, event_key: str | None) -> None:
    """Every history row this session writes from now on belongs to that message (the dispatcher
    sets it for each event it processes; a session of its own per event)."""
    session.info[_MESSAGE_REF] = event_key
    session.info.pop(_CHANGED, None)
    session.info.pop(_UNDOABLE, None)


def wrote_undoable(session: Session, /) -> bool:
    """Whether this session wrote, for the current message, a change `/撤销` could take back (not a
    note, not an undo's own rows): known without asking the database."""
    return bool(session.info.get(_UNDOABLE))


def changed_ids(session: Session, /, entity: str) -> set[int]:
    """The rows of `entity` this session wrote history for (since `set_message_ref`): what a message
    changed, to refresh the cards that show it. A refused command's rows may be among them."""
    return {entity_id for kind, entity_id in session.info.get(_CHANGED, ()) if kind == entity}


def message_ref(session: Session, /) -> str | None:
    return session.info.get(_MESSAGE_REF)


def record_change(
    session: Session,
    /,
    *,
    project_id: int,
    entity: str,
    entity_id: int,
    actor: Member | None,
    at: datetime,
    field: str,
    old: object = None,
    new: object = None,
    note: str | None = None,
    before: dict[str, Any] | None = None,
    undo_of: str | None = None,
) -> None:
    """Write one history row now (a plain INSERT, no unit-of-work bookkeeping: every command writes
    one or more of these, and an ORM flush costs several times the statement)."""
    session.info.setdefault(_CHANGED, set()).add((entity, entity_id))
    if field != "note" and undo_of is None:
        session.info[_UNDOABLE] = True
    session.execute(
        _INSERT_CHANGE,
        {
            "project_id": project_id,
            "entity": entity,
            "entity_id": entity_id,
            "actor_id": actor.id if actor else None,
            "at": at,
            "field": field,
            "old_value": None if old is None else str(old),
            "new_value": None if new is None else str(new),
            "note": note,
            "event_key": session.info.get(_MESSAGE_REF),
            "undo_of": undo_of,
            "before": None if before is None else encode_values(before),
        },
    )


def record_changes(
    session: Session, /, *, project_id: int, entity: str, actor: Member | None, at: datetime,
    changes: Sequence[tuple[int, str, object, object, str | None]],
) -> None:
    """Many history rows of one actor at one moment in one statement: (entity id, field, old, new, note)
    each, nothing to restore (`before` None: new rows, notes)."""
    if not changes:
        return
    event_key = session.info.get(_MESSAGE_REF)
    if any(field != "note" for _id, field, _old, _new, _note in changes):
        session.info[_UNDOABLE] = True
    session.execute(_INSERT_CHANGE, [
        {"project_id": project_id, "entity": entity, "entity_id": entity_id, "actor_id": actor.id if actor else None,
         "at": at, "field": field, "old_value": None if old is None else str(old),
         "new_value": None if new is None else str(new), "note": note, "event_key": event_key, "undo_of": None,
         "before": None}
        for entity_id, field, old, new, note in changes
    ])


_HISTORY = (
    select(Change)
    .options(joinedload(Change.actor))
    .where(Change.entity == bindparam("entity"), Change.entity_id == bindparam("entity_id"))
    .order_by(Change.at.desc(), Change.id.desc())
    .limit(bindparam("limit"))
)


def entity_history(session: Session, /, *, entity: str, entity_id: int, limit: int = 10) -> list[Change]:
    """The latest changes of one entity, newest first, with their actors (one statement)."""
    return list(session.scalars(_HISTORY, {"entity": entity, "entity_id": entity_id, "limit": limit}))
