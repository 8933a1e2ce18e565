"""Platform adapters: everything platform-specific stays in this package.

Inbound, each adapter verifies and normalises a request into `Incoming` (or a challenge answer, or
"nothing to do"), and refuses anything forged, stale or malformed with `Refused`. Parsing is pure:
raw body bytes, headers and the current time in, a value out; no I/O. Every `Incoming` is built by
`incoming()`, which makes each platform string fit where it will be stored: ids (event key, chat,
sender, mentions, reply target) longer than their column or carrying control characters are refused
(400, the same on every backend: SQLite would store them, PostgreSQL would not); names and texts lose
control characters (a text keeps newlines and tabs); a text over MAX_MESSAGE keeps MAX_MESSAGE + 1
characters and its real length.

Outbound, each sender delivers one outbox message (`OutgoingMessage`, a snapshot of the row) and
either returns the platform's message id or raises a `DeliveryError` that says whether and when to
try again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from bot.messages import (
    CHAT_ID_MAX,
    EVENT_KEY_MAX,
    MAX_MESSAGE,
    NAME_MAX,
    REPLY_TO_MAX,
    USER_ID_MAX,
    Incoming,
    IncomingFile,
    Mention,
    Reply,
)


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
class SignatureUse:
    """A signature that covers only its timestamp, not the body (DingTalk): before the event is
    recorded, the pair must be claimed for this event (a second event with it is refused)."""

    platform: str
    sign: str
    signed_at: datetime
    event_key: str


@dataclass(frozen=True, slots=True)
class Inbound:
    """A genuine event to record in the inbox; `answer` is the 200 body once it is recorded."""

    incoming: Incoming
    answer: dict[str, Any] = field(default_factory=dict)
    signature: SignatureUse | None = None  # to claim before recording (None: the signature covers the body)
    # A card callback the platform waits on: answer with what processing said (`Platform.callback_answer`)
    # when it is done in time, `answer` otherwise.
    await_outcome: bool = False


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


# --- what an event may carry into the database ------------------------------------------------

KIND_MAX = 32  # a message type name ("text", "image", …), kept in the payload only
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # C0 and DEL: PostgreSQL refuses NUL, none belongs in an id or name
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # the same, newline and tab kept


def platform_id(value: str, what: str, limit: int) -> str:
    """An id as the platform sent it, or `Refused` (400): ids are never altered, only accepted or not."""
    if len(value) > limit:
        raise Refused(400, f"{what} is longer than {limit} characters")
    if _CONTROL.search(value):
        raise Refused(400, f"{what} contains control characters")
    return value


def display_name(value: str) -> str:
    """A name as shown: control characters dropped, cut to the member column's width."""
    if len(value) <= NAME_MAX and not _CONTROL.search(value):
        return value
    return _CONTROL.sub("", value)[:NAME_MAX].strip()


def incoming(
    *,
    platform: str,
    event_key: str,
    chat_id: str,
    sender_id: str,
    sender_name: str,
    text: str,
    sent_at: datetime,
    is_group: bool = True,
    kind: str = "text",
    mentions: tuple[Mention, ...] = (),
    reply_to: str | None = None,
    reply_to_expires_at: datetime | None = None,
    card: bool = False,
    file: IncomingFile | None = None,
) -> Incoming:
    """The `Incoming` for a verified request, every string made to fit where it will be stored;
    `card`: a card's button, pressed on the message `reply_to`.

    On the webhook's hot path: the common case (nothing to change) costs one search over the ids
    together, one over the text and one per mention."""
    ids = f"{event_key}{chat_id}{sender_id}{reply_to or ''}"
    if (
        _CONTROL.search(ids)
        or len(event_key) > EVENT_KEY_MAX
        or len(chat_id) > CHAT_ID_MAX
        or len(sender_id) > USER_ID_MAX
        or (reply_to is not None and len(reply_to) > REPLY_TO_MAX)
    ):  # find which, to say so
        platform_id(event_key, "event key", EVENT_KEY_MAX)
        platform_id(chat_id, "chat id", CHAT_ID_MAX)
        platform_id(sender_id, "sender id", USER_ID_MAX)
        platform_id(reply_to or "", "reply target", REPLY_TO_MAX)
    if _TEXT_CONTROL.search(text):
        text = _TEXT_CONTROL.sub("", text)
    text_length = None
    if len(text) > MAX_MESSAGE + 1:  # refused by the commands anyway: keep enough to say so, not 1 MiB
        text_length, text = len(text), text[: MAX_MESSAGE + 1]
        mentions = tuple(m for m in mentions if f"<@{m.user_id}>" in text)
    clean = True
    for mention in mentions:
        platform_id(mention.user_id, "mentioned user id", USER_ID_MAX)
        clean = clean and display_name(mention.name) == mention.name
    if not clean:
        mentions = tuple(Mention(m.user_id, display_name(m.name) or m.user_id) for m in mentions)
    if len(kind) > KIND_MAX or _CONTROL.search(kind):
        kind = display_name(kind)[:KIND_MAX] or "unknown"
    return Incoming(
        platform=platform,
        event_key=event_key,
        chat_id=chat_id,
        sender_id=sender_id,
        sender_name=display_name(sender_name),
        text=text,
        sent_at=sent_at,
        is_group=is_group,
        kind=kind,
        mentions=mentions,
        reply_to=reply_to,
        reply_to_expires_at=reply_to_expires_at,
        text_length=text_length,
        card_message_id=reply_to if card else None,
        file=file,
    )


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
    # Not a new message: update this platform message (a card sent earlier) to show `reply`.
    update_message_id: str | None = None


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
