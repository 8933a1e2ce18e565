"""What an import would do, said before anything is written: new, updated and unchanged tasks, and every
row with a problem, by the row number the spreadsheet shows.

A row is the same task as one already in the project when their WBS codes match, else (neither has a
code) their titles; the comparison is field by field over what the sheet says, so an empty cell leaves
the task's value alone rather than clearing it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from handlers.sheet_plan import Plan, PlannedTask
from models.task_sheet import SheetTaskRow

SHOWN_PROBLEMS = 30  # a phone screen's worth; the rest are counted
CONFIRM_HINT = "确认导入请发：/导入 确认；不导入：/导入 取消（有问题的行不导入；改好表格再发一次也可以）"
FIELD_LABELS = {"title": "任务名称", "owner": "负责人", "departments": "部门", "start": "开始", "due": "截止",
                "deliverable": "交付物", "acceptance": "验收标准", "parent": "上级", "predecessors": "前置依赖",
                "wbs": "WBS编号"}


@dataclass(frozen=True)
class ExistingTask:
    """A project task as the import compares it (`values`: field → value, fields as in FIELD_LABELS)."""

    number: int
    title: str
    wbs: str | None = None
    values: dict[str, object] = field(default_factory=dict)
    cancelled: bool = False  # an import does not change a cancelled task (`/任务 恢复` first)


@dataclass
class Match:
    row: PlannedTask
    existing: ExistingTask | None
    changed: list[str]  # the fields that would change (all of them for a new task)
    values: dict[str, object] = field(default_factory=dict)  # what the sheet sets (planned_values + links)


def existing_tasks(rows: Iterable[SheetTaskRow]) -> list[ExistingTask]:
    """The project's tasks as the import compares them."""
    return [
        ExistingTask(row.number, row.title, row.wbs_code, {
            "title": row.title, "owner": row.owner, "departments": row.departments or None, "start": row.start_date,
            "due": row.due_date, "deliverable": row.deliverable, "acceptance": row.acceptance,
            "parent": f"#{row.parent}" if row.parent is not None else None,
            "predecessors": tuple(f"#{n}" for n in row.predecessors) or None,
        }, cancelled=row.cancelled)
        for row in rows
    ]


def planned_values(task: PlannedTask) -> dict[str, object]:
    """The fields the sheet sets (empty cells set nothing)."""
    values: dict[str, object] = {"title": task.title, "owner": task.owner, "start": task.start, "due": task.due,
                                 "deliverable": task.deliverable, "acceptance": task.acceptance}
    if task.departments:
        values["departments"] = tuple(task.departments)
    return {k: v for k, v in values.items() if v not in (None, "", ())}


def _ref_order(ref: str) -> tuple[int, int]:
    """`#3` (a task) before `第5行` (a new row), each by number."""
    digits = int("".join(c for c in ref if c.isdigit()) or 0)
    return (0 if ref.startswith("#") else 1, digits)


def row_ref(row: int) -> str:
    return f"第{row}行"


def match_tasks(plan: Plan, existing: Iterable[ExistingTask]) -> list[Match]:
    """Each importable row with the task it is (by WBS code, else by title among the tasks no row's code
    claims), and the fields that would change; parents and predecessors compared as the tasks they name."""
    tasks = list(existing)
    by_code = {t.wbs: t for t in tasks if t.wbs}
    claimed_codes = {row.wbs for row in plan.tasks if row.wbs and row.wbs in by_code}
    found: dict[int, ExistingTask] = {}
    taken: set[int] = set()
    for row in plan.tasks:
        if row.wbs and row.wbs in by_code:
            found[row.row] = by_code[row.wbs]
            taken.add(by_code[row.wbs].number)
    by_title: dict[str, list[ExistingTask]] = {}
    for task in tasks:
        if task.number not in taken and (not task.wbs or task.wbs not in claimed_codes):
            by_title.setdefault(task.title, []).append(task)
    for row in plan.tasks:
        if row.row in found:
            continue
        candidates = [t for t in by_title.get(row.title, []) if t.number not in taken]
        if candidates:
            found[row.row] = candidates[0]
            taken.add(candidates[0].number)

    def ref(row: int) -> str:
        return f"#{found[row].number}" if row in found else row_ref(row)

    matches = []
    for row in plan.tasks:
        values = planned_values(row)
        if row.parent_row is not None:
            values["parent"] = ref(row.parent_row)
        if row.predecessor_rows:
            values["predecessors"] = tuple(sorted((ref(r) for r in row.predecessor_rows), key=_ref_order))
        match = found.get(row.row)
        if match is None:
            matches.append(Match(row, None, list(values), values))
            continue
        changed = [k for k, v in values.items() if match.values.get(k, match.title if k == "title" else None) != v]
        if row.wbs and match.wbs and row.wbs != match.wbs:  # renumbered (a code is never forced on a chat task)
            changed.append("wbs")
        matches.append(Match(row, match, changed, values))
    return matches


def _old(match: Match, key: str) -> object:
    assert match.existing is not None
    value = match.existing.wbs if key == "wbs" else match.existing.values.get(key)
    return "（空）" if value is None else value


def _shown(value: object) -> str:
    if isinstance(value, date):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, tuple):
        return "、".join(map(str, value))
    return str(value)


def preview_lines(plan: Plan, matches: list[Match], *, filename: str) -> list[str]:
    new = [m for m in matches if m.existing is None]
    updated = [m for m in matches if m.existing is not None and m.changed and not m.existing.cancelled]
    kept = [m for m in matches if m.existing is not None and m.changed and m.existing.cancelled]
    unchanged = len(matches) - len(new) - len(updated)
    rows_with_problems = plan.problem_rows
    lines = [f"导入预览：{filename}",
             f"新增 {len(new)} 个，更新 {len(updated)} 个，不变 {unchanged} 个；有问题 {len(rows_with_problems)} 行。"]
    for m in updated[:SHOWN_PROBLEMS]:
        assert m.existing is not None
        changes = "，".join(
            f"{FIELD_LABELS.get(k, k)} {_shown(_old(m, k))} → {_shown(m.row.wbs if k == 'wbs' else m.values[k])}"
            for k in m.changed
        )
        lines.append(f"更新 #{m.existing.number}（第 {m.row.row} 行）：{changes}")
    if len(updated) > SHOWN_PROBLEMS:
        lines.append(f"…另有 {len(updated) - SHOWN_PROBLEMS} 个任务更新")
    for m in kept[:SHOWN_PROBLEMS]:
        assert m.existing is not None
        lines.append(f"第 {m.row.row} 行：#{m.existing.number} 已取消，不会修改（要改请先 /任务 恢复 #{m.existing.number}）")
    if rows_with_problems:
        lines.append("有问题的行（不会导入）：")
        lines.extend(p.line() for p in plan.problems[:SHOWN_PROBLEMS])
        if len(plan.problems) > SHOWN_PROBLEMS:
            lines.append(f"…另有 {len(plan.problems) - SHOWN_PROBLEMS} 个问题")
    if new or updated:
        lines.append(CONFIRM_HINT)
    else:
        lines.append("没有要导入的变化。")
    return lines
