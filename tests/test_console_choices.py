"""Buttons in the console (issue 11): the daily prompt's buttons print as numbered choices, and typing
the number (or `按 N`) presses one as the person who typed it, through the whole pipeline; a choice
that needs words takes them after the number; `tandem say 1` in a new process presses what the last
one printed."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from bot.config import get_settings
from bot.platforms.console import deliver_console
from bot.runtime import Runtime
from models import Change, Task, TaskStatus
from tests.chat import ConsoleChat, FixedClock

SHANGHAI = ZoneInfo("Asia/Shanghai")
PROMPT_AT = datetime(2026, 11, 23, 17, 0, tzinfo=SHANGHAI)


def prompt(chat: ConsoleChat, runtime: Runtime, clock: FixedClock) -> str:
    chat.say("/项目 创建 发布会")
    chat.say("/成员 添加 @李四")
    chat.say("/任务 新增 写发布稿 @李四")
    chat.say("/任务 新增 订场地 @李四")
    clock.set(PROMPT_AT)
    assert runtime.job_runner().run(["daily-prompt"], PROMPT_AT).count("posted", "daily-prompt") == 1
    out: list[str] = []
    deliver_console(runtime.session_factory, out.append, chat_id=chat.chat_id, clock=clock)
    return "\n".join(out)


def choice(printed: str, task: str, label: str) -> int:
    """The number printed for `label` on the line under task `task`."""
    lines = printed.splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{task} "))
    found = re.search(rf"\[(\d+)\] {label}", lines[index + 1])
    assert found is not None, lines[index + 1]
    return int(found.group(1))


def status(runtime: Runtime, number: int) -> TaskStatus:
    with runtime.session_factory() as session:
        return session.scalars(select(Task).where(Task.number == number)).one().status


def test_the_prompt_prints_numbered_choices_and_typing_one_presses_it(
    chat: ConsoleChat, runtime: Runtime, clock: FixedClock
) -> None:
    printed = prompt(chat, runtime, clock)
    assert "[1] 开始  [2] 完成  [3] 阻塞 <原因>  [4] 进度 <进度，如 60%>" in printed
    assert "[5] 开始  [6] 完成" in printed  # numbered on through the reply
    answer = chat.say(str(choice(printed, "#2", "开始")), name="李四")
    assert "#2" in answer and "进行中" in answer
    assert status(runtime, 2) == TaskStatus.IN_PROGRESS and status(runtime, 1) == TaskStatus.TODO
    again = chat.say(f"按 {choice(printed, '#1', '完成')}", name="李四")
    assert "#1" in again and "已完成" in again and status(runtime, 1) == TaskStatus.DONE


def test_a_stranger_pressing_changes_nothing_and_words_are_asked_for(
    chat: ConsoleChat, runtime: Runtime, clock: FixedClock
) -> None:
    printed = prompt(chat, runtime, clock)
    chat.say("/成员 添加 @张三")
    refused = chat.say(str(choice(printed, "#1", "完成")), name="张三")
    assert "只有负责人或 PM 可以更新" in refused and status(runtime, 1) == TaskStatus.TODO
    blocked = choice(printed, "#1", "阻塞")
    asked = chat.say(str(blocked), name="李四")
    assert asked == f"请先填写原因。用法：按 {blocked} <原因>"
    assert chat.say(f"按 {blocked} 等法务审核", name="李四")
    with runtime.session_factory() as session:
        task = session.scalars(select(Task).where(Task.number == 1)).one()
        assert task.status == TaskStatus.BLOCKED and task.blocked_reason == "等法务审核"
        assert len(session.scalars(select(Change).where(Change.field == "status")).all()) == 1
    assert "没有选项 99" in chat.say("99", name="李四")


def test_a_number_with_no_choices_shown_is_an_ordinary_message(chat: ConsoleChat) -> None:
    chat.say("/项目 创建 发布会")
    assert "没有选项" not in chat.say("1")


def test_tandem_say_presses_what_the_last_say_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
        for text in ("/项目 创建 发布会", "/成员 添加 @李四", "/任务 新增 写发布稿 @李四"):
            assert runner.invoke(main, ["say", "--name", "王经理", "--at", "2026-11-23T10:00", text]).exit_code == 0
        posted = runner.invoke(main, ["jobs", "run", "daily-prompt", "--at", "2026-11-23T17:00"])
        assert "[1] 开始  [2] 完成" in posted.output, posted.output
        pressed = runner.invoke(main, ["say", "--name", "李四", "--at", "2026-11-23T17:05", "按 2"])
    finally:
        get_settings.cache_clear()
    assert pressed.exit_code == 0, pressed.output
    assert "#1" in pressed.output and "已完成" in pressed.output


def test_a_confirmation_button_shows_its_command_and_its_number_presses_it(chat: ConsoleChat) -> None:
    chat.say("/项目 创建 发布会")
    asked = chat.say("/项目 结项")
    assert asked.strip().endswith("可以回复：[1] /项目 结项 确认（确认结项）")
    assert "只有项目经理（PM）可以结项" in chat.say("1", name="李四")  # pressed as whoever typed it
    assert "项目“发布会”已结项" in chat.say("按 1")
