"""Normalising and tokenising what people type on their phones (full-width punctuation, stray spaces)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.messages import MENTION_MARKER, Mention

_FULL_WIDTH = str.maketrans(
    {
        "：": ":",
        "＃": "#",
        "％": "%",
        "／": "/",
        "＠": "@",
        "　": " ",
        "\u00a0": " ",
        "＋": "+",
        "－": "-",
        "（": "(",
        "）": ")",
        **{chr(0xFF10 + i): str(i) for i in range(10)},
        **{chr(0xFF21 + i): chr(0x41 + i) for i in range(26)},
        **{chr(0xFF41 + i): chr(0x61 + i) for i in range(26)},
        "\u200b": None,
        "\u200c": None,
        "\u200d": None,
        "\ufeff": None,
        "\u2060": None,
    }
)
_SPACES = re.compile(r"\s+")
# Control characters, bidi overrides and lone surrogates: invisible on a phone, and PostgreSQL refuses NUL.
_INVISIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_MENTION_SPLIT = re.compile(r"(<@[^<>\s]+>)")


def normalize(text: str) -> str:
    """Full-width punctuation and digits to ASCII, zero-width characters dropped, spaces collapsed."""
    return _SPACES.sub(" ", _INVISIBLE.sub("", text.translate(_FULL_WIDTH))).strip()


def split_tokens(text: str) -> list[str]:
    """Whitespace tokens, with `<@id>` mention markers always standing alone."""
    return [token for part in _MENTION_SPLIT.split(text) for token in part.split() if token]


@dataclass(slots=True)
class Args:
    """A command's arguments after its name: plain words, `key:value` options and @-mentions."""

    words: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    mentions: list[Mention] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.words)


def parse_args(
    tokens: list[str], *, option_keys: dict[str, str], names: dict[str, str]
) -> Args:
    """Split tokens into words, options and mentions.

    `option_keys` maps every accepted spelling (lower case) to its canonical key. An option's value runs
    over the following plain words until the next option or mention, so English dates such as
    `due:next Monday` work. `names` maps mention user ids to display names.
    """
    args = Args()
    current: str | None = None
    after_mention = False
    for token in tokens:
        marker = MENTION_MARKER.fullmatch(token)
        if marker:
            user_id = marker.group(1)
            args.mentions.append(Mention(user_id, names.get(user_id, user_id)))
            current, after_mention = None, True
            continue
        if after_mention and token.startswith(":") and (glued := _glued_option(args.mentions[-1].name, option_keys)):
            # A typed “@李四截止:周五” (the console takes 李四截止 for the name): the mention and the option 截止.
            last, (name, glued_key) = args.mentions[-1], glued
            args.mentions[-1] = Mention(name if last.user_id == last.name else last.user_id, name)
            args.options[glued_key] = token[1:]
            current, after_mention = glued_key, False
            continue
        after_mention = False
        if token.startswith("@") and len(token) > 1:
            # Typed by hand, not a platform mention: resolved later by display name.
            name, sep, value = token[1:].partition(":")
            glued = _glued_option(name, option_keys) if sep else None
            if glued is not None:
                args.mentions.append(Mention("", glued[0]))
                args.options[glued[1]] = value
                current = glued[1]
            else:
                args.mentions.append(Mention("", token[1:]))
                current = None
            continue
        key, sep, value = token.partition(":")
        canonical = option_keys.get(key.lower()) if sep else None
        if sep and canonical is None:
            # Typed without a space on a phone: “写发布稿截止:周五” is the word 写发布稿 and the option 截止.
            glued = _glued_option(key, option_keys)
            if glued is not None:
                prefix, canonical = glued
                if current is not None:
                    args.options[current] = f"{args.options[current]} {prefix}".strip()
                else:
                    args.words.append(prefix)
        if canonical:
            args.options[canonical] = value
            current = canonical
            continue
        if current is not None:
            args.options[current] = f"{args.options[current]} {token}".strip()
        else:
            args.words.append(token)
    return args


def _glued_option(key: str, option_keys: dict[str, str]) -> tuple[str, str] | None:
    """A Chinese option spelling glued to the word before it (ASCII keys must stand alone: “restart:”)."""
    for spelling in sorted(option_keys, key=len, reverse=True):
        if spelling.isascii() or len(key) <= len(spelling) or not key.endswith(spelling):
            continue
        return key[: -len(spelling)], option_keys[spelling]
    return None
