"""A project's whole plan as rows: every task in WBS order with its bar, and the calendar under it.

What the Gantt chart, the burn-up and the dashboard draw (`reports.gantt`, `reports.burnup`,
`reports.dashboard`). Read only: two statements (tasks with their owner and department names, then
the dependency edges), whatever the size of the project.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from models import Department, Member, Project, Task, TaskStatus, task_dependency
from models.calendar import WorkCalendar
from reports.records import as_utc
from reports.rules import local_time

MILESTONE_WORDS = ("里程碑", "milestone")  # a task added with one of these in its title is flagged a milestone


def looks_like_milestone(title: str) -> bool:
    """What `/任务 新增` sets `is_milestone` from when no 里程碑:是|否 is given (the flag is what counts)."""
    lowered = title.lower()
    return any(word in lowered for word in MILESTONE_WORDS)


@dataclass(frozen=True, slots=True)
class PlanTask:
    """One row of the plan. `start`/`end` are the bar's first and last day (inclusive)."""

    id: int
    number: int
    title: str
    status: TaskStatus
    progress: int
    owner_id: int | None
    owner: str | None
    department_id: int | None
    department: str | None
    parent_id: int | None
    depth: int  # 0 for a top-level task, 1 for its subtasks …
    start: date
    end: date
    start_date: date | None  # as planned (None: the bar starts on the day it was created)
    due_date: date | None
    completed_on: date | None
    status_since: datetime
    predecessors: tuple[int, ...]  # task ids
    milestone: bool
    overdue: bool

    @property
    def ref(self) -> str:
        return f"#{self.number}"


@dataclass(frozen=True, slots=True)
class DayOff:
    day: date
    name: str | None  # the holiday's name (None for an ordinary weekend)


@dataclass(frozen=True, slots=True)
class Plan:
    project_id: int
    project_name: str
    today: date
    deadline: date | None
    tasks: tuple[PlanTask, ...]  # WBS order: each parent followed by its subtasks, siblings by number
    first: date  # the span the chart shows
    last: date
    days_off: tuple[DayOff, ...]  # in [first, last]
    extra_workdays: tuple[date, ...]  # 调休: weekend days that are workdays, in [first, last]
    scope: str | None = None  # what a filtered plan shows ("部门：研发部", "#3 及其子任务" …)
    # Every task's number by id, those a filter left out too (a dependency on one is still shown).
    numbers: dict[int, int] = field(default_factory=dict)


def load_plan(session: Session, project: Project, at: datetime, *, calendar: WorkCalendar) -> Plan:
    """Every task of the project (cancelled ones too) as of `at`, with the calendar over its span."""
    tz = ZoneInfo(project.timezone)
    today = local_time(project, at).date()
    owner, department = aliased(Member), aliased(Department)
    rows = session.execute(
        select(
            Task.id, Task.number, Task.title, Task.status, Task.progress, Task.owner_id, owner.name,
            Task.department_id, department.name, Task.parent_id, Task.start_date, Task.due_date,
            Task.created_at, Task.status_changed_at, Task.completed_at, Task.is_milestone,
        )
        .outerjoin(owner, owner.id == Task.owner_id)
        .outerjoin(department, department.id == Task.department_id)
        .where(Task.project_id == project.id)
        .order_by(Task.number)
    ).all()
    successor = aliased(Task)
    predecessors: defaultdict[int, list[int]] = defaultdict(list)
    for task_id, pred_id in session.execute(
        select(task_dependency.c.task_id, task_dependency.c.predecessor_id)
        .join(successor, successor.id == task_dependency.c.task_id)
        .where(successor.project_id == project.id)
    ):
        predecessors[task_id].append(pred_id)
    tasks: list[PlanTask] = []
    for (task_id, number, title, status, progress, owner_id, owner_name, dept_id, dept_name, parent_id,
         start_date, due_date, created_at, changed_at, completed_at, is_milestone) in rows:
        created = as_utc(created_at).astimezone(tz).date()
        completed_on = as_utc(completed_at).astimezone(tz).date() if completed_at else None
        start = start_date or (min(created, due_date) if due_date else created)
        end = due_date or completed_on or max(start, today)
        start, end = min(start, end), max(start, end)
        tasks.append(
            PlanTask(
                id=task_id, number=number, title=title, status=status, progress=progress, owner_id=owner_id,
                owner=owner_name, department_id=dept_id, department=dept_name, parent_id=parent_id, depth=0,
                start=start, end=end, start_date=start_date, due_date=due_date, completed_on=completed_on,
                status_since=as_utc(changed_at), predecessors=tuple(sorted(predecessors.get(task_id, ()))),
                milestone=is_milestone,
                overdue=status.is_open and due_date is not None and due_date < today,
            )
        )
    ordered = wbs_order(tasks)
    first = min([t.start for t in ordered] + [today])
    last = max([t.end for t in ordered] + [today] + ([project.deadline] if project.deadline else []))
    first, last = first - timedelta(days=1), last + timedelta(days=1)
    days_off, extra = calendar_marks(calendar, first, last)
    return Plan(project.id, project.name, today, project.deadline, tuple(ordered), first, last, days_off, extra,
                numbers={t.id: t.number for t in ordered})


