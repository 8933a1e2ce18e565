"""/行动 (action items) and /决议 (decisions)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy import select

from models import ActionItem, ActionStatus, Decision
from tests.chat import ConsoleChat
from tests.handlers.conftest import PM, query

Unchanged = Callable[[ConsoleChat], AbstractContextManager[None]]


def action(chat: ConsoleChat, number: int) -> ActionItem:
    found = query(chat, lambda s: s.scalar(select(ActionItem).where(ActionItem.number == number)))
    assert isinstance(found, ActionItem)
    return found


def test_decision_then_action_item_from_it(project: ConsoleChat) -> None:
    assert project.say("/决议 发布会定在12月20日", name="张三").splitlines()[0] == "已记录决议 D1：发布会定在12月20日"
    reply = project.say("/行动 新增 确认场地合同 @张三 截止:周三 来源:D1", name=PM)
    assert reply.splitlines() == ["已新增行动项 A1 确认场地合同", "负责人 @张三 · 截止 11-25(周三) · 来源 D1"]
    item = action(project, 1)
    decision = query(project, lambda s: s.scalar(select(Decision)))
    assert isinstance(decision, Decision) and item.decision_id == decision.id and item.origin == "D1"
    assert "行动项：A1 确认场地合同" in project.say("/决议 D1")


def test_action_origin_defaults_to_the_day(project: ConsoleChat) -> None:
    project.say("/action add Send invitations @李四 due:2026-11-30", name=PM)
    assert action(project, 1).origin == "2026-11-23"
    project.say("/行动 新增 订酒店 @李四 截止:周五 来源:周会", name=PM)
    assert action(project, 2).origin == "周会"


def test_action_needs_owner_and_due(project: ConsoleChat, unchanged: Unchanged) -> None:
    with unchanged(project):
        assert "行动项必须有负责人" in project.say("/行动 新增 订酒店 截止:周五", name=PM)
        assert "行动项必须有截止日期" in project.say("/行动 新增 订酒店 @李四", name=PM)
        assert "已经过去了" in project.say("/行动 新增 订酒店 @李四 截止:2026-01-01", name=PM)
        assert "本项目没有决议 D9" in project.say("/行动 新增 订酒店 @李四 截止:周五 来源:D9", name=PM)
        assert "缺少行动项内容" in project.say("/行动 新增 @李四 截止:周五", name=PM)
        assert "成员只能给自己新增行动项" in project.say("/行动 新增 订酒店 @赵六 截止:周五", name="李四")
    assert "已新增行动项 A1" in project.say("/行动 新增 订酒店 @李四 截止:周五", name="李四")


def test_date_first_then_content(project: ConsoleChat) -> None:
    # The option's value runs on; when the rest is not a date the words go back to the content.
    assert "已新增行动项 A1 发邀请函" in project.say("/行动 新增 截止:周五 发邀请函 @李四", name=PM)


def test_done_cancel_and_permissions(project: ConsoleChat, unchanged: Unchanged) -> None:
    project.say("/行动 新增 订酒店 @李四 截止:周五", name=PM)
    project.say("/行动 新增 订车 @李四 截止:周五", name=PM)
    with unchanged(project):
        assert "只有负责人或 PM 可以更新" in project.say("/行动 完成 A1", name="赵六")
    assert "✅ A1 订酒店 已完成" in project.say("/行动 完成 A1", name="李四")
    assert action(project, 1).status == ActionStatus.DONE
    assert "A1 已经完成了" in project.say("/action done A1", name="李四")
    assert "已取消行动项 A2 订车\n原因：不需要了" in project.say("/action cancel A2 不需要了", name=PM)
    with unchanged(project):
        assert "A2 已经已取消，不能取消" in project.say("/行动 取消 A2", name=PM)
        assert "本项目没有行动项 A99" in project.say("/行动 完成 A99", name=PM)


def test_list_open_items_overdue_first(project: ConsoleChat) -> None:
    project.say("/行动 新增 订车 @李四 截止:下周五", name=PM)
    project.say("/行动 新增 订酒店 @张三 截止:周三", name=PM)
    project.say("/行动 新增 发邀请函 @李四 截止:周四", name=PM)
    project.say("/行动 完成 A3", name="李四")
    project.clock.advance(days=3)  # Thursday 11-26: A2 is a day late
    assert project.say("/行动 列表").splitlines() == [
        "【未完成的行动项（2）】",
        "A2 ⚪ 订酒店 · 张三 · 截止11-25(周三) · ⚠逾期1天 · 来源 2026-11-23",
        "A1 ⚪ 订车 · 李四 · 截止12-04(周五) · 来源 2026-11-23",
    ]
    assert project.say("/行动 列表 逾期").splitlines()[0] == "【逾期的行动项（1）】"
    assert "A1" in project.say("/行动 列表 @李四") and "A2" not in project.say("/行动 列表 @李四")
    assert "（晚于截止 1 天）" in project.say("A2 完成了", name="张三")


def test_edit_action(project: ConsoleChat, unchanged: Unchanged) -> None:
    project.say("/行动 新增 订酒店 @李四 截止:周五", name=PM)
    assert "截止 11-27(周五) → 11-30(周一)" in project.say("/行动 修改 A1 截止:下周一", name="李四")
    with unchanged(project):
        assert "只有 PM 可以改派 A1 的负责人" in project.say("/行动 修改 A1 @赵六", name="李四")
        assert "行动项必须有截止日期" in project.say("/行动 修改 A1 截止:无", name=PM)
    assert "负责人 李四 → @赵六" in project.say("/行动 修改 A1 @赵六", name=PM)
    assert "A1 · 改派" not in project.say("/行动 A1")


def test_decisions_list_and_english(project: ConsoleChat, unchanged: Unchanged) -> None:
    project.say("/决议 采用方案B", name="李四")
    project.clock.advance(days=1)
    assert "已记录决议 D2：Budget capped at 50k" in project.say("/decision Budget capped at 50k", name=PM)
    assert "已记录决议 D3：由 @张三 负责对接场地" in project.say("/决议 新增 由 @张三 负责对接场地", name=PM)
    assert project.say("/决议 列表").splitlines() == [
        "【决议（3）】",
        "D3 11-24(周二) 由 @张三 负责对接场地（王经理）",
        "D2 11-24(周二) Budget capped at 50k（王经理）",
        "D1 11-23(周一) 采用方案B（李四）",
    ]
    with unchanged(project):
        assert "缺少决议内容" in project.say("/决议 新增", name=PM)
        assert "本项目没有决议 D9" in project.say("/决议 D9", name=PM)
        assert "决议内容太长" in project.say("/决议 " + "决" * 501, name=PM)
