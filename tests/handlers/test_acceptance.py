"""Acceptance of deliverables (issue 15): the named people or departments confirm or reject with a reason,
a rejected deliverable is asked again, the record per deliverable; close-out waits for every deliverable
unless the PM forces it; the export carries 变更申请 and 验收记录."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import select

from models import Acceptance, Project, ProjectStatus
from reports.export import export_reply, export_tables
from tests.chat import ConsoleChat
from tests.handlers.conftest import PM


def rounds(chat: ConsoleChat) -> list[tuple[int, int, str]]:
    with chat.runtime.session_factory() as session:
        return [(a.task.number, a.round, a.status) for a in session.scalars(select(Acceptance).order_by(Acceptance.id))]


def status(chat: ConsoleChat) -> ProjectStatus:
    with chat.runtime.session_factory() as session:
        return session.scalars(select(Project.status)).one()


def deliverables(chat: ConsoleChat) -> None:
    chat.say("/成员 添加 @钱主管", name=PM)
    chat.say("/任务 新增 写发布稿 @李四 截止:2026-12-04 交付物:发布稿终稿", name=PM)  # #1
    chat.say("/任务 新增 订场地 @张三 截止:2026-12-10 交付物:场地合同", name=PM)  # #2
    chat.say("/任务 新增 做海报 @赵六 截止:2026-12-10 交付物:海报设计稿", name=PM)  # #3
    chat.say("/任务 新增 买水 @赵六", name=PM)  # #4: no deliverable, not part of the acceptance


def test_two_accepted_one_rejected_then_accepted_and_close_out_waits_for_them(project: ConsoleChat) -> None:
    deliverables(project)
    asked = project.say("/验收 #1 @钱主管 市场部 验收标准:通过法务审核", name=PM)
    assert "交付物：发布稿终稿" in asked and "验收标准：通过法务审核" in asked and "验收方：钱主管、市场部" in asked
    assert "@钱主管 @张三 请确认：/验收 通过 #1 [说明] ｜ /验收 驳回 #1 原因:…" in asked
    project.say("/验收 #2 @李四", name="张三")  # the owner asks
    project.say("/验收 #3 @钱主管", name=PM)
    assert "#1 本轮由 钱主管、市场部 验收，你不在其中" in project.say("/验收 通过 #1", name="李四")
    assert "还等：市场部" in project.say("/验收 通过 #1 内容准确", name="钱主管")
    assert "验收通过（钱主管、市场部 均已确认）" in project.say("/验收 通过 #1", name="张三")  # for 市场部
    assert "验收通过" in project.say("/accept ok #3", name="钱主管")
    assert "缺少驳回原因" in project.say("/验收 驳回 #2", name="李四")
    rejected = project.say("/验收 驳回 #2 原因:场地容量不够", name="李四")
    assert "李四 驳回了 #2 订场地 的验收（第 1 轮）" in rejected and "原因：场地容量不够" in rejected
    assert "修改后重新发起：/验收 #2 @李四" in rejected
    assert rounds(project) == [(1, 1, "accepted"), (2, 1, "rejected"), (3, 1, "accepted")]

    refused = project.say("/项目 结项 确认", name=PM)
    assert "还有交付物没有通过验收，暂不能结项" in refused and "#2 订场地 · 已驳回" in refused
    assert "/项目 结项 强制" in refused and status(project) == ProjectStatus.ACTIVE
    asked_to_close = project.say("/项目 结项", name=PM)
    assert "未通过验收的交付物（1）" in asked_to_close and "仍要结项请发送：/项目 结项 强制" in asked_to_close

    again = project.say("/验收 #2 @李四 @钱主管", name="张三")
    assert "请验收（第 2 轮）" in again
    assert "正在验收（第 2 轮）" in project.say("/验收 #2 @李四", name=PM)
    project.say("/验收 通过 #2 换成了大厅", name="李四")
    project.say("/验收 通过 #2", name="钱主管")
    record = project.say("/验收 #2", name=PM)
    assert "第 1 轮 · 已驳回" in record and "李四：已驳回 11-23 10:00 · 原因：场地容量不够" in record
    assert "第 2 轮 · 已通过" in record and "李四：已通过 11-23 10:00 · 说明：换成了大厅" in record
    listed = project.say("/验收 列表", name=PM)
    assert "成果验收（已通过 3，未通过 0）" in listed and "#4" not in listed
    assert "已通过验收（第 2 轮），不需要再验收" in project.say("/验收 #2 @李四", name=PM)
    assert "已结项" in project.say("/项目 结项 确认", name=PM) and status(project) == ProjectStatus.CLOSED


def test_only_the_pm_or_the_owner_asks_and_only_those_asked_answer(project: ConsoleChat) -> None:
    deliverables(project)
    assert "只有 PM 或 #1 的负责人可以发起验收" in project.say("/验收 #1 @钱主管", name="张三")
    assert "没有部门“法务部”" in project.say("/验收 #1 法务部", name=PM)
    assert "设计部还没有成员" in project.say("/验收 #1 设计部", name=PM)
    assert "还没有发起验收" in project.say("/验收 通过 #1", name="钱主管")
    project.say("/验收 #1 研发部", name="李四")
    assert "你不在其中" in project.say("/验收 通过 #1", name="张三")
    assert "验收通过" in project.say("/验收 通过 #1", name="赵六")  # 研发部's other member answers for it
    assert rounds(project) == [(1, 1, "accepted")]


def test_the_pm_may_force_the_close_out_and_the_summary_says_so(project: ConsoleChat) -> None:
    deliverables(project)
    assert "只有项目经理（PM）可以结项" in project.say("/项目 结项 强制", name="李四")
    closed = project.say("/项目 结项 强制", name=PM)
    assert "已结项" in closed and "强制结项：3 项交付物未通过验收（#1，#2，#3）" in closed
    assert status(project) == ProjectStatus.CLOSED


def test_the_export_has_the_change_requests_and_the_acceptance_record(project: ConsoleChat) -> None:
    deliverables(project)
    project.say("/变更 新增 #2 截止:12-14 原因:场地档期", name="张三")
    project.say("/变更 批准 C1", name=PM)
    project.say("/验收 #1 @钱主管", name=PM)
    project.say("/验收 驳回 #1 原因:缺数据来源", name="钱主管")
    with project.runtime.session_factory() as session:
        tables = {t.title: t for t in export_tables(session, session.scalars(select(Project)).one(), project.clock())}
    changes = tables["变更申请"]
    assert changes.rows[0][:3] == ("C1", "#2 截止→12-14(周一)", "场地档期") and changes.rows[0][4] == "已批准并执行"
    assert changes.rows[0][7] == PM
    [line] = tables["验收记录"].rows
    assert line[:8] == ("#1", "写发布稿", "发布稿终稿", None, 1, "已驳回", "钱主管", "已驳回") and line[10] == "缺数据来源"
    history = [row[1] for row in tables["变更记录"].rows]
    assert "C1" in history
    reply = project.say("/导出", name=PM)
    assert "变更申请 1 行" in reply and "验收记录 1 行" in reply
    with project.runtime.session_factory() as session:
        attachment = export_reply(session, session.scalars(select(Project)).one(), project.clock()).attachments[0]
    book = load_workbook(io.BytesIO(attachment.data))
    assert "变更申请" in book.sheetnames and "验收记录" in book.sheetnames


def test_a_reviewer_not_yet_in_the_project_is_added_out_loud(project: ConsoleChat) -> None:
    project.say("/任务 新增 写发布稿 @李四 截止:2026-12-04 交付物:发布稿终稿", name=PM)
    asked = project.say("/验收 #1 @孙总监", name=PM)
    assert "验收方：孙总监" in asked and "（孙总监 之前不在项目里，已加为成员；写错了请发 /撤销）" in asked
    assert "验收通过" in project.say("/验收 通过 #1", name="孙总监")
