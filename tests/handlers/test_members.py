"""/成员 and /部门: adding people, departments and roles; who may change what."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy import select

from models import Change, Department, Member, Role
from tests.chat import ConsoleChat
from tests.handlers.conftest import PM, query

Unchanged = Callable[[ConsoleChat], AbstractContextManager[None]]


def member(chat: ConsoleChat, name: str) -> Member:
    found = query(chat, lambda s: s.scalar(select(Member).where(Member.name == name)))
    assert isinstance(found, Member)
    return found


def test_pm_adds_members_with_department_and_role(chat: ConsoleChat) -> None:
    chat.say("/项目 创建 发布会 部门:研发部")
    reply = chat.say("/成员 添加 @李四 部门:研发部 角色:副PM")
    assert "已添加 @李四：部门 无 → 研发部，角色 成员 → 副PM" in reply
    li = member(chat, "李四")
    assert li.role == Role.CO_PM
    changes = query(chat, lambda s: s.scalars(select(Change.field).where(Change.entity == "member")).all())
    assert sorted(changes) == ["dept", "role"]  # type: ignore[arg-type]


def test_english_member_and_dept_commands(chat: ConsoleChat) -> None:
    chat.say("/project init Launch")
    assert "已新增部门：R&D、Sales" in chat.say("/dept add R&D,Sales")
    assert "已添加 @Li" in chat.say("/member add @Li dept:R&D role:member")
    reply = chat.say("/members list")
    assert "▸ R&D（1）" in reply and "Li" in reply
    assert "R&D · Li · 未完成任务 0" in chat.say("/dept list")


def test_members_listed_grouped_by_department_with_open_tasks(project: ConsoleChat) -> None:
    project.say("/任务 新增 写接口 @李四 截止:周五", name=PM)
    project.say("/任务 新增 写文案 @张三", name=PM)
    reply = project.say("/成员 列表")
    assert reply.splitlines() == [
        "【成员（4）】",
        "▸ 研发部（2）",
        "  李四 · 未完成 1",
        "  赵六",
        "▸ 市场部（1）",
        "  张三 · 未完成 1",
        "▸ 未分部门（1）",
        "  王经理（PM）",
    ]


def test_member_cannot_add_members_or_change_others(project: ConsoleChat, unchanged: Unchanged) -> None:
    with unchanged(project):
        assert "只有项目经理（PM）可以添加成员" in project.say("/成员 添加 @钱七", name="李四")
        assert "只有 PM 可以修改别人的部门或角色" in project.say("/成员 修改 @赵六 部门:市场部", name="李四")
        assert "只有 PM 可以设置角色" in project.say("/成员 修改 我 角色:PM", name="李四")


def test_member_sets_own_department_but_cannot_invent_one(project: ConsoleChat, unchanged: Unchanged) -> None:
    assert "已修改 李四：部门 研发部 → 设计部" in project.say("/成员 修改 我 部门:设计部", name="李四")
    with unchanged(project):
        reply = project.say("/成员 修改 我 部门:研发二部", name="李四")
    assert "没有部门“研发二部”，是不是 研发部？" in reply and "现有部门：研发部、市场部、设计部" in reply


def test_a_new_department_comes_only_from_the_pms_explicit_add(project: ConsoleChat, unchanged: Unchanged) -> None:
    # Issue 9 changed this: naming an unknown department in 部门: no longer creates it, even for the PM.
    with unchanged(project):
        reply = project.say("/成员 添加 @钱七 部门:法务部", name=PM)
    assert "没有部门“法务部”。" in reply and "要新增请发：/部门 添加 法务部" in reply
    assert "已新增部门：法务部" in project.say("/部门 添加 法务部", name=PM)
    assert "部门 无 → 法务部" in project.say("/成员 添加 @钱七 部门:法务部", name=PM)
    names = query(project, lambda s: s.scalars(select(Department.name).order_by(Department.id)).all())
    assert names == ["研发部", "市场部", "设计部", "法务部"]


def test_co_pm_manages_members_but_not_roles(project: ConsoleChat, unchanged: Unchanged) -> None:
    project.say("/成员 修改 @张三 角色:副PM", name=PM)
    assert "已添加 @钱七" in project.say("/成员 添加 @钱七 部门:设计部", name="张三")
    with unchanged(project):
        assert "只有 PM 可以设置角色" in project.say("/成员 修改 @钱七 角色:副PM", name="张三")


def test_last_pm_cannot_demote_themself(project: ConsoleChat, unchanged: Unchanged) -> None:
    with unchanged(project):
        reply = project.say("/成员 修改 我 角色:成员", name=PM)
    assert "项目至少要有一位 PM" in reply
    project.say("/成员 修改 @张三 角色:PM", name=PM)
    assert "角色 PM → 成员" in project.say("/成员 修改 我 角色:成员", name=PM)
    assert member(project, PM).role == Role.MEMBER
    assert member(project, "张三").role == Role.PM
    # The old PM is a member now: refused.
    assert "只有项目经理（PM）可以添加成员" in project.say("/成员 添加 @钱七", name=PM)


def test_department_add_refuses_duplicates_and_long_names(project: ConsoleChat, unchanged: Unchanged) -> None:
    with unchanged(project):
        assert "部门已存在：研发部" in project.say("/部门 添加 研发部", name=PM)
        assert "部门名称太长" in project.say("/部门 添加 " + "很" * 51, name=PM)
        assert "缺少部门名称" in project.say("/部门 添加", name=PM)
        assert "只有项目经理（PM）可以新增部门" in project.say("/部门 添加 法务部", name="李四")
    assert "已新增部门：法务部（已存在：研发部）" in project.say("/部门 添加 研发部、法务部", name=PM)


def test_department_list_counts_members_and_open_tasks(project: ConsoleChat) -> None:
    project.say("/任务 新增 写接口 @李四 部门:研发部", name=PM)
    project.say("/任务 新增 联调 @赵六 部门:研发部", name=PM)
    project.say("#2 完成", name="赵六")
    assert project.say("/部门 列表").splitlines() == [
        "【部门（3）】",
        "研发部 · 李四、赵六 · 未完成任务 1",
        "市场部 · 张三 · 未完成任务 0",
        "设计部 · 暂无成员 · 未完成任务 0",
    ]


def test_bad_member_input(project: ConsoleChat, unchanged: Unchanged) -> None:
    with unchanged(project):
        assert "请 @ 要添加的人" in project.say("/成员 添加 部门:研发部", name=PM)
        assert "不认识角色“老板”" in project.say("/成员 添加 @李四 角色:老板", name=PM)
        assert "请写明要改的部门或角色" in project.say("/成员 修改 @李四", name=PM)
        reply = project.say("/成员 添加 李四", name=PM)
        assert "请 @ 要添加的人，例如 @李四" in reply and "用法：/成员 添加 @某人" in reply
