"""The inbox: every accepted event is recorded under its unique platform key before it is processed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Integer, bindparam, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.messages import Incoming
from models import InboundEvent, InboundStatus


def record_incoming(
    session: Session, /, incomings: Sequence[Incoming], *, received_at: datetime, returning: bool = True
) -> list[int]:
    """Insert the events that are new; duplicates (same platform and key) are skipped silently.

    Returns the ids of the rows inserted (with `returning=False`, nothing: a plain executemany, about
    half the cost per event, for the webhook's group commit, which does not need them). One statement
    for the whole batch, so the webhook can group the writes of concurrent requests into one commit.
    """
    if not incomings:
        return []
    rows = [
        {
            "platform": m.platform,
            "event_key": m.event_key,
            "chat_id": m.chat_id,
            "received_at": received_at,
            "payload": m.to_payload(),
            "status": InboundStatus.PENDING,
            "attempts": 0,
        }
        for m in incomings
    ]
    if len(rows) == 1:
        # The common case, one event: a text statement is compiled once and cached (SQLAlchemy does
        # not cache dialect-specific ON CONFLICT inserts, and compiling one costs more than running it).
        return list(session.execute(_INSERT_ONE, rows[0]).scalars())
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    if not returning:
        table = InboundEvent.__table__
        session.execute(insert(table).on_conflict_do_nothing(index_elements=["platform", "event_key"]), rows)
        return []
    statement = (
        insert(InboundEvent)
        .on_conflict_do_nothing(index_elements=["platform", "event_key"])
        .returning(InboundEvent.id)
    )
    # executemany form: one cached statement, batched by SQLAlchemy's "insertmanyvalues" (3x cheaper
    # per event than compiling a fresh multi-VALUES statement for every batch size).
    return list(session.scalars(statement, rows))


_INSERT_ONE = (
    text(
        "INSERT INTO inbound_event (platform, event_key, chat_id, received_at, payload, status, attempts) "
        "VALUES (:platform, :event_key, :chat_id, :received_at, :payload, :status, :attempts) "
        "ON CONFLICT (platform, event_key) DO NOTHING RETURNING id"
    )
    .bindparams(
        bindparam("received_at", type_=InboundEvent.__table__.c.received_at.type),
        bindparam("payload", type_=InboundEvent.__table__.c.payload.type),
        bindparam("status", type_=InboundEvent.__table__.c.status.type),
    )
    .columns(id=Integer)
)


def pending_event_ids(session: Session, /, *, limit: int = 100) -> list[int]:
    return list(
        session.scalars(
            select(InboundEvent.id)
            .where(InboundEvent.status == InboundStatus.PENDING)
            .order_by(InboundEvent.id)
            .limit(limit)
        )
    )