def wbs_order(tasks: list[PlanTask]) -> list[PlanTask]:
    """Parents before their subtasks (depth set), siblings by number; a broken parent link counts as none."""
    ids = {t.id for t in tasks}
    children: defaultdict[int | None, list[PlanTask]] = defaultdict(list)
    for task in tasks:
        children[task.parent_id if task.parent_id in ids else None].append(task)
    ordered: list[PlanTask] = []
    seen: set[int] = set()

    def visit(task: PlanTask, depth: int) -> None:
        if task.id in seen:  # parent links are kept acyclic by the commands; never loop on bad data
            return
        seen.add(task.id)
        ordered.append(replace(task, depth=depth) if depth else task)
        for child in sorted(children.get(task.id, ()), key=lambda t: t.number):
            visit(child, depth + 1)

    for root in sorted(children[None], key=lambda t: t.number):
        visit(root, 0)
    for task in tasks:  # whatever a cycle left unreached
        visit(task, 0)
    return ordered


def calendar_marks(calendar: WorkCalendar, first: date, last: date) -> tuple[tuple[DayOff, ...], tuple[date, ...]]:
    """Days off (weekends, holidays, the project's own) and weekend workdays (调休) in [first, last]."""
    days_off: list[DayOff] = []
    extra: list[date] = []
    day = first
    while day <= last:
        info = calendar.info(day)
        if not info.is_workday:
            days_off.append(DayOff(day, info.name))
        elif day.weekday() >= 5:
            extra.append(day)
        day += timedelta(days=1)
    return tuple(days_off), tuple(extra)


def filter_plan(
    plan: Plan, *, department_id: int | None = None, owner_id: int | None = None, branch: int | None = None,
    scope: str | None = None,
) -> Plan:
    """The part of the plan a `/甘特图` asks for: one department, one owner, or one task and its subtasks.

    Depths stay as in the whole plan's WBS; a branch keeps its root at depth 0.
    """
    tasks = list(plan.tasks)
    if branch is not None:
        start = next((i for i, t in enumerate(tasks) if t.id == branch), None)
        if start is None:
            tasks = []
        else:
            root_depth = tasks[start].depth
            end = start + 1
            while end < len(tasks) and tasks[end].depth > root_depth:
                end += 1
            tasks = [replace(t, depth=t.depth - root_depth) for t in tasks[start:end]]
    if department_id is not None:
        tasks = [t for t in tasks if t.department_id == department_id]
    if owner_id is not None:
        tasks = [t for t in tasks if t.owner_id == owner_id]
    return replace(plan, tasks=tuple(tasks), scope=scope)
