"""The import parser on real files: workbooks written by openpyxl here, CSV written by csv."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import openpyxl
import pytest

from handlers.errors import UserError
from handlers.sheet_dates import cell_date, cell_span
from handlers.sheet_plan import Plan, read_plan
from handlers.sheet_read import header_field, read_task_table

MEMBERS = ["王经理", "李四", "张三", "赵六"]
DEPARTMENTS = ["研发部", "市场部", "设计部"]


def xlsx(*sheets: tuple[str, list[list[object]]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows: list[list[object]], encoding: str = "utf-8-sig") -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode(encoding)


def plan_of(data: bytes, name: str = "plan.xlsx", year: int = 2024) -> Plan:
    return read_plan(read_task_table(data, name), year=year, members=MEMBERS, departments=DEPARTMENTS)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("任务名称", "title"), ("工作项", "title"), ("Task Name", "title"),
        ("直接责任人", "owner"), ("责任人*", "owner"), ("Owner", "owner"),
        ("配合部门", "departments"), ("协作部门", "departments"), ("部门名称", "departments"),
        ("责任部门名称", "departments"), ("任务负责人", "owner"), ("负责人姓名", "owner"), ("任务名称（必填）", "title"),
        ("计划开始", "start"), ("计划开始时间", "start"), ("Start Date", "start"),
        ("计划完成", "due"), ("截止时间（必填）", "due"), ("完成时间", "due"),
        ("起止时间", "span"), ("交付成果", "deliverable"), ("交付物标准", "deliverable"),
        ("前置任务", "predecessors"), ("前置依赖", "predecessors"), ("WBS编号", "wbs"), ("层级", "wbs"),
        ("验收标准", "acceptance"), ("备注", "note"), ("序号", "seq"),
        ("实际完成时间", None), ("", None), (None, None), ("状态说明书", None),
    ],
)
def test_header_spellings(header: str | None, expected: str | None) -> None:
    assert header_field(header) == expected


def test_title_rows_are_skipped_and_the_first_task_sheet_is_read() -> None:
    data = xlsx(
        ("说明", [["本表由 PMO 维护"], ["填写说明：每行一个任务"]]),
        ("任务分工", [
            ["新品发布会 跨部门任务分工表"],
            ["编制日期：2024-05-20", None, "版本 V1.0"],
            ["WBS编号", "任务名称", "直接责任人", "配合部门", "起止时间", "交付物", "前置依赖", "验收标准"],
            ["1", "需求调研", "李四", "研发部、市场部", "6/1-6/30", "调研报告", None, "评审通过"],
            [None, None, None, None, None, None, None, None],
            ["1.1", "用户访谈", "张三", "市场部", "2024.06.01~06.10", "访谈纪要", None, None],
        ]),
    )
    table = read_task_table(data, "分工表.xlsx")
    assert (table.sheet, table.header_row) == ("任务分工", 3)
    plan = read_plan(table, year=2024, members=MEMBERS, departments=DEPARTMENTS)
    assert plan.problems == []
    first, second = plan.tasks
    assert (first.row, first.title, first.owner, first.departments) == (4, "需求调研", "李四", ["研发部", "市场部"])
    assert (first.start, first.due, first.deliverable, first.acceptance) == (
        date(2024, 6, 1), date(2024, 6, 30), "调研报告", "评审通过")
    assert (second.row, second.parent_row, second.start, second.due) == (6, 4, date(2024, 6, 1), date(2024, 6, 10))


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (datetime(2024, 6, 30, 0, 0), date(2024, 6, 30)),
        (date(2025, 1, 2), date(2025, 1, 2)),
        (45473, date(2024, 6, 30)),  # an Excel serial number
        ("2024-06-30", date(2024, 6, 30)), ("2024/6/30", date(2024, 6, 30)), ("2024.6.30", date(2024, 6, 30)),
        ("2024年6月30日", date(2024, 6, 30)), ("6月30日", date(2025, 6, 30)), ("6/30", date(2025, 6, 30)),
        ("2024-06-30 00:00:00", date(2024, 6, 30)), ("", None), (None, None),
    ],
)
def test_cell_dates_use_the_projects_year(cell: object, expected: date | None) -> None:
    assert cell_date(cell, year=2025) == expected


@pytest.mark.parametrize("cell", ["下周", "6月", "2024-02-30", "13/1", "尽快", "abc"])
def test_bad_dates_are_refused_with_the_value(cell: str) -> None:
    with pytest.raises(UserError) as error:
        cell_date(cell, year=2024)
    assert cell in error.value.message


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("6/1-6/30", (date(2026, 6, 1), date(2026, 6, 30))),
        ("2024.06.01~06.30", (date(2024, 6, 1), date(2024, 6, 30))),
        ("2024-06-01 - 2024-07-15", (date(2024, 6, 1), date(2024, 7, 15))),
        ("6月1日至6月30日", (date(2026, 6, 1), date(2026, 6, 30))),
        ("6月1日-20日", (date(2026, 6, 1), date(2026, 6, 20))),
        ("11/20-1/15", (date(2026, 11, 20), date(2027, 1, 15))),
        ("7/31", (None, date(2026, 7, 31))),
    ],
)
def test_combined_spans(cell: str, expected: tuple[date | None, date | None]) -> None:
    assert cell_span(cell, year=2026) == expected


def test_wbs_codes_make_parents_and_dependencies_by_code_row_and_title() -> None:
    data = xlsx(("Sheet1", [
        ["WBS", "任务", "负责人", "前置任务", "计划完成"],
        ["1", "方案设计", "李四", None, "2024-06-10"],
        ["1.1", "原型", "张三", "1", "2024-06-12"],
        ["1.1.1", "交互稿", "张三", "原型", "2024-06-13"],
        ["2", "开发", "赵六", "1.1、交互稿", "2024-06-30"],
    ]))
    plan = plan_of(data)
    assert plan.problems == []
    rows = {t.title: t for t in plan.tasks}
    assert rows["原型"].parent_row == 2 and rows["交互稿"].parent_row == 3 and rows["开发"].parent_row is None
    assert rows["原型"].predecessor_rows == [2]
    assert rows["交互稿"].predecessor_rows == [3]
    assert rows["开发"].predecessor_rows == [3, 4]


def test_outline_levels_make_parents() -> None:
    data = xlsx(("Sheet1", [
        ["层级", "任务名称", "负责人"],
        [1, "筹备", "李四"], [2, "场地", "张三"], [2, "物料", "张三"], [3, "印刷", "赵六"], [1, "发布", "李四"],
    ]))
    plan = plan_of(data)
    assert plan.problems == []
    assert [(t.title, t.parent_row) for t in plan.tasks] == [
        ("筹备", None), ("场地", 2), ("物料", 2), ("印刷", 4), ("发布", None)]


def test_plain_numbers_name_spreadsheet_rows_without_a_code_column() -> None:
    data = csv_bytes([
        ["任务名称", "负责人", "前置依赖"],
        ["调研", "李四", ""], ["设计", "张三", "2"], ["评审", "王经理", "第3行"],
    ])
    plan = plan_of(data, "plan.csv")
    assert plan.problems == []
    assert [t.predecessor_rows for t in plan.tasks] == [[], [2], [3]]


def test_every_problem_is_listed_by_its_row_and_value() -> None:
    data = xlsx(("Sheet1", [
        ["项目WBS分解表"],
        ["WBS编号", "任务名称", "直接责任人", "配合部门", "计划开始", "计划完成", "前置依赖"],
        ["1", "调研", "李思", "研发部", "2024-06-01", "2024-06-10", None],  # 李思: a typo of 李四
        ["2", "设计", "张三", "研发", "2024-06-01", "下周", None],  # unknown department, bad date
        ["3", None, "张三", None, None, None, None],  # no title
        ["4", "开发", "赵六", None, None, None, "5"],
        ["5", "测试", "赵六", None, None, None, "4"],  # 4 ⇄ 5
        ["6", "上线", "赵六", None, None, None, "不存在的任务"],
        ["7", "复盘", "李四", None, "2024-06-20", "2024-06-01", None],  # due before start
        ["8", "宣传", "张三", "市场部", None, "6/30", None],  # the only good row
    ]))
    plan = plan_of(data)
    assert plan.problem_rows == [3, 4, 5, 6, 7, 8, 9]
    assert [t.row for t in plan.tasks] == [10]
    lines = "\n".join(p.line() for p in plan.problems)
    assert "第 3 行 直接责任人“李思”" in lines and "李四" in lines
    assert "第 4 行 配合部门“研发”" in lines and "研发部" in lines
    assert "第 4 行 计划完成“下周”" in lines
    assert "第 5 行：缺少任务名称" in lines
    assert "前置依赖成环：第 6 行 → 第 7 行 → 第 6 行" in lines
    assert "第 8 行 前置依赖“不存在的任务”" in lines
    assert "第 9 行" in lines and "截止早于开始" in lines
    assert plan.tasks[0].due == date(2024, 6, 30)


def test_a_row_hanging_on_a_bad_row_waits_for_it() -> None:
    data = xlsx(("Sheet1", [
        ["WBS编号", "任务名称", "负责人"],
        ["1", "筹备", "不认识的人"], ["1.1", "场地", "张三"], ["2", "发布", "李四"],
    ]))
    plan = plan_of(data)
    assert plan.problem_rows == [2, 3]
    assert [t.title for t in plan.tasks] == ["发布"]


def test_ambiguous_title_reference_is_asked_not_guessed() -> None:
    data = csv_bytes([["任务", "前置任务"], ["评审", ""], ["评审", ""], ["上线", "评审"]])
    plan = plan_of(data, "p.csv")
    assert plan.problem_rows == [4]
    assert "第 2、3 行" in plan.problems[0].message


def test_gbk_csv_and_semicolons() -> None:
    data = "任务名称;负责人;截止时间\n调研;李四;2024/7/1\n".encode("gb18030")
    plan = plan_of(data, "p.csv")
    assert [(t.title, t.owner, t.due) for t in plan.tasks] == [("调研", "李四", date(2024, 7, 1))]


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (b"hello", "notes.pdf", "只能导入"),
        (b"PK\x03\x04 broken", "plan.xlsx", "打不开"),
        (b"\xd0\xcf\x11\xe0old", "plan.xls", ".xlsx"),
        (b"x" * (5 * 1024 * 1024 + 1), "plan.csv", "MB"),
        ("姓名,电话\n张三,123\n".encode(), "people.csv", "没找到任务表"),
    ],
)
def test_files_that_are_not_task_tables_are_refused_clearly(data: bytes, name: str, words: str) -> None:
    with pytest.raises(UserError) as error:
        read_task_table(data, name)
    assert words in error.value.message


def test_two_thousand_rows_read_quickly() -> None:
    import time

    rows: list[list[object]] = [["WBS编号", "任务名称", "负责人", "计划完成", "前置依赖"]]
    for i in range(1, 2001):
        rows.append([str(i), f"任务{i}", "李四", date(2024, 6, 1), str(i - 1) if i > 1 else None])
    data = xlsx(("Sheet1", rows))
    started = time.perf_counter()
    plan = plan_of(data)
    assert time.perf_counter() - started < 5
    assert plan.problems == [] and len(plan.tasks) == 2000
    assert plan.tasks[-1].predecessor_rows == [2000]


def test_preview_counts_new_updated_unchanged_and_lists_problems() -> None:
    from handlers.sheet_preview import ExistingTask, match_tasks, preview_lines

    data = xlsx(("Sheet1", [
        ["任务分工表"],
        ["WBS编号", "任务名称", "负责人", "计划完成"],
        ["1", "调研", "李四", "2024-06-10"],  # same as #1
        ["2", "设计", "张三", "2024-06-20"],  # #2's due date moved
        ["3", "开发", "赵六", "2024-07-01"],  # new
        ["4", "测试", "陌生人", "2024-07-10"],  # problem
    ]))
    plan = plan_of(data)
    existing = [
        ExistingTask(1, "调研", "1", {"title": "调研", "owner": "李四", "due": date(2024, 6, 10)}),
        ExistingTask(2, "设计", "2", {"title": "设计", "owner": "张三", "due": date(2024, 6, 15)}),
    ]
    matches = match_tasks(plan, existing)
    assert [(m.row.title, m.existing.number if m.existing else None, m.changed) for m in matches] == [
        ("调研", 1, []), ("设计", 2, ["due"]), ("开发", None, ["title", "owner", "due"])]
    text = "\n".join(preview_lines(plan, matches, filename="分工表.xlsx"))
    assert "新增 1 个，更新 1 个，不变 1 个；有问题 1 行。" in text
    assert "更新 #2（第 4 行）：截止 2024-06-15 → 2024-06-20" in text
    assert "第 6 行 负责人“陌生人”" in text
    assert "/导入 确认" in text


def test_preview_of_an_unchanged_file_offers_nothing_to_confirm() -> None:
    from handlers.sheet_preview import ExistingTask, match_tasks, preview_lines

    plan = plan_of(csv_bytes([["任务名称", "负责人"], ["调研", "李四"]]), "p.csv")
    matches = match_tasks(plan, [ExistingTask(1, "调研", None, {"title": "调研", "owner": "李四"})])
    text = "\n".join(preview_lines(plan, matches, filename="p.csv"))
    assert "新增 0 个，更新 0 个，不变 1 个" in text and "/导入 确认" not in text
