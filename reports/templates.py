"""Project templates as data: a project's WBS turned into working-day offsets, and laid out again.

`template_body` reads a project's tasks (cancelled ones left out), their hierarchy, departments,
dependencies, acceptance criteria, deliverables and milestone flags, and its risk register (titles and
levels). Dates become working days on the source project's calendar: `offset` is the number of
workdays from the earliest start of the plan to the task's start (a task without a start date starts on
its due date), `duration` the workdays from its start to its due date, both included (at least 1).
`lay_out` does the reverse on the new project's calendar (statutory holidays and 调休 included): the
first workday on or after the new start is offset 0; a start on a day off begins on the next workday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Department, Risk, RiskLevel, Task, TaskStatus, task_dependency
from models.calendar import WorkCalendar

VERSION = 1


def _first_workday(calendar: WorkCalendar, day: date) -> date:
    if calendar.is_workday(day):
        return day
    found = calendar.next_workday(day)
    return found if found is not None else day


def _count(calendar: WorkCalendar, start: date, end: date) -> int:
    """Workdays in [start, end)."""
    return len(calendar.workdays(start, end - timedelta(days=1))) if end > start else 0


def add_workdays(calendar: WorkCalendar, day: date, count: int) -> date:
    """The workday `count` workdays after workday `day` (0: `day` itself)."""
    for _ in range(count):
        following = calendar.next_workday(day)
        if following is None:
            break
        day = following
    return day


def template_body(session: Session, *, project_id: int, calendar: WorkCalendar) -> dict[str, Any]:
    """The JSON a `ProjectTemplate` keeps for this project's plan."""
    rows = session.execute(
        select(Task, Department.name).outerjoin(Department, Department.id == Task.department_id)
        .where(Task.project_id == project_id, Task.status != TaskStatus.CANCELLED).order_by(Task.number)
    ).all()
    kept = {task.id: task.number for task, _ in rows}
    deps: dict[int, list[int]] = {}
    for task_id, predecessor_id in session.execute(
        select(task_dependency.c.task_id, task_dependency.c.predecessor_id).where(task_dependency.c.task_id.in_(list(kept)))
    ):
        if predecessor_id in kept:
            deps.setdefault(task_id, []).append(kept[predecessor_id])
    starts = [s for s in ((t.start_date or t.due_date) for t, _ in rows) if s is not None]
    origin = _first_workday(calendar, min(starts)) if starts else None
    tasks: list[dict[str, Any]] = []
    for task, department in rows:
        start = task.start_date or task.due_date
        offset = duration = None
        if start is not None and origin is not None:
            begin = _first_workday(calendar, start)
            offset = _count(calendar, origin, begin)
            if task.due_date is not None:
                duration = max(1, _count(calendar, begin, task.due_date + timedelta(days=1)))
        tasks.append({
            "key": task.number,
            "title": task.title,
            "parent": kept.get(task.parent_id) if task.parent_id else None,
            "department": department,
            "offset": offset,
            "duration": duration,
            "deps": sorted(deps.get(task.id, [])),
            "deliverable": task.deliverable,
            "acceptance": task.acceptance_criteria,
            "milestone": task.is_milestone,
            "wbs": task.wbs_code,
        })
    risks = [
        {"title": description, "level": level.value}
        for description, level in session.execute(
            select(Risk.description, Risk.level).where(Risk.project_id == project_id).order_by(Risk.number)
        )
    ]
    departments = sorted({t["department"] for t in tasks if t["department"]})
    return {"version": VERSION, "tasks": tasks, "risks": risks, "departments": departments}


@dataclass(frozen=True, slots=True)
class LaidTask:
    key: int  # its number in the new project (the template's order)
    title: str
    parent: int | None
    department: str | None
    start: date | None
    due: date | None
    deps: tuple[int, ...]
    deliverable: str | None
    acceptance: str | None
    milestone: bool
    wbs: str | None


@dataclass(frozen=True, slots=True)
class LaidRisk:
    title: str
    level: RiskLevel


@dataclass(frozen=True, slots=True)
class Layout:
    start: date  # the first workday of the plan
    tasks: tuple[LaidTask, ...]
    risks: tuple[LaidRisk, ...]
    departments: tuple[str, ...]

    @property
    def end(self) -> date | None:
        dues = [t.due for t in self.tasks if t.due]
        return max(dues) if dues else None


def lay_out(body: dict[str, Any], *, start: date, calendar: WorkCalendar) -> Layout:
    """The template's tasks with dates on `calendar`, its first workday on or after `start`."""
    origin = _first_workday(calendar, start)
    items = list(body.get("tasks", []))
    number = {int(item["key"]): index for index, item in enumerate(items, start=1)}  # the new project's #N
    tasks = []
    for item in items:
        begin = due = None
        if item.get("offset") is not None:
            begin = add_workdays(calendar, origin, int(item["offset"]))
            if item.get("duration") is not None:
                due = add_workdays(calendar, begin, max(1, int(item["duration"])) - 1)
        tasks.append(LaidTask(
            key=number[int(item["key"])], title=str(item["title"]), parent=number.get(item.get("parent") or 0),
            department=item.get("department"), start=begin, due=due,
            deps=tuple(number[d] for d in item.get("deps") or () if d in number),
            deliverable=item.get("deliverable"), acceptance=item.get("acceptance"),
            milestone=bool(item.get("milestone")), wbs=item.get("wbs"),
        ))
    risks = tuple(LaidRisk(str(r["title"]), RiskLevel(r.get("level", RiskLevel.MEDIUM.value))) for r in body.get("risks", []))
    departments = tuple(dict.fromkeys([*body.get("departments", []), *(t.department for t in tasks if t.department)]))
    return Layout(origin, tuple(tasks), risks, departments)
