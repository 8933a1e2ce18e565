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

SHOWN_PROBLEMS = 30  # a phone screen's worth; the rest are counted
CONFIRM_HINT = "确认导入请发：/导入 确认（有问题的行不导入；改好表格再发一次也可以）"
FIELD_LABELS = {"title": "任务名称", "owner": "负责人", "departments": "部门", "start": "开始", "due": "截止",
                "deliverable": "交付物", "acceptance": "验收标准", "parent": "上级", "predecessors": "前置依赖"}


@dataclass(frozen=True)
class ExistingTask:
    """A project task as the import compares it (`values`: field → value, fields as in FIELD_LABELS)."""

    number: int
    title: str
    wbs: str | None = None
    values: dict[str, object] = field(default_factory=dict)


@dataclass
class Match:
    row: PlannedTask
    existing: ExistingTask | None
    changed: list[str]  # the fields that would change (all of them for a new task)


def planned_values(task: PlannedTask) -> dict[str, object]:
    """The fields the sheet sets (empty cells set nothing)."""
    values: dict[str, object] = {"title": task.title, "owner": task.owner, "start": task.start, "due": task.due,
                                 "deliverable": task.deliverable, "acceptance": task.acceptance}
    if task.departments:
        values["departments"] = tuple(task.departments)
    return {k: v for k, v in values.items() if v not in (None, "", ())}


def match_tasks(plan: Plan, existing: Iterable[ExistingTask]) -> list[Match]:
    by_code = {}
    by_title: dict[str, ExistingTask] = {}
    for task in existing:
        if task.wbs:
            by_code[task.wbs] = task
        else:
            by_title.setdefault(task.title, task)
    matches = []
    for row in plan.tasks:
        found = by_code.get(row.wbs) if row.wbs else by_title.get(row.title)
        values = planned_values(row)
        if found is None:
            matches.append(Match(row, None, list(values)))
            continue
        changed = [k for k, v in values.items() if found.values.get(k, found.title if k == "title" else None) != v]
        matches.append(Match(row, found, changed))
    return matches


def _shown(value: object) -> str:
    if isinstance(value, date):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, tuple):
        return "、".join(map(str, value))
    return str(value)


def preview_lines(plan: Plan, matches: list[Match], *, filename: str) -> list[str]:
    new = [m for m in matches if m.existing is None]
    updated = [m for m in matches if m.existing is not None and m.changed]
    unchanged = len(matches) - len(new) - len(updated)
    rows_with_problems = plan.problem_rows
    lines = [f"导入预览：{filename}",
             f"新增 {len(new)} 个，更新 {len(updated)} 个，不变 {unchanged} 个；有问题 {len(rows_with_problems)} 行。"]
    for m in updated[:SHOWN_PROBLEMS]:
        assert m.existing is not None
        changes = "，".join(
            f"{FIELD_LABELS.get(k, k)} {_shown(m.existing.values.get(k, '（空）'))} → {_shown(planned_values(m.row)[k])}"
            for k in m.changed
        )
        lines.append(f"更新 #{m.existing.number}（第 {m.row.row} 行）：{changes}")
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
