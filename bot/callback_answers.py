"""A card callback is answered with what its command did: the platform waits (Feishu: 3 s), so once
the event is recorded we wake the inbox worker and wait, up to ANSWER_WITHIN, for the event to be
processed, then answer with the platform's rendering of the reply (Feishu: a success or error toast)
and, where the platform updates cards in place, the pressed card as it now is (Feishu: `card` raw),
cancelling the card's own update row (bot.dispatcher.PRESSED_CARD_UPDATE_AFTER), which would only
repeat it — unless other clicks on the same card came at the same time: their answers may reach the
platform in any order, so then the latest update row still goes and has the last word. Past the
wait, the quick answer `normalise` gave goes, the reply still arrives as a message, and the card is
updated just after by that row."""

from __future__ import annotations

import asyncio
import logging
import time
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
POLL_EVERY = 0.02


async def answer_after_processing(runtime: Runtime, platform: Platform, parsed: Inbound) -> dict[str, Any]:
    """The answer to a callback (webhook or long connection alike), within ANSWER_WITHIN."""
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
        await asyncio.sleep(POLL_EVERY)
    return parsed.answer
