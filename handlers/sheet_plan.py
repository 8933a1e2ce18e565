"""A task table read as a plan: one `PlannedTask` per row, and every problem listed by its row.

Pure: it gets the project's member and department names and the project's year, and decides nothing
it is unsure of — an unknown owner or department (with the nearest names, as in chat), a bad date, a
dependency that names no row or names several, a cycle, a missing title are problems of their rows;
those rows are not imported, the rest are.

Parents come from WBS codes (`1` → `1.2` → `1.2.3`), or, in a 层级 column of outline levels (1, 2, 2,
3, 1 …), from the nearest row above one level up. 前置依赖 names other rows by WBS code, by 序号, by the
spreadsheet's row number (`第5行`, or a plain number when the table has no code column), or by title.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from handlers.errors import UserError
from handlers.names import nearest_names
from handlers.sheet_dates import cell_date, cell_span
from handlers.sheet_read import Cell, TaskTable

MAX_TITLE = 200
MAX_TEXT = 200
_LIST = re.compile(r"\s*[、,，;；\n|]+\s*")
_ROW_REF = re.compile(r"(?:第\s*(\d+)\s*行|行\s*(\d+)|row\s*(\d+))", re.IGNORECASE)
_WBS = re.compile(r"\d+(?:\.\d+)*")


@dataclass(frozen=True)
class Problem:
    row: int
    column: str  # the header as written ("" for the row as a whole)
    value: str
    message: str

    def line(self) -> str:
        where = f"第 {self.row} 行" + (f" {self.column}" if self.column else "")
        shown = f"“{self.value}”" if self.value else ""
        return f"{where}{shown}：{self.message}"


@dataclass
class PlannedTask:
    row: int
    title: str
    wbs: str | None = None
    owner: str | None = None
    departments: list[str] = field(default_factory=list)
    start: date | None = None
    due: date | None = None
    deliverable: str | None = None
    acceptance: str | None = None
    note: str | None = None
    parent_row: int | None = None
    predecessor_rows: list[int] = field(default_factory=list)


@dataclass
class Plan:
    tasks: list[PlannedTask]  # the importable rows, in the file's order
    problems: list[Problem]  # sorted by row

    @property
    def problem_rows(self) -> list[int]:
        return sorted({p.row for p in self.problems})


def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, float):
        return f"{cell:g}"
    return str(cell).strip()


def _listed(cell: Cell) -> list[str]:
    return [part for part in _LIST.split(_text(cell)) if part]


class _Reader:
    def __init__(self, table: TaskTable, *, year: int, members: Iterable[str], departments: Iterable[str]) -> None:
        self.table = table
        self.year = year
        self.members = {name.strip().lower(): name for name in members}
        self.departments = {name.strip().lower(): name for name in departments}
        self.problems: list[Problem] = []
        self.bad_rows: set[int] = set()

    def problem(self, row: int, column: str, value: Cell, message: str) -> None:
        header = self.table.columns.get(column, "")
        self.problems.append(Problem(row, header, _text(value), message))
        self.bad_rows.add(row)

    def date_of(self, row: int, column: str, cell: Cell) -> date | None:
        try:
            return cell_date(cell, year=self.year)
        except UserError as error:
            self.problem(row, column, cell, error.message)
            return None

    def owner_of(self, row: int, cell: Cell) -> str | None:
        names = [n.lstrip("@＠").strip() for n in _listed(cell)]
        if not names:
            return None
        if len(names) > 1:
            self.problem(row, "owner", cell, "负责人只能写一位（其余写进配合部门或备注）")
            return None
        found = self.members.get(names[0].lower())
        if found is None:
            near = nearest_names(names[0], self.members.values(), by_sound=True)
            self.problem(row, "owner", names[0], "项目里没有这个成员" + (f"，是不是 {'、'.join(near)}？" if near else ""))
        return found

    def departments_of(self, row: int, cell: Cell) -> list[str]:
        found: list[str] = []
        for name in _listed(cell):
            known = self.departments.get(name.lower())
            if known is None:
                near = nearest_names(name, self.departments.values())
                hint = f"，是不是 {'、'.join(near)}？" if near else f"（先发 /部门 添加 {name}）"
                self.problem(row, "departments", name, "没有这个部门" + hint)
            elif known not in found:
                found.append(known)
        return found

    def text_of(self, row: int, column: str, cell: Cell) -> str | None:
        text = _text(cell)
        if len(text) > MAX_TEXT:
            self.problem(row, column, text[:20] + "…", f"最多 {MAX_TEXT} 个字")
            return None
        return text or None

    def task(self, row: int, values: dict[str, Cell]) -> PlannedTask:
        title = _text(values.get("title"))
        if not title:
            self.problem(row, "", "", "缺少任务名称")
        elif len(title) > MAX_TITLE:
            self.problem(row, "title", title[:20] + "…", f"任务名称最多 {MAX_TITLE} 个字")
        start = self.date_of(row, "start", values.get("start"))
        due = self.date_of(row, "due", values.get("due"))
        if values.get("span") is not None and _text(values.get("span")):
            try:
                span_start, span_end = cell_span(values.get("span"), year=self.year)
            except UserError as error:
                self.problem(row, "span", values.get("span"), error.message)
            else:
                start = start or span_start
                due = due or span_end
        if start and due and due < start:
            self.problem(row, "", f"{start:%Y-%m-%d} ~ {due:%Y-%m-%d}", "截止早于开始")
        wbs = _text(values.get("wbs")) or None
        return PlannedTask(
            row=row, title=title, wbs=wbs,
            owner=self.owner_of(row, values.get("owner")),
            departments=self.departments_of(row, values.get("departments")),
            start=start, due=due,
            deliverable=self.text_of(row, "deliverable", values.get("deliverable")),
            acceptance=self.text_of(row, "acceptance", values.get("acceptance")),
            note=self.text_of(row, "note", values.get("note")),
        )


def _outline_levels(tasks: list[PlannedTask]) -> bool:
    """A 层级 column of levels (1, 2, 2, 1) rather than codes (1, 1.1, 1.2, 2)."""
    codes = [t.wbs for t in tasks if t.wbs]
    return bool(codes) and all(c.isdigit() for c in codes) and len(set(codes)) < len(codes)


def _link_parents(reader: _Reader, tasks: list[PlannedTask]) -> None:
    if _outline_levels(tasks):
        stack: list[tuple[int, int]] = []  # (level, row)
        for task in tasks:
            if not task.wbs:
                continue
            level = int(task.wbs)
            while stack and stack[-1][0] >= level:
                stack.pop()
            if level > 1 and (not stack or stack[-1][0] != level - 1):
                reader.problem(task.row, "wbs", task.wbs, f"上面没有第 {level - 1} 层的任务")
            elif stack:
                task.parent_row = stack[-1][1]
            stack.append((level, task.row))
            task.wbs = None  # levels are no codes: they do not identify the task
        return
    by_code: dict[str, int] = {}
    for task in tasks:
        if not task.wbs:
            continue
        if not _WBS.fullmatch(task.wbs):
            reader.problem(task.row, "wbs", task.wbs, "WBS编号应写成 1、1.2、1.2.3")
        elif task.wbs in by_code:
            reader.problem(task.row, "wbs", task.wbs, f"与第 {by_code[task.wbs]} 行的 WBS编号重复")
        else:
            by_code[task.wbs] = task.row
    for task in tasks:
        if task.wbs and "." in task.wbs and task.row not in reader.bad_rows:
            parent = task.wbs.rsplit(".", 1)[0]
            if parent not in by_code:
                reader.problem(task.row, "wbs", task.wbs, f"表里没有上级任务 {parent}")
            else:
                task.parent_row = by_code[parent]


class _References:
    def __init__(self, table: TaskTable, tasks: list[PlannedTask], seq: dict[int, str]) -> None:
        self.rows = {t.row for t in tasks}
        self.by_code = {t.wbs: t.row for t in tasks if t.wbs}
        self.by_seq: dict[str, int] = {}
        for row, value in seq.items():
            self.by_seq.setdefault(value, row)
        self.by_title: dict[str, list[int]] = {}
        for t in tasks:
            if t.title:
                self.by_title.setdefault(t.title.lower(), []).append(t.row)
        self.numbers_are_rows = "wbs" not in table.columns and "seq" not in table.columns

    def find(self, ref: str) -> int | str:
        """The row a reference names, or why it names none."""
        ref = ref.strip().lstrip("#＃")
        if m := _ROW_REF.fullmatch(ref):
            row = int(next(g for g in m.groups() if g))
            return row if row in self.rows else f"第 {row} 行不是任务"
        if ref in self.by_code:
            return self.by_code[ref]
        if ref in self.by_seq:
            return self.by_seq[ref]
        if ref.isdigit() and self.numbers_are_rows:
            return int(ref) if int(ref) in self.rows else f"第 {ref} 行不是任务"
        titled = self.by_title.get(ref.lower(), [])
        if len(titled) == 1:
            return titled[0]
        if len(titled) > 1:
            return f"有 {len(titled)} 行都叫这个名字（第 {'、'.join(map(str, titled))} 行），请写 WBS编号或行号"
        near = nearest_names(ref, (t for t in self.by_title))
        return "找不到这个前置任务" + (f"，是不是 {'、'.join(near)}？" if near else "")


def _cycles(tasks: list[PlannedTask]) -> list[list[int]]:
    """Each dependency cycle once, as its rows in order (iterative DFS, so 2,000 rows do not recurse)."""
    graph = {t.row: t.predecessor_rows for t in tasks}
    state: dict[int, int] = {}  # 1 on the path, 2 done
    found: list[list[int]] = []
    for root in graph:
        if root in state:
            continue
        path: list[int] = []
        stack: list[tuple[int, int]] = [(root, 0)]
        while stack:
            node, index = stack.pop()
            if index == 0:
                state[node] = 1
                path.append(node)
            edges = graph.get(node, [])
            if index < len(edges):
                stack.append((node, index + 1))
                nxt = edges[index]
                if state.get(nxt) == 1:
                    found.append(path[path.index(nxt):])
                elif nxt not in state and nxt in graph:
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                path.pop()
    return found


def read_plan(table: TaskTable, *, year: int, members: Iterable[str], departments: Iterable[str]) -> Plan:
    """Every row of the table as a planned task, and every problem by row; rows with problems left out."""
    reader = _Reader(table, year=year, members=members, departments=departments)
    tasks = [reader.task(row, values) for row, values in table.rows]
    _link_parents(reader, tasks)
    seq = {row: _text(values.get("seq")) for row, values in table.rows if _text(values.get("seq"))}
    refs = _References(table, tasks, seq)
    for task, (_row, values) in zip(tasks, table.rows, strict=True):
        for ref in _listed(values.get("predecessors")):
            found = refs.find(ref)
            if isinstance(found, str):
                reader.problem(task.row, "predecessors", ref, found)
            elif found == task.row:
                reader.problem(task.row, "predecessors", ref, "任务不能依赖自己")
            elif found not in task.predecessor_rows:
                task.predecessor_rows.append(found)
    for cycle in _cycles(tasks):
        shown = " → ".join(f"第 {r} 行" for r in [*cycle, cycle[0]])
        for row in cycle:
            reader.problem(row, "predecessors", "", f"前置依赖成环：{shown}")
    # A row that hangs on a row with problems cannot be imported as written either.
    changed = True
    while changed:
        changed = False
        for task in tasks:
            if task.row in reader.bad_rows:
                continue
            blocked = [r for r in [task.parent_row, *task.predecessor_rows] if r is not None and r in reader.bad_rows]
            if blocked:
                reader.problem(task.row, "", "", f"依赖的第 {blocked[0]} 行有问题，这一行先不导入")
                changed = True
    problems = sorted(reader.problems, key=lambda p: p.row)
    return Plan(tasks=[t for t in tasks if t.row not in reader.bad_rows], problems=problems)
