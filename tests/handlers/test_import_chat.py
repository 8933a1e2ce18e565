"""/导入 through the console pipeline: a file with the message → preview and a pending import →
/导入 确认 writes it (tasks, subtasks, dependencies, departments, 验收标准, history); an edited file
changes only what was edited; an exported workbook imports back with no changes."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date, datetime

import openpyxl
from sqlalchemy import func, select

from bot.messages import IncomingFile
from models import Change, Task
from tests.chat import ConsoleChat
from tests.handlers.conftest import PM
from tests.handlers.test_export import last_reply
from tests.handlers.test_sheet_import import csv_bytes, xlsx

# A 项目WBS分解表 as a company template writes it: two title rows, its own header spellings, a combined
# 起止时间, WBS codes, dependencies by code and by name; row 8 has an unknown owner, row 9 a bad date,
# row 10 depends on row 9.
TEMPLATE = [
    ["新品发布会 项目WBS分解表"],
    ["编制：王经理", None, None, "版本 V1.0"],
    ["WBS编码", "工作项名称", "直接责任人", "协作部门", "起止时间", "交付成果", "紧前任务", "完成标准", "说明"],
    ["1", "方案阶段", "李四", "研发部", "12/1-12/10", "方案书", None, "评审通过", None],
    ["1.1", "需求调研", "李四", "研发部、市场部", "12/1-12/4", "调研报告", None, "覆盖 5 家客户", "先约客户"],
    ["1.2", "方案评审", "张三", "市场部", "2026.12.07~12.09", "评审纪要", "1.1", None, None],
    ["2", "物料制作", "赵六", "设计部", "12/10-12/20", "海报", "方案评审", None, None],
    ["2.1", "海报设计", "王五", "设计部", "12/10-12/15", None, None, None, None],
    ["3", "现场彩排", "张三", "市场部", "12月32日", None, None, None, None],
    ["3.1", "彩排复盘", "张三", "市场部", "12/28-12/29", None, "3", None, None],
]


def sheet_file(rows: list[list[object]], name: str = "WBS分解表.xlsx") -> IncomingFile:
    data = xlsx(("WBS", rows)) if name.endswith(".xlsx") else csv_bytes(rows)
    return IncomingFile(name=name, size=len(data), source={}, data=data)


def task_count(chat: ConsoleChat) -> int:
    with chat.runtime.session_factory() as session:
        return session.scalar(select(func.count()).select_from(Task)) or 0


def changes_of(chat: ConsoleChat) -> list[tuple[int, str, str | None, str | None]]:
    with chat.runtime.session_factory() as session:
        rows = session.execute(
            select(Task.number, Change.field, Change.old_value, Change.new_value)
            .join(Task, (Change.entity == "task") & (Change.entity_id == Task.id)).order_by(Change.id))
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_preview_names_the_problem_rows_and_writes_nothing(
    project: ConsoleChat, unchanged: Callable[[ConsoleChat], AbstractContextManager[None]]
) -> None:
    with unchanged(project):
        out = project.say("/导入", name=PM, file=sheet_file(TEMPLATE))
    assert "新增 4 个，更新 0 个，不变 0 个；有问题 3 行。" in out
    assert "第 8 行 直接责任人“王五”：项目里没有这个成员" in out
    assert "第 9 行 起止时间“12月32日”" in out
    assert "第 10 行：依赖的第 9 行有问题" in out
    assert "/导入 确认" in out
    # Only those rows: no other row number is named as a problem.
    listed = out.split("有问题的行（不会导入）：")[1].split("日期提醒")[0]
    problem_rows = {line.split(" ")[1] for line in listed.splitlines() if line.startswith("第 ")}
    assert problem_rows == {"8", "9", "10"}


def test_confirm_writes_every_row_right(project: ConsoleChat) -> None:
    project.say("/导入", name=PM, file=sheet_file(TEMPLATE))
    out = project.say("/导入 确认", name=PM)
    assert "已导入 WBS分解表.xlsx" in out and "新增 4 个任务（#1–#4），更新 0 个" in out
    assert not any(line.startswith("没有导入") for line in out.splitlines()) and "预览里有问题的 3 行没有导入" in out
    listed = project.say("/任务 列表 全部", name=PM)
    for title, owner in (("方案阶段", "李四"), ("需求调研", "李四"), ("方案评审", "张三"), ("物料制作", "赵六")):
        assert any(title in line and owner in line for line in listed.splitlines()), (title, listed)
    assert "海报设计" not in listed and "现场彩排" not in listed
    # Numbers in WBS order: 1 → #1, 1.1 → #2, 1.2 → #3, 2 → #4.
    detail = project.say("/任务 #2", name=PM)
    assert "需求调研" in detail and "部门：研发部、市场部" in detail
    assert "开始：12-01" in detail and "截止：12-04" in detail, detail
    assert "交付物：调研报告" in detail and "验收标准：覆盖 5 家客户" in detail and "WBS编号：1.1" in detail
    assert "父任务：#1" in detail and "先约客户" in detail  # 备注 as a note in its history
    review = project.say("/任务 #3", name=PM)
    assert "依赖：#2" in review and "父任务：#1" in review
    assert "依赖：#3" in project.say("/任务 #4", name=PM)  # 紧前任务 by name
    assert "子任务：#2" in project.say("/任务 #1", name=PM)
    # A department filter finds a task by any of its departments.
    assert "需求调研" in project.say("/任务 列表 部门:市场部", name=PM)
    assert "没有等待确认的导入" in project.say("/导入 确认", name=PM)


def test_a_second_import_changes_only_what_was_edited(project: ConsoleChat) -> None:
    project.say("/导入", name=PM, file=sheet_file(TEMPLATE))
    project.say("/导入 确认", name=PM)
    before = changes_of(project)
    edited = [list(row) for row in TEMPLATE]
    edited[5][2] = "赵六"  # 1.2 方案评审: owner 张三 → 赵六
    edited[6][4] = "12/11-12/22"  # 2 物料制作: dates
    edited[4][3] = "研发部、设计部"  # 1.1 需求调研: departments
    edited[7][2] = "赵六"  # 2.1 海报设计: now importable (new)
    out = project.say("/导入", name=PM, file=sheet_file(edited))
    assert "新增 1 个，更新 3 个，不变 1 个" in out
    assert "更新 #3（第 6 行）：负责人 张三 → 赵六" in out
    project.say("/导入 确认", name=PM)
    after = changes_of(project)[len(before):]
    assert sorted((n, f) for n, f, _o, _v in after) == sorted(
        [(3, "owner"), (4, "start"), (4, "due"), (2, "dept"), (5, "created")])
    assert (2, "dept", "研发部、市场部", "研发部、设计部") in after
    detail = project.say("/任务 #2", name=PM)
    assert "部门：研发部、设计部" in detail
    assert "赵六" in project.say("/任务 #3", name=PM)
    assert "父任务：#4" in project.say("/任务 #5", name=PM)
    # The same file once more: nothing to confirm.
    again = project.say("/导入", name=PM, file=sheet_file(edited))
    assert "新增 0 个，更新 0 个，不变 5 个" in again and "没有要导入的变化" in again


def test_an_exported_workbook_imports_back_unchanged(project: ConsoleChat) -> None:
    project.say("/任务 新增 方案设计 @李四 开始:2026-12-01 截止:2026-12-10 部门:研发部", name=PM)
    project.say("/任务 新增 原型 @张三 截止:2026-12-11 父:#1 依赖:#1", name=PM)
    project.say("/导入", name=PM, file=sheet_file(TEMPLATE))
    project.say("/导入 确认", name=PM)
    project.say("/导出", name=PM)
    (attachment,) = last_reply(project).attachments
    book = openpyxl.load_workbook(io.BytesIO(attachment.data))
    header = next(book["任务分工表"].iter_rows(values_only=True))
    assert "验收标准" in header
    rows = {r[1]: r for r in book["任务分工表"].iter_rows(min_row=2, values_only=True)}
    assert rows["需求调研"][header.index("配合部门")] == "研发部、市场部"
    assert rows["需求调研"][header.index("验收标准")] == "覆盖 5 家客户"
    count = task_count(project)
    out = project.say("/导入", name=PM, file=IncomingFile(attachment.name, len(attachment.data), {}, attachment.data))
    assert f"新增 0 个，更新 0 个，不变 {count} 个；有问题 0 行。" in out, out


def test_refusals_and_cancel(project: ConsoleChat, unchanged: Callable[[ConsoleChat], AbstractContextManager[None]]) -> None:
    with unchanged(project):
        assert "只有项目经理（PM）可以导入任务表" in project.say("/导入", name="李四", file=sheet_file(TEMPLATE))
        assert "没有收到文件" in project.say("/import", name=PM)
        pdf = IncomingFile("方案.pdf", 10, {}, b"%PDF-1.4 x")
        assert "只能导入 .xlsx 或 .csv 表格" in project.say("", name=PM, file=pdf)  # a file message on its own
        too_big = IncomingFile("大表.xlsx", 50 * 1024 * 1024, {}, None, "文件有 50.0 MB，导入最多 5 MB。")
        assert "导入最多 5 MB" in project.say("/导入", name=PM, file=too_big)
        assert "新增 4 个" in project.say("", name=PM, file=sheet_file(TEMPLATE))  # a lone spreadsheet: a preview
        assert "已取消导入 WBS分解表.xlsx" in project.say("/导入 取消", name=PM)
        assert "没有等待确认的导入" in project.say("/导入 确认", name=PM)


def test_a_preview_expires(project: ConsoleChat) -> None:
    project.say("/导入", name=PM, file=sheet_file(TEMPLATE))
    project.clock.advance(hours=25)
    assert "预览已过期" in project.say("/导入 确认", name=PM)
    assert task_count(project) == 0


def test_due_date_warnings_in_the_preview(project: ConsoleChat) -> None:
    rows = [["任务名称", "负责人", "截止时间"], ["彩排", "张三", "2026-12-05"], ["庆功", "张三", "2027-01-10"]]
    out = project.say("/导入", name=PM, file=sheet_file(rows, "plan.csv"))
    assert "第 2 行 提醒：" in out and "休息日（周末）" in out  # 2026-12-05 is a Saturday
    assert "第 3 行 提醒：截止" in out and "晚于项目截止" in out


def test_two_thousand_rows_preview_and_apply(project: ConsoleChat) -> None:
    rows: list[list[object]] = [["WBS编号", "任务名称", "负责人", "部门", "计划开始", "计划完成", "前置依赖"]]
    for i in range(1, 2001):
        top = (i - 1) // 10 + 1
        code = str(top) if i % 10 == 1 else f"{top}.{(i - 1) % 10}"
        rows.append([code, f"任务{i}", "李四", "研发部", date(2026, 12, 1), datetime(2026, 12, 20),
                     rows[-1][0] if i % 10 not in (1, 2) else None])
    file = sheet_file(rows)
    started = time.perf_counter()
    out = project.say("/导入", name=PM, file=file)
    previewed = time.perf_counter()
    done = project.say("/导入 确认", name=PM)
    applied = time.perf_counter()
    assert "新增 2000 个" in out and "新增 2000 个任务（#1–#2000）" in done
    print(f"2,000 rows: preview {previewed - started:.2f}s, apply {applied - previewed:.2f}s")
    assert previewed - started < 20 and applied - previewed < 60


def test_an_import_is_undone_like_any_message(project: ConsoleChat) -> None:
    project.say("/导入", name=PM, file=sheet_file(TEMPLATE))
    project.say("/导入 确认", name=PM)
    edited = [list(row) for row in TEMPLATE]
    edited[5][2] = "赵六"
    project.say("/导入", name=PM, file=sheet_file(edited))
    project.say("/导入 确认", name=PM)
    undone = project.say("/撤销", name=PM)
    assert "#3" in undone and "张三" in undone  # the second import's owner change taken back
    assert "负责人：张三" in project.say("/任务 #3", name=PM)
    undone = project.say("/撤销", name=PM)
    assert all(f"#{n} " in undone for n in (1, 2, 3, 4)) and "已取消" in undone
    assert "全部任务：没有" not in project.say("/任务 列表 全部", name=PM)  # numbers are kept, cancelled


def test_undoing_an_import_restores_every_department_in_order(project: ConsoleChat) -> None:
    project.say("/导入", name=PM, file=sheet_file(TEMPLATE))
    project.say("/导入 确认", name=PM)
    edited = [list(row) for row in TEMPLATE]
    edited[4][3] = "研发部、设计部"  # 1.1 需求调研: the same first department, the second changed
    project.say("/导入", name=PM, file=sheet_file(edited))
    project.say("/导入 确认", name=PM)
    assert "部门：研发部、设计部" in project.say("/任务 #2", name=PM)
    undone = project.say("/撤销", name=PM)
    assert "#2" in undone, undone
    assert "部门：研发部、市场部" in project.say("/任务 #2", name=PM)
    # Undone, the import's change is the latest again: the same file shows it as a change to make.
    assert "更新 1 个" in project.say("/导入", name=PM, file=sheet_file(edited))


def test_a_cancelled_task_is_not_changed_and_the_preview_says_so(project: ConsoleChat) -> None:
    project.say("/导入", name=PM, file=sheet_file(TEMPLATE))
    project.say("/导入 确认", name=PM)
    project.say("/任务 取消 #3 不做了", name=PM)
    edited = [list(row) for row in TEMPLATE]
    edited[5][2] = "赵六"  # #3's owner, but #3 is cancelled
    out = project.say("/导入", name=PM, file=sheet_file(edited))
    assert "新增 0 个，更新 0 个，不变 4 个" in out and "第 6 行：#3 已取消，不会修改" in out
    assert "没有要导入的变化" in out and "没有等待确认的导入" in project.say("/导入 确认", name=PM)


def test_which_replies_fetch_the_replied_file() -> None:
    from handlers.imports import wants_file

    assert wants_file("/导入") and wants_file("/import") and wants_file("导入") and wants_file("/导入 这个表")
    assert not wants_file("/导入 确认") and not wants_file("/import cancel") and not wants_file("/任务 列表")
    assert wants_file("", name="分工表.XLSX", replied=False) and wants_file("", name="plan.csv", replied=False)
    assert not wants_file("", name="方案.pdf", replied=False)


def test_an_english_csv_with_outline_levels_and_row_references(project: ConsoleChat) -> None:
    rows: list[list[object]] = [
        ["Level", "Task Name", "Owner", "Department", "Start Date", "Due Date", "Depends On", "Acceptance Criteria"],
        ["1", "Launch prep", "张三", "市场部", "2026/12/1", "2026/12/20", None, None],
        ["2", "Venue", "张三", "市场部", "2026/12/1", "2026/12/8", None, "contract signed"],
        ["2", "Invitations", "赵六", "研发部;设计部", "12/9", "12/15", "第3行", None],
        ["1", "Rehearsal", "李四", "研发部", "12/16", "2026-13-01", None, None],
    ]
    out = project.say("/import", name=PM, file=sheet_file(rows, "plan.csv"))
    assert "新增 3 个，更新 0 个，不变 0 个；有问题 1 行。" in out and "第 5 行 Due Date“2026-13-01”" in out
    project.say("/import confirm", name=PM)
    invitations = project.say("/任务 #3", name=PM)
    assert "Invitations" in invitations and "部门：研发部、设计部" in invitations
    assert "父任务：#1" in invitations and "依赖：#2" in invitations and "截止：12-15" in invitations
    assert "验收标准：contract signed" in project.say("/任务 #2", name=PM)
    assert "Rehearsal" not in project.say("/任务 列表 全部", name=PM)
