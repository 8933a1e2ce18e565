"""/导出: every register in one workbook, opened here with openpyxl; the task sheet reads back as the plan."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import openpyxl
from sqlalchemy import select

from bot.messages import Reply
from handlers.sheet_plan import read_plan
from handlers.sheet_read import read_task_table
from models import OutboundMessage
from reports.workbook import XLSX_TYPE
from tests.chat import ConsoleChat
from tests.handlers.conftest import PM


def last_reply(chat: ConsoleChat) -> Reply:
    with chat.runtime.session_factory() as session:
        row = session.scalars(select(OutboundMessage).order_by(OutboundMessage.id.desc()).limit(1)).one()
        return Reply.from_payload(row.body)


def fill(project: ConsoleChat) -> None:
    project.say("/任务 新增 方案设计 @李四 开始:2026-12-01 截止:2026-12-10 部门:研发部", name=PM)
    project.say("/任务 新增 原型 @张三 截止:2026-12-12 父:#1 依赖:#1", name=PM)
    project.say("/任务 新增 发布 @赵六 截止:2026-12-20 依赖:#2", name=PM)
    project.say("/任务 新增 宣传 @张三 截止:2026-11-24", name=PM)  # late by the time of the export
    project.say("#1 进度 50%", name="李四")
    project.say("/风险 新增 接口不稳定", name=PM)
    project.say("/行动 新增 订酒店 @李四 截止:2026-12-04", name=PM)
    project.say("/决议 采用方案B", name=PM)
    project.clock.advance(days=3)


def test_the_workbook_holds_every_register(project: ConsoleChat) -> None:
    fill(project)
    out = project.say("/导出", name=PM)
    assert "已导出项目台账" in out
    reply = last_reply(project)
    (attachment,) = reply.attachments
    assert attachment.kind == "file" and attachment.media_type == XLSX_TYPE and attachment.name.endswith(".xlsx")
    book = openpyxl.load_workbook(io.BytesIO(attachment.data))
    assert book.sheetnames == [
        "任务分工表", "进度跟踪表", "风险登记表", "行动项", "决议", "变更申请", "验收记录", "变更记录", "项目总结报告", "复盘",
    ]
    tasks = book["任务分工表"]
    assert tasks.freeze_panes == "A2"
    rows = list(tasks.iter_rows(values_only=True))
    assert rows[0][:4] == ("WBS编号", "任务名称", "任务号", "层级")
    by_title = {r[1]: r for r in rows[1:]}
    assert [r[1] for r in rows[1:]] == ["方案设计", "原型", "发布", "宣传"]  # WBS order: 原型 under 方案设计
    column = {name: rows[0].index(name) for name in ("前置依赖", "进度", "验收标准")}
    assert by_title["原型"][0] == "1.1" and by_title["原型"][3] == 2 and by_title["原型"][column["前置依赖"]] == "1"
    assert by_title["发布"][0] == "2" and by_title["发布"][column["前置依赖"]] == "1.1"
    assert by_title["方案设计"][4:8] == ("李四", "研发部", datetime(2026, 12, 1), datetime(2026, 12, 10))
    assert by_title["方案设计"][column["进度"]] == 50 and by_title["方案设计"][column["验收标准"]] is None
    tracking = {r[1]: r for r in list(book["进度跟踪表"].iter_rows(values_only=True))[1:]}
    assert tracking["宣传"][8] == "延迟" and "已过截止" in tracking["宣传"][9]
    assert [r[1] for r in list(book["风险登记表"].iter_rows(values_only=True))[1:]] == ["接口不稳定"]
    actions = list(book["行动项"].iter_rows(values_only=True))[1:]
    assert actions[0][:4] == ("A1", "订酒店", "李四", datetime(2026, 12, 4))
    assert list(book["决议"].iter_rows(values_only=True))[1][:2] == ("D1", "采用方案B")
    history = [r[2] for r in list(book["变更记录"].iter_rows(values_only=True))[1:]]
    assert "进度 0% → 50%" in history


def test_the_task_sheet_reads_back_as_the_same_plan(project: ConsoleChat) -> None:
    fill(project)
    project.say("/导出", name=PM)
    data = last_reply(project).attachments[0].data
    table = read_task_table(data, "export.xlsx")
    plan = read_plan(table, year=2026, members=["李四", "张三", "赵六", PM], departments=["研发部", "市场部"])
    assert plan.problems == []
    rows = {t.title: t for t in plan.tasks}
    assert rows["原型"].parent_row == rows["方案设计"].row
    assert rows["发布"].predecessor_rows == [rows["原型"].row]
    assert (rows["方案设计"].owner, rows["方案设计"].departments, rows["方案设计"].start, rows["方案设计"].due) == (
        "李四", ["研发部"], date(2026, 12, 1), date(2026, 12, 10))


def test_one_table_as_csv_and_bad_words_get_the_usage(project: ConsoleChat) -> None:
    fill(project)
    assert "已导出风险登记表（1 行）" in project.say("/导出 风险 csv", name=PM)
    attachment = last_reply(project).attachments[0]
    rows = list(csv.reader(io.StringIO(attachment.data.decode("utf-8-sig"))))
    assert rows[0][:2] == ["编号", "风险描述"] and rows[1][:2] == ["R1", "接口不稳定"]
    assert "用法：/导出" in project.say("/导出 天气 csv", name=PM)
    assert "csv" in project.say("export risks", name=PM)


def test_members_cannot_export(project: ConsoleChat) -> None:
    out = project.say("/导出", name="李四")
    assert "只有项目经理" in out
    assert not last_reply(project).attachments
