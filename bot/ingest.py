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
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from bot.messages import Incoming
from bot.platforms import Refused, SignatureUse
from bot.writes import Writes

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


class IngestBatcher:
    QUIET = 0.002  # seconds without webhook requests before the intake counts as idle
    DEADLINE = 2.0  # seconds a request waits for its event to be recorded before it is answered 503

    def __init__(
        self,
        accept: Accept,
        *,
        writes: Writes | None = None,
        on_accepted: Callable[[], None] | None = None,
        max_batch: int = 256,
        claim_signature: ClaimSignature | None = None,
        deadline: float = DEADLINE,
    ) -> None:
        self._accept = accept
        self._writes = writes
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
        if writes is not None:
            writes.watch_intake(self.busy)

    def _first(self) -> contextlib.AbstractContextManager[None]:
        """The inbox's turn for the write lock, before any background write (SQLite, `bot.writes`)."""
        return self._writes.first() if self._writes is not None else contextlib.nullcontext()

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
            with self._first():
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
        if not self.busy() and self._writes is not None:
            self._writes.intake_idle()

    def _record(self, items: list[Incoming]) -> None:
        with self._first():
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
