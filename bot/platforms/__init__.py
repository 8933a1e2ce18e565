"""Platform adapters: everything platform-specific stays in this package.

Inbound, each adapter verifies and normalises a request into `Incoming` (or a challenge answer, or
"nothing to do"), and refuses anything forged, stale or malformed with `Refused`. Parsing is pure:
raw body bytes, headers and the current time in, a value out; no I/O.

Outbound, each sender delivers one outbox message (`OutgoingMessage`, a snapshot of the row) and
either returns the platform's message id or raises a `DeliveryError` that says whether and when to
try again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from bot.messages import Incoming, Reply


class Refused(Exception):
    """A request we do not accept: answered with `status` (4xx) and leaves no trace."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Challenge:
    """A URL-verification handshake: answer `body` at once, record nothing."""

    body: dict[str, str]


@dataclass(frozen=True, slots=True)
class Ignored:
    """A genuine request with nothing for the bot to do (other event types, bots' own messages)."""

    reason: str
    answer: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Inbound:
    """A genuine event to record in the inbox; `answer` is the 200 body once it is recorded."""

    incoming: Incoming
    answer: dict[str, Any] = field(default_factory=dict)


Parsed = Challenge | Ignored | Inbound


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Header lookup that ignores case, whatever mapping the caller has."""
    return {key.lower(): value for key, value in headers.items()}


def from_epoch(value: Any, *, default: datetime) -> datetime:
    """An aware UTC time from a platform epoch number (s, ms or µs, as int or string)."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return default
    if number <= 0:
        return default
    digits = len(str(number))
    seconds = number / 1_000_000 if digits >= 15 else number / 1000 if digits >= 12 else float(number)
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return default


# --- outbound ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """What a sender needs from an outbox row (ORM objects never leave the unit of work)."""

    id: int
    platform: str
    chat_id: str
    reply: Reply
    idempotency_key: str
    attempts: int
    reply_to: str | None = None
    reply_to_expires_at: datetime | None = None
    to_user_id: str | None = None


class DeliveryError(Exception):
    """A send that did not go through. `retry` says whether trying again may help; `code` is the
    platform's error code when it gave one ("230002", "Forbidden.AccessDenied.QpsLimitForApi", "http_502",
    "timeout"), for metrics and logs."""

    retry: bool = True

    def __init__(self, message: str, *, retry_after: float | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.code = code


class TransientError(DeliveryError):
    """Server error, timeout, connection trouble: try again later with back-off."""


class Throttled(TransientError):
    """The platform asked us to slow down; `scope` says what to hold back (this chat or the whole app)."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, scope: Literal["chat", "app"] = "app", code: str | None = None
    ) -> None:
        super().__init__(message, retry_after=retry_after, code=code)
        self.scope = scope


class PermanentError(DeliveryError):
    """The platform refused the message for good (bad target, no permission, bad content)."""

    retry = False


class PlatformSender(Protocol):
    platform: str

    async def send(self, message: OutgoingMessage) -> str | None:
        """Deliver one message; returns the platform's message id when it gives one."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `count` messages per `seconds`, counted over any window of that length."""

    count: int
    seconds: float


@dataclass(frozen=True, slots=True)
class SenderLimits:
    per_chat: RateLimit | None
    per_app: RateLimit | None
