"""DingTalk advanced interactive cards (互动卡片高级版): a reply with buttons rendered into the variables
of the operator's card template (`TANDEM_DINGTALK_CARD_TEMPLATE_ID`, defined in
deploy/dingtalk/prompt-card-template.json), and a card callback's answer.

DingTalk takes no raw card JSON: the template draws the card, we fill its variables (`cardParamMap`,
every value a string of at most 1 KB). The template's variables:

- `title`: the reply's title (plain text); `intro`: the reply's text (markdown);
- `items`: a JSON list (the template's loop), one item per section: `{"text": markdown, "actions":
  [{"label", "command", "style", "needs"}]}` (the nested loop of buttons; each button's 回传请求 params
  are `command` and `needs` from the item, plus `arg`, the item's input, when `needs` is set);
- private, per clicker (`userPrivateData`): `notice` (what the click did) and `notice_type`
  ("success" | "error" | "warning"), shown only to the person who clicked.

A reply whose `items` would pass 1 KB is split into several cards, each carrying a run of sections
(`Chunk`); past MAX_CARDS the reply goes as markdown with the typed-reply hints instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import orjson

from bot.markup import markdown_literal
from bot.messages import Button, Reply, Section, list_rows

VALUE_LIMIT = 1024  # bytes per cardParamMap value (DingTalk: ≤ 1 KB)
MAX_CARDS = 6  # a prompt that needs more cards than this goes as markdown
# Before one refresh path (issue 11): an outbox row's reply_to naming one card to update, and that
# card's outTrackId `<key>-c<index>-<start>-<end>`; still read for rows and cards sent then.
LEGACY_ROUTE = "dtcard:"
_LEGACY_TRACK = re.compile(r"^(?P<key>.+)-c(?P<index>\d+)-(?P<start>\d+)-(?P<end>\d+)$")
# The cards of one reply (`card_set_id`): `<key>_<b0>-<b1>-…-<bn>`, card i carrying sections
# b[i]:b[i+1]; card i's outTrackId is the set's id plus `_<i>`.
_SET = re.compile(r"^(?P<key>[0-9A-Za-z]+)_(?P<bounds>\d+(?:-\d+)+)$")
_TRACK = re.compile(r"^(?P<set>[0-9A-Za-z]+_\d+(?:-\d+)+)_(?P<index>\d+)$")
TRACK_MAX = 100  # DingTalk: an outTrackId is at most 100 characters
NOTICE_TYPES = ("success", "error", "warning", "info")


@dataclass(frozen=True, slots=True)
class Chunk:
    """One card of a reply: sections[start:end] as its items (the first card also has the intro)."""

    index: int
    start: int
    end: int
    params: dict[str, str]


def has_buttons(reply: Reply) -> bool:
    return bool(reply.buttons) or any(s.buttons for s in reply.sections)


@dataclass(frozen=True, slots=True)
class SentCard:
    """One card of a reply as sent: its outTrackId and the sections it carries."""

    track: str
    index: int
    start: int
    end: int


def card_set_id(idempotency_key: str, chunks: list[Chunk]) -> str:
    """The id of a reply's cards (the outbox row's `platform_message_id`, what a card update names):
    the row's key and where each card's sections begin and end, so an update re-renders each card
    with the same sections."""
    bounds = [chunks[0].start, *(c.end for c in chunks)] if chunks else [0, 0]
    return f"{idempotency_key}_{'-'.join(map(str, bounds))}"


def out_track_id(set_id: str, chunk: Chunk) -> str:
    """Card `chunk.index`'s id for ever (≤ TRACK_MAX characters: `card_send.deliver` checks it)."""
    return f"{set_id}_{chunk.index}"


def set_of_track(track: str) -> str | None:
    """The card set an outTrackId we made belongs to (a card sent before card sets: its own id,
    which is its row's `platform_message_id` when it was the reply's first card), or None."""
    if len(track) > TRACK_MAX:
        return None
    match = _TRACK.match(track)
    if match is not None:
        return match["set"]
    return track if _LEGACY_TRACK.match(track) else None


def sent_cards(message_id: str) -> list[SentCard] | None:
    """The cards a card set id (or an older single card's outTrackId) names, or None: not our cards."""
    legacy = _LEGACY_TRACK.match(message_id)
    if legacy is not None:
        return [SentCard(message_id, int(legacy["index"]), int(legacy["start"]), int(legacy["end"]))]
    match = _SET.match(message_id)
    if match is None:
        return None
    bounds = [int(b) for b in match["bounds"].split("-")]
    return [SentCard(f"{message_id}_{i}", i, start, end) for i, (start, end) in enumerate(pairwise(bounds))]


