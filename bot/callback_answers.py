"""A card callback is answered with what its command did: the platform waits (Feishu: 3 s), so once
the event is recorded we wake the inbox worker and wait, up to ANSWER_WITHIN, for the event to be
processed, then answer with the platform's rendering of the reply (Feishu: a success or error toast)
and, where the platform updates cards in place, the pressed card as it now is (Feishu: `card` raw),
cancelling the card's own update row (bot.dispatcher.PRESSED_CARD_UPDATE_AFTER), which would only
repeat it — unless other clicks on the same card came at the same time: their answers may reach the
platform in any order, so then the latest update row still goes and has the last word. Past the
wait, the quick answer `normalise` gave goes, the reply still arrives as a message, and the card is
updated just after by that row.

The wait is woken in-process (`ProcessedEvents`: the dispatcher says when an event's outcome is
committed), so twenty concurrent clicks cost twenty reads, not a poll each every 20 ms competing with
the inbox worker for the database; an event another replica processed is still found by a slower poll."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from anyio import to_thread

from bot.dispatcher import PRESSED_CARD_UPDATE_AFTER
from bot.messages import Reply
from bot.platforms import Inbound
from bot.platforms.platform import Platform
from bot.runtime import Runtime
from models.event_outcome import EventOutcome, cancel_card_update, event_outcome

log = logging.getLogger(__name__)

ANSWER_WITHIN = 2.0  # seconds; Feishu gives up after 3 (the card's update row waits 2.5 s)
POLL_EVERY = 0.02  # without ProcessedEvents (nothing in this process says when)
POLL_FALLBACK = 0.25  # with it: only for an event processed elsewhere (another replica)


class ProcessedEvents:
    """The callbacks waiting in this process, woken when the inbox worker has committed their event."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: dict[tuple[str, str], asyncio.Event] = {}

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def notify(self, platform: str, event_key: str) -> None:
        """From any thread (the worker's): wake whoever waits for this event."""
        loop = self._loop
        if loop is None or (platform, event_key) not in self._waiting:
            return
        with suppress(RuntimeError):  # the loop has closed: nobody is waiting any more
            loop.call_soon_threadsafe(self._wake, (platform, event_key))

    def _wake(self, key: tuple[str, str]) -> None:
        event = self._waiting.get(key)
        if event is not None:
            event.set()

    @contextmanager
    def waiting(self, platform: str, event_key: str) -> Iterator[asyncio.Event]:
        event = self._waiting.setdefault((platform, event_key), asyncio.Event())
        try:
            yield event
        finally:
            self._waiting.pop((platform, event_key), None)


async def answer_after_processing(
    runtime: Runtime, platform: Platform, parsed: Inbound, processed: ProcessedEvents | None = None
) -> dict[str, Any]:
    """The answer to a callback (webhook or long connection alike), within ANSWER_WITHIN."""
    if processed is None:
        return await _answer(runtime, platform, parsed, None)
    with processed.waiting(parsed.incoming.platform, parsed.incoming.event_key) as done:  # before the first look
        return await _answer(runtime, platform, parsed, done)


async def _answer(runtime: Runtime, platform: Platform, parsed: Inbound, done: asyncio.Event | None) -> dict[str, Any]:
    incoming = parsed.incoming
    factory = runtime.session_factory

    def look() -> EventOutcome:
        with factory() as session:
            return event_outcome(
                session, platform=incoming.platform, event_key=incoming.event_key, card_message_id=incoming.card_message_id
            )

    def cancel(outbox_id: int) -> bool:
        with runtime.writes.first(), factory.begin() as session:
            return cancel_card_update(session, outbox_id=outbox_id, window=2 * PRESSED_CARD_UPDATE_AFTER)

    deadline = time.monotonic() + min(ANSWER_WITHIN, platform.answer_within)  # DingTalk: 2 s in all
    while time.monotonic() < deadline:
        outcome = await to_thread.run_sync(look)
        if outcome.processed:
            reply = Reply.from_payload(outcome.reply) if outcome.reply else None
            card = Reply.from_payload(outcome.card) if outcome.card else None
            # Off the event loop: a card of 60 tasks takes a few ms to build, and clicks come together.
            if card is not None:
                answer = await to_thread.run_sync(platform.callback_answer, reply, card)
            else:
                answer = platform.callback_answer(reply)
            if answer is None:
                return parsed.answer
            if outcome.card_update_id is not None and "card" in answer:
                try:  # the update row would only repeat the card; when it is already going out, it does
                    await to_thread.run_sync(cancel, outcome.card_update_id)
                except Exception:
                    log.warning("could not cancel card update %s; it will repeat the answer", outcome.card_update_id)
            return answer
        if done is None:
            await asyncio.sleep(POLL_EVERY)
            continue
        try:
            async with asyncio.timeout(min(POLL_FALLBACK, max(0.0, deadline - time.monotonic()))):
                await done.wait()
        except TimeoutError:
            pass
        done.clear()
    return parsed.answer
