"""Writing the outbox sender's outcomes: at once, each in its own short transaction, tried again while the
database is unreachable (the rows stay live work meanwhile, so an outage never makes a send repeat).

On SQLite there is one writer and, while the webhook is busy, background writes get a turn every
200 ms (`bot.writes`): every outcome waiting when the turn comes is written in it, each in its
own savepoint, so none waits a turn behind another.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from anyio import to_thread
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from bot.writes import Writes

log = logging.getLogger("bot.delivery")  # the outbox sender's lines, under one name for operators

T = TypeVar("T")


def database_unavailable(exc: BaseException) -> bool:
    """The database cannot be reached (or is locked) right now: worth trying the same write again."""
    return isinstance(exc, OperationalError | InterfaceError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


def log_write_failure(what: str, exc: Exception) -> None:
    if database_unavailable(exc):  # an outage: say so once a pass, without a traceback each time
        log.warning("%s: database unavailable (%s)", what, getattr(exc, "orig", exc))
    else:
        log.exception(what)


class OutcomeWriter:
    def __init__(self, writes: Writes, *, give_up_at: Callable[[], float | None]) -> None:
        """`give_up_at`: the loop time after which a write still failing is abandoned (None: never, until stopping)."""
        self._db = writes
        self._give_up_at = give_up_at
        self._outcomes: deque[tuple[Callable[[Session], Any], asyncio.Future[Any]]] = deque()
        self._writer: asyncio.Task[None] | None = None

    async def write(self, fn: Callable[[Session], T]) -> T | None:
        """Run `fn` in a transaction (in a thread, through the write gate), trying again while the
        database is unreachable: the rows involved are live work meanwhile, their leases renewed as
        soon as it answers again, so nothing is sent twice because of an outage. None if given up on stop.

        On PostgreSQL each write is its own short transaction, concurrent with the others. On SQLite
        there is one writer and, while the webhook is busy, background writes get a turn every 200 ms:
        every outcome waiting when the turn comes is written in it (each in its own savepoint), so
        none waits a turn behind another.
        """

        def run() -> T:
            with self._db.begin() as session:
                return fn(session)

        delay = 0.05
        while True:
            try:
                return await (self._write_in_turn(fn) if self._db.ordered else to_thread.run_sync(run))
            except Exception as exc:
                if not database_unavailable(exc):
                    raise
                if (deadline := self._give_up_at()) is not None and asyncio.get_running_loop().time() + delay > deadline:
                    log.warning("outbox: giving up an outcome write on stop (%s)", exc)
                    return None
                if delay == 0.05:
                    log.warning("outbox: database unavailable (%s); retrying the write", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def _write_in_turn(self, fn: Callable[[Session], T]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._outcomes.append((fn, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_outcomes(), name="outbox-outcomes")
        return await future

    async def _write_outcomes(self) -> None:
        while self._outcomes:
            for future, ok, value in await to_thread.run_sync(self._write_waiting):
                if future.done():
                    continue  # its lane was cancelled meanwhile
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

    def _write_waiting(self) -> list[tuple[asyncio.Future[Any], bool, Any]]:
        """In a thread: take the gate's turn, then every outcome queued by then, in one transaction."""
        with self._db.turn():
            batch = []
            while self._outcomes:  # deque: appends on the loop, pops here
                batch.append(self._outcomes.popleft())
            settled: list[tuple[asyncio.Future[Any], bool, Any]] = []
            try:
                with self._db.session_factory.begin() as session:
                    for fn, future in batch:
                        try:
                            with session.begin_nested():
                                settled.append((future, True, fn(session)))
                        except Exception as exc:
                            if database_unavailable(exc):
                                raise
                            settled.append((future, False, exc))
            except Exception as exc:  # the transaction as a whole: every write in it is tried again
                return [(future, False, exc) for _, future in batch]
            return settled