def _size(value: str) -> int:
    return len(value.encode("utf-8"))


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _text(reply: Reply, text: str) -> str:
    return reply.render_mentions(lambda m: f"@{m.name}", text)


def _section_markdown(reply: Reply, section: Section) -> str:
    lines = [f"**{markdown_literal(_text(reply, section.title))}**"] if section.title else []
    lines += [markdown_literal(_text(reply, line)) for line in section.lines]
    lines += [markdown_literal(_text(reply, f"{f.label}：{f.value}")) for f in section.fields]
    if section.table is not None:
        lines += list_rows(section.table, lambda cell: markdown_literal(_text(reply, cell)))
    return "  \n".join(lines)


def _action(button: Button) -> dict[str, str]:
    return {"label": button.label, "command": button.command, "style": button.style, "needs": button.input or ""}


def _item(reply: Reply, section: Section, *, with_buttons: bool = True) -> dict[str, Any]:
    return {"text": _section_markdown(reply, section), "actions": [_action(b) for b in section.buttons] if with_buttons else []}


def _shortened(text: str, limit: int) -> str:
    """`text` cut to `limit` bytes (on a character boundary), marked as cut."""
    if _size(text) <= limit:
        return text
    cut = text.encode("utf-8")[: limit - len("…".encode())].decode("utf-8", errors="ignore")
    return cut + "…"


def render(reply: Reply) -> list[Chunk] | None:
    """The reply as one or more cards' variables, or None: it does not fit MAX_CARDS cards (send markdown)."""
    sections = list(reply.sections)
    if reply.buttons:  # the reply's own buttons: one last item without text
        sections.append(Section(buttons=reply.buttons))
    title = _shortened(reply.title or "Tandem", 200)
    intro = markdown_literal(_text(reply, reply.text))
    if _size(intro) > VALUE_LIMIT:
        return None
    chunks: list[Chunk] = []
    start = 0
    while start < len(sections):
        items: list[dict[str, Any]] = []
        end = start
        while end < len(sections):
            candidate = [*items, _item(reply, sections[end])]
            if _size(_json(candidate)) > VALUE_LIMIT:
                break
            items, end = candidate, end + 1
        if end == start:  # one section alone passes 1 KB: no card can carry it
            return None
        chunks.append(Chunk(len(chunks), start, end, _params(title, intro if not chunks else "", items, len(chunks))))
        start = end
        if len(chunks) > MAX_CARDS:
            return None
    if not chunks:
        chunks.append(Chunk(0, 0, 0, _params(title, intro, [], 0)))
    return chunks


def rerender(reply: Reply, index: int, start: int, end: int) -> dict[str, str] | None:
    """The variables of card `index` (sections[start:end]) from a re-rendered reply with the same sections;
    None when it no longer fits (the card is then left as it was)."""
    sections = list(reply.sections)
    if reply.buttons:
        sections.append(Section(buttons=reply.buttons))
    items = [_item(reply, s) for s in sections[start:end]]
    if _size(_json(items)) > VALUE_LIMIT:
        items = [_item(reply, s, with_buttons=False) for s in sections[start:end]]
        if _size(_json(items)) > VALUE_LIMIT:
            return None
    intro = markdown_literal(_text(reply, reply.text)) if index == 0 else ""
    return _params(_shortened(reply.title or "Tandem", 200), _shortened(intro, VALUE_LIMIT), items, index)


def _params(title: str, intro: str, items: list[dict[str, Any]], index: int) -> dict[str, str]:
    return {"title": title if index == 0 else f"{title}（续{index}）", "intro": intro, "items": _json(items)}


def answer(reply: Reply | None, *, pending: bool = False) -> dict[str, Any]:
    """A card callback's answer: the outcome shown to the clicker only (their private `notice`); the
    card's shared variables are updated afterwards through the outbox (PUT /v1.0/card/instances)."""
    if pending:
        notice, kind = "收到，正在处理…", "info"
    elif reply is None:
        notice, kind = "已收到", "info"
    else:
        first = reply.render(lambda m: f"@{m.name}").strip().splitlines()
        notice = first[0] if first else "已收到"
        kind = "error" if reply.style == "refusal" else "success"
    return private_notice(notice, kind)


def private_notice(notice: str, kind: str) -> dict[str, Any]:
    return {
        "cardUpdateOptions": {"updateCardDataByKey": True, "updatePrivateDataByKey": True},
        "userPrivateData": {"cardParamMap": {"notice": _shortened(notice, 300), "notice_type": kind}},
    }
