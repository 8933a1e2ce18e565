"""/帮助 teaches the shorthand first, in short lines, each said once."""

from __future__ import annotations

import pytest

from handlers.help import PHONE_WIDTH
from tests.chat import ConsoleChat

SHORTHAND = ["#12 完成", "#7 阻塞 等接口", "#3 进度 60%"]


@pytest.mark.parametrize("text", ["/帮助", "/help", "/帮助 任务", "/help task", "/帮助 完成", "/帮助 风险"])
def test_help_lines_fit_a_phone_and_are_said_once(chat: ConsoleChat, text: str) -> None:
    chat.say("/项目 创建 发布会")
    lines = chat.say(text).splitlines()[1:]  # after the 【title】
    assert lines
    assert all(len(line) <= PHONE_WIDTH for line in lines), [line for line in lines if len(line) > PHONE_WIDTH]
    assert len(lines) == len(set(lines)), lines


@pytest.mark.parametrize("text", ["/帮助", "/帮助 任务", "/帮助 进度"])
def test_help_leads_with_the_shorthand(chat: ConsoleChat, text: str) -> None:
    lines = [line.strip() for line in chat.say(text).splitlines()]
    assert lines[1] == "更新任务，直接说："
    assert lines[2:5] == SHORTHAND


def test_help_lists_every_group_once(chat: ConsoleChat) -> None:
    reply = chat.say("/帮助")
    for name in ("项目", "任务", "成员", "风险", "行动", "决议", "周报"):
        assert sum(line.startswith(f"/{name} ") for line in reply.splitlines()) == 1, name
    assert "/帮助 任务" in reply


def test_help_for_a_group_shows_its_commands(chat: ConsoleChat) -> None:
    reply = chat.say("/帮助 任务")
    for command in ("/任务 新增", "/任务 列表", "/任务 修改", "/任务 备注 #12 <内容>"):
        assert command in reply, command


@pytest.mark.parametrize("text", ["今天天气不错", "哈哈", "#1 ？？"])
def test_unknown_text_gets_the_one_line_hint(chat: ConsoleChat, text: str) -> None:
    chat.say("/项目 创建 发布会")
    chat.say("/任务 新增 写接口")
    reply = chat.say(text)
    assert len(reply.splitlines()) <= 2, reply
    assert "#12 完成" in reply or "#1 完成" in reply
