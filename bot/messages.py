"""Neutral message types: every platform is turned into `Incoming`, every answer is a `Reply`.

Mentions travel inside text as `<@USER_ID>` markers (in both directions); `mentions` gives each id's
display name, and each platform renders the markers its own way.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from bot.markup import is_everyone

MENTION_MARKER = re.compile(r"<@([^<>\s]+)>")


@dataclass(frozen=True, slots=True)
class Mention:
    user_id: str
    name: str
    # The sender typed the name (the console's `@名字`): no platform vouched that it is a person.
    typed: bool = False


@dataclass(frozen=True, slots=True)
class IncomingFile:
    """A file that came with a message (a file message, or the file message a command replies to).

    `source` holds the platform's own ids to fetch it by (opaque to everything but that platform);
    the platform fills in `data` before the dispatcher runs (`Platform.prepare`), or `problem` — why
    it could not (too large, the download failed), in Chinese, for the reply. Handlers never fetch.
    """

    name: str
    size: int | None = None  # bytes, when the platform says so before the download
    source: dict[str, str] = field(default_factory=dict)
    data: bytes | None = None
    problem: str | None = None
    # The file of the message this one replies to, if that is a file: fetched only for a command that
    # reads one (`/导入`), since most replies are about something else.
    replied: bool = False

    def to_payload(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size, "source": dict(self.source), "problem": self.problem,
                "data": base64.b64encode(self.data).decode() if self.data is not None else None,
                "replied": self.replied}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> IncomingFile:
        raw = data.get("data")
        return cls(name=str(data.get("name") or ""), size=data.get("size"), source=dict(data.get("source") or {}),
                   data=base64.b64decode(raw) if raw is not None else None, problem=data.get("problem"),
                   replied=bool(data.get("replied")))


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
    # A card's button: the platform message (the card; DingTalk: the reply's set of cards) it was
    # pressed on, so that card is shown again as it now is (None: typed).
    card_message_id: str | None = None
    file: IncomingFile | None = None  # the file it carries or replies to (a spreadsheet to import)

    def to_payload(self) -> dict[str, Any]:
        # Shallow on purpose: dataclasses.asdict deep-copies and was a tenth of accepting a message.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["sent_at"] = self.sent_at.isoformat()
        data["reply_to_expires_at"] = (
            self.reply_to_expires_at.isoformat() if self.reply_to_expires_at else None
        )
        data["mentions"] = [
            {"user_id": m.user_id, "name": m.name, **({"typed": True} if m.typed else {})} for m in self.mentions
        ]
        if self.file is not None:
            data["file"] = self.file.to_payload()
        else:
            del data["file"]
        return data

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> Incoming:
        values = dict(data)
        values["sent_at"] = datetime.fromisoformat(values["sent_at"])
        expires = values.get("reply_to_expires_at")
        values["reply_to_expires_at"] = datetime.fromisoformat(expires) if expires else None
        values["mentions"] = tuple(Mention(**m) for m in values.get("mentions", ()))
        values.pop("card_of", None)  # a DingTalk click recorded before one refresh path named its card so
        route = values.pop("card_route", None)  # (`dtcard:<outTrackId>`): that card, as a message id now
        if route and not values.get("card_message_id"):
            values["card_message_id"] = str(route).removeprefix("dtcard:")
        file = values.get("file")
        values["file"] = IncomingFile.from_payload(file) if file else None
        return cls(**values)

    def mention_name(self, user_id: str) -> str | None:
        return next((m.name for m in self.mentions if m.user_id == user_id), None)


@dataclass(frozen=True, slots=True)
class Button:
    """A button that runs `command` as if the person who pressed it had typed it (same permissions and
    history); `allowed` narrows who may press it (user ids; empty: anyone the command itself allows)."""

    label: str
    command: str
    allowed: tuple[str, ...] = ()
    style: str = "default"  # "default" | "primary" | "danger"
    # What the command still needs from the person (e.g. "原因", "进度%"): a card asks for it in a form
    # and runs `command` followed by the words typed there; text renderers show `command <input>`.
    input: str | None = None


@dataclass(frozen=True, slots=True)
class Field:
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Section:
    """One block of a structured reply: a heading, lines, key/value fields, a table, buttons."""

    title: str | None = None
    lines: tuple[str, ...] = ()
    fields: tuple[Field, ...] = ()
    table: Table | None = None
    buttons: tuple[Button, ...] = ()
    # False: text renderers leave the buttons out (the text already says what to type, e.g. the daily
    # prompt's one hint line instead of four commands per task).
    hint: bool = True
    # The command that lists everything this section holds (e.g. "/任务 列表 逾期"): a renderer that has
    # to cut the section short (a card past its size limit) says to send it. Text renderers show it all.
    more: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """An image or a file sent with the reply (the platform uploads it; text-only renderers name it).

    A picture may travel as a `drawing` instead of bytes: what to draw, as JSON (the rows a chart shows),
    so that it is drawn after the transaction that wrote the reply has committed — the outbox sender
    draws it (`reports.drawings`) just before the upload, and `data` stays empty until then.
    """

    kind: str  # "image" | "file"
    name: str
    media_type: str
    data: bytes = b""
    drawing: dict[str, Any] | None = None

    @property
    def undrawn(self) -> bool:
        return self.drawing is not None and not self.data


@dataclass(frozen=True, slots=True)
class Reply:
    """What the bot says: Chinese text, an optional title, the people it @-mentions, and optionally
    structure (sections, buttons, attachments) that renderers with cards show as such and every other
    renderer as text (`render`). Mentions are `<@USER_ID>` markers anywhere in the text."""

    text: str
    title: str | None = None
    mentions: tuple[Mention, ...] = ()
    # Hint for renderers that have cards/markdown: "text" (default), "report" (long structured post),
    # or "refusal" (bad input, no permission: a card callback answers it with an error toast).
    style: str = "text"
    sections: tuple[Section, ...] = ()
    buttons: tuple[Button, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    # What the reply shows, so it can be built again from the database later (a card re-rendered in
    # place after a button or a typed change): {"kind": …, …} as the report that built it understands
    # it (reports/views.py); None for replies that are not kept up to date.
    view: dict[str, Any] | None = None
    # What the report says about the project, as a neutral hint for renderers that colour things (a card
    # header): "info" (default), "good" (nothing needs attention), "attention" (something is late or
    # missing), "alert" (blocked items, high risks).
    tone: str = "info"

    @property
    def structured(self) -> bool:
        return bool(self.sections or self.buttons or self.attachments)

    def render_mentions(self, render: Callable[[Mention], str], text: str | None = None) -> str:
        """`text` (the reply's own by default) with its mentions rendered by `render`."""
        return self._literal(self.text if text is None else text, render, _same)

    def _literal(self, text: str, mention: Callable[[Mention], str], escape: Callable[[str], str]) -> str:
        """A marker becomes `mention(…)` only when the reply lists that person (never everyone, see
        bot.markup); everything else, unlisted markers included, is literal text passed to `escape`."""
        names = {m.user_id: m for m in self.mentions if not is_everyone(m.user_id)}
        pieces: list[str] = []
        last = 0
        for match in MENTION_MARKER.finditer(text):
            found = names.get(match.group(1))
            if found is None:
                continue
            pieces += [escape(text[last : match.start()]), mention(found)]
            last = match.end()
        pieces.append(escape(text[last:]))
        return "".join(pieces)

    def render(
        self,
        mention: Callable[[Mention], str],
        *,
        heading: Callable[[str], str] = lambda t: t,
        escape: Callable[[str], str] = lambda t: t,
        table: Callable[[Table, Callable[[str], str]], list[str]] | None = None,
    ) -> str:
        """The whole reply as text: the text, then each section (its heading through `heading`, fields as
        `label：value`, a table through `table` — `| … |` rows by default), buttons as the commands to
        type, attachments by name. Every piece of text goes through `escape` (the renderer's way of
        showing text as itself), mentions through `mention`."""

        def literal(text: str) -> str:
            return self._literal(text, mention, escape)

        blocks = [literal(self.text)] if self.text else []
        for section in self.sections:
            lines = [heading(literal(section.title))] if section.title else []
            lines += [literal(line) for line in section.lines]
            lines += [literal(f"{f.label}：{f.value}") for f in section.fields]
            if section.table is not None:
                lines += (table or pipe_rows)(section.table, literal)
            if section.buttons and section.hint:
                lines.append(literal(_buttons_line(section.buttons)))
            if lines:  # a row of buttons alone, left out by text renderers, adds no empty line
                blocks.append("\n".join(lines))
        if self.buttons:
            blocks.append(literal(_buttons_line(self.buttons)))
        blocks += [literal(f"[{'图片' if a.kind == 'image' else '文件'}：{a.name}]") for a in self.attachments]
        return "\n".join(blocks)

    @property
    def rich(self) -> bool:
        """Worth a card or markdown where the platform has them: a titled report, or any structure
        beyond rows of buttons that text renderers leave out (those need a card only where buttons
        exist: `has_buttons`)."""
        if self.title or self.style == "report" or self.buttons or self.attachments:
            return True
        return any(s.title or s.lines or s.fields or s.table is not None or (s.buttons and s.hint) for s in self.sections)

    @property
    def has_buttons(self) -> bool:
        return bool(self.buttons) or any(s.buttons for s in self.sections)

    def mentioned_ids(self) -> list[str]:
        """The user ids really mentioned anywhere in the reply (listed, not everyone), in order, once each."""
        ids: list[str] = []

        def collect(mention: Mention) -> str:
            ids.append(mention.user_id)
            return ""

        self.render(collect)
        return list(dict.fromkeys(ids))

    def plain_text(self) -> str:
        """Mentions as @name, title first: the console's and the fallback rendering."""
        body = self.render(lambda m: f"@{m.name}")
        return f"【{self.title}】\n{body}" if self.title else body

    def to_payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"text": self.text, "title": self.title, "style": self.style}
        data["mentions"] = [
            {"user_id": m.user_id, "name": m.name, **({"typed": True} if m.typed else {})} for m in self.mentions
        ]
        if self.sections:
            data["sections"] = [_section_payload(s) for s in self.sections]
        if self.buttons:
            data["buttons"] = [_plain(b) for b in self.buttons]
        if self.attachments:
            data["attachments"] = [_attachment_payload(a) for a in self.attachments]
        if self.view is not None:
            data["view"] = self.view
        if self.tone != "info":
            data["tone"] = self.tone
        return data

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> Reply:
        return cls(
            text=data["text"],
            title=data.get("title"),
            mentions=tuple(Mention(**m) for m in data.get("mentions", ())),
            style=data.get("style", "text"),
            sections=tuple(_section_from(s) for s in data.get("sections", ())),
            buttons=tuple(_button_from(b) for b in data.get("buttons", ())),
            attachments=tuple(
                Attachment(a["kind"], a["name"], a["media_type"], base64.b64decode(a.get("data", "")), a.get("drawing"))
                for a in data.get("attachments", ())
            ),
            view=data.get("view"),
            tone=data.get("tone", "info"),
        )

    @property
    def undrawn(self) -> bool:
        """Some attachment is still a drawing (the outbox sender draws it before sending)."""
        return any(a.undrawn for a in self.attachments)


