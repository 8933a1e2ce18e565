"""Parsing details: normalising odd text, glued options and command names, one-word options, dates."""

from __future__ import annotations

from datetime import date

import pytest

from bot.messages import Mention
from handlers import build_registry
from handlers.common import word_option
from handlers.dates import parse_date
from handlers.risks import STRATEGY_WORDS
from handlers.text import normalize, parse_args, split_tokens

KEYS = {"截止": "due", "due": "due", "开始": "start", "start": "start", "部门": "dept"}


def test_normalize_drops_invisible_and_control_characters() -> None:
    assert normalize("＃１２\u200b 完成\u0000\u202e\u2066 ８０％") == "#12 完成 80%"
    assert normalize("a\tb\r\nc") == "a b c"
    assert normalize("\ud800x") == "x"


def test_option_glued_to_the_word_before_it() -> None:
    args = parse_args(split_tokens("写发布稿截止:周五"), option_keys=KEYS, names={})
    assert args.words == ["写发布稿"] and args.options == {"due": "周五"}


def test_option_glued_to_a_typed_mention() -> None:
    # The console turns “@李四截止:周五” into the mention 李四截止 followed by “:周五”.
    args = parse_args(split_tokens("写稿 <@李四截止> :周五"), option_keys=KEYS, names={"李四截止": "李四截止"})
    assert args.mentions == [Mention("李四", "李四")] and args.options == {"due": "周五"} and args.words == ["写稿"]
    args = parse_args(split_tokens("写稿 @李四截止:周五"), option_keys=KEYS, names={})
    assert args.mentions == [Mention("", "李四")] and args.options == {"due": "周五"}


def test_ascii_option_keys_are_not_split_out_of_words() -> None:
    args = parse_args(split_tokens("restart:now"), option_keys=KEYS, names={})
    assert args.words == ["restart:now"] and args.options == {}


def test_one_word_option_does_not_swallow_the_text_after_it() -> None:
    args = parse_args(split_tokens("应对:减轻 已扩容"), option_keys={"应对": "strategy"}, names={})
    assert word_option(args, "strategy", STRATEGY_WORDS) == "减轻"
    assert args.words == ["已扩容"]


@pytest.mark.parametrize(
    ("text", "group", "command"),
    [
        ("/任务列表", "任务", "列表"),
        ("任务列表", "任务", "列表"),
        ("/风险新增 服务器", "风险", "新增"),
        ("/完成#12", "完成", None),
        ("/风险R3", "风险", None),
    ],
)
def test_command_name_glued_to_subcommand_or_id(text: str, group: str, command: str | None) -> None:
    registry = build_registry()
    resolved = registry.resolve(text, {})
    assert resolved.command.group is not None and resolved.command.group.names[0] == group
    if command is None:
        assert resolved.command is resolved.command.group.default
    else:
        assert command in resolved.command.names


def test_glued_names_are_not_guessed_beyond_known_words() -> None:
    registry = build_registry()
    assert registry.split_head("完成了") is None
    assert registry.split_head("任务太多") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("上周五", date(2026, 11, 20)),
        ("上上周一", date(2026, 11, 9)),
        ("下下周三", date(2026, 12, 9)),
        ("周五", date(2026, 11, 27)),
        ("12月1日", date(2026, 12, 1)),
        ("1/5", date(2027, 1, 5)),
    ],
)
def test_dates(text: str, expected: date) -> None:
    assert parse_date(text, today=date(2026, 11, 23)) == expected
