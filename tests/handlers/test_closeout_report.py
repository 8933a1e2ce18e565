"""The close-out report (issue 15): a console project whose numbers are known, closed; the report's
on-time rate, slips, blocked days by department, unfinished items with reasons, risks, decisions and goal
results match it; the retrospective prompt goes out once within three workdays."""

from __future__ import annotations

import io

import openpyxl
from sqlalchemy import select, update

from bot.messages import Reply
from bot.runtime import Runtime
from models import Change, GoalResult, OutboundMessage, Project, Task
from reports.closeout import closeout
from tests.chat import ConsoleChat
from tests.handlers.conftest import PM
from tests.scheduling import posts, sh


def mark_milestones(chat: ConsoleChat, *numbers: int) -> None:
    """Milestone flags (the `/任务 … 里程碑:是` form belongs to the milestone work)."""
    with chat.runtime.session_factory.begin() as session:
        session.execute(update(Task).where(Task.number.in_(numbers)).values(is_milestone=True))


def known_project(chat: ConsoleChat) -> None:
    """Six tasks: #1 on time (milestone), #2 moved 11-26 → 11-30 and done 12-01 (milestone, late), #3
    blocked Tue 10:00 → Thu 10:00 then done on time, #4 done without a due date, #5 blocked from Fri
    10:00 to the close (Tue 22:00), #6 cancelled; one risk closed, one open; one decision."""
    say = chat.say
    assert "已创建项目" in say("/项目 创建 新品发布会 目标:报名 300 人；媒体报道 5 篇 部门:研发部,市场部", name=PM,
                               at=sh("2026-11-23 09:00"))
    say("/成员 添加 @李四 部门:研发部", name=PM)
    say("/成员 添加 @张三 部门:市场部", name=PM)
    say("/任务 新增 写方案 @李四 截止:2026-11-25 部门:研发部", name=PM)
    say("/任务 新增 订场地 @张三 截止:2026-11-26 部门:市场部", name=PM)
    say("/任务 新增 发邀请 @李四 截止:2026-11-27 部门:研发部", name=PM)
    say("/任务 新增 买水 @张三 部门:市场部", name=PM)
    say("/任务 新增 做海报 @张三 截止:2026-12-03 部门:市场部", name=PM)
    say("/任务 新增 印传单 @张三 截止:2026-12-03 部门:市场部", name=PM)
    mark_milestones(chat, 1, 2)
    say("/风险 新增 场地可能被占 等级:高", name=PM)
    say("/风险 新增 嘉宾临时取消 等级:中", name=PM)
    say("/决议 采用线下加直播的形式", name=PM)
    assert "阻塞" in say("/阻塞 #3 等名单", name="李四", at=sh("2026-11-24 10:00"))
    assert "截止" in say("/任务 修改 #2 截止:2026-11-30", name=PM, at=sh("2026-11-24 11:00"))
    say("#1 完成", name="李四", at=sh("2026-11-25 18:00"))
    say("/开始 #3", name="李四", at=sh("2026-11-26 10:00"))
    say("#3 完成", name="李四", at=sh("2026-11-27 12:00"))
    say("#4 完成", name="张三", at=sh("2026-11-27 12:00"))
    assert "阻塞" in say("/阻塞 #5 等设计稿", name="张三", at=sh("2026-11-27 10:00"))
    say("/任务 取消 #6 改用电子版", name=PM, at=sh("2026-11-27 15:00"))
    say("/风险 关闭 R1 已签场地合同", name=PM, at=sh("2026-11-28 10:00"))
    say("#2 完成", name="张三", at=sh("2026-12-01 09:00"))


