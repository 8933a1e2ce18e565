"""An import from end to end, for the chat command and the CLI alike: a file read as the project's plan,
the preview said with its date warnings, the plan kept as JSON between the preview and the confirmation."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from handlers.due_dates import due_warnings
from handlers.sheet_plan import Plan, PlannedTask, Problem, read_plan
from handlers.sheet_preview import SHOWN_PROBLEMS, existing_tasks, match_tasks, preview_lines
from handlers.sheet_read import read_task_table
from models import Project
from models.calendar import load_calendar
from models.registers import active_member_names
from models.task_sheet import sheet_task_rows

_DATES = ("start", "due")


def plan_from_file(session: Session, project: Project, data: bytes, filename: str, *, year: int) -> Plan:
    """The file's task table read against the project's members and departments (a refusal for a file
    that is no task table)."""
    table = read_task_table(data, filename)
    return read_plan(table, year=year, members=active_member_names(session, project_id=project.id),
                     departments=[d.name for d in project.departments])


def preview(session: Session, project: Project, plan: Plan, *, filename: str, today: date) -> tuple[list[str], bool]:
    """The preview's lines, and whether there is anything to confirm."""
    matches = match_tasks(plan, existing_tasks(sheet_task_rows(session, project_id=project.id)))
    lines = preview_lines(plan, matches, filename=filename)
    calendar = load_calendar(session, project_id=project.id)
    warnings = [
        f"第 {m.row.row} 行 {w}"
        for m in matches if "due" in m.changed and m.row.due is not None
        for w in due_warnings(calendar, project, m.row.due, today=today)
    ]
    if warnings:
        at = len(lines) - 1  # before the closing line (how to confirm)
        shown = warnings[:SHOWN_PROBLEMS]
        if len(warnings) > len(shown):
            shown.append(f"…另有 {len(warnings) - len(shown)} 个日期提醒")
        lines[at:at] = ["日期提醒（照样导入）：", *shown]
    return lines, any(m.existing is None or (m.changed and not m.existing.cancelled) for m in matches)


def plan_to_json(plan: Plan) -> dict[str, Any]:
    def task(t: PlannedTask) -> dict[str, Any]:
        data = asdict(t)
        for key in _DATES:
            data[key] = data[key].isoformat() if data[key] else None
        return data

    return {"tasks": [task(t) for t in plan.tasks], "problems": [asdict(p) for p in plan.problems]}


def plan_from_json(data: dict[str, Any]) -> Plan:
    tasks = []
    for raw in data.get("tasks", ()):
        values = dict(raw)
        for key in _DATES:
            values[key] = date.fromisoformat(values[key]) if values.get(key) else None
        tasks.append(PlannedTask(**values))
    return Plan(tasks=tasks, problems=[Problem(**p) for p in data.get("problems", ())])
