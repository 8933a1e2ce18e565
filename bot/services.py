"""The platforms inside `tandem serve`: inbound adapters, the group-commit inbox writer, the outbox sender.

Built from settings in the app's lifespan (`build_platforms`), never at import time. A platform whose
credentials are absent is off: its webhook answers 404 and nothing is sent to it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import partial
from typing import Any

from bot.callback_answers import ProcessedEvents, answer_after_processing
from bot.clock import Clock
from bot.config import Settings
from bot.delivery import OutboxSender
from bot.ingest import IngestBatcher, IntakeUnavailable, is_data_error
from bot.messages import Incoming
from bot.platforms import console, receiving, registry
from bot.platforms.platform import Platform
from bot.platforms.receiving import Recorded
from bot.runtime import Runtime
from bot.worker import InboxProcessor
from handlers.imports import wants_file

log = logging.getLogger(__name__)

CONSOLE_GRACE = timedelta(seconds=5)  # `tandem say` prints its own replies; serve prints the rest


class Platforms:
    """Everything platform-facing that lives as long as the web app: the platforms that are on
    (`bot.platforms.registry`), the group-commit inbox writer, the outbox sender, the inbox processor."""

    def __init__(self, runtime: Runtime, platforms: Mapping[str, Platform], *, clock: Clock) -> None:
        self.runtime = runtime
        self.by_name = dict(platforms)
        self.clock = clock
        self._on_accepted: Callable[[], None] | None = None
        dispatcher = runtime.dispatcher
        self.batcher = IngestBatcher(
            dispatcher.accept, writes=runtime.writes, on_accepted=self._accepted, claim_signature=dispatcher.claim_signature
        )
        self.outbox = OutboxSender(
            runtime.writes,
            {name: platform.sender for name, platform in self.by_name.items()},
            clock=clock,
            due_delay={console.PLATFORM: CONSOLE_GRACE},
            lease=timedelta(seconds=runtime.settings.outbox_lease_seconds),
        )
        # What the InboxWorker runs: events one by one, giving way to the webhook's commits.
        prepares = any(platform.prepares for platform in self.by_name.values())
        self.processor = InboxProcessor(dispatcher, runtime.writes, complete=self._prepare if prepares else None)
        self.processed = ProcessedEvents()  # wakes the callbacks waiting for their answer (bound at start_intake)
        dispatcher.on_processed = self.processed.notify

    def get(self, name: str) -> Platform | None:
        return self.by_name.get(name)

    def _prepare(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        platform = self.by_name.get(str(payload.get("platform")))
        if platform is None:
            return None
        file = payload.get("file")
        if isinstance(file, dict) and not wants_file(
            str(payload.get("text", "")), name=str(file.get("name") or ""), replied=bool(file.get("replied"))
        ):
            # A reply about something else, or a file that is no spreadsheet: not fetched.
            without = {key: value for key, value in payload.items() if key != "file"}
            return platform.prepare(without) or without
        return platform.prepare(payload)

    def _accepted(self) -> None:
        if self._on_accepted is not None:
            self._on_accepted()

    def start_sending(self) -> None:
        self.outbox.start()

    async def start_intake(self, *, on_accepted: Callable[[], None]) -> None:
        self._on_accepted = on_accepted
        self.batcher.start()
        self.processed.bind(asyncio.get_running_loop())
        for platform in self.by_name.values():
            platform.await_outcome = partial(answer_after_processing, self.runtime, platform, processed=self.processed)
            await platform.start(self.record)

    async def record(self, incoming: Incoming) -> Recorded:
        """What a long connection does with an event before acknowledging it: the webhook's group commit;
        "retry" (acknowledged as failed, so the platform pushes it again) when it could not be recorded now."""
        try:
            await self.batcher.submit(incoming)
        except Exception as exc:
            if is_data_error(exc):
                log.warning("%s: event %s cannot be stored, dropped: %s", incoming.platform, incoming.event_key, exc)
                return "refused"
            if isinstance(exc, IntakeUnavailable):
                log.warning("%s: could not record event %s now: %s", incoming.platform, incoming.event_key, exc)
            else:
                log.exception("%s: could not record event %s now", incoming.platform, incoming.event_key)
            return "retry"
        return "recorded"

    def health(self) -> tuple[bool, dict[str, dict[str, object]]]:
        """Each platform's receive mode and state; False when a long connection has been down over a minute."""
        shown = {name: health for name, platform in self.by_name.items() if (health := platform.health()) is not None}
        healthy = all(platform.unavailable_for() <= receiving.DOWN_AFTER for platform in self.by_name.values())
        return healthy, shown

    async def stop_intake(self, timeout: float = 5.0) -> None:
        """Stop taking events: the long connections stop reading and acknowledge what they are handling,
        then any request still waiting for its commit is recorded (and answered) first."""
        for platform in self.by_name.values():
            await platform.stop()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.batcher.busy() and loop.time() < deadline:
            await asyncio.sleep(0.01)
        await self.batcher.stop()

    async def stop_sending(self, timeout: float) -> None:
        """The outbox sender's drain, bounded: what was not sent goes out after a restart."""
        try:
            await asyncio.wait_for(self.outbox.stop(), timeout=timeout)
        except TimeoutError:  # never keep a stopping service alive for ever
            log.error("the outbox sender did not stop within %.0fs; exiting without it", timeout)


def build_platforms(settings: Settings, runtime: Runtime) -> Platforms:
    return Platforms(runtime, registry.build_platforms(settings, runtime.clock), clock=runtime.clock)
