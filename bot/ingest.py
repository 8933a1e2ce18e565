"""Group commit for the webhooks: the inbox writes of concurrent requests share one transaction.

Each webhook request hands its verified `Incoming` to `IngestBatcher.submit` and waits. One task
takes whatever has queued up, records it with a single `dispatcher.accept()` (one INSERT … ON
CONFLICT DO NOTHING, one commit) in a dedicated thread, then resolves every waiting request. While
that commit runs, the next requests queue up and form the next batch, so under load the cost of the
durable write is shared and when idle a lone request waits for nobody.

A request waits at most `IngestBatcher.DEADLINE` (2 s): Feishu wants its 200 within 3 s and
redelivers otherwise, so past that a request is answered 503 at once (a batch still under way may
commit later; the redelivery then finds a duplicate). Failures are told apart: a value the database
refuses for one event (`is_data_error`) is that event's problem, answered 400 and never retried by
the platform; anything else (database down or locked, shutting down) is answered 503, retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from bot.dispatcher import Dispatcher
from bot.inbox import pending_event_ids
from bot.messages import Incoming
from bot.platforms import Refused, SignatureUse
from models import InboundEvent, InboundStatus

log = logging.getLogger(__name__)

Accept = Callable[[Sequence[Incoming]], object]
ClaimSignature = Callable[[SignatureUse], str]
_Waiting = tuple[Incoming, "asyncio.Future[None]", float]  # the event, its request's future, when it came


class IntakeUnavailable(RuntimeError):
    """The event could not be recorded now (not in time, or the intake is stopping): try again."""


def is_data_error(exc: BaseException) -> bool:
    """The database (or the conversion before it) refused this event's values: retrying cannot help."""
    if isinstance(exc, DataError | IntegrityError | sqlite3.DataError | sqlite3.IntegrityError | ValueError | TypeError):
        return True
    # A bind parameter that could not be converted (SQLAlchemy wraps the ValueError/TypeError).
    return isinstance(exc, StatementError) and not isinstance(exc, DBAPIError) and isinstance(exc.orig, ValueError | TypeError)


class WriteGate:
    """One writer at a time, in this process, with the webhook's commits first.

    SQLite has a single write lock, and a writer that finds it taken sleeps and polls (1, 2, 5, 10…
    ms). Inside one process we queue writers here instead, so the lock passes on at once, and an
    inbox commit that has webhook requests waiting on it goes before background writes (processing
    events, outbox bookkeeping).

    Acknowledgements come first under load, too: while the webhook is busy (`intake_busy`: requests
    are waiting for their commit, or one was answered a moment ago), background writes take turns at
    most every `background_interval`; `intake_idle()` lets them go as soon as it is quiet again. In a burst
    the platforms get their 200s in time (late ones are redelivered, which only adds load) and the
    recorded backlog is worked off at a reduced pace, then at full speed once the burst is over.

    Why 200 ms: a background write holds SQLite's lock for a whole event (~3 ms alone, 6–7 ms while
    it shares the GIL with the webhook), and every webhook request waits behind it. At 50 ms that
    stalled the intake an eighth of the time in a saturating burst; at 200 ms a thirtieth. Load
    short of saturation leaves quiet gaps of `IngestBatcher.QUIET`, and background writes use those.
    """

    def __init__(self, *, enabled: bool = True, background_interval: float = 0.2) -> None:
        self.enabled = enabled
        self.intake_busy: Callable[[], bool] = lambda: False
        self._background_interval = background_interval
        self._condition = threading.Condition()
        self._busy = False
        self._urgent_waiting = 0
        self._next_background = 0.0

    @contextlib.contextmanager
    def urgent(self) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        with self._condition:
            self._urgent_waiting += 1
            while self._busy:
                self._condition.wait()
            self._urgent_waiting -= 1
            self._busy = True
        try:
            yield
        finally:
            self._release()

    @contextlib.contextmanager
    def background(self) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        with self._condition:
            while True:
                if self._busy or self._urgent_waiting:
                    self._condition.wait()
                    continue
                wait = self._next_background - time.monotonic()
                if wait > 0 and self.intake_busy():
                    # Sleep until our turn (no short polling: every wake-up takes the GIL from the loop).
                    self._condition.wait(timeout=wait)
                    continue
                break
            self._busy = True
            self._next_background = time.monotonic() + self._background_interval
        try:
            yield
        finally:
            self._release()

    def intake_idle(self) -> None:
        """The webhook has gone quiet: background writers need not wait for their turn."""
        with self._condition:
            self._condition.notify_all()

    def _release(self) -> None:
        with self._condition:
            self._busy = False
            self._condition.notify_all()


