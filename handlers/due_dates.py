"""A due date is accepted as given, with a one-line warning when it falls on a day off of the project's
calendar (weekend, statutory holiday, the project's own days off; 调休 workdays count as workdays) or
after the project's deadline. The warning names the nearest workday."""

from __future__ import annotations

from datetime import date

from handlers.context import Context
from models import Project
from models.calendar import WorkCalendar, load_calendar
from reports.format import day


def nearest_workday(calendar: WorkCalendar, due: date) -> date | None:
    """The workday closest to `due`; on a tie the one before (a deadline is better met early)."""
    before, after = calendar.previous_workday(due), calendar.next_workday(due)
    if before is None or after is None:
        return before or after
    return before if (due - before) <= (after - due) else after


def due_warnings(calendar: WorkCalendar, project: Project, due: date, *, today: date) -> list[str]:
    """The warnings for a due date: a day off of the project's calendar, after the project's deadline."""
    warnings: list[str] = []
    info = calendar.info(due)
    if not info.is_workday:
        why = info.name or ("周末" if due.weekday() >= 5 else "休息日")
        nearest = nearest_workday(calendar, due)
        hint = f"，最近的工作日是 {day(nearest, today=today)}" if nearest else ""
        warnings.append(f"提醒：{day(due, today=today)} 是休息日（{why}）{hint}。")
    if project.deadline is not None and due > project.deadline:
        warnings.append(f"提醒：截止 {day(due, today=today)} 晚于项目截止 {day(project.deadline, today=today)}。")
    return warnings


def due_date_warnings(ctx: Context, due: date) -> list[str]:
    project = ctx.require_project()
    return due_warnings(load_calendar(ctx.session, project_id=project.id), project, due, today=ctx.today)
