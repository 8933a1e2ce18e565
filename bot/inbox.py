"""The inbox: every accepted event is recorded under its unique platform key before it is processed.

`Inbox.record` is the one way an inbox row is written (the webhooks' group commit, `tandem say`, the
console): one `INSERT … ON CONFLICT (platform, event_key) DO NOTHING RETURNING id` for the whole
batch, one commit, duplicates skipped silently. How that statement runs depends on the database,
and is hidden here:

* SQLite: one multi-row statement on the raw connection in autocommit mode, so the batch is one
  statement, one transaction and one call into SQLite. Through a session the same write costs
  several round trips between Python and SQLite (BEGIN, the insert, COMMIT), and the thread doing
  it has to win the GIL back from the event loop after each: under load that hand-over, not the
  disk, set the webhook's pace (bench/ingest.py). Values are converted with the columns' own
  SQLAlchemy bind processors, so rows are stored exactly as the ORM would store them.
* PostgreSQL: a session transaction; one event through a text statement compiled once (SQLAlchemy
  does not cache dialect-specific ON CONFLICT inserts, and compiling one costs more than running it),
  several through SQLAlchemy's "insertmanyvalues" batching of one cached statement.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Integer, bindparam, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, utcnow
from bot.messages import Incoming
from models import InboundEvent, InboundStatus

_COLUMNS = ("platform", "event_key", "chat_id", "received_at", "payload", "status", "attempts")


def _values(incoming: Incoming, received_at: datetime) -> tuple[Any, ...]:
    return (
        incoming.platform,
        incoming.event_key,
        incoming.chat_id,
        received_at,
        incoming.to_payload(),
        InboundStatus.PENDING,
        0,
    )


class Inbox:
    def __init__(self, session_factory: sessionmaker[Session], *, clock: Clock = utcnow) -> None:
        engine: Engine = session_factory.kw["bind"]
        self._session_factory = session_factory
        self._clock = clock
        self._insert: Callable[[Sequence[Incoming], datetime], list[int]] = (
            _SqliteInsert(engine) if engine.dialect.name == "sqlite" else self._insert_in_session
        )

    def record(self, incomings: Sequence[Incoming]) -> list[int]:
        """Record events durably (one commit for the batch); returns the ids of the new ones."""
        if not incomings:
            return []
        return self._insert(incomings, self._clock())

    def _insert_in_session(self, incomings: Sequence[Incoming], received_at: datetime) -> list[int]:
        rows = [dict(zip(_COLUMNS, _values(m, received_at), strict=True)) for m in incomings]
        with self._session_factory.begin() as session:
            if len(rows) == 1:
                return list(session.execute(_INSERT_ONE, rows[0]).scalars())
            return list(session.scalars(_INSERT_MANY, rows))


class _SqliteInsert:
    MAX_ROWS = 1000  # 7 parameters a row; SQLite allows 32766 per statement

    def __init__(self, engine: Engine) -> None:
        table = InboundEvent.__table__
        identity: Callable[[Any], Any] = lambda value: value  # noqa: E731
        self._engine = engine
        self._convert = [table.c[name].type.bind_processor(engine.dialect) or identity for name in _COLUMNS]
        self._head = f"INSERT INTO {table.name} ({', '.join(_COLUMNS)}) VALUES "
        self._tail = " ON CONFLICT (platform, event_key) DO NOTHING RETURNING id"
        self._row = "(" + ", ".join("?" * len(_COLUMNS)) + ")"
        self._sql: dict[int, str] = {}

    def __call__(self, incomings: Sequence[Incoming], received_at: datetime) -> list[int]:
        convert = self._convert
        ids: list[int] = []
        connection = self._engine.raw_connection()
        try:
            for start in range(0, len(incomings), self.MAX_ROWS):
                chunk = incomings[start : start + self.MAX_ROWS]
                params: list[Any] = []
                for m in chunk:
                    params += (f(v) for f, v in zip(convert, _values(m, received_at), strict=True))
                sql = self._sql.get(len(chunk))
                if sql is None:
                    sql = self._sql[len(chunk)] = self._head + ", ".join([self._row] * len(chunk)) + self._tail
                try:  # autocommit (bot.db switches pysqlite's own transactions off): the statement is atomic
                    cursor = connection.driver_connection.execute(sql, params)  # type: ignore[union-attr]
                    ids += (row[0] for row in cursor.fetchall())
                except sqlite3.Error as exc:  # as SQLAlchemy would raise it, for callers telling outages apart
                    raise DBAPIError.instance(sql, params, exc, sqlite3.Error) from exc
        finally:
            connection.close()
        return ids


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
_INSERT_MANY = (
    postgresql.insert(InboundEvent)
    .on_conflict_do_nothing(index_elements=["platform", "event_key"])
    .returning(InboundEvent.id)
)


_PENDING = (
    select(InboundEvent.id, InboundEvent.payload)
    .where(InboundEvent.status == InboundStatus.PENDING)
    .order_by(InboundEvent.id)
    .limit(bindparam("limit"))
)


def pending_events(session: Session, /, *, limit: int = 100) -> list[tuple[int, dict[str, Any]]]:
    """(id, payload) of what is waiting, oldest first."""
    return [(event_id, payload) for event_id, payload in session.execute(_PENDING, {"limit": limit})]
