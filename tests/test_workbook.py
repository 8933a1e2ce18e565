"""reports/workbook.py: frozen bold header, widths from the content, dates as dates, 2,000 rows quickly."""

from __future__ import annotations

import io
import time
from datetime import UTC, date, datetime

import openpyxl

from reports.workbook import SheetTable, csv_bytes, workbook_bytes


def test_sheets_header_widths_and_dates() -> None:
    data = workbook_bytes([
        SheetTable("任务分工表", ("WBS编号", "任务名称", "计划完成", "时间"),
                   [("1", "一个相当长的中文任务名称用来测宽度", date(2026, 12, 1), datetime(2026, 12, 1, 9, 30, tzinfo=UTC))]),
        SheetTable("决议", ("编号",), []),
    ])
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["任务分工表", "决议"]
    sheet = book["任务分工表"]
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.bold
    assert sheet["C2"].value == datetime(2026, 12, 1) and sheet["C2"].is_date
    assert sheet["D2"].value == datetime(2026, 12, 1, 9, 30)
    width_b = sheet.column_dimensions["B"].width
    assert width_b is not None and width_b > 30 > (sheet.column_dimensions["A"].width or 0)


def test_two_thousand_rows_in_a_few_seconds() -> None:
    rows = [(str(i), f"任务{i}", "李四", date(2026, 12, 1), i % 100) for i in range(2000)]
    started = time.perf_counter()
    data = workbook_bytes([SheetTable("任务分工表", ("WBS编号", "任务名称", "负责人", "计划完成", "进度"), rows)])
    assert time.perf_counter() - started < 5
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True)["任务分工表"]
    assert sum(1 for _ in sheet.iter_rows()) == 2001


def test_csv_has_a_bom_and_iso_dates() -> None:
    data = csv_bytes(SheetTable("风险登记表", ("编号", "截止"), [("R1", date(2026, 12, 1)), ("R2", None)]))
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig").splitlines() == ["编号,截止", "R1,2026-12-01", "R2,"]