class SqliteInboxWriter:
    """The group commit on SQLite: one multi-row `INSERT … ON CONFLICT DO NOTHING`, run in autocommit
    mode, so the whole batch is one statement, one transaction and one call into SQLite.

    Through the ORM the same write costs several round trips between Python and SQLite (BEGIN, the
    insert, COMMIT), and the thread doing it has to win the GIL back from the event loop after each:
    under load that hand-over, not the disk, set the pace. Values are converted with the columns' own
    SQLAlchemy bind processors, so rows are stored exactly as the ORM would store them.
    """

    MAX_ROWS = 1000  # 7 parameters a row; SQLite allows 32766 per statement

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime]) -> None:
        table = InboundEvent.__table__
        dialect = engine.dialect
        self._engine = engine
        self._clock = clock
        self._columns = ("platform", "event_key", "chat_id", "received_at", "payload", "status", "attempts")
        identity: Callable[[Any], Any] = lambda value: value  # noqa: E731
        self._convert = [table.c[name].type.bind_processor(dialect) or identity for name in self._columns]
        columns = ", ".join(self._columns)
        self._head = f"INSERT INTO {table.name} ({columns}) VALUES "
        self._tail = " ON CONFLICT (platform, event_key) DO NOTHING"
        self._row = "(" + ", ".join("?" * len(self._columns)) + ")"
        self._sql: dict[int, str] = {}

    def __call__(self, incomings: Sequence[Incoming]) -> None:
        if not incomings:
            return
        received = self._convert[3](self._clock())
        status = self._convert[5](InboundStatus.PENDING)
        payload = self._convert[4]
        connection = self._engine.raw_connection()
        try:
            for start in range(0, len(incomings), self.MAX_ROWS):
                chunk = incomings[start : start + self.MAX_ROWS]
                params: list[Any] = []
                for m in chunk:
                    params += (m.platform, m.event_key, m.chat_id, received, payload(m.to_payload()), status, 0)
                sql = self._sql.get(len(chunk))
                if sql is None:
                    sql = self._sql[len(chunk)] = self._head + ", ".join([self._row] * len(chunk)) + self._tail
                connection.driver_connection.execute(sql, params)  # type: ignore[union-attr]  # autocommit: atomic
        finally:
            connection.close()


