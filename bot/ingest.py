"""Group commit for the webhooks: the inbox writes of concurrent requests share one transaction.

Each webhook request hands its verified `Incoming` to `IngestBatcher.submit` and waits. One task
takes whatever has queued up, records it with a single `dispatcher.accept()` (one INSERT … ON
CONFLICT DO NOTHING, one commit) in a dedicated thread, then resolves every waiting request. While
that commit runs, the next requests queue up and form the next batch, so under load the cost of the
durable write is shared and when idle a lone request waits for nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from bot.messages import Incoming

log = logging.getLogger(__name__)

Accept = Callable[[Sequence[Incoming]], object]


class IngestBatcher:
    def __init__(self, accept: Accept, *, on_accepted: Callable[[], None] | None = None, max_batch: int = 256) -> None:
        self._accept = accept
        self._on_accepted = on_accepted
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Incoming, asyncio.Future[None]]] = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox-commit")
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="inbox-group-commit")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while not self._queue.empty():
            _, future = self._queue.get_nowait()
            if not future.done():
                future.set_exception(RuntimeError("shutting down"))
        self._executor.shutdown(wait=True)

    async def submit(self, incoming: Incoming) -> None:
        """Return once the event is durably recorded (new or a duplicate); raise if it could not be."""
        if self._task is None or self._task.done():
            raise RuntimeError("the inbox is not accepting events")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((incoming, future))
        await asyncio.shield(future)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await loop.run_in_executor(self._executor, self._accept, [item for item, _ in batch])
            except Exception:
                log.exception("inbox batch of %d failed; recording one by one", len(batch))
                await self._one_by_one(batch)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
            if self._on_accepted is not None:
                self._on_accepted()

    async def _one_by_one(self, batch: list[tuple[Incoming, asyncio.Future[None]]]) -> None:
        loop = asyncio.get_running_loop()
        for item, future in batch:
            try:
                await loop.run_in_executor(self._executor, self._accept, [item])
            except Exception as exc:
                log.exception("recording event %s/%s failed", item.platform, item.event_key)
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(None)
