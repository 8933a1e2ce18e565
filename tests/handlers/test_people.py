"""People and departments are named, never invented: nearest names for typos, explicit adds, removal."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from sqlalchemy import select

from bot.messages import Incoming, Mention
from bot.platforms.console import deliver_console
from models import Department, Member, Task
from tests.chat import ConsoleChat
from tests.handlers.conftest import PM, query

Unchanged = Callable[[ConsoleChat], AbstractContextManager[None]]


def members(chat: ConsoleChat) -> list[tuple[str, bool]]:
    rows = query(chat, lambda s: s.execute(select(Member.name, Member.removed_at).order_by(Member.id)).all())
    return [(name, removed is None) for name, removed in rows]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("sender", "message", "typed", "suggested"),
    [
        (PM, "/任务 新增 写接口 部门:研发", "研发", "研发部"),
        (PM, "/任务 新增 写接口 dept:市场", "市场", "市场部"),
        ("李四", "/成员 修改 我 部门:设计", "设计", "设计部"),
        (PM, "/成员 添加 @张三 部门:研发二部", "研发二部", "研发部"),
        (PM, "/任务 列表 部门:市场部门", "市场部门", "市场部"),
    ],
)
def test_an_unknown_department_is_answered_with_the_nearest_and_changes_nothing(
    project: ConsoleChat, unchanged: Unchanged, sender: str, message: str, typed: str, suggested: str
) -> None:
    with unchanged(project):
        reply = project.say(message, name=sender)
    assert reply.startswith(f"没有部门“{typed}”，是不是 {suggested}？")


def test_a_department_nothing_like_any_is_listed_with_how_to_add_it(project: ConsoleChat, unchanged: Unchanged) -> None:
    project.say("/任务 新增 写接口 @李四", name=PM)
    with unchanged(project):
        reply = project.say("/任务 修改 #1 部门:财务", name=PM)
        member_reply = project.say("/成员 修改 我 部门:财务", name="李四")
    assert reply.startswith("没有部门“财务”。\n现有部门：研发部、市场部、设计部。要新增请发：/部门 添加 财务")
    assert "新增部门请找 PM（/部门 添加 财务）" in member_reply


@pytest.mark.parametrize(
    ("message", "typed", "suggested"),
    [
        ("/任务 新增 写接口 @李思", "李思", "李四"),
        ("/任务 新增 写接口 负责人:赵陆", "赵陆", "赵六"),
        ("/行动 新增 订酒店 @张山 截止:周五", "张山", "张三"),
        ("/任务 列表 @王经", "王经", "王经理"),
        ("/任务 新增 写接口 @lisi", "lisi", "李四"),
    ],
)
def test_a_typed_name_that_matches_no_member_is_refused_with_the_nearest(
    project: ConsoleChat, unchanged: Unchanged, message: str, typed: str, suggested: str
) -> None:
    with unchanged(project):
        reply = project.say(message, name=PM)
    assert reply.startswith(f"项目里没有成员“{typed}”，是不是 {suggested}？")


def test_a_typed_name_like_nobody_is_added_out_loud_and_can_be_taken_back(project: ConsoleChat) -> None:
    project.say("/任务 新增 写接口 @李四", name=PM)
    reply = project.say("/任务 修改 #1 @欧阳修", name=PM)
    assert reply.splitlines()[-1] == "（欧阳修 之前不在项目里，已加为成员；写错了请发 /撤销）"
    assert ("欧阳修", True) in members(project)
    undone = project.say("/撤销", name=PM)
    assert "负责人：欧阳修 → 李四" in undone
    assert ("欧阳修", False) in members(project)  # out again; the row stays for the history


def test_a_name_typed_in_an_option_must_be_a_member(project: ConsoleChat, unchanged: Unchanged) -> None:
    project.say("/任务 新增 写接口 @李四", name=PM)
    with unchanged(project):
        reply = project.say("/任务 修改 #1 负责人:欧阳修", name=PM)
        named = (
            "/任务 列表 @欧阳修", "/行动 列表 @欧阳修", "/撤销 @欧阳修", "/成员 移除 @欧阳修", "/成员 修改 @欧阳修 部门:研发部",
        )
        for other in named:  # naming someone is not assigning them: nobody is added
            assert project.say(other, name=PM).startswith("项目里没有成员“欧阳修”。"), other
    assert reply.startswith("项目里没有成员“欧阳修”。请 @ 群里的人，或请 PM 先添加：/成员 添加 @欧阳修")
    assert "已添加 @欧阳修" in project.say("/成员 添加 @欧阳修", name=PM)  # the explicit way
    assert "负责人 李四 → @欧阳修" in project.say("/任务 修改 #1 负责人:欧阳修", name=PM)


def say_with_platform_mention(chat: ConsoleChat, text: str, mention: Mention) -> str:
    """A message whose mention the platform resolved (a real @, with the person's id), not typed."""
    incoming = Incoming(
        platform="console", event_key=f"k-{text}", chat_id=chat.chat_id, sender_id=PM, sender_name=PM,
        text=text.replace(f"@{mention.name}", f"<@{mention.user_id}>"), sent_at=chat.clock(), mentions=(mention,),
    )
    for event_id in chat.runtime.dispatcher.accept([incoming]):
        chat.runtime.dispatcher.process(event_id)
    out: list[str] = []
    deliver_console(chat.runtime.session_factory, out.append, chat_id=chat.chat_id, clock=chat.clock)
    return "\n".join(out)


def test_a_platform_mention_of_someone_new_still_adds_them(project: ConsoleChat) -> None:
    reply = say_with_platform_mention(project, "/任务 新增 写接口 @李思", Mention("ou_lisi", "李思"))
    assert reply.startswith("已新增 #1 写接口")
    assert ("李思", True) in members(project)


def test_the_pm_removes_a_member_keeping_history_and_listing_their_open_tasks(project: ConsoleChat) -> None:
    project.say("/任务 新增 写接口 @李四 截止:周五", name=PM)
    project.say("/任务 新增 联调 @李四 截止:下周五", name=PM)
    project.say("/任务 新增 压测 @赵六", name=PM)
    project.say("/完成 #2", name="李四")
    reply = project.say("/成员 移除 @李四", name=PM)
    assert reply.splitlines() == [
        "已把 李四 移出项目（历史记录保留）。",
        "李四 还有 1 个未完成的任务，请改派：",
        "  #1 写接口 · 截止11-27(周五)",
        "改派：/任务 修改 #1 @新负责人",
    ]
    assert ("李四", False) in members(project)  # the row stays, inactive
    assert "李四" not in project.say("/成员 列表")
    assert "11-23 10:00 李四 待开始 → 已完成" in project.say("/任务 #2")  # old history still names them
    assert "李四 已移出项目" in project.say("/任务 新增 写文档 @李四", name=PM)
    assert "负责人 李四 → @赵六" in project.say("/任务 修改 #1 @赵六", name=PM)
    assert "已添加 @李四" in project.say("/成员 添加 @李四", name=PM)  # back again
    assert ("李四", True) in members(project)


def test_removing_is_for_the_pm_and_the_project_keeps_a_pm(project: ConsoleChat, unchanged: Unchanged) -> None:
    with unchanged(project):
        assert "只有项目经理（PM）可以移除成员" in project.say("/成员 移除 @赵六", name="李四")
        assert "项目至少要有一位 PM" in project.say("/成员 移除 @王经理", name=PM)
        assert "请 @ 要移除的人，例如 @赵六" in project.say("/成员 移除 赵六", name=PM)
        assert "是不是 赵六？" in project.say("/成员 移除 @赵陆", name=PM)


def test_a_removal_can_be_undone(project: ConsoleChat) -> None:
    project.say("/成员 移除 @张三", name=PM)
    assert ("张三", False) in members(project)
    project.say("/撤销", name=PM)
    assert ("张三", True) in members(project)


def test_departments_and_tasks_of_a_removed_member_are_kept(project: ConsoleChat) -> None:
    project.say("/任务 新增 写接口 @李四", name=PM)
    project.say("/成员 移除 @李四", name=PM)
    owner = query(project, lambda s: s.scalar(select(Member.name).join(Task, Task.owner_id == Member.id)))
    assert owner == "李四"
    departments = query(project, lambda s: s.scalars(select(Department.name)).all())
    assert departments == ["研发部", "市场部", "设计部"]