class GatedProcessor:
    """What the InboxWorker runs: pending events one at a time, each through the write gate, so that
    webhook commits slip in between events rather than wait for a whole pass.

    `complete` may fill in what the platform left out of a recorded event and had to be fetched after
    the acknowledgement (a Feishu sender's name): it gets the stored payload and returns a new one, or
    None to leave it as it is.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        session_factory: sessionmaker[Session],
        gate: WriteGate,
        *,
        complete: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None,
    ) -> None:
        self._dispatcher = dispatcher
        self._session_factory = session_factory
        self._gate = gate
        self._complete = complete

    def process_pending(self, limit: int = 100) -> int:
        with self._session_factory() as session:
            ids = pending_event_ids(session, limit=limit)
        done = 0
        for event_id in ids:
            if self._complete is not None:
                try:
                    self._complete_event(event_id)
                except Exception:  # the name is a nicety: the event goes on without it
                    log.exception("event %s: could not fill in what the platform left out", event_id)
            with self._gate.background():
                done += self._dispatcher.process(event_id)
        return done

    def _complete_event(self, event_id: int) -> None:
        assert self._complete is not None
        with self._session_factory() as session:
            event = session.get(InboundEvent, event_id)
            payload = dict(event.payload) if event is not None and event.status == InboundStatus.PENDING else None
        completed = self._complete(payload) if payload is not None else None
        if completed is None:
            return
        with self._gate.background(), self._session_factory.begin() as session:
            event = session.get(InboundEvent, event_id)
            if event is not None and event.status == InboundStatus.PENDING:
                event.payload = completed


class IngestBatcher:
    QUIET = 0.002  # seconds without webhook requests before the intake counts as idle
    DEADLINE = 2.0  # seconds a request waits for its event to be recorded before it is answered 503

    def __init__(
        self,
        accept: Accept,
        *,
        gate: WriteGate | None = None,
        on_accepted: Callable[[], None] | None = None,
        max_batch: int = 256,
        claim_signature: ClaimSignature | None = None,
        deadline: float = DEADLINE,
    ) -> None:
        self._accept = accept
        self._gate = gate or WriteGate(enabled=False)
        self._on_accepted = on_accepted
        self._max_batch = max_batch
        self._claim_signature = claim_signature
        self._deadline = deadline
        self._queue: list[_Waiting] = []
        self._in_flight: list[_Waiting] = []
        self._overdue_timer: asyncio.TimerHandle | None = None
        self._queued = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox-commit")
        self._task: asyncio.Task[None] | None = None
        self._waiting = 0  # webhook requests waiting for their event to be recorded
        self._last_batch = 0.0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._gate.intake_busy = self.busy

    def busy(self) -> bool:
        """Requests are waiting for their commit, or a batch was committed a moment ago (read from
        other threads; each field is written atomically by the event loop)."""
        return self._waiting > 0 or time.monotonic() - self._last_batch < self.QUIET

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="inbox-group-commit")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._overdue_timer is not None:
            self._overdue_timer.cancel()
        for _, future, _ in self._in_flight + self._queue:
            if not future.done():
                future.set_exception(IntakeUnavailable("shutting down"))
        self._in_flight, self._queue = [], []
        self._executor.shutdown(wait=True)

    async def submit(self, incoming: Incoming) -> None:
        """Return once the event is durably recorded (new or a duplicate); raise if it could not be
        (`IntakeUnavailable` after `DEADLINE`, or the database's error)."""
        if self._task is None or self._task.done():
            raise IntakeUnavailable("the inbox is not accepting events")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((incoming, future, time.monotonic()))
        self._waiting += 1
        self._queued.set()
        await future  # cancelling this request cancels its own future only, never the shared commit

    async def claim_signature(self, use: SignatureUse) -> None:
        """Claim a timestamp-only signature for its event before the event is recorded; `Refused` (401)
        when another event already came with it. Written through the urgent lane, like the inbox."""
        if self._claim_signature is None:
            return
        claim = self._claim_signature

        def write() -> str:
            with self._gate.urgent():
                return claim(use)

        try:
            owner = await asyncio.wait_for(asyncio.to_thread(write), timeout=self._deadline)
        except TimeoutError:
            raise IntakeUnavailable("could not record the signature in time") from None
        if owner != use.event_key:
            raise Refused(401, "this timestamp and sign were already used for another message (replayed signature)")

    def _take(self) -> list[_Waiting]:
        """The next batch; requests already answered (past the deadline, or gone) are not recorded."""
        batch: list[_Waiting] = []
        taken = 0
        for item in self._queue:
            taken += 1
            if item[1].done():
                self._waiting -= 1
                continue
            batch.append(item)
            if len(batch) == self._max_batch:
                break
        del self._queue[:taken]
        return batch

    def _overdue(self) -> None:
        """Answer every request that has waited `deadline` (the batch under way is stuck, e.g. on a lock)."""
        self._overdue_timer = None
        now = time.monotonic()
        oldest: float | None = None
        for _, future, since in self._in_flight + self._queue:
            if future.done():
                continue
            if now - since >= self._deadline:
                future.set_exception(IntakeUnavailable("the event could not be recorded in time"))
            elif oldest is None or since < oldest:
                oldest = since
        if oldest is not None:
            self._overdue_timer = asyncio.get_running_loop().call_later(oldest + self._deadline - now, self._overdue)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._queued.wait()
            self._queued.clear()
            while self._queue:
                batch = self._take()
                if not batch:
                    continue
                self._in_flight = batch
                # One timer per batch, not per request: the hot path stays as it was.
                self._overdue_timer = loop.call_later(batch[0][2] + self._deadline - time.monotonic(), self._overdue)
                try:
                    await loop.run_in_executor(self._executor, self._record, [item for item, _, _ in batch])
                except Exception as exc:
                    if is_data_error(exc):
                        log.warning("inbox batch of %d refused (%s); recording one by one", len(batch), exc)
                        await self._one_by_one(batch)
                    else:  # the database is unavailable: every event in the batch would fail alike
                        log.error("inbox batch of %d could not be recorded: %s", len(batch), exc)
                        for _, future, _ in batch:
                            if not future.done():
                                future.set_exception(exc)
                else:
                    for _, future, _ in batch:
                        if not future.done():
                            future.set_result(None)
                finally:
                    if self._overdue_timer is not None:
                        self._overdue_timer.cancel()
                        self._overdue_timer = None
                self._in_flight = []
                self._batch_done(len(batch))

    def _batch_done(self, size: int) -> None:
        self._waiting -= size
        self._last_batch = time.monotonic()
        if self._on_accepted is not None:
            self._on_accepted()
        if not self._waiting:
            if self._idle_timer is not None:
                self._idle_timer.cancel()
            self._idle_timer = asyncio.get_running_loop().call_later(self.QUIET, self._went_quiet)

    def _went_quiet(self) -> None:
        self._idle_timer = None
        if not self.busy():
            self._gate.intake_idle()

    def _record(self, items: list[Incoming]) -> None:
        with self._gate.urgent():
            self._accept(items)

    async def _one_by_one(self, batch: list[_Waiting]) -> None:
        loop = asyncio.get_running_loop()
        for item, future, _ in batch:
            if future.done():  # answered already (past the deadline): not worth a transaction now
                continue
            try:
                await loop.run_in_executor(self._executor, self._record, [item])
            except Exception as exc:
                log.warning("recording event %s/%s failed: %s", item.platform, item.event_key, exc)
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(None)
