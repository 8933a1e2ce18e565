"""A card callback is answered with what its command did: the platform waits (Feishu: 3 s), so once
the event is recorded we wake the inbox worker and wait, up to ANSWER_WITHIN, for the event to be
processed, then answer with the platform's rendering of the reply (Feishu: a success or error toast).
Past that, the quick answer `normalise` gave goes, and the reply still arrives as a message."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from anyio import to_thread

from bot.messages import Reply
from bot.platforms import Inbound
from bot.platforms.platform import Platform
from bot.services import Platforms
from models.event_outcome import event_reply

ANSWER_WITHIN = 2.0  # seconds; Feishu gives up after 3
POLL_EVERY = 0.02


async def answer_after_processing(platforms: Platforms, platform: Platform, parsed: Inbound) -> dict[str, Any]:
    incoming = parsed.incoming
    factory = platforms.runtime.session_factory

    def look() -> tuple[bool, dict[str, Any] | None]:
        with factory() as session:
            return event_reply(session, platform=incoming.platform, event_key=incoming.event_key)

    deadline = time.monotonic() + min(ANSWER_WITHIN, platform.answer_within)  # DingTalk: 2 s in all
    while time.monotonic() < deadline:
        processed, body = await to_thread.run_sync(look)
        if processed:
            answer = platform.callback_answer(Reply.from_payload(body) if body else None)
            return answer if answer is not None else parsed.answer
        await asyncio.sleep(POLL_EVERY)
    return parsed.answer
