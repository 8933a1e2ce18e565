"""Retention: `tandem serve` prunes the inbox, the outbox and the scheduler's slots now and then, and
`tandem db prune` does the same by hand.

What goes, and when (settings in bot/config.py, defaults in the README):
- inbox events done or failed, `TANDEM_RETENTION_INBOX_HOURS` (72) after they were received: well past
  the platforms' redelivery (Feishu retries for about 7.1 hours; the setting refuses less than 8);
- outbox messages sent or failed, `TANDEM_RETENTION_OUTBOX_DAYS` (30) after they were written (a failed
  one can be looked at and retried until then);
- scheduler slots, `TANDEM_RETENTION_JOB_RUN_DAYS` (90) after their claim, and only once they cannot
  matter for exactly-once any more (scheduler/retention.py).
History (`change` rows) is kept: it is the audit trail shown in task, risk and action details, and
the scheduler reads it (when a task became blocked, when a risk last changed) to key escalations, so
pruning it would change what is reported and could escalate an old incident again.

Every step works in pages of `batch` rows, each its own short transaction (through `bot.writes`, the write gate on
SQLite, so the webhook's commits go first), never one large DELETE holding SQLite's lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from anyio import to_thread
from sqlalchemy.orm import Session

from bot.clock import Clock, utcnow
from bot.config import Settings
from bot.platforms.dingtalk import SIGNATURE_TOLERANCE
from bot.writes import Writes
from models.retention import Page, prune_inbox, prune_outbox
from models.webhook import prune_webhook_signatures
from scheduler.retention import prune_job_runs

log = logging.getLogger(__name__)

BATCH = 500  # rows per page: a few milliseconds of SQLite's write lock


class PruneFunction(Protocol):
    def __call__(self, session: Session, /, *, before: datetime, after_id: int = 0, limit: int = BATCH) -> Page: ...


@dataclass(frozen=True, slots=True)
class PruneStep:
    name: str
    keep: timedelta  # rows older than this (and finished) go
    prune: PruneFunction


def single_statement(delete_before: Callable[[Session, datetime], int]) -> PruneFunction:
    """A step for a small table pruned with one statement, `delete_before(session, before) -> rows`."""

    def prune(session: Session, /, *, before: datetime, after_id: int = 0, limit: int = BATCH) -> Page:
        return Page(delete_before(session, before), None)

    return prune


def prune_steps(settings: Settings) -> list[PruneStep]:
    """The prune steps, in order. New tables with a retention rule are added here."""
    return [
        PruneStep("inbox", timedelta(hours=settings.retention_inbox_hours), prune_inbox),
        PruneStep("outbox", timedelta(days=settings.retention_outbox_days), prune_outbox),
        PruneStep("job_run", timedelta(days=settings.retention_job_run_days), prune_job_runs),
        # The used DingTalk (timestamp, sign) pairs: past the signature's hour a pair is refused as stale anyway.
        PruneStep("webhook_signature", SIGNATURE_TOLERANCE, single_statement(prune_webhook_signatures)),
    ]


class Pruner:
    """Runs the prune steps once, page by page; `stop()` (any thread) ends the run after the current page."""

    def __init__(
        self,
        writes: Writes,
        steps: Sequence[PruneStep],
        *,
        clock: Clock = utcnow,
        batch: int = BATCH,
    ) -> None:
        self._db = writes
        self._steps = list(steps)
        self._clock = clock
        self._batch = batch
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> dict[str, int]:
        """Rows deleted per step (a step that fails is logged and the others still run)."""
        now = self._clock()
        deleted: dict[str, int] = {}
        for step in self._steps:
            if self._stopping.is_set():
                break
            try:
                deleted[step.name] = self._run_step(step, before=now - step.keep)
            except Exception:
                log.exception("retention: pruning %s failed", step.name)
        return deleted

    def _run_step(self, step: PruneStep, *, before: datetime) -> int:
        total = 0
        after: int | None = 0
        while after is not None and not self._stopping.is_set():
            with self._db.begin() as session:
                page = step.prune(session, before=before, after_id=after, limit=self._batch)
            total += page.deleted
            after = page.next_after
        return total


class RetentionService:
    """The periodic run inside `tandem serve`: shortly after start, then every `interval` seconds."""

    def __init__(self, pruner: Pruner, *, interval: float, first_delay: float = 60.0) -> None:
        self._pruner = pruner
        self._interval = interval
        self._first_delay = min(first_delay, interval)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="retention")

    async def stop(self) -> None:
        """Ends a run in progress after its current page (which commits), then the task."""
        self._stop.set()
        self._pruner.stop()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        delay = self._first_delay
        while not await self._wait(delay):
            try:
                deleted = await to_thread.run_sync(self._pruner.run)
            except Exception:
                log.exception("retention run failed")
            else:
                if any(deleted.values()):
                    log.info("retention: deleted %s", ", ".join(f"{name} {n}" for name, n in deleted.items()))
            delay = self._interval

    async def _wait(self, seconds: float) -> bool:
        """True when asked to stop (before `seconds` are up)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
        return self._stop.is_set()


def build_retention(
    settings: Settings, writes: Writes, *, clock: Clock = utcnow
) -> RetentionService | None:
    """The periodic pruning for `tandem serve` (None when TANDEM_RETENTION_INTERVAL_MINUTES is 0)."""
    if settings.retention_interval_minutes <= 0:
        return None
    pruner = Pruner(writes, prune_steps(settings), clock=clock)
    return RetentionService(pruner, interval=settings.retention_interval_minutes * 60)
