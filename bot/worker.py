"""Background work inside `tandem serve`: process accepted events after the webhook has answered."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from functools import partial
from typing import Protocol

from anyio import to_thread

from bot.dispatcher import Completer, Dispatcher
from bot.inbox import pending_events
from bot.writes import Writes

log = logging.getLogger(__name__)


class PendingProcessor(Protocol):
    """The Dispatcher, or a wrapper that paces it."""

    def process_pending(self, limit: int = 100) -> int: ...


class InboxWorker:
    """Processes pending inbox events in order; woken by the webhook, and on a timer as a safety net.

    On start it picks up whatever was accepted but not processed before a restart.
    """

    def __init__(
        self,
        dispatcher: PendingProcessor,
        *,
        idle_seconds: float = 1.0,
        batch: int = 20,
        after_pass: Callable[[], None] | None = None,
    ) -> None:
        self._dispatcher = dispatcher
        self._idle_seconds = idle_seconds
        self._batch = batch
        self._after_pass = after_pass  # e.g. wake the outbox sender: replies were just committed
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="inbox-worker")

    async def stop(self, timeout: float = 10.0) -> None:
        """Let the pass under way finish (each event is its own transaction; a pass is at most `batch`
        events, well under a second), then stop; what is still pending is processed after a restart."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._task), timeout=timeout)
        if not self._task.done():
            log.warning("inbox worker: still busy after %.0fs at shutdown; cancelling", timeout)
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _pass(self) -> int:
        """One pass over what is pending (in a thread); how many events it processed."""
        return await to_thread.run_sync(partial(self._dispatcher.process_pending, limit=self._batch))

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                while not self._stopping and await self._pass():
                    # Not once stopping: the sender is stopped next, and a wake-up landing just before the
                    # cancellation of its sleep is lost by Python 3.11's asyncio.wait_for (the task goes on).
                    if self._after_pass is not None and not self._stopping:
                        self._after_pass()
            except Exception:
                log.exception("inbox worker pass failed")
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._idle_seconds)


class InboxProcessor:
    """What the InboxWorker runs in `tandem serve`: pending events through `Dispatcher.process_events`,
    each in its own write turn (`bot.writes`), so that webhook commits slip in between events rather
    than wait for a whole pass (a run's card refresh takes a turn of its own).

    `complete` may fill in what the platform left out of a recorded event and had to be fetched after
    the acknowledgement (a Feishu sender's name, a file): it gets the stored payload and returns a new
    one, or None to leave it as it is. It runs outside any transaction (it may download), and the
    completed payload is processed and stored in the event's own processing transaction.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        writes: Writes,
        *,
        complete: Completer | None = None,
    ) -> None:
        self._dispatcher = dispatcher
        self._writes = writes
        self._complete = complete

    def process_pending(self, limit: int = 100) -> int:
        with self._writes.session_factory() as session:
            pending = pending_events(session, limit=limit)
        return self._dispatcher.process_events(pending, complete=self._complete, turn=self._writes.turn)
