"""/撤销: everything one message changed is taken back exactly, recorded as an undo; who may undo what."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import time
from typing import Any

from sqlalchemy import select

from models import Change, Member, Project, Role, Task, TaskStatus
from tests.chat import ConsoleChat
from tests.handlers.conftest import PM, query

Unchanged = Callable[[ConsoleChat], AbstractContextManager[None]]
TASK_COLUMNS = [c for c in Task.__table__.columns if c.name != "updated_at"]


def row(chat: ConsoleChat, number: int) -> dict[str, Any]:
    found = query(chat, lambda s: s.execute(select(*TASK_COLUMNS).where(Task.number == number)).one())
    values = dict(found._mapping)  # type: ignore[attr-defined]
    with chat.runtime.session_factory() as session:
        task = session.scalar(select(Task).where(Task.number == number))
        assert task is not None
        values["predecessors"] = sorted(p.number for p in task.predecessors)
    return values


def two_tasks(chat: ConsoleChat) -> None:
    chat.say("/任务 新增 写发布稿 @李四 截止:周五", name=PM)
    chat.say("/任务 新增 发布会 @赵六 截止:下周五 依赖:#1", name=PM)


def test_a_wrong_completion_is_undone_exactly_and_the_next_owner_is_told(project: ConsoleChat) -> None:
    two_tasks(project)
    project.clock.advance(hours=1)
    project.say("/进度 #1 60% 初稿", name="李四")
    before = row(project, 1)
    project.clock.advance(hours=1)
    done = project.say("/完成 #1", name="李四")
    assert "可以开始：#2" in done and row(project, 1)["status"] == TaskStatus.DONE
    project.clock.advance(minutes=5)
    reply = project.say("/撤销", name="李四")
    assert reply.splitlines()[0] == "已撤销你 11-23 12:00 的修改，恢复为："
    assert "#1 写发布稿：已完成 → 进行中，进度 100% → 60%" in reply
    assert "#2 发布会（@赵六）先不能开始" in reply
    assert row(project, 1) == before  # status, progress, when the status began, completion time
    detail = project.say("/任务 #1", name="李四")
    assert "已完成 → 进行中（撤销）" in detail


def test_undoing_twice_takes_back_the_next_older_change_then_says_there_is_none(project: ConsoleChat) -> None:
    two_tasks(project)
    fresh = row(project, 1)
    project.say("/开始 #1", name="李四")
    started = row(project, 1)
    project.say("/阻塞 #1 等法务审批", name="李四")
    first = project.say("撤销", name="李四")  # typed alone, without the slash
    assert "阻塞 → 进行中" in first and row(project, 1) == started
    second = project.say("撤回", name="李四")
    assert "进行中 → 待开始" in second and row(project, 1) == fresh
    assert project.say("/undo", name="李四") == "你在本群没有可以撤销的修改。"


def test_a_blocked_reason_changed_while_blocked_is_restored(project: ConsoleChat) -> None:
    two_tasks(project)
    project.say("/阻塞 #1 等法务审批", name="李四")
    blocked = row(project, 1)
    project.say("/阻塞 #1 等供应商报价", name="李四")
    assert row(project, 1)["blocked_reason"] == "等供应商报价"
    reply = project.say("/撤销", name="李四")
    assert "阻塞原因：等供应商报价 → 等法务审批" in reply
    assert row(project, 1) == blocked


def test_one_message_that_changed_several_tasks_is_undone_whole(project: ConsoleChat) -> None:
    two_tasks(project)
    project.say("/任务 新增 订场地 @李四 截止:周五", name=PM)
    before = [row(project, 1), row(project, 3)]
    project.say("#1 #3 完成", name="李四")
    assert row(project, 1)["status"] == row(project, 3)["status"] == TaskStatus.DONE
    reply = project.say("/撤销", name="李四")
    assert "#1 写发布稿" in reply and "#3 订场地" in reply
    assert [row(project, 1), row(project, 3)] == before


def test_an_edit_of_owner_dates_title_department_and_dependencies_is_restored(project: ConsoleChat) -> None:
    two_tasks(project)
    project.say("/任务 新增 物料 @张三 截止:周五", name=PM)
    before = row(project, 2)
    project.say("/任务 修改 #2 截止:12月20日 开始:周三 @张三 标题:线上发布会 部门:市场部 交付物:直播链接 父:#3", name=PM)
    project.say("/任务 依赖 #2 #3", name=PM)
    assert row(project, 2)["predecessors"] == [1, 3]
    assert "依赖：#1,#3 → #1" in project.say("/撤销", name=PM)
    reply = project.say("/撤销", name=PM)
    assert "标题：线上发布会 → 发布会" in reply and "负责人：张三 → 赵六" in reply
    assert row(project, 2) == before


def test_the_pm_undoes_a_members_change_by_name_or_by_task(project: ConsoleChat) -> None:
    two_tasks(project)
    before = row(project, 1)
    project.say("/完成 #1", name="李四")
    reply = project.say("/撤销 @李四", name=PM)
    assert reply.startswith("已撤销李四 ") and row(project, 1) == before
    project.say("/开始 #1", name="李四")
    assert "已撤销李四" in project.say("/撤销 #1", name=PM)
    assert row(project, 1) == before
    history = query(project, lambda s: s.execute(select(Change.actor_id, Change.undo_of).where(Change.note == "撤销")).all())
    pm_id = query(project, lambda s: s.scalar(select(Member.id).where(Member.name == PM)))
    assert history and all(actor == pm_id and undo_of for actor, undo_of in history)  # type: ignore[union-attr]


def test_a_member_cannot_undo_someone_elses_change(project: ConsoleChat, unchanged: Unchanged) -> None:
    two_tasks(project)
    project.say("/完成 #1", name="李四")
    with unchanged(project):
        assert "只有 PM 可以撤销别人的修改" in project.say("/撤销 @李四", name="赵六")
        assert "#1 最近一次修改是 李四 做的，只有 PM 可以撤销别人的修改" in project.say("/撤销 #1", name="赵六")
        assert project.say("/撤销", name="赵六") == "你在本群没有可以撤销的修改。"


def test_a_change_made_again_later_by_someone_else_is_not_overwritten(project: ConsoleChat, unchanged: Unchanged) -> None:
    two_tasks(project)
    project.say("/进度 #1 30%", name="李四")
    project.say("/进度 #1 50%", name=PM)
    with unchanged(project):
        reply = project.say("/撤销", name="李四")
    assert "没有撤销" in reply and "王经理 改过" in reply
    project.say("/任务 修改 #2 截止:12月18日", name=PM)  # another column of another task: no conflict
    assert "已撤销" in project.say("/撤销 @王经理", name=PM)


def test_a_change_that_was_itself_undone_does_not_block_an_older_undo(project: ConsoleChat) -> None:
    two_tasks(project)
    before = row(project, 1)
    project.say("/进度 #1 30%", name="李四")
    project.say("/进度 #1 50%", name="李四")
    project.say("/撤销", name="李四")
    project.say("/撤销", name="李四")
    assert row(project, 1) == before


def test_undoing_a_new_task_cancels_it(project: ConsoleChat) -> None:
    project.say("/任务 新增 写方案", name="李四")
    reply = project.say("/撤销", name="李四")
    assert "#1 写方案：新增的撤回了（已取消）" in reply
    assert row(project, 1)["status"] == TaskStatus.CANCELLED


def test_role_and_settings_changes_are_undone_and_the_calendar_is_refused(project: ConsoleChat, unchanged: Unchanged) -> None:
    project.say("/成员 修改 @李四 角色:副PM", name=PM)
    assert "副PM → 成员" in project.say("/撤销", name=PM)
    assert query(project, lambda s: s.scalar(select(Member.role).where(Member.name == "李四"))) == Role.MEMBER
    project.say("/项目 设置 日报 18:00", name=PM)
    project.say("/项目 设置 周会 周三 10:00", name=PM)
    assert "周会：周三 10:00 → 周一 09:00" in project.say("/撤销", name=PM)
    assert "日报时间：18:00 → 17:00" in project.say("/撤销", name=PM)
    settings = query(project, lambda s: s.execute(
        select(Project.daily_prompt_time, Project.meeting_weekday, Project.meeting_time)).one())
    assert tuple(settings) == (time(17, 0), 0, time(9, 0))  # type: ignore[arg-type]
    project.say("/项目 休息日 2026-12-02 团建", name=PM)
    with unchanged(project):
        assert "改的是项目的日历，这种修改不能用 /撤销 撤回" in project.say("/撤销", name=PM)
    project.say("/决议 采用方案B", name="李四")
    with unchanged(project):
        assert "新增了决议 D1，这种新增不能用 /撤销 撤回" in project.say("/撤销", name="李四")


def test_every_history_row_names_the_message_that_wrote_it(project: ConsoleChat) -> None:
    two_tasks(project)
    project.say("/任务 修改 #1 截止:12月20日 标题:新稿", name=PM)
    keys = query(project, lambda s: s.scalars(select(Change.event_key).where(Change.field.in_(["due", "title"]))).all())
    assert len(keys) == 2 and keys[0] and keys[0] == keys[1]  # type: ignore[index, arg-type]


def test_risks_and_action_items_are_undone_too(project: ConsoleChat) -> None:
    from models import ActionItem, ActionStatus, Risk, RiskLevel, RiskStatus

    project.say("/风险 新增 供应商延期 等级:中 @李四", name=PM)
    project.say("/行动 新增 催供应商 @李四 截止:周五", name=PM)
    project.say("/风险 更新 R1 等级:高 措施:找备选", name="李四")
    project.say("/风险 关闭 R1 已解决", name="李四")
    project.say("/行动 完成 A1", name="李四")
    assert "已完成 → 未完成" in project.say("/撤销 A1", name=PM)
    assert "已关闭 → 打开" in project.say("/撤销 R1", name=PM)
    risk = query(project, lambda s: s.execute(select(Risk.status, Risk.closed_at, Risk.close_note, Risk.level)).one())
    assert tuple(risk) == (RiskStatus.OPEN, None, None, RiskLevel.HIGH)  # type: ignore[arg-type]
    reply = project.say("/撤销 R1", name=PM)
    assert "等级：高 → 中" in reply and "措施：找备选 → 空" in reply
    item = query(project, lambda s: s.execute(select(ActionItem.status, ActionItem.done_at)).one())
    assert tuple(item) == (ActionStatus.OPEN, None)  # type: ignore[arg-type]
    level = query(project, lambda s: s.scalar(select(Risk.level)))
    assert level == RiskLevel.MEDIUM


def test_the_undo_button_takes_back_its_own_message_after_later_ones(project: ConsoleChat) -> None:
    from tests.handlers.test_export import last_reply

    two_tasks(project)
    project.say("#1 开始", name="李四")
    project.say("#1 进度 30%", name="李四")
    [undo] = [b.command for s in last_reply(project).sections for b in s.buttons if b.label == "撤销"]
    project.say("#1 阻塞 等法务", name="李四")  # a later message, about other columns of the same task
    reply = project.say(undo, name="李四")
    assert "进度" in reply and row(project, 1)["progress"] == 0  # the 30% is taken back
    assert row(project, 1)["status"] == TaskStatus.BLOCKED  # the later message stands
    assert project.say(undo, name="李四") == "这条消息的修改已经撤销过了。"
    assert "只有本人或 PM 可以撤销" in project.say(undo, name="赵六")
    assert "一次只能撤销" in project.say(f"{undo} #1", name="李四")
