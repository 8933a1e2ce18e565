"""A card callback is answered with what its command did: the platform waits (Feishu: 3 s), so once
the event is recorded we wake the inbox worker and wait, up to ANSWER_WITHIN, for the event to be
processed, then answer with the platform's rendering of the reply (Feishu: a success or error toast)
and, where the platform updates cards in place, the pressed card as it now is (Feishu: `card` raw),
cancelling the card's own update row (bot.dispatcher.PRESSED_CARD_UPDATE_AFTER), which would only
repeat it — unless other clicks on the same card came at the same time: their answers may reach the
platform in any order, so then the latest update row still goes and has the last word. Past the
wait, the quick answer `normalise` gave goes, the reply still arrives as a message, and the card is
updated just after by that row.

The outcome is handed over in-process (`ProcessedEvents`: the dispatcher gives it to the callback
waiting in this process as soon as it is committed), so twenty concurrent clicks cost no reads at all
and no poll competes with the inbox worker for the database; an event another replica processed is
still found by a slower poll. The cancellation of the update row is bookkeeping, done after the answer
has gone (the row waits 2.5 s; cancelling takes milliseconds; missed, it only repeats the card)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from anyio import to_thread

from bot.dispatcher import PRESSED_CARD_UPDATE_AFTER, Outcome
from bot.messages import Reply
from bot.platforms import Inbound
from bot.platforms.platform import Platform
from bot.runtime import Runtime
from models.event_outcome import cancel_card_update, event_outcome

log = logging.getLogger(__name__)

ANSWER_WITHIN = 2.0  # seconds; Feishu gives up after 3 (the card's update row waits 2.5 s)
POLL_EVERY = 0.02  # without ProcessedEvents (nothing in this process says when)
POLL_FALLBACK = 0.25  # with it: only for an event processed elsewhere (another replica)


KEEP_OUTCOMES = 256  # outcomes of callbacks nobody waits for (any more) are forgotten past this many


class ProcessedEvents:
    """The callbacks waiting in this process, handed their outcome once the inbox worker committed it.

    An outcome that arrives before its callback starts waiting (the worker can be that quick) is kept
    for it; the last KEEP_OUTCOMES are kept, so one whose callback gave up cannot pile up. An event
    told held (processed here, its outcome to follow when its run's cards are written) is not looked
    for in the database meanwhile: there it would look done without its card."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: dict[tuple[str, str], asyncio.Event] = {}
        self._outcomes: OrderedDict[tuple[str, str], Outcome] = OrderedDict()
        self._held: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._background: set[asyncio.Task[None]] = set()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def notify(self, platform: str, event_key: str, outcome: Outcome | None) -> None:
        """From any thread (the worker's): hand the outcome over and wake whoever waits for it
        (None: the event is held, its outcome follows)."""
        loop = self._loop
        if loop is None:
            return
        with suppress(RuntimeError):  # the loop has closed: nobody is waiting any more
            loop.call_soon_threadsafe(self._arrive, (platform, event_key), outcome)

    def _arrive(self, key: tuple[str, str], outcome: Outcome | None) -> None:
        if outcome is None:
            self._held[key] = None
            while len(self._held) > KEEP_OUTCOMES:
                self._held.popitem(last=False)
        else:
            self._held.pop(key, None)
            self._outcomes[key] = outcome
            while len(self._outcomes) > KEEP_OUTCOMES:
                self._outcomes.popitem(last=False)
        event = self._waiting.get(key)
        if event is not None:
            event.set()

    def take(self, platform: str, event_key: str) -> Outcome | None:
        """The event's outcome if it has arrived (on the event loop)."""
        return self._outcomes.pop((platform, event_key), None)

    def held(self, platform: str, event_key: str) -> bool:
        """Processed here, its outcome to follow: nothing to look for in the database."""
        return (platform, event_key) in self._held

    @contextmanager
    def waiting(self, platform: str, event_key: str) -> Iterator[asyncio.Event]:
        event = self._waiting.setdefault((platform, event_key), asyncio.Event())
        try:
            yield event
        finally:
            self._waiting.pop((platform, event_key), None)

    def in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a coroutine after the answer has gone, keeping it referenced until done."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


async def answer_after_processing(
    runtime: Runtime, platform: Platform, parsed: Inbound, processed: ProcessedEvents | None = None
) -> dict[str, Any]:
    """The answer to a callback (webhook or long connection alike), within ANSWER_WITHIN."""
    incoming = parsed.incoming
    factory = runtime.session_factory

    def look() -> Outcome | None:
        with factory() as session:
            found = event_outcome(
                session, platform=incoming.platform, event_key=incoming.event_key, card_message_id=incoming.card_message_id
            )
        if not found.processed:
            return None
        reply = Reply.from_payload(found.reply) if found.reply else None
        card = Reply.from_payload(found.card) if found.card else None
        return Outcome(reply, card, found.card_update_id)

    def cancel(outbox_id: int) -> bool:
        with runtime.writes.first(), factory.begin() as session:
            return cancel_card_update(session, outbox_id=outbox_id, window=2 * PRESSED_CARD_UPDATE_AFTER)

    async def cancel_quietly(outbox_id: int) -> None:
        try:  # the update row would only repeat the card; when it is already going out, it does
            await to_thread.run_sync(cancel, outbox_id)
        except Exception:
            log.warning("could not cancel card update %s; it will repeat the answer", outbox_id, exc_info=True)

    outcome = await _outcome(platform, parsed, processed, look)
    if outcome is None:
        return parsed.answer
    # Off the event loop: a card of 60 tasks takes a few ms to build, and clicks come together.
    if outcome.card is not None:
        answer = await to_thread.run_sync(platform.callback_answer, outcome.reply, outcome.card)
    else:
        answer = platform.callback_answer(outcome.reply)
    if answer is None:
        return parsed.answer
    if outcome.card_update_id is not None and "card" in answer:
        if processed is not None:
            processed.in_background(cancel_quietly(outcome.card_update_id))
        else:
            await cancel_quietly(outcome.card_update_id)
    return answer


async def _outcome(
    platform: Platform, parsed: Inbound, processed: ProcessedEvents | None, look: Callable[[], Outcome | None]
) -> Outcome | None:
    """The event's outcome once processed, or None past the deadline. In-process: handed over by the
    worker, with a read of the database now and then for an event another replica processed."""
    deadline = time.monotonic() + min(ANSWER_WITHIN, platform.answer_within)  # DingTalk: 2 s in all
    if processed is None:
        while time.monotonic() < deadline:
            outcome: Outcome | None = await to_thread.run_sync(look)
            if outcome is not None:
                return outcome
            await asyncio.sleep(POLL_EVERY)
        return None
    key = (parsed.incoming.platform, parsed.incoming.event_key)
    with processed.waiting(*key) as done:
        while True:
            outcome = processed.take(*key)
            if outcome is not None:
                return outcome
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                async with asyncio.timeout(remaining if processed.held(*key) else min(POLL_FALLBACK, remaining)):
                    await done.wait()
                done.clear()
            except TimeoutError:  # processed by another replica, perhaps
                outcome = await to_thread.run_sync(look)
                # Held (told before its commit): the read may show it done before its card is written,
                # so only the outcome handed over counts — which may have come during the read.
                arrived = processed.take(*key)
                if arrived is not None:
                    return arrived
                if outcome is not None and not processed.held(*key):
                    return outcome
