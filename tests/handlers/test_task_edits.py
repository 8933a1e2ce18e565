"""/任务 修改 | 取消 | 恢复 | 依赖, subtasks, and the history rows they write."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date

from sqlalchemy import select

from models import Change, Task, TaskStatus
from tests.chat import ConsoleChat
from tests.handlers.conftest import PM, query

Unchanged = Callable[[ConsoleChat], AbstractContextManager[None]]


def task(chat: ConsoleChat, number: int) -> Task:
    found = query(chat, lambda s: s.scalar(select(Task).where(Task.number == number)))
    assert isinstance(found, Task)
    return found


def changes(chat: ConsoleChat, number: int) -> list[tuple[str, str | None, str | None, str | None]]:
    t = task(chat, number)
    rows = query(
        chat,
        lambda s: s.execute(
            select(Change.field, Change.old_value, Change.new_value, Change.note)
            .where(Change.entity == "task", Change.entity_id == t.id)
            .order_by(Change.id)
        ).all(),
    )
    return [tuple(r) for r in rows]  # type: ignore[union-attr, misc]


def test_pm_edits_owner_due_title_dept_deliverable_with_history(project: ConsoleChat) -> None:
    project.say("/任务 新增 写接口 @李四 截止:周五", name=PM)
    reply = project.say("/任务 修改 #1 截止:下周一 @赵六 标题:写后端接口 部门:研发部 交付物:接口文档 说明:人手调整", name=PM)
    assert reply.splitlines() == [
        "已修改 #1 写后端接口",
        "标题 → 写后端接口",
        "负责人 李四 → @赵六",
        "截止 11-27(周五) → 11-30(周一)",
        "部门 无 → 研发部",
        "交付物 → 接口文档",
        "说明：人手调整",
    ]
    t = task(project, 1)
    assert (t.title, t.due_date, t.deliverable) == ("写后端接口", date(2026, 11, 30), "接口文档")
    assert changes(project, 1)[1:] == [
        ("title", "写接口", "写后端接口", "人手调整"),
        ("owner", "李四", "赵六", "人手调整"),
        ("due", "2026-11-27", "2026-11-30", "人手调整"),
        ("dept", None, "研发部", "人手调整"),
        ("deliverable", None, "接口文档", "人手调整"),
    ]
    detail = project.say("/任务 #1")
    assert "截止：2026-11-27 → 2026-11-30（人手调整）" in detail and "负责人：李四 → 赵六（人手调整）" in detail


def test_english_edit_with_english_date(project: ConsoleChat) -> None:
    project.say("/task add Write API @李四", name=PM)
    reply = project.say("/task edit #1 due:next Monday start:tomorrow title:Write the API", name=PM)
    assert "截止 未定 → 11-30(周一)" in reply and "开始 未定 → 11-24(周二)" in reply
    assert task(project, 1).title == "Write the API"


def test_owner_edits_own_task_but_cannot_reassign(project: ConsoleChat, unchanged: Unchanged) -> None:
    project.say("/任务 新增 写接口 @李四 截止:周五", name=PM)
    assert "截止 11-27(周五) → 12-01(周二)" in project.say("/任务 修改 #1 截止:12-01", name="李四")
    with unchanged(project):
        assert "只有 PM 可以改派 #1 的负责人" in project.say("/任务 修改 #1 @赵六", name="李四")
        assert "只有负责人或 PM 可以更新" in project.say("/任务 修改 #1 截止:12-02", name="赵六")


def test_clearing_fields_and_date_checks(project: ConsoleChat, unchanged: Unchanged) -> None:
    project.say("/任务 新增 写接口 @李四 截止:周五 开始:今天 交付物:文档", name=PM)
    with unchanged(project):
        assert "开始日期 2026-12-10 晚于截止日期 2026-11-27" in project.say("/任务 修改 #1 开始:12-10", name=PM)
        assert "已经过去了" in project.say("/任务 修改 #1 截止:2026-11-01", name=PM)
        assert "没有 2026-02-30 这一天" in project.say("/任务 修改 #1 截止:2026-02-30", name=PM)
        assert "缺少任务标题" in project.say("/任务 修改 #1 标题:", name=PM)
        assert "任务标题太长" in project.say("/任务 修改 #1 标题:" + "长" * 201, name=PM)
        assert "没有要修改的内容。改标题请写 标题:新标题" in project.say("/任务 修改 #1 新标题", name=PM)
        assert "#1 没有变化" in project.say("/任务 修改 #1 截止:周五", name=PM)
    reply = project.say("/任务 修改 #1 截止:无 交付物:无", name=PM)
    assert "截止 11-27(周五) → 未定" in reply and "交付物 → 无" in reply
    t = task(project, 1)
    assert t.due_date is None and t.deliverable is None


def test_cancel_with_reason_and_reopen(project: ConsoleChat, unchanged: Unchanged) -> None:
    project.say("/任务 新增 写接口 @李四", name=PM)
    project.say("/任务 新增 联调 @赵六 依赖:#1", name=PM)
    reply = project.say("/任务 取消 #1 需求砍掉", name="李四")
    assert "已取消 #1 写接口\n原因：需求砍掉" in reply
    assert "注意：#2 依赖它" in reply
    assert task(project, 1).status == TaskStatus.CANCELLED
    assert changes(project, 1)[-1] == ("status", "todo", "cancelled", "需求砍掉")
    with unchanged(project):
        assert "#1 已经取消了" in project.say("/task cancel #1", name=PM)
        assert "已取消，不能再更新" in project.say("#1 完成", name="李四")
        assert "只有项目经理（PM）可以恢复" in project.say("/任务 恢复 #1", name="李四")
        assert "只有负责人或 PM 可以更新" in project.say("/任务 取消 #2", name="李四")
    assert "已恢复 #1 写接口 → 待开始" in project.say("/task reopen #1", name=PM)
    project.say("#1 完成", name="李四")
    with unchanged(project):
        assert "#1 已完成，不能取消" in project.say("/任务 取消 #1", name=PM)


def test_dependencies_add_remove_clear(project: ConsoleChat) -> None:
    for title in ("设计", "开发", "测试", "上线"):
        project.say(f"/任务 新增 {title} @李四", name=PM)
    reply = project.say("/任务 依赖 #4 #2，#3", name=PM)
    assert reply.splitlines() == ["#4 现在依赖 #2，#3", "#4 上线 的前置任务：#2⚪，#3⚪"]
    assert "#4 现在依赖 #1" in project.say("/task dep #4 #1", name=PM)
    assert "#4 不再依赖 #2" in project.say("/任务 依赖 #4 去掉 #2", name=PM)
    assert "#4 不再依赖 #3" in project.say("/task deps #4 remove #3", name=PM)
    assert "#4 的前置任务：#1⚪" in project.say("/任务 依赖 #4")
    assert "已清空 #4 的前置任务（原来：#1）" in project.say("/任务 依赖 #4 清空", name=PM)
    deps = [c for c in changes(project, 4) if c[0] == "deps"]
    assert deps == [
        ("deps", None, "#2,#3", None),
        ("deps", "#2,#3", "#1,#2,#3", None),
        ("deps", "#1,#2,#3", "#1,#3", None),
        ("deps", "#1,#3", "#1", None),
        ("deps", "#1", None, None),
    ]


def test_dependencies_refuse_self_and_cycles(project: ConsoleChat, unchanged: Unchanged) -> None:
    for title in ("设计", "开发", "测试"):
        project.say(f"/任务 新增 {title} @李四", name=PM)
    project.say("/任务 依赖 #2 #1", name=PM)
    project.say("/任务 依赖 #3 #2", name=PM)
    with unchanged(project):
        assert "#1 不能依赖自己" in project.say("/任务 依赖 #1 #1", name=PM)
        reply = project.say("/任务 依赖 #1 #3", name=PM)
        assert "不能让 #1 依赖 #3：#3 已经依赖 #1（#3 → #2 → #1），会形成循环" in reply
        assert "已经依赖 #1" in project.say("/任务 依赖 #2 #1", name=PM)
        assert "本来就不依赖 #3" in project.say("/任务 依赖 #2 去掉 #3", name=PM)
        assert "本项目没有任务 #99" in project.say("/任务 依赖 #2 #99", name=PM)
        assert "应当是任务编号" in project.say("/任务 依赖 #2 三", name=PM)
        assert "只有负责人或 PM 可以更新" in project.say("/任务 依赖 #2 #3", name="赵六")


def test_subtasks_parent_set_later_and_cycles_refused(project: ConsoleChat, unchanged: Unchanged) -> None:
    project.say("/任务 新增 发布会 @李四", name=PM)
    project.say("/任务 新增 场地 @李四 父:#1", name=PM)
    project.say("/任务 新增 物料 @李四", name=PM)
    assert "父任务 → #1 发布会" in project.say("/任务 修改 #3 父:#1", name=PM)
    project.say("/任务 新增 海报 @李四 父:#3", name=PM)
    assert "子任务：#2⚪，#3⚪" in project.say("/任务 #1")
    assert "父任务：#1 发布会" in project.say("/任务 #3")
    with unchanged(project):
        assert "#1 不能做自己的父任务" in project.say("/任务 修改 #1 父:#1", name=PM)
        reply = project.say("/任务 修改 #1 父:#4", name=PM)
        assert "#4 是 #1 的子任务（#1 → #3 → #4），不能反过来做它的父任务" in reply
    assert "父任务 → 无" in project.say("/任务 修改 #3 父:无", name=PM)
    assert task(project, 3).parent_id is None


def test_member_adds_task_for_self_only(project: ConsoleChat, unchanged: Unchanged) -> None:
    assert "已新增 #1 整理需求" in project.say("/任务 新增 整理需求 截止:周五", name="李四")
    assert "负责人：李四" in project.say("/任务 #1")
    with unchanged(project):
        assert "成员只能给自己新增任务" in project.say("/任务 新增 写代码 @赵六", name="李四")
        assert "没有部门“研发二部”，是不是 研发部？" in project.say("/任务 新增 写代码 部门:研发二部", name="李四")


def test_typed_without_spaces(project: ConsoleChat) -> None:
    reply = project.say("/任务 新增 写稿@李四截止:周五", name=PM)
    assert reply.splitlines() == ["已新增 #1 写稿", "负责人 @李四 · 截止 11-27(周五)"]
    assert project.say("/任务新增 设计海报截止:下周三", name=PM).splitlines()[0] == "已新增 #2 设计海报"


def test_list_filters_by_department(project: ConsoleChat) -> None:
    project.say("/任务 新增 写接口 @李四 部门:研发部", name=PM)
    project.say("/任务 新增 写文案 @张三 部门:市场部", name=PM)
    reply = project.say("/任务 列表 部门:市场部")
    assert reply.splitlines()[0] == "【市场部 · 未完成的任务（1）】" and "#2" in reply and "#1" not in reply
    assert "【研发部 · 阻塞的任务" not in project.say("/task list blocked dept:研发部")
    assert "研发部 · 阻塞的任务：没有。" in project.say("/task list blocked dept:研发部")