def _attachment_payload(attachment: Attachment) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": attachment.kind, "name": attachment.name, "media_type": attachment.media_type}
    if attachment.undrawn:
        data["drawing"] = attachment.drawing  # the bytes are drawn from it after the commit
    else:
        data["data"] = base64.b64encode(attachment.data).decode()
    return data


@dataclass(frozen=True, slots=True)
class CardUpdate:
    """A message sent earlier (a card), to be shown again as `reply`: the outbox updates it in place."""

    message_id: str  # the platform's id of the message
    chat_id: str
    reply: Reply
    project_id: int | None = None


@dataclass(frozen=True, slots=True)
class CardChange:
    """What one handled message may have left out of date on the cards already sent: the items it
    changed (`changed`: kind → ids, as its history rows name them) and the card it was pressed on
    (`incoming.card_message_id`). Noted in the message's own transaction; the cards are found and
    rebuilt from it then or after a run of messages (bot.dispatcher), once for the whole run."""

    incoming: Incoming
    project_id: int
    changed: dict[str, frozenset[int]]


def _same(text: str) -> str:
    return text


def pipe_rows(table: Table, cell: Callable[[str], str] = _same, *, rule: bool = False) -> list[str]:
    """A table as `| … |` rows, each cell through `cell`; `rule` adds the header rule markdown needs."""
    rows = ["| " + " | ".join(cell(c) for c in table.columns) + " |"]
    if rule:
        rows.append("|" + "---|" * len(table.columns))
    return rows + ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.rows]


