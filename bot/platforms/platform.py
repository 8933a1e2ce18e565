"""One object per platform: what it can do, how it receives, how it sends.

A platform package (`bot.platforms.feishu`, `bot.platforms.dingtalk`, `bot.platforms.console`) has a
`build(settings, clock) -> Platform | None` that `bot.platforms.registry` lists; None means its
credentials are not set and it is off. The rest of the app sees only this interface: the webhook
route hands a request to `parse_webhook`, a receive mode that arrives authenticated (a long connection,
a `receiving.LongConnection` started by `start(record)`) calls `normalise` with the genuine payload and
hands the result to `record` before acknowledging it, the inbox worker lets `prepare` fill in what an event left
out before it is processed, and the outbox sender delivers through `sender`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.config import Settings
from bot.messages import Reply
from bot.platforms import Parsed, PlatformSender, Refused, SenderLimits
from bot.platforms.receiving import AwaitOutcome, LongConnection, Record

WEBHOOK = "webhook"


@dataclass(frozen=True, slots=True)
class Capabilities:
    private_messages: bool  # PM digests go privately, not to the group
    cards: bool
    buttons: bool  # buttons that run commands
    images: bool
    files: bool
    api_mentions: bool  # @-mentions work in posts through the open API, not only in replies
    limits: SenderLimits | None
    # A message already sent can be updated in place (OutgoingMessage.update_message_id): cards kept
    # up to date after a button or a typed change.
    card_updates: bool = False
    # A callback's answer shows the pressed card as it now is (Feishu's `card`), so the card's own
    # update row waits a little and is cancelled when the answer was in time (bot.dispatcher).
    answer_shows_card: bool = False


class Platform:
    """A platform inside `tandem serve`. Subclasses set `name` and `capabilities` and override what they have."""

    name: str
    capabilities: Capabilities
    prepares = False  # True when `prepare` may complete events (it then runs before each is processed)

    def __init__(self, sender: PlatformSender) -> None:
        self.sender = sender

    @property
    def receive_modes(self) -> dict[str, bool]:
        """Each receive mode this platform has, and whether it is set up on this server."""
        return {}

    def webhook_off(self) -> str | None:
        """Why the webhook answers 404 (the settings to set), or None when it is on."""
        return f"{self.name} receives no webhooks"

    def parse_webhook(self, body: bytes, headers: Mapping[str, str], *, now: datetime) -> Parsed:
        """Verify a webhook request, then `normalise` it; raises `Refused` for anything not genuine."""
        raise Refused(404, self.webhook_off() or "no webhook")

    def normalise(self, payload: dict[str, Any], *, now: datetime) -> Parsed:
        """A genuine payload, however it arrived, → what to record."""
        raise NotImplementedError

    def prepare(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """After the acknowledgement, before processing: a recorded event (its neutral payload) completed
        with what had to be fetched, or None to leave it as it is. Runs in a worker thread."""
        return None

    def callback_answer(self, reply: Reply | None, card: Reply | None = None) -> dict[str, Any] | None:
        """The synchronous answer to a callback once its command ran (`reply`: what the command said,
        None: nothing; `card`: the pressed card as it now is, on platforms with `card_updates`); None
        keeps the answer `normalise` gave."""
        return None

    receiver: LongConnection | None = None  # the long connection, when that is the receive mode
    # How a long connection answers a callback the platform waits on, as the webhook does (set by
    # bot.services before `start`; None: with `normalise`'s quick answer).
    await_outcome: AwaitOutcome | None = None
    answer_within = 2.0  # seconds that wait may last (the platform's own deadline, less a margin)

    @classmethod
    def updates_cards(cls, settings: Settings) -> bool:
        """Whether, with these settings, it updates cards already sent (known without building it)."""
        return cls.capabilities.card_updates

    async def start(self, record: Record) -> None:
        """Background work of its own (the bot's identity, connections); never blocks startup long.
        A long connection hands what it receives to `record`, then acknowledges it."""

    async def stop(self) -> None:
        """Stop receiving (the sender is closed by the outbox sender)."""

    def health(self) -> dict[str, Any] | None:
        """How it receives, for `/healthz` (None: nothing to show)."""
        if self.receiver is not None:
            return self.receiver.status.snapshot()
        if self.receive_modes.get(WEBHOOK):
            return {"mode": WEBHOOK, "state": "listening"}
        return None

    def unavailable_for(self) -> float:
        """Seconds its long connection has been down (0: connected, or none)."""
        return self.receiver.status.unavailable_for() if self.receiver is not None else 0.0
