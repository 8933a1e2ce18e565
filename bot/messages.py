"""Neutral message types: every platform is turned into `Incoming`, every answer is a `Reply`.

Mentions travel inside text as `<@USER_ID>` markers (in both directions); `mentions` gives each id's
display name, and each platform renders the markers its own way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

MENTION_MARKER = re.compile(r"<@([^<>\s]+)>")


@dataclass(frozen=True, slots=True)
class Mention:
    user_id: str
    name: str


@dataclass(frozen=True, slots=True)
class Incoming:
    platform: str
    event_key: str  # de-dup key: Feishu message_id / event_id, DingTalk msgId, console uuid
    chat_id: str
    sender_id: str
    sender_name: str
    text: str  # the bot's own mention removed; other mentions as <@USER_ID>
    sent_at: datetime  # the message's own time (aware): "now" for everything the message does
    is_group: bool = True
    kind: str = "text"  # "text", or the platform's type name for anything else (image, file, ...)
    mentions: tuple[Mention, ...] = ()
    reply_to: str | None = None  # Feishu message_id / DingTalk sessionWebhook
    reply_to_expires_at: datetime | None = None
    # The text's length as sent when only its first MAX_MESSAGE + 1 characters were kept (a message
    # that long is refused, and the refusal states this count); None when `text` is whole.
    text_length: int | None = None

    def to_payload(self) -> dict[str, Any]:
        # Shallow on purpose: dataclasses.asdict deep-copies and was a tenth of accepting a message.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["sent_at"] = self.sent_at.isoformat()
        data["reply_to_expires_at"] = (
            self.reply_to_expires_at.isoformat() if self.reply_to_expires_at else None
        )
        data["mentions"] = [{"user_id": m.user_id, "name": m.name} for m in self.mentions]
        return data

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> Incoming:
        values = dict(data)
        values["sent_at"] = datetime.fromisoformat(values["sent_at"])
        expires = values.get("reply_to_expires_at")
        values["reply_to_expires_at"] = datetime.fromisoformat(expires) if expires else None
        values["mentions"] = tuple(Mention(**m) for m in values.get("mentions", ()))
        return cls(**values)

    def mention_name(self, user_id: str) -> str | None:
        return next((m.name for m in self.mentions if m.user_id == user_id), None)


@dataclass(frozen=True, slots=True)
class Reply:
    """What the bot says: plain Chinese text lines, an optional title, and the people it @-mentions."""

    text: str
    title: str | None = None
    mentions: tuple[Mention, ...] = ()
    # Hint for renderers that have cards/markdown: "text" (default) or "report" (long structured post).
    style: str = "text"
    extra: dict[str, Any] = field(default_factory=dict)

    def render_mentions(self, render: Callable[[Mention], str]) -> str:
        names = {m.user_id: m for m in self.mentions}

        def substitute(match: re.Match[str]) -> str:
            mention = names.get(match.group(1), Mention(match.group(1), match.group(1)))
            return render(mention)

        return MENTION_MARKER.sub(substitute, self.text)

    def plain_text(self) -> str:
        """Text with mentions as @name, title first: the console's and the fallback rendering."""
        body = self.render_mentions(lambda m: f"@{m.name}")
        return f"【{self.title}】\n{body}" if self.title else body

    def to_payload(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["extra"] = dict(self.extra)
        data["mentions"] = [{"user_id": m.user_id, "name": m.name} for m in self.mentions]
        return data

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> Reply:
        values = dict(data)
        values["mentions"] = tuple(Mention(**m) for m in values.get("mentions", ()))
        return cls(**values)


# The longest message the commands read (characters). Longer ones are refused whole, never cut; the
# adapters keep only MAX_MESSAGE + 1 characters of such a text (and its real length in `text_length`).
MAX_MESSAGE = 2000
# What an Incoming's strings may hold: the widths of the columns they are stored in (tests check the
# models against these; the platforms refuse longer ids with a 400 and cut longer names).
EVENT_KEY_MAX = 200
CHAT_ID_MAX = 128
USER_ID_MAX = 128
REPLY_TO_MAX = 1024
NAME_MAX = 100
