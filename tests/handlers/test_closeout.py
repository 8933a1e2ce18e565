"""Close-out guarded (issue 10): only the PM closes, confirmed by typing; a closed project stays readable,
its PM can reopen it, and the group can start a new one."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from models import Project, ProjectStatus
from tests.chat import ConsoleChat
from tests.handlers.conftest import PM, Snapshot, snapshot


def status(chat: ConsoleChat) -> list[tuple[str, ProjectStatus]]:
    with chat.runtime.session_factory() as session:
        return [(p.name, p.status) for p in session.scalars(select(Project).order_by(Project.id))]


def close(chat: ConsoleChat) -> str:
    later = chat.clock() + timedelta(days=12)
    asked = chat.say("/项目 结项", name=PM, at=later)
    assert "确认请发送：/项目 结项 确认" in asked and status(chat)[-1][1] == ProjectStatus.ACTIVE
    return chat.say("/项目 结项 确认", name=PM, at=later)


def work(chat: ConsoleChat) -> None:
    chat.say("/任务 新增 写发布稿 @李四 截止:2026-12-04", name=PM)
    chat.say("/任务 新增 订场地 @张三 截止:2026-12-10", name=PM)
    chat.say("/任务 新增 买水 @赵六", name=PM)
    chat.say("/风险 新增 场地可能被占 等级:高", name=PM)
    chat.say("#1 完成", name="李四", at=chat.clock() + timedelta(days=12))  # after its 12-04 due date
    chat.say("/任务 取消 #3 不需要了", name=PM)


def test_asking_to_close_changes_nothing_and_says_what_to_send(project: ConsoleChat) -> None:
    before: Snapshot = snapshot(project)
    asked = project.say("/项目 结项", name=PM)
    assert "确认要结项“新品发布会”吗" in asked and asked.strip().endswith("/项目 结项 确认（确认结项）")
    assert snapshot(project) == before
    assert "没看懂“马上”" in project.say("/项目 结项 马上", name=PM) and snapshot(project) == before


def test_only_the_pm_closes_not_a_co_pm_nor_a_member(project: ConsoleChat) -> None:
    project.say("/成员 修改 @李四 角色:副PM", name=PM)
    for who in ("李四", "张三"):
        assert "只有项目经理（PM）可以结项，副PM 不行" in project.say("/项目 结项 确认", name=who)
    assert status(project) == [("新品发布会", ProjectStatus.ACTIVE)]


def test_the_summary_names_what_was_completed_late_cancelled_and_the_open_risks(project: ConsoleChat) -> None:
    work(project)
    closed = close(project)
    assert "项目“新品发布会”已结项" in closed and status(project) == [("新品发布会", ProjectStatus.CLOSED)]
    assert "任务 3 个：完成 1（其中逾期完成 1），未完成 1，取消 1" in closed
    assert "已完成（1）\n  #1 写发布稿" in closed and "已取消（1）\n  #3 买水" in closed
    assert "未完成（1）\n  #2 订场地" in closed and "未关闭风险（1）\n  R1（高）场地可能被占" in closed
    assert "逾期（1）\n  #1 写发布稿" in closed  # finished after its due date
    assert "计划截止 12-31" in closed


def test_a_closed_project_stays_readable_and_refuses_edits(project: ConsoleChat) -> None:
    work(project)
    close(project)
    before = snapshot(project)
    listing = project.say("/任务 列表 全部", name="张三")
    assert "已结项，以下为只读记录" in listing and "订场地" in listing and "写发布稿" in listing
    assert "已结项" in project.say("/任务 #2", name="张三") and "订场地" in project.say("/任务 #2", name="张三")
    assert "只读记录" in project.say("/周报", name=PM)
    for edit in ("/任务 #2 完成", "#2 完成", "/任务 新增 再来一个", "/风险 新增 又一个", "/完成 #2"):
        answer = project.say(edit, name=PM)
        assert "已结项" in answer and "只能查看" in answer, (edit, answer)
    assert snapshot(project) == before
    history = project.say("/项目 历史", name="张三")
    assert "新品发布会" in history and "已结项的项目（1）" in history
    summary = project.say("/项目 历史 新品", name="张三")
    assert "项目总结：新品发布会" in summary and "未关闭风险（1）" in summary


def test_its_pm_reopens_it_and_the_group_can_start_a_new_one(project: ConsoleChat) -> None:
    close(project)
    assert "只有项目“新品发布会”的 PM 可以重开它" in project.say("/项目 重开", name="李四")
    assert "已重开项目“新品发布会”" in project.say("/项目 重开", name=PM)
    assert status(project) == [("新品发布会", ProjectStatus.ACTIVE)]
    assert "已新增 #1" in project.say("/任务 新增 写发布稿", name=PM)
    close(project)
    assert "已创建项目“年会”" in project.say("/项目 创建 年会", name="张三")
    assert "本群已经有进行中的项目“年会”" in project.say("/项目 重开", name=PM)
    listing = project.say("/任务 列表 全部", name="张三")
    assert "只读" not in listing and "写发布稿" not in listing  # the new project answers now
    assert "新品发布会" in project.say("/项目 历史", name="张三")


def test_someone_new_reads_the_closed_project_but_has_no_tasks_in_it(project: ConsoleChat) -> None:
    close(project)
    assert "项目“新品发布会”已结项" in project.say("/任务 列表 全部", name="新人")
    assert "你不是项目“新品发布会”的成员" in project.say("/任务 列表 我的", name="新人")
