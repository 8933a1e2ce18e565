"""Free-text updates: a task (or action item) id followed by a status, as people type it."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from sqlalchemy import select

from models import Task, TaskStatus
from tests.chat import ConsoleChat
from tests.handlers.conftest import PM, query

Unchanged = Callable[[ConsoleChat], AbstractContextManager[None]]


@pytest.fixture
def tasks(project: ConsoleChat) -> ConsoleChat:
    for title in ("写接口", "联调", "写文案"):
        project.say(f"/任务 新增 {title} @李四 截止:周五", name=PM)
    return project


def state(chat: ConsoleChat, number: int) -> tuple[TaskStatus, int, str | None]:
    row = query(chat, lambda s: s.execute(
        select(Task.status, Task.progress, Task.blocked_reason).where(Task.number == number)).one())
    return tuple(row)  # type: ignore[arg-type, return-value]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#1 已经完成了", (TaskStatus.DONE, 100, None)),
        ("#1 done", (TaskStatus.DONE, 100, None)),
        ("#1 搞定", (TaskStatus.DONE, 100, None)),
        ("＃１ 完成", (TaskStatus.DONE, 100, None)),
        ("#1完成了", (TaskStatus.DONE, 100, None)),
        ("#1 卡住了，等接口", (TaskStatus.BLOCKED, 0, "等接口")),
        ("#1 阻塞 等第三方接口", (TaskStatus.BLOCKED, 0, "等第三方接口")),
        ("#1 blocked waiting for API", (TaskStatus.BLOCKED, 0, "waiting for API")),
        ("#1 进度80% 明天联调", (TaskStatus.IN_PROGRESS, 80, None)),
        ("#1 80%", (TaskStatus.IN_PROGRESS, 80, None)),
        ("#1 进度 60", (TaskStatus.IN_PROGRESS, 60, None)),
        ("#1 进度：８０％", (TaskStatus.IN_PROGRESS, 80, None)),
        ("#1 100%", (TaskStatus.DONE, 100, None)),
        ("#1 开始做了", (TaskStatus.IN_PROGRESS, 0, None)),
        ("#1 started", (TaskStatus.IN_PROGRESS, 0, None)),
        ("任务#1 完成", (TaskStatus.DONE, 100, None)),
    ],
)
def test_free_text_forms(tasks: ConsoleChat, text: str, expected: tuple[TaskStatus, int, str | None]) -> None:
    reply = tasks.say(text, name="李四")
    assert reply.startswith("#1 写接口 → "), reply
    assert state(tasks, 1) == expected


def test_progress_note_is_kept(tasks: ConsoleChat) -> None:
    assert tasks.say("#3 进度80% 明天联调", name="李四").splitlines() == [
        "#3 写文案 → 进行中 80%",
        "说明：明天联调",
        "截止 11-27(周五)",
    ]


def test_progress_on_a_blocked_task_keeps_its_reason(tasks: ConsoleChat) -> None:
    tasks.say("#1 阻塞 等接口", name="李四")
    reply = tasks.say("#1 进度 50% 先做前端", name="李四")
    assert reply.splitlines()[:3] == ["#1 写接口 → 阻塞 50%", "原因：等接口", "截止 11-27(周五)"]
    assert state(tasks, 1) == (TaskStatus.BLOCKED, 50, "等接口")
    assert "进度 0% → 50%（先做前端）" in tasks.say("/任务 #1")


def test_several_tasks_at_once(tasks: ConsoleChat) -> None:
    reply = tasks.say("#1 #2 完成", name="李四")
    assert "#1 写接口 → 已完成" in reply and "#2 联调 → 已完成" in reply
    assert state(tasks, 1)[0] == state(tasks, 2)[0] == TaskStatus.DONE


def test_done_announces_followers_free_to_start(tasks: ConsoleChat) -> None:
    tasks.say("/任务 依赖 #2 #1", name=PM)
    tasks.say("/任务 修改 #2 @赵六", name=PM)
    assert "可以开始：#2 联调（@赵六）" in tasks.say("#1 完成", name="李四")


def test_action_item_free_text(project: ConsoleChat) -> None:
    project.say("/行动 新增 订酒店 @李四 截止:周五", name=PM)
    assert project.say("A1 完成了 已订好", name="李四") == "✅ A1 订酒店 已完成\n说明：已订好"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#1 还没完成", "看到了 #1 写接口：“还没完成”是说还没做到，所以没有改动"),
        ("#1 没有卡住", "所以没有改动"),
        ("#1 not done", "所以没有改动"),
        ("#1 明天开会讨论", "所以没有改动"),
        ("#1 完成前要先评审", "所以没有改动"),
        ("#1 #2", "看到了 #1、#2，但没说要更新成什么"),
        ("#1 卡住了", "请写上 #1 阻塞的原因"),
        ("#1 150%", "进度应在 0% 到 100% 之间"),
        ("#99 完成", "本项目没有任务 #99"),
        ("A1 完成", "本项目没有行动项 A1"),
        ("今天天气不错", "没看懂“今天天气不错”"),
        ("帮我看看风险", "是不是想用 /风险？"),
    ],
)
def test_not_understood_changes_nothing(tasks: ConsoleChat, unchanged: Unchanged, text: str, expected: str) -> None:
    with unchanged(tasks):
        reply = tasks.say(text, name="李四")
    assert expected in reply
    assert "用法：" in reply


def test_question_shows_the_task_and_changes_nothing(tasks: ConsoleChat, unchanged: Unchanged) -> None:
    with unchanged(tasks):
        reply = tasks.say("#1 完成了吗？", name="李四")
    assert reply.splitlines() == ["#1 ⚪待开始 写接口 · 李四 · 截止11-27(周五)", "要更新请直接说，例如：#1 完成"]


def test_bare_id_shows_the_task(tasks: ConsoleChat) -> None:
    assert tasks.say("#2").startswith("【#2 联调】")


def test_only_owner_or_pm_updates(tasks: ConsoleChat, unchanged: Unchanged) -> None:
    with unchanged(tasks):
        assert "只有负责人或 PM 可以更新" in tasks.say("#1 完成", name="赵六")
    assert "→ 已完成" in tasks.say("#1 完成", name=PM)
