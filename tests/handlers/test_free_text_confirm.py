"""When the bot is not sure it asks, changes nothing, and a “是” from the same person applies it."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from sqlalchemy import func, select

from bot.runtime import Runtime
from models import Change, PendingUpdate, TaskStatus
from tests.chat import ConsoleChat, FixedClock
from tests.handlers.conftest import PM, query
from tests.handlers.test_free_text import state

Unchanged = Callable[[ConsoleChat], AbstractContextManager[None]]


@pytest.fixture
def tasks(project: ConsoleChat) -> ConsoleChat:
    for title in ("写接口", "联调", "写文案"):
        project.say(f"/任务 新增 {title} @李四 截止:周五", name=PM)
    return project


def pending_count(chat: ConsoleChat) -> int:
    return query(chat, lambda s: s.scalar(select(func.count()).select_from(PendingUpdate)))  # type: ignore[return-value]


def test_unsure_asks_in_one_line_and_changes_nothing(tasks: ConsoleChat, unchanged: Unchanged) -> None:
    with unchanged(tasks):
        reply = tasks.say("#1 应该完成了", name="李四")
    assert reply == "是要把 #1 标记为已完成吗？回复“是”确认，回复其他内容则不改动"
    assert pending_count(tasks) == 1


@pytest.mark.parametrize("yes", ["是", "对", "确认", "yes", "是的", "OK"])
def test_a_yes_from_the_same_person_applies_it(tasks: ConsoleChat, yes: str) -> None:
    tasks.say("听说 #1 做完了", name="李四")
    tasks.clock.advance(minutes=2)
    assert tasks.say(yes, name="李四").startswith("#1 写接口 → 已完成")
    assert state(tasks, 1) == (TaskStatus.DONE, 100, None)
    assert pending_count(tasks) == 0
    assert "没有等你确认的更新" in tasks.say("是", name="李四")  # used up


def test_the_proposal_survives_a_restart(runtime: Runtime, clock: FixedClock, tasks: ConsoleChat) -> None:
    tasks.say("#1 在等法务审批", name="李四")
    restarted = ConsoleChat(runtime, clock, chat_id=tasks.chat_id)  # nothing kept in memory between messages
    assert "→ 阻塞" in restarted.say("是", name="李四")
    assert state(tasks, 1) == (TaskStatus.BLOCKED, 0, "法务审批")


def test_someone_else_cannot_confirm(tasks: ConsoleChat) -> None:
    tasks.say("#1 应该完成了", name="李四")
    assert "没有等你确认的更新" in tasks.say("是", name=PM)
    assert state(tasks, 1) == (TaskStatus.TODO, 0, None)
    assert tasks.say("是", name="李四").startswith("#1 写接口 → 已完成")


def test_an_unrelated_message_drops_the_proposal(tasks: ConsoleChat) -> None:
    tasks.say("#1 应该完成了", name="李四")
    tasks.say("/任务 列表", name="李四")
    assert "没有等你确认的更新" in tasks.say("是", name="李四")
    assert state(tasks, 1) == (TaskStatus.TODO, 0, None)


def test_a_refused_message_drops_the_proposal_too(tasks: ConsoleChat) -> None:
    tasks.say("#1 应该完成了", name="李四")
    assert "本项目没有任务 #99" in tasks.say("#99 完成", name="李四")
    assert "没有等你确认的更新" in tasks.say("是", name="李四")
    assert state(tasks, 1) == (TaskStatus.TODO, 0, None)


def test_a_no_drops_it(tasks: ConsoleChat) -> None:
    tasks.say("#1 应该完成了", name="李四")
    assert tasks.say("不是", name="李四") == "好的，没有改动。"
    assert "没有等你确认的更新" in tasks.say("是", name="李四")
    assert state(tasks, 1) == (TaskStatus.TODO, 0, None)


def test_a_late_yes_changes_nothing(tasks: ConsoleChat) -> None:
    tasks.say("#1 应该完成了", name="李四")
    tasks.clock.advance(minutes=6)
    assert "已经过期" in tasks.say("是", name="李四")
    assert state(tasks, 1) == (TaskStatus.TODO, 0, None)


def test_a_yes_after_the_task_changed_meanwhile_changes_nothing(tasks: ConsoleChat) -> None:
    tasks.say("#1 应该完成了", name="李四")
    tasks.say("/开始 #1", name=PM)
    assert "在这期间已改成进行中" in tasks.say("是", name="李四")
    assert state(tasks, 1) == (TaskStatus.IN_PROGRESS, 0, None)


def test_several_asks_are_confirmed_together(tasks: ConsoleChat) -> None:
    reply = tasks.say("#1 应该完成了\n#2 60%左右", name="李四")
    assert reply.splitlines()[-1] == "是要把 #1 标记为已完成、把 #2 进度改为 60%吗？回复“是”确认，回复其他内容则不改动"
    tasks.say("是", name="李四")
    assert state(tasks, 1) == (TaskStatus.DONE, 100, None)
    assert state(tasks, 2) == (TaskStatus.IN_PROGRESS, 60, None)


def test_reopening_a_done_task_is_asked(tasks: ConsoleChat) -> None:
    tasks.say("#1 完成", name="李四")
    assert "是要把 #1 重新打开，标记为进行中吗" in tasks.say("#1 在做", name="李四")
    assert state(tasks, 1) == (TaskStatus.DONE, 100, None)
    tasks.say("是", name="李四")
    assert state(tasks, 1)[0] == TaskStatus.IN_PROGRESS


def test_the_confirmed_change_is_the_confirming_message_s(tasks: ConsoleChat) -> None:
    tasks.say("#1 应该完成了", name="李四")
    tasks.clock.advance(minutes=1)
    confirmed_at = tasks.clock()
    tasks.say("是", name="李四")
    rows = query(tasks, lambda s: s.execute(select(Change.field, Change.at).where(
        Change.entity == "task", Change.field != "created")).all())
    assert rows and all(at == confirmed_at for _, at in rows)  # type: ignore[union-attr]
