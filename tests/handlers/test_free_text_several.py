"""Several updates in one message, task names as typed, notes kept as typed, comments."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import Change, Task, TaskStatus
from tests.chat import ConsoleChat
from tests.handlers.conftest import PM, query
from tests.handlers.test_free_text import state


@pytest.fixture
def tasks(project: ConsoleChat) -> ConsoleChat:
    for title in ("写接口", "联调", "写文案", "订场地"):
        project.say(f"/任务 新增 {title} @李四 截止:周五", name=PM)
    project.say("/任务 新增 买物料 @赵六 截止:周五", name=PM)  # #5, not 李四's
    return project


def history(chat: ConsoleChat, number: int) -> list[tuple[str, str | None, str | None, str | None]]:
    rows = query(chat, lambda s: s.execute(
        select(Change.field, Change.old_value, Change.new_value, Change.note)
        .join(Task, Task.id == Change.entity_id)
        .where(Change.entity == "task", Task.number == number, Change.field != "created")
        .order_by(Change.id)).all())
    return [tuple(r) for r in rows]  # type: ignore[union-attr, misc]


def test_one_reply_lists_each_update(tasks: ConsoleChat) -> None:
    reply = tasks.say("#1 完成；#2 卡住了 等设计稿\n#3 40%", name="李四")
    assert reply.splitlines() == [
        "#1 写接口 → 已完成",
        "#2 联调 → 阻塞",
        "原因：等设计稿",
        "#3 写文案 → 进行中 40%",
    ]
    assert state(tasks, 2) == (TaskStatus.BLOCKED, 0, "等设计稿")


def test_a_refused_update_does_not_roll_back_the_others(tasks: ConsoleChat) -> None:
    reply = tasks.say("#1 完成 #5 完成 #2 开始 #99 完成", name="李四")
    lines = reply.splitlines()
    assert lines[0] == "#1 写接口 → 已完成"
    assert lines[1].startswith("#5 买物料：") and "只有负责人或 PM 可以更新" in lines[1]
    assert lines[2] == "#2 联调 → 进行中"
    assert lines[3].startswith("#99：本项目没有任务 #99")
    assert state(tasks, 1)[0] == TaskStatus.DONE and state(tasks, 2)[0] == TaskStatus.IN_PROGRESS
    assert state(tasks, 5)[0] == TaskStatus.TODO


def test_a_future_one_among_others_changes_only_itself(tasks: ConsoleChat) -> None:
    reply = tasks.say("#3 完成 #4 下周开始", name="李四")
    assert reply.splitlines()[0] == "#3 写文案 → 已完成"
    assert "看到了 #4 订场地：“下周开始”是说以后的事，所以没有改动。" in reply
    assert state(tasks, 4) == (TaskStatus.TODO, 0, None)


@pytest.mark.parametrize("text", ["#3 完成", "＃3 完成", "3号任务完成", "任务3完成", "任务 3 完成", "第3项完成", "第三项完成",
                                  "task 3 done"])
def test_ways_of_naming_a_task(tasks: ConsoleChat, text: str) -> None:
    assert tasks.say(text, name="李四").startswith("#3 写文案 → 已完成")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#1.5 完成", "“#1.5”不是任务编号"),
        ("#0 完成", "没有任务 #0"),
        ("#99 完成", "本项目没有任务 #99"),
        ("#1 进度 30.5%", "“30.5%”不行"),
        ("#1 101%", "进度应在 0% 到 100% 之间"),
    ],
)
def test_malformed_ids_and_percentages_are_refused_by_name(tasks: ConsoleChat, text: str, expected: str) -> None:
    reply = tasks.say(text, name="李四")
    assert expected in reply and "用法：" in reply
    assert state(tasks, 1) == (TaskStatus.TODO, 0, None)


def test_the_note_keeps_every_word(tasks: ConsoleChat) -> None:
    tasks.say("#4 场地已经订好了，合同周一签", name="李四")
    assert history(tasks, 4) == [("status", "todo", "done", "场地已经订好了，合同周一签"), ("progress", "0", "100", None)]


@pytest.mark.parametrize(("text", "note"), [("#1 已开始", None), ("#1 开始了，先做登录", "先做登录"),
                                            ("#1 完成了，明天给大家演示", "明天给大家演示")])
def test_the_status_word_is_taken_off_only_at_the_edges(tasks: ConsoleChat, text: str, note: str | None) -> None:
    tasks.say(text, name="李四")
    assert history(tasks, 1)[0][3] == note


@pytest.mark.parametrize("text", ["#2 备注 客户要求改颜色，已完成一半", "#2 备注：客户要求改颜色，已完成一半",
                                  "/任务 备注 #2 客户要求改颜色，已完成一半", "/task note #2 客户要求改颜色，已完成一半"])
def test_a_comment_changes_no_field(tasks: ConsoleChat, text: str) -> None:
    reply = tasks.say(text, name="李四")
    assert reply == "已记录 #2 的备注：客户要求改颜色，已完成一半"
    assert state(tasks, 2) == (TaskStatus.TODO, 0, None)
    assert history(tasks, 2) == [("note", None, None, "客户要求改颜色，已完成一半")]
    assert "说明：客户要求改颜色，已完成一半" in tasks.say("/任务 #2", name="李四")


def test_a_comment_needs_words(tasks: ConsoleChat) -> None:
    assert "用法：" in tasks.say("/任务 备注 #2", name="李四")
    assert history(tasks, 2) == []
