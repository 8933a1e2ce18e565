"""What holds the outbox sender's sends back: the platforms' rate limits and the platforms' own
"slow down" answers.

Rate limits per chat and per app come from each sender's `limits` (aiolimiter leaky buckets of
capacity one, so no window of the limit's length ever holds more than the limit allows); the app limit
is shared by the live senders: its tokens come at the full rate and each send takes one token per live
sender. Holds: throttling keeps a chat, or a whole platform, back until the time the platform gave.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from aiolimiter import AsyncLimiter

from bot.platforms import OutgoingMessage, PlatformSender, RateLimit

log = logging.getLogger(__name__)

MAX_CHAT_LIMITERS = 10_000  # chats with a bucket of their own at once; past that they start afresh


def _limiter(limit: RateLimit) -> AsyncLimiter:
    # Capacity one, refilled at the limit's rate: at most count + 1 in any closed window of `seconds`,
    # so limits are configured one under the platform's figure.
    return AsyncLimiter(1, limit.seconds / limit.count)


class SendLimits:
    def __init__(self, senders: Mapping[str, PlatformSender]) -> None:
        self._senders = senders
        self._chat: dict[tuple[str, str], AsyncLimiter] = {}
        self._app: dict[str, AsyncLimiter] = {}
        self._live_senders = 1
        self.held: dict[tuple[str, ...], datetime] = {}  # platform or (platform, chat) → held back until
        for platform, sender in senders.items():
            limits = getattr(sender, "limits", None)
            if limits is not None and limits.per_app is not None:
                self._app[platform] = _limiter(limits.per_app)

    def share_app(self, live_senders: int) -> None:
        """How many senders share each platform's app limit now (ourselves included)."""
        live_senders = max(1, live_senders)
        if live_senders != self._live_senders:
            log.info("outbox: %d live senders share each platform's app rate limit", live_senders)
            self._live_senders = live_senders

    async def acquire(self, message: OutgoingMessage) -> None:
        """Wait for the chat's and the app's turn to send `message`."""
        limits = getattr(self._senders[message.platform], "limits", None)
        if limits is not None and limits.per_chat is not None:
            key = (message.platform, message.to_user_id or message.chat_id)
            chat = self._chat.get(key)
            if chat is None:
                if len(self._chat) > MAX_CHAT_LIMITERS:
                    self._chat.clear()
                chat = self._chat[key] = _limiter(limits.per_chat)
            await chat.acquire()
        app = self._app.get(message.platform)
        if app is not None:
            # Our share, and a change in the number of senders takes effect at once, with no overlap.
            for _ in range(self._live_senders):
                await app.acquire()

    def hold(self, key: tuple[str, ...], until: datetime) -> None:
        self.held[key] = max(until, self.held.get(key, until))

    def held_until(self, key: tuple[str, ...], now: datetime) -> datetime | None:
        until = self.held.get(key)
        if until is None:
            return None
        if until <= now:
            del self.held[key]
            return None
        return until

    def hold_time(self, message: OutgoingMessage, now: datetime) -> datetime | None:
        """Until when `message` must wait: its platform's or its chat's hold, whichever ends later."""
        times = [
            t
            for t in (self.held_until((message.platform,), now), self.held_until((message.platform, message.chat_id), now))
            if t is not None
        ]
        return max(times) if times else None
