"""A task table out of a spreadsheet file (.xlsx through openpyxl, .csv through csv): which sheet, which
row is the header, which column means what.

Company templates put a title row or two above the header (“XX项目跨部门任务分工表”, 编制日期 …) and
spell the same column many ways (负责人 / 直接责任人 / 责任人, 截止时间 / 计划完成 …), so the header is the
first row, among the first few, in which a task-title column and at least one other known column are
recognised; the first sheet that has one is the task table. Row numbers are the spreadsheet's own
(1-based, title rows counted), so a problem can be found where the PM looks.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date

from bot.messages import MAX_FILE_BYTES
from handlers.errors import UserError

MAX_ROWS = 5000
SHEET_SUFFIXES = (".xlsx", ".xlsm", ".csv", ".txt", ".xls")  # what an import reads, or refuses with a reason
HEADER_SEARCH_ROWS = 15  # title rows above the header in real templates: one to three

Cell = str | date | float | int | None

# Field → header spellings, compared after `_normal` (no spaces, marks or bracketed notes, lower case).
# An exact spelling wins; otherwise the longest spelling the header contains — and on a tie any other
# field before the task title, whose generic words (名称, 任务, name) qualify other fields' headers too
# (部门名称, 负责人姓名, 任务负责人 are no titles).
HEADERS: dict[str, tuple[str, ...]] = {
    "title": ("任务名称", "任务", "工作项", "工作项名称", "名称", "任务内容", "工作内容", "任务描述", "事项",
              "工作任务", "task", "taskname", "title", "name", "workitem"),
    "wbs": ("wbs编号", "wbs", "wbs编码", "wbs code", "层级", "级别", "编号", "任务编号", "level", "code"),
    "seq": ("序号", "no", "#"),
    "owner": ("负责人", "直接责任人", "责任人", "主责人", "owner", "assignee", "responsible"),
    "departments": ("配合部门", "协作部门", "部门", "责任部门", "参与部门", "协同部门", "部门名称", "配合部门名称",
                    "department", "departments", "dept"),
    "start": ("开始时间", "计划开始", "计划开始时间", "开始日期", "开始", "计划开始日期", "start", "startdate"),
    "due": ("截止时间", "完成时间", "计划完成", "计划完成时间", "截止日期", "结束时间", "结束日期", "完成日期",
            "计划结束", "计划结束时间", "截止", "due", "duedate", "end", "enddate", "deadline"),
    "span": ("起止时间", "起止日期", "计划起止", "计划起止时间", "时间", "计划时间", "工期", "period", "dates"),
    "deliverable": ("交付物", "交付成果", "交付物标准", "输出成果", "交付", "成果", "deliverable", "deliverables",
                    "output"),
    "predecessors": ("前置依赖", "前置任务", "依赖", "前置", "紧前任务", "依赖任务", "predecessor",
                     "predecessors", "dependson", "dependencies"),
    "acceptance": ("验收标准", "验收", "完成标准", "acceptance", "acceptancecriteria", "criteria"),
    "note": ("备注", "说明", "note", "notes", "remark", "remarks", "comment"),
}
# Columns of what happened, not of the plan (an exported sheet has them): never read as the plan.
_NOT_PLAN = ("实际", "actual", "状态", "进度", "status", "progress")
_BRACKETS = re.compile(r"[（(【\[].*?[）)】\]]")
_MARKS = re.compile(r"[\s*＊:：_\-/]")


@dataclass(frozen=True)
class TaskTable:
    """The rows under the header: `(spreadsheet row number, {field: cell})`, blank rows left out."""

    sheet: str
    header_row: int
    columns: dict[str, str]  # field → the header as written
    rows: list[tuple[int, dict[str, Cell]]] = field(default_factory=list)


def _normal(header: str) -> str:
    return _MARKS.sub("", _BRACKETS.sub("", header)).lower()


def header_field(header: Cell) -> str | None:
    """The field a header cell names, or None (`计划完成时间` → due, `实际完成` → None)."""
    if not isinstance(header, str) or not header.strip():
        return None
    text = _normal(header)
    if not text or any(word in text for word in _NOT_PLAN):
        return None
    for name, spellings in HEADERS.items():
        if text in (_normal(s) for s in spellings):
            return name
    best: tuple[int, str] | None = None
    for name, spellings in HEADERS.items():
        for spelling in spellings:
            s = _normal(spelling)
            if len(s) >= 2 and s in text and (best is None or (len(s), name != "title") > (best[0], best[1] != "title")):
                best = (len(s), name)
    return best[1] if best else None


def _header_columns(cells: list[Cell]) -> dict[int, str]:
    found: dict[int, str] = {}
    for index, cell in enumerate(cells):
        name = header_field(cell)
        if name is not None and name not in found.values():
            found[index] = name
    return found


def _is_header(columns: dict[int, str]) -> bool:
    return "title" in columns.values() and len(columns) >= 2


def _blank(cell: Cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _table(sheet: str, grid: list[list[Cell]]) -> TaskTable | None:
    for index, cells in enumerate(grid[:HEADER_SEARCH_ROWS]):
        columns = _header_columns(cells)
        if not _is_header(columns):
            continue
        rows: list[tuple[int, dict[str, Cell]]] = []
        for number, row in enumerate(grid[index + 1:], start=index + 2):
            values = {name: (row[i] if i < len(row) else None) for i, name in columns.items()}
            values = {k: (v.strip() if isinstance(v, str) else v) for k, v in values.items()}
            if all(_blank(v) for v in values.values()):
                continue
            rows.append((number, values))
        if len(rows) > MAX_ROWS:
            raise UserError(f"表格有 {len(rows)} 行，一次最多导入 {MAX_ROWS} 行。请拆成几个文件。")
        return TaskTable(sheet=sheet, header_row=index + 1,
                         columns={name: str(cells[i]).strip() for i, name in columns.items()}, rows=rows)
    return None


def _xlsx_grids(data: bytes) -> list[tuple[str, list[list[Cell]]]]:
    import openpyxl  # imported here: only imports need it, and it takes a while to load

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise UserError(f"打不开这个 Excel 文件（{type(error).__name__}）。请另存为 .xlsx 或 .csv 再发。") from None
    grids = []
    try:
        for sheet in book.worksheets:
            grid: list[list[Cell]] = []
            for row in sheet.iter_rows(values_only=True):
                grid.append([_cell(v) for v in row])
                if len(grid) > MAX_ROWS + HEADER_SEARCH_ROWS + 1000:
                    break
            grids.append((sheet.title, grid))
    finally:
        book.close()
    return grids


def _cell(value: object) -> Cell:
    if value is None or isinstance(value, (str, date, float, int)):
        return value  # datetime is a date
    return str(value)


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):  # Excel on a Chinese Windows saves CSV as GBK
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UserError("CSV 文件的编码看不懂，请另存为 UTF-8 的 CSV 或 .xlsx 再发。")


def _csv_grid(data: bytes) -> list[list[Cell]]:
    text = _decode(data)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return [list(row) for row in csv.reader(io.StringIO(text), dialect)]


def read_task_table(data: bytes, filename: str) -> TaskTable:
    """The task table in an .xlsx or .csv file; a clear Chinese refusal for anything else."""
    if len(data) > MAX_FILE_BYTES:
        raise UserError(f"文件有 {len(data) / 1024 / 1024:.1f} MB，导入最多 {MAX_FILE_BYTES // 1024 // 1024} MB。")
    name = filename.lower()
    if name.endswith((".xlsx", ".xlsm")) or data[:4] == b"PK\x03\x04":
        grids = _xlsx_grids(data)
    elif name.endswith((".csv", ".txt")):
        grids = [(filename, _csv_grid(data))]
    elif name.endswith(".xls"):
        raise UserError("这是旧版 .xls 文件，请在 Excel 里另存为 .xlsx 再发。")
    else:
        raise UserError("只能导入 .xlsx 或 .csv 表格。")
    for sheet, grid in grids:
        table = _table(sheet, grid)
        if table is not None:
            return table
    raise UserError(
        "没找到任务表：表头需要有任务名称（任务名称/任务/工作项），"
        "以及负责人、部门、开始/截止时间、交付物、前置依赖、WBS编号等中的至少一列。"
    )
