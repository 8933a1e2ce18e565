"""Change requests (issue 15): /变更 新增 changes nothing until approved; a refusal keeps the plan; an approval
applies it through the task commands, each change in the history with its change number."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date

from sqlalchemy import select

from models import Change, ChangeRequest, Task, TaskStatus
from tests.chat import ConsoleChat
from tests.handlers.conftest import PM

Unchanged = Callable[[ConsoleChat], AbstractContextManager[None]]


def tasks(chat: ConsoleChat) -> dict[int, tuple[str, str, date | None, TaskStatus]]:
    with chat.runtime.session_factory() as session:
        return {
            t.number: (t.title, t.owner.name if t.owner else "", t.due_date, t.status)
            for t in session.scalars(select(Task).order_by(Task.number))
        }


def requests(chat: ConsoleChat) -> dict[str, str]:
    with chat.runtime.session_factory() as session:
        return {r.ref: r.status for r in session.scalars(select(ChangeRequest).order_by(ChangeRequest.number))}


def task_history(chat: ConsoleChat, number: int) -> list[tuple[str, str | None, str | None, str | None]]:
    with chat.runtime.session_factory() as session:
        task_id = session.scalars(select(Task.id).where(Task.number == number)).one()
        return [(c.field, c.old_value, c.new_value, c.note) for c in session.scalars(
            select(Change).where(Change.entity == "task", Change.entity_id == task_id).order_by(Change.id))]


def plan(chat: ConsoleChat) -> None:
    chat.say("/任务 新增 写发布稿 @李四 截止:2026-12-04", name=PM)
    chat.say("/任务 新增 订场地 @张三 截止:2026-12-10 依赖:#1", name=PM)
    chat.say("/任务 新增 买水 @赵六 截止:2026-12-08", name=PM)


def test_a_change_is_refused_then_asked_again_approved_and_applied(project: ConsoleChat, unchanged: Unchanged) -> None:
    plan(project)
    with unchanged(project):
        assert "缺少变更原因" in project.say("/变更 新增 #1 截止:12-09 影响:晚两天", name="李四")
    asked = project.say("/变更 新增 #1 截止:12-09 原因:接口延期 影响:发布稿晚三天 预算:无", name="李四")
    assert "【变更申请 C1】" in asked and "原因：接口延期" in asked and "影响：发布稿晚三天" in asked
    assert "#1 写发布稿 截止 12-04(周五) → 12-09(周三)（推迟 3 个工作日）" in asked
    assert "#2 订场地 依赖 #1" not in asked  # #2 has no start date: nothing to warn about
    assert "@王经理 请处理：/变更 批准 C1" in asked
    assert tasks(project)[1][2] == date(2026, 12, 4)  # nothing changes before the approval
    assert "只有 PM 可以批准变更" in project.say("/变更 批准 C1", name="张三")
    rejected = project.say("/变更 驳回 C1 原因:发布会不能推迟", name=PM)
    assert "驳回了变更 C1，计划不变" in rejected and "原因：发布会不能推迟" in rejected
    assert requests(project) == {"C1": "rejected"} and tasks(project)[1][2] == date(2026, 12, 4)
    assert "C1 已驳回，不能再批准" in project.say("/变更 批准 C1", name=PM)
    project.say("/变更 新增 #1 截止:12-07 原因:接口延期，压缩到一个工作日", name="李四")
    applied = project.say("/变更 批准 C2", name=PM)
    assert "@李四 C2 已批准并执行" in applied and "截止 12-04(周五) → 12-07(周一)" in applied
    assert requests(project) == {"C1": "rejected", "C2": "applied"} and tasks(project)[1][2] == date(2026, 12, 7)
    history = task_history(project, 1)
    assert ("due", "2026-12-04", "2026-12-07", "变更 C2：接口延期，压缩到一个工作日") in history
    assert ("change_request", None, "C2", "接口延期，压缩到一个工作日") in history
    listed = project.say("/变更 列表", name="赵六")
    assert "C2 已批准并执行 · #1 截止→12-07(周一)" in listed and "C1 已驳回" in listed
    shown = project.say("/变更 C1", name="赵六")
    assert "驳回：王经理" in shown and "原因：发布会不能推迟" in shown


def test_new_and_cancelled_tasks_are_applied_through_the_task_commands(project: ConsoleChat) -> None:
    plan(project)
    asked = project.say("/变更 新增 新增任务:做海报 @张三 截止:12-15 取消:#3 原因:市场要求 目标:提升到场率", name="李四")
    assert "新增任务：做海报 · 负责人 张三 · 截止 12-15(周二)" in asked and "取消任务：#3 买水" in asked
    assert "对目标：提升到场率" in asked and len(tasks(project)) == 3
    applied = project.say("/变更 批准 C1", name=PM)
    assert "已新增 #4 做海报" in applied and "已取消 #3 买水" in applied
    after = tasks(project)
    assert after[4] == ("做海报", "张三", date(2026, 12, 15), TaskStatus.TODO)
    assert after[3][3] == TaskStatus.CANCELLED
    assert ("status", "todo", "cancelled", "变更 C1：市场要求") in task_history(project, 3)
    assert ("change_request", None, "C1", "市场要求") in task_history(project, 4)
    assert "新增“做海报”（#4）" in project.say("/变更 列表", name=PM)


def test_the_sponsor_approves_too_when_the_project_asks_for_it(project: ConsoleChat) -> None:
    plan(project)
    assert "还没有发起人" in project.say("/项目 设置 变更审批 发起人", name=PM)
    project.say("/项目 设置 发起人 @钱总", name=PM)
    assert "PM 和发起人都批准" in project.say("/项目 设置 变更审批 发起人", name=PM)
    asked = project.say("/变更 新增 #2 截止:12-18 原因:场地档期", name="张三")
    assert "@王经理 @钱总 请处理" in asked
    waiting = project.say("/变更 批准 C1", name=PM)
    assert "还需发起人批准后执行" in waiting and "@钱总" in waiting
    assert tasks(project)[2][2] == date(2026, 12, 10) and requests(project) == {"C1": "pending"}
    assert "你已经批准过 C1，还在等发起人批准" in project.say("/变更 批准 C1", name=PM)
    assert "只有 PM 或发起人可以批准变更" in project.say("/变更 批准 C1", name="李四")
    assert "已批准并执行" in project.say("/变更 批准 C1", name="钱总")
    assert tasks(project)[2][2] == date(2026, 12, 18) and requests(project) == {"C1": "applied"}
    assert "PM 批准：王经理" in project.say("/变更 C1", name=PM)


def test_a_change_that_no_longer_applies_is_refused_whole_and_stays_pending(project: ConsoleChat) -> None:
    plan(project)
    project.say("/变更 新增 #1 截止:12-09 取消:#3 原因:调整范围", name=PM)
    project.say("/任务 取消 #3 不要了", name=PM)  # cancelled meanwhile, outside the change
    refused = project.say("/变更 批准 C1", name=PM)
    assert "#3 已经取消了" in refused
    assert tasks(project)[1][2] == date(2026, 12, 4) and requests(project) == {"C1": "pending"}


def test_bad_change_requests_say_why_and_allocate_no_number(project: ConsoleChat, unchanged: Unchanged) -> None:
    plan(project)
    project.say("/任务 取消 #3 不要了", name=PM)
    with unchanged(project):
        assert "本项目没有任务 #9" in project.say("/变更 新增 #9 截止:12-09 原因:x", name=PM)
        assert "#3 已取消" in project.say("/变更 新增 #3 截止:12-09 原因:x", name=PM)
        assert "要改 #1 的什么" in project.say("/变更 新增 #1 原因:x", name=PM)
        assert "已经是这个日期" in project.say("/变更 新增 #1 截止:2026-12-04 原因:x", name=PM)
        assert "开始日期 2026-12-20 会晚于截止日期" in project.say("/变更 新增 #1 开始:12-20 原因:x", name=PM)
        assert "缺少变更内容" in project.say("/变更 新增 原因:x", name=PM)
        assert "不是变更编号" in project.say("/变更 批准 #1", name=PM)
        assert "本项目没有变更 C5" in project.say("/变更 驳回 C5 原因:x", name=PM)
    assert requests(project) == {}


def test_owners_deadline_requests_are_listed_with_the_changes(project: ConsoleChat) -> None:
    plan(project)
    project.say("/项目 设置 延期审批 开", name=PM)
    project.say("/任务 修改 #1 截止:12-11", name="李四")
    listed = project.say("/变更 列表", name=PM)
    assert "负责人的延期申请（1，/任务 批准 #N" in listed and "#1 截止 12-04(周五) → 12-11(周五)（李四）" in listed
