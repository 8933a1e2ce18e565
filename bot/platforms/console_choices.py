"""Buttons in the console (issue 11): a reply's buttons print as numbered choices under their section
(`[1] 开始  [2] 完成  [3] 阻塞 <原因>`; with their commands, `可以回复：[1] /项目 结项 确认（确认结项）`,
where the text does not already say what to type), numbered from 1 in each reply; typing the number (or `按 1`)
presses the latest such choice in that chat: its command runs as if typed, by whoever typed the number.
A button that needs words takes them after the number (`按 3 等法务审核`); the number alone is
answered with what to add, and nothing is recorded, like an empty form on a card.

The choices are read back from the outbox (`console.press`: the console's printed replies), so
`tandem say 1` in a new process presses what the last `tandem say` printed."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from bot.messages import Button, Reply, Section

_PRESS = re.compile(r"^\s*(?:按\s*)?(\d{1,3})(?:\s+(.+))?\s*$", re.DOTALL)


def choices(reply: Reply) -> list[Button]:
    """Every button the console offers, in the order it is printed (sections first, then the reply's own)."""
    return [b for s in reply.sections if _offered(s) for b in s.buttons] + list(reply.buttons)


def _offered(section: Section) -> bool:
    """A bare row that text renderers leave out (the buttons under an update: 撤销, a risk's 关闭) is a
    card's convenience; typing the command is as short, so the console leaves it out too and keeps
    the numbers for the choices that are the reply's point (the prompt's tasks, a confirmation)."""
    return bool(section.buttons) and (section.hint or bool(section.lines) or bool(section.title))


def _line(buttons: tuple[Button, ...], first: int, *, hint: bool) -> str:
    """The numbered choices; `hint` (the text does not already say what to type): each with its command."""
    if hint:
        return "可以回复：" + " ｜ ".join(
            f"[{first + i}] {b.command}{f' <{b.input}>' if b.input else ''}（{b.label}）" for i, b in enumerate(buttons)
        )
    return "  ".join(f"[{first + i}] {b.label}{f' <{b.input}>' if b.input else ''}" for i, b in enumerate(buttons))


def console_text(reply: Reply) -> str:
    """How the console prints a reply: its plain text with buttons as numbered choices."""
    return with_choices(reply).plain_text()


def with_choices(reply: Reply) -> Reply:
    """The reply with its buttons as numbered choice lines (and no buttons left for the text renderer)."""
    if not choices(reply):
        return reply
    number, sections = 1, []
    for section in reply.sections:
        if not _offered(section):
            section = replace(section, buttons=())
        if section.buttons:
            line = _line(section.buttons, number, hint=section.hint)
            line = line if section.hint else "  " + line
            number += len(section.buttons)
            section = replace(section, lines=(*section.lines, line), buttons=())
        sections.append(section)
    if reply.buttons:
        sections.append(Section(lines=(_line(reply.buttons, number, hint=True),)))
    return replace(reply, sections=tuple(sections), buttons=())


@dataclass(frozen=True, slots=True)
class Pressed:
    """What a typed line becomes: `text` to run as typed (the button's command, or the line itself),
    or `answer` to print instead (nothing recorded)."""

    text: str | None = None
    answer: str | None = None


def pressed(buttons: list[Button], text: str) -> Pressed:
    """A typed line, given the chat's latest choices: a number presses one, anything else goes as typed."""
    match = _PRESS.match(text)
    if match is None or not buttons:
        return Pressed(text=text)  # no choices shown here: a number is just a message
    number, words = int(match.group(1)), (match.group(2) or "").strip()
    if not 1 <= number <= len(buttons):
        return Pressed(answer=f"没有选项 {number}：最近的选项是 1–{len(buttons)}。用法：按 <编号>，例如 按 1")
    button = buttons[number - 1]
    if button.input and not words:
        return Pressed(answer=f"请先填写{button.input}。用法：按 {number} <{button.input}>")
    return Pressed(text=f"{button.command} {words}" if words else button.command)


def is_press(text: str) -> bool:
    return _PRESS.match(text) is not None