def list_rows(table: Table, cell: Callable[[str], str] = _same) -> list[str]:
    """A table as one line per row of `列：值` pairs: for renderers without tables (DingTalk markdown)."""
    return [
        "- " + "，".join(f"{cell(c)}：{cell(v)}" for c, v in zip(table.columns, row, strict=False) if v) for row in table.rows
    ]


def _buttons_line(buttons: tuple[Button, ...]) -> str:
    return "可以回复：" + " ｜ ".join(f"{b.command}{f' <{b.input}>' if b.input else ''}（{b.label}）" for b in buttons)


def _plain(value: Any) -> Any:
    """A dataclass (and the tuples and dataclasses in it) as plain dicts and lists for JSON: what
    `dataclasses.asdict` gives, without its deep copy of every leaf (a reply is serialised per message)."""
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _section_payload(section: Section) -> dict[str, Any]:
    data = _plain(section)
    data["table"] = (
        {"columns": list(section.table.columns), "rows": [list(r) for r in section.table.rows]} if section.table else None
    )
    return data


def _section_from(data: dict[str, Any]) -> Section:
    table = data.get("table")
    return Section(
        title=data.get("title"),
        lines=tuple(data.get("lines", ())),
        fields=tuple(Field(f["label"], f["value"]) for f in data.get("fields", ())),
        table=Table(tuple(table["columns"]), tuple(tuple(r) for r in table["rows"])) if table else None,
        buttons=tuple(_button_from(b) for b in data.get("buttons", ())),
        hint=data.get("hint", True),
        more=data.get("more"),
    )


def _button_from(data: dict[str, Any]) -> Button:
    return Button(
        data["label"], data["command"], tuple(data.get("allowed", ())), data.get("style", "default"), data.get("input")
    )


# The largest file a message may bring (an import's spreadsheet): checked before it is downloaded.
MAX_FILE_BYTES = 5 * 1024 * 1024

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
