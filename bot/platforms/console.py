"""The console platform: `tandem say` / `tandem chat` post into a local group chat; replies print to stdout."""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, utcnow
from bot.config import Settings
from bot.markup import defuse_markers, is_everyone
from bot.messages import Incoming, Mention, Reply
from bot.platforms import OutgoingMessage, Parsed, Refused
from bot.platforms.console_choices import Pressed, choices, console_text, is_press, pressed
from bot.platforms.platform import Capabilities, Platform
from models import OutboundMessage, OutboundStatus

PLATFORM = "console"
LOOK_BACK = 20  # the chat's latest printed messages searched for numbered choices
DEFAULT_CHAT = "console"
_TYPED_MENTION = re.compile(r"(?<![A-Za-z0-9_.<])@([^\s@<>:：,，。]+)")  # 写稿@李四 yes, a@b.com no


def private_chat_id(user_id: str) -> str:
    """The console's private chat with a user (`tandem say --private`): its own chat id."""
    return f"private:{user_id}"


def console_incoming(
    text: str, *, chat_id: str, user_id: str, name: str, at: datetime, event_key: str | None = None,
    private: bool = False,
) -> Incoming:
    """A console message; `@名字` becomes a mention of the user with that id (console ids default to names),
    marked typed: it names a member, it does not vouch for a new one. `private`: said to the bot alone
    (in `private_chat_id(user_id)`), not in a group."""
    mentions: dict[str, Mention] = {}

    def mark(match: re.Match[str]) -> str:
        who = match.group(1)
        if is_everyone(who):
            return match.group(0)  # @all stays text: nobody mentions the whole group through the bot
        mentions.setdefault(who, Mention(who, who, typed=True))
        return f"<@{who}>"

    return Incoming(
        platform=PLATFORM,
        event_key=event_key or uuid.uuid4().hex,
        chat_id=chat_id,
        sender_id=user_id,
        sender_name=name,
        text=_TYPED_MENTION.sub(mark, defuse_markers(text)),
        sent_at=at,
        mentions=tuple(mentions.values()),
        is_group=not private,
    )


def deliver_console(
    session_factory: sessionmaker[Session],
    write: Callable[[str], None],
    *,
    chat_id: str | None = None,
    clock: Clock = utcnow,
) -> int:
    """Print the console chats' pending messages (oldest first) and mark them sent.

    Several processes may do this at once (two `tandem jobs run`, or one beside `tandem serve`): rows
    are locked `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite's transactions are already one at a time)
    and marked with a conditional UPDATE, and only the rows this process moved from pending to sent
    are printed, so each message is printed exactly once.
    """
    now = clock()
    with session_factory.begin() as session:
        params = {"platform": PLATFORM, "now": now, "limit": 10_000}
        if chat_id is None:
            messages = list(session.scalars(_PENDING_LOCKED, params))
        else:
            messages = list(session.scalars(_PENDING_LOCKED_IN_CHAT, {**params, "chat_id": chat_id}))
        if not messages:
            return 0
        mine = set(session.scalars(_MARK_SENT, {"ids": [m.id for m in messages], "now": now}))
        printed = [m for m in messages if m.id in mine]
        for message in printed:
            reply = Reply.from_payload(message.body)
            prefix = f"[→ {message.to_user_id}] " if message.to_user_id else ""
            write(prefix + console_text(reply))
    return len(printed)


def press(
    session_factory: sessionmaker[Session], text: str, *, chat_id: str, private_to: str | None = None
) -> Pressed:
    """A typed line in a console chat: a number (`1`, `按 1`) presses the latest numbered choice printed
    there (bot/platforms/console_choices.py); anything else goes as typed. In a private chat
    (`private_to`: its user) that includes what was sent to the user privately (the merged prompt)."""
    if not is_press(text):
        return Pressed(text=text)
    shown_here = (OutboundMessage.chat_id == chat_id) & OutboundMessage.to_user_id.is_(None)
    if private_to is not None:
        shown_here = shown_here | (OutboundMessage.to_user_id == private_to)
    with session_factory() as session:
        bodies = session.scalars(
            select(OutboundMessage.body)
            .where(OutboundMessage.platform == PLATFORM, shown_here)
            .order_by(OutboundMessage.id.desc())
            .limit(LOOK_BACK)
        ).all()
    for body in bodies:
        buttons = choices(Reply.from_payload(body))
        if buttons:
            return pressed(buttons, text)
    return Pressed(text=text)


# Built once with bind parameters: `tandem say` runs this for every message.
_PENDING_LOCKED = (
    select(OutboundMessage)
    .where(
        OutboundMessage.platform == bindparam("platform"),
        OutboundMessage.status == OutboundStatus.PENDING,
        OutboundMessage.next_attempt_at <= bindparam("now"),
    )
    .order_by(OutboundMessage.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_PENDING_LOCKED_IN_CHAT = _PENDING_LOCKED.where(OutboundMessage.chat_id == bindparam("chat_id"))
_TABLE = OutboundMessage.__table__
_MARK_SENT = (
    update(_TABLE)
    .where(_TABLE.c.id.in_(bindparam("ids", expanding=True)), _TABLE.c.status == OutboundStatus.PENDING)
    .values(
        status=OutboundStatus.SENT,
        attempts=_TABLE.c.attempts + 1,
        sent_at=bindparam("now"),
        platform_message_id=None,
        last_error=None,
    )
    .returning(_TABLE.c.id)
)


class ConsoleSender:
    """Outbox delivery for console chats inside `tandem serve`: each message is written out as a line."""

    platform = PLATFORM
    limits = None

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write

    async def send(self, message: OutgoingMessage) -> str | None:
        prefix = f"[{message.chat_id}{' → ' + message.to_user_id if message.to_user_id else ''}] "
        self._write(prefix + console_text(message.reply))
        return None

    async def aclose(self) -> None:
        return None


class ConsolePlatform(Platform):
    """Console chats: `tandem say` / `tandem chat` record events directly; `tandem serve` prints the rest."""

    name = PLATFORM
    # Buttons print as numbered choices, pressed by typing the number (bot/platforms/console_choices.py).
    capabilities = Capabilities(
        private_messages=True, cards=False, buttons=True, images=False, files=False, api_mentions=True, limits=None
    )

    def normalise(self, payload: dict[str, Any], *, now: datetime) -> Parsed:
        raise Refused(404, "console messages are recorded by `tandem say`, never received")


def _print(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def build(settings: Settings, clock: Clock) -> ConsolePlatform:
    """Always on: the console needs no credentials."""
    return ConsolePlatform(ConsoleSender(_print))
