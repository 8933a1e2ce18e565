"""Tables written as an .xlsx workbook (openpyxl, write-only so 2,000 rows take well under a second):
one sheet per table, the header row frozen and bold, column widths from the widest cell (Chinese
characters count double), dates as real Excel dates."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

SheetValue = str | int | float | date | None
MIN_WIDTH, MAX_WIDTH = 6, 60
DATE_FORMAT = "yyyy-mm-dd"
TIME_FORMAT = "yyyy-mm-dd hh:mm"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv"


@dataclass(frozen=True, slots=True)
class SheetTable:
    title: str  # at most 31 characters, no []:*?/\ (Excel's rules)
    header: tuple[str, ...]
    rows: Sequence[Sequence[SheetValue]]


def _width(value: SheetValue) -> int:
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    text = "" if value is None else str(value)
    longest = max(text.split("\n"), key=len, default="")
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in longest)


def workbook_bytes(tables: Sequence[SheetTable]) -> bytes:
    book = Workbook(write_only=True)
    bold = Font(bold=True)
    for table in tables:
        sheet = book.create_sheet(table.title[:31])
        widths = [_width(h) for h in table.header]
        for row in table.rows:
            for i, value in enumerate(row[: len(widths)]):
                widths[i] = max(widths[i], _width(value))
        for i, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = min(max(width + 2, MIN_WIDTH), MAX_WIDTH)
        sheet.freeze_panes = "A2"
        header = []
        for label in table.header:
            cell = WriteOnlyCell(sheet, value=label)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        for row in table.rows:
            cells: list[object] = []
            for value in row:
                if isinstance(value, date):
                    if isinstance(value, datetime) and value.tzinfo is not None:  # Excel has no time zones
                        value = value.replace(tzinfo=None)
                    cell = WriteOnlyCell(sheet, value=value)  # type: ignore[arg-type]  # openpyxl writes dates
                    cell.number_format = TIME_FORMAT if isinstance(value, datetime) else DATE_FORMAT
                    cells.append(cell)
                else:
                    cells.append(value)
            sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _csv_value(value: SheetValue) -> str | int | float:
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, date):
        return f"{value:%Y-%m-%d}"
    return "" if value is None else value


def csv_bytes(table: SheetTable) -> bytes:
    """One table as CSV; UTF-8 with a BOM, which is what makes Excel on Windows read Chinese right."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.header)
    writer.writerows([_csv_value(v) for v in row] for row in table.rows)
    return out.getvalue().encode("utf-8-sig")
