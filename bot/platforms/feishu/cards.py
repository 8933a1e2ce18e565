"""Feishu cards (JSON 2.0) from a neutral `Reply`: markdown blocks, and real buttons whose callback value
is `{"command": …}` — the command runs as whoever taps it (bot.platforms.feishu.inbound). A button that
needs words first (a blocker's reason, a percentage) sits in a form with an input; the callback then
carries the input in `form_value` and the value names it (`"input": "arg"`, `"needs": "原因"`).

Feishu refuses cards over 30 KB or with too many elements (reference feishu.md §5.2/§5.4). The card
keeps buttons while they fit within a budget under those limits; sections past it are shown as text
with a line saying to reply by typing; when even that does not fit, `card()` returns None and the
caller sends the reply as a post.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from bot.markup import markdown_literal
from bot.messages import Button, Reply
from bot.platforms.feishu.card_parts import MAX_CARD_BYTES, MAX_ELEMENTS, count_elements, md, within_limits, wrap
from bot.platforms.feishu.card_parts import markdown as _markdown
from bot.platforms.feishu.card_parts import size as _size
from bot.platforms.feishu.report_card import report_card

__all__ = ["MAX_CARD_BYTES", "MAX_ELEMENTS", "button_values", "callback_answer", "callback_toast", "card", "count_elements"]
# Room left for the header, the text and the closing note when deciding whether buttons still fit.
BYTES_BUDGET = MAX_CARD_BYTES - 4 * 1024
ELEMENTS_BUDGET = MAX_ELEMENTS - 10
INPUT_NAME = "arg"  # the form input's name, as the callback's form_value carries it
MORE_BY_TYPING = "（任务较多，其余的请直接回复更新，如 #12 完成）"
_BUTTON_TYPES = {"primary": "primary_filled", "danger": "danger", "default": "default"}


def card(reply: Reply) -> dict[str, Any] | None:
    """The card for `reply`, or None when it cannot fit Feishu's limits even without buttons."""
    if not reply.has_buttons:
        return report_card(reply)  # headed sections, folded or cut to fit, or None: a post
    elements: list[dict[str, Any]] = []
    text = _markdown(replace(reply, sections=(), buttons=(), attachments=()))
    if text:
        elements.append(md(text))
    rest: list[str] = []  # sections shown as text once the buttons no longer fit
    forms = 0
    # The card's size and component count, kept as elements are added (not re-measured each time).
    size = _size(wrap(reply, [])) + sum(_size(e) + 1 for e in elements)
    components = count_elements(elements)
    for section in reply.sections:
        body = _markdown(replace(reply, text="", sections=(replace(section, buttons=()),), buttons=(), attachments=()))
        if rest:
            rest.append(body)
            continue
        block = ([md(body)] if body else []) + _buttons(section.buttons, form_name=f"form_{forms}")
        forms += 1
        block_size, block_components = sum(_size(e) + 1 for e in block), count_elements(block)
        if section.buttons and (
            components + block_components > ELEMENTS_BUDGET or size + block_size > BYTES_BUDGET
        ):
            rest.append(body)
            continue
        elements += block
        size += block_size
        components += block_components
    if rest:
        elements.append(md("\n".join(b for b in rest if b)))
        elements.append(md(markdown_literal(MORE_BY_TYPING)))
    tail = _markdown(replace(reply, text="", sections=(), buttons=()))  # attachments named
    if tail:
        elements.append(md(tail))
    if reply.buttons:
        elements += _buttons(reply.buttons, form_name=f"form_{forms}")
    result = wrap(reply, elements)
    return result if within_limits(result) else None


TOAST_MAX = 80  # characters; a toast is one short line on a phone


def callback_toast(reply: Reply | None) -> dict[str, Any]:
    """The synchronous answer to a button's callback: the command's first line as a toast, `error`
    for a refusal (bad input, no permission), `success` otherwise."""
    if reply is None:
        return {"toast": {"type": "info", "content": "已处理"}}
    lines = [line.strip() for line in reply.render(lambda m: f"@{m.name}").splitlines() if line.strip()]
    first = lines[0] if lines else "已处理"
    content = first if len(first) <= TOAST_MAX else first[: TOAST_MAX - 1] + "…"
    return {"toast": {"type": "error" if reply.style == "refusal" else "success", "content": content}}


def callback_answer(
    reply: Reply | None, card_reply: Reply | None, *, build: Callable[[Reply], dict[str, Any] | None] = card
) -> dict[str, Any]:
    """The toast, and the pressed card as it now is (`card: {type: raw}`: Feishu shows it in place at
    once) when it fits a card."""
    answer = callback_toast(reply)
    built = build(card_reply) if card_reply is not None else None
    if built is not None:
        answer["card"] = {"type": "raw", "data": built}
    return answer


class AnsweredCards:
    """`card`, remembered for the last few card replies by identity: the clicks of one run are all
    answered with the same card reply (bot.dispatcher), so it is built once, not once per click, when
    their answers go out together. The built card is shared, read-only, by those answers."""

    KEEP = 8

    def __init__(self) -> None:
        self._lock = threading.Lock()  # answers are built in worker threads; one build per reply
        self._built: OrderedDict[int, tuple[Reply, dict[str, Any] | None]] = OrderedDict()

    def __call__(self, reply: Reply) -> dict[str, Any] | None:
        with self._lock:
            hit = self._built.get(id(reply))
            if hit is not None and hit[0] is reply:  # the reply is kept alive with it: its id is not reused
                return hit[1]
            built = card(reply)
            self._built[id(reply)] = (reply, built)
            while len(self._built) > self.KEEP:
                self._built.popitem(last=False)
            return built


def _buttons(buttons: tuple[Button, ...], *, form_name: str) -> list[dict[str, Any]]:
    """A row of buttons; in a form with one input when any of them needs words first."""
    if not buttons:
        return []
    in_form = any(b.input for b in buttons)
    row = {
        "tag": "column_set",
        "flex_mode": "flow",
        "columns": [
            {"tag": "column", "width": "auto", "elements": [_button(b, f"{form_name}_b{i}", in_form=in_form)]}
            for i, b in enumerate(buttons)
        ],
    }
    if not in_form:
        return [row]
    hint = "、".join(b.input for b in buttons if b.input)
    field = {
        "tag": "input",
        "name": INPUT_NAME,
        "placeholder": {"tag": "plain_text", "content": f"{hint}（阻塞、进度时填写）"[:100]},
        "max_length": 200,
    }
    return [{"tag": "form", "name": form_name, "elements": [field, row]}]


def _button(button: Button, name: str, *, in_form: bool) -> dict[str, Any]:
    value: dict[str, Any] = {"command": button.command}
    if button.input:
        value |= {"input": INPUT_NAME, "needs": button.input}
    element: dict[str, Any] = {
        "tag": "button",
        "name": name,
        "text": {"tag": "plain_text", "content": button.label},
        "type": _BUTTON_TYPES.get(button.style, "default"),
        "behaviors": [{"type": "callback", "value": value}],
    }
    if in_form:
        element["form_action_type"] = "submit"  # a form's buttons submit it, carrying the input
    return element


def button_values(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The callback values of every button on a card (tests press buttons by the value they carry)."""
    found: list[dict[str, Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("tag") == "button":
                found.extend(b["value"] for b in value.get("behaviors", ()) if b.get("type") == "callback")
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(result)
    return found