def test_the_report_numbers_match_the_project(chat: ConsoleChat) -> None:
    known_project(chat)
    assert "确认请发送" in chat.say("/项目 结项", name=PM, at=sh("2026-12-01 22:00"))
    closed = chat.say("/项目 结项 确认", name=PM, at=sh("2026-12-01 22:00"))
    assert "项目“新品发布会”已结项" in closed
    assert "任务 6 个：完成 4（其中逾期完成 1），未完成 1，取消 1" in closed  # the summary counts, as before
    assert "按时完成率：50%（按时 2 / 已完成 4）" in closed  # #1 and #3; #2 late against 11-30; #4 has no due
    assert "无截止日期：1 项已完成但没有截止日期，不计为按时" in closed
    assert "未完成：1 项（取消 1 项）" in closed
    assert "#5 做海报（阻塞）· 原因：等设计稿" in closed and "#6 印传单（已取消）· 原因：改用电子版" in closed
    # milestones: planned (first due date) vs actual, in working days
    assert "| #1 写方案 | 11-25(周三) | 11-25(周三) | 按期 |" in closed
    assert "| #2 订场地 | 11-26(周四) | 12-01(周二) | 延期 3 个工作日 |" in closed
    # blocked: #3 Tue 10:00 → Thu 10:00 = 2 workdays; #5 Fri 10:00 → Tue 22:00 = 14 h + 24 h + 22 h = 2.5
    assert "市场部：2.5 天（1 个任务）" in closed and "研发部：2 天（1 个任务）" in closed
    assert closed.index("市场部：2.5") < closed.index("研发部：2 天")
    assert "R1（高）场地可能被占 · 已关闭：已签场地合同" in closed and "R2（中）嘉宾临时取消 · 未关闭" in closed
    assert "D1 11-23(周一) 采用线下加直播的形式" in closed
    assert "1. 报名 300 人 → （结果未填写）" in closed and "2. 媒体报道 5 篇 → （结果未填写）" in closed
    with chat.runtime.session_factory() as session:
        project = session.scalars(select(Project)).one()
        assert project.summary is not None and "按时完成率" in project.summary


def test_goal_results_entered_after_closing_show_in_the_report(chat: ConsoleChat) -> None:
    known_project(chat)
    chat.say("/项目 结项 确认", name=PM, at=sh("2026-12-01 22:00"))
    assert "已记录目标 1“报名 300 人”的结果：报名 320 人，超额完成" in chat.say(
        "/项目 设置 目标结果 1 报名 320 人，超额完成", name=PM, at=sh("2026-12-02 10:00")
    )
    assert "已记录目标 2" in chat.say("/项目 目标结果 2 4 篇", name=PM, at=sh("2026-12-02 10:00"))
    assert "没有第 3 个目标" in chat.say("/项目 目标结果 3 x", name=PM)
    assert "只有项目经理（PM）可以填写目标结果" in chat.say("/项目 目标结果 1 我说了算", name="李四")
    report = chat.say("/项目 总结", name=PM, at=sh("2026-12-02 11:00"))
    assert "1. 报名 300 人 → 报名 320 人，超额完成" in report and "2. 媒体报道 5 篇 → 4 篇" in report
    assert "按时完成率：50%" in report and "预览" not in report and "只读" not in report
    with chat.runtime.session_factory() as session:
        assert len(session.scalars(select(GoalResult)).all()) == 2
        fields = [c.field for c in session.scalars(select(Change).where(Change.entity == "project"))]
        assert fields.count("goal_result") == 2


def test_the_pm_previews_the_report_before_closing(chat: ConsoleChat) -> None:
    known_project(chat)
    preview = chat.say("/项目 总结", name=PM, at=sh("2026-12-01 22:00"))
    assert "预览：项目尚未结项" in preview and "按时完成率：50%" in preview and "市场部：2.5 天" in preview
    assert "只有项目经理（PM）可以查看项目总结报告" in chat.say("/项目 总结", name="张三")


def test_the_report_computed_from_rows_as_of_a_moment(runtime: Runtime, chat: ConsoleChat) -> None:
    known_project(chat)
    with runtime.session_factory() as session:
        project = session.scalars(select(Project)).one()
        early = closeout(session, project, at=sh("2026-11-26 12:00"))
    # as of Thursday noon: #5 not yet blocked, #3's block over (2 workdays); #2, #3, #4 still open
    assert [b.department for b in early.blocked] == ["研发部"] and early.blocked[0].days == 2.0


