"""What typed text may never become: a mention or markup. The one place that owns it.

Everything a person types is text, on every platform, for as long as it is stored and repeated (titles,
reasons and notes come back in prompts, agendas and lists). Two rules, applied at the two boundaries:

- Inbound, before a platform turns its own mentions into `<@id>` markers, typed marker look-alikes
  are defused (`defuse_markers`): `<@all>` or `<@ou_…>` typed by hand reach the commands, and the
  database, as `＜@all>` — never a marker. Only the platform's mentions of the message are markers,
  and a mention of everyone (`all`) is never one (`is_everyone`).
- Outbound, `Reply.render` turns a marker into a mention only when the reply lists that person in
  `Reply.mentions` (never `all`); everything else is literal text, which the Feishu and DingTalk
  renderers pass through `markdown_literal` — needed in card and DingTalk markdown, and applied to
  Feishu `post` text nodes and DingTalk `text` messages too, so typed text looks the same in every
  message (the console prints it as typed).

Markdown has no escape both platforms document, so `markdown_literal` replaces the characters that
would start markup with their full-width look-alikes (`**粗体**` shows as `＊＊粗体＊＊`, `[链接](…)` as
`［链接］(…)`, a leading `# ` as `＃ `): readable, and inert whatever the renderer.
"""

from __future__ import annotations

import re

EVERYONE_IDS = frozenset({"all", "@all", "everyone", "here"})
_MARKUP = str.maketrans(
    {
        "*": "＊",
        "~": "～",
        "`": "｀",
        "[": "［",
        "]": "］",
        "<": "＜",
        ">": "＞",
        "|": "｜",
    }
)
# Block markup that only counts at the start of a line: headings, lists, rules, setext underlines.
_LINE_START = re.compile(r"^([ \t]*)(#+(?!\d)|[-+=](?=[ \t]|[-=]|$)|\d+\.(?=[ \t]|$))", re.MULTILINE)
_LINE_START_LOOKALIKES = str.maketrans({"#": "＃", "-": "－", "+": "＋", "=": "＝", ".": "．"})
# An underscore emphasises only at a word's edge (`_斜体_`; `v2_final` and `oc_fan` are plain text), a
# backslash escapes only before ASCII punctuation (`C:\dir` is plain text): only those are swapped.
_EDGE_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")  # not between two letters or digits
_ESCAPING_BACKSLASH = re.compile(r"\\(?=[!-/:-@\[-`{-~])")


def defuse_markers(text: str) -> str:
    """Typed text with every `<@` made inert (`＜@`), before the platform's own mentions become markers."""
    return text.replace("<@", "＜@") if "<@" in text else text


def is_everyone(user_id: str) -> bool:
    """A mention of the whole group: never a mention we render."""
    return user_id.strip().lower() in EVERYONE_IDS


def markdown_literal(text: str) -> str:
    """`text` shown as itself inside markdown (Feishu card markdown, DingTalk markdown): no emphasis,
    links, images, HTML, mentions, tables, headings, quotes or lists can come out of it."""
    text = _ESCAPING_BACKSLASH.sub("＼", _EDGE_UNDERSCORE.sub("＿", text)).translate(_MARKUP)
    return _LINE_START.sub(lambda m: m.group(1) + m.group(2).translate(_LINE_START_LOOKALIKES), text)