def test_the_retrospective_is_prompted_once_within_three_workdays(runtime: Runtime, chat: ConsoleChat) -> None:
    known_project(chat)
    chat.say("/项目 结项 确认", name=PM, at=sh("2026-12-01 22:00"))
    runner = runtime.job_runner()
    assert runner.run(["retro-prompt"], sh("2026-12-02 16:59")).count("posted") == 0
    assert runner.run(["retro-prompt"], sh("2026-12-02 17:00")).count("posted") == 1
    assert runner.run(["retro-prompt"], sh("2026-12-03 17:00")).count("posted") == 0  # exactly once
    [prompt] = posts(runtime.session_factory, "retro-prompt")
    assert "已于 12-01(周二) 结项，请大家在 12-04(周五) 前补充复盘" in prompt.text and "/复盘 好" in prompt.text


def test_the_retrospective_prompt_waits_out_a_holiday_and_is_missed_after_three_workdays(
    runtime: Runtime, chat: ConsoleChat
) -> None:
    chat.say("/项目 创建 国庆前项目", name=PM, at=sh("2026-09-29 09:00"))
    chat.say("/项目 结项 确认", name=PM, at=sh("2026-09-30 18:00"))
    runner = runtime.job_runner()
    assert runner.run(["retro-prompt"], sh("2026-10-01 17:00")).count("posted") == 0  # 国庆: no workday
    # the workdays after closing: 10-08, 10-09, 10-10 (Saturday, 调休); gone after that
    assert runner.run(["retro-prompt"], sh("2026-10-11 17:00")).count("posted") == 0
    assert runner.run(["retro-prompt"], sh("2026-10-10 20:00")).count("posted") == 1
    [prompt] = posts(runtime.session_factory, "retro-prompt")
    assert "10-10(周六) 前补充复盘" in prompt.text


def test_the_closed_projects_export_holds_the_report_and_the_retrospective(chat: ConsoleChat) -> None:
    known_project(chat)
    chat.say("/项目 结项 确认", name=PM, at=sh("2026-12-01 22:00"))
    chat.say("/项目 目标结果 1 报名 320 人", name=PM, at=sh("2026-12-02 10:00"))
    chat.say("/复盘 好 场地合同签得早", name="张三", at=sh("2026-12-02 10:00"))
    assert "已导出项目台账" in chat.say("/导出", name=PM, at=sh("2026-12-02 11:00"))
    with chat.runtime.session_factory() as session:
        row = session.scalars(select(OutboundMessage).order_by(OutboundMessage.id.desc()).limit(1)).one()
    (attachment,) = Reply.from_payload(row.body).attachments
    book = openpyxl.load_workbook(io.BytesIO(attachment.data))
    report = [r for r in book["项目总结报告"].iter_rows(values_only=True)][1:]
    assert ("目标", "1. 报名 300 人", "报名 320 人") in report
    assert ("按时完成率", "50%", "按时 2 / 已完成 4") in report
    assert ("里程碑", "#2 订场地", "计划 2026-11-26 · 实际 2026-12-01 · 偏差 3 个工作日") in report
    assert ("阻塞天数", "市场部", "2.5 个工作日（1 个任务）") in report
    assert ("未完成事项", "#5 做海报（阻塞）", "等设计稿") in report
    retro = [r[:3] for r in book["复盘"].iter_rows(values_only=True)][1:]
    assert retro == [("做得好", "场地合同签得早", "张三")]


def test_days_are_the_projects_local_days(chat: ConsoleChat) -> None:
    """Done at 07:00 Shanghai on the day after the due date (still the due date in UTC): late, everywhere."""
    chat.say("/项目 创建 发布会", name=PM, at=sh("2026-11-23 09:00"))
    chat.say("/任务 新增 写方案 截止:2026-11-25", name=PM, at=sh("2026-11-23 09:00"))
    chat.say("#1 完成", name=PM, at=sh("2026-11-26 07:00"))
    closed = chat.say("/项目 结项 确认", name=PM, at=sh("2026-11-26 07:30"))
    assert "完成 1（其中逾期完成 1）" in closed and "按时完成率：0%（按时 0 / 已完成 1）" in closed
