"""The forecast engine: when each task will really start and finish, the critical path, slack, what-if.

Pure functions over the plan rows (`reports.plan.Plan`) and the project's working calendar
(`models.calendar.WorkCalendar`: statutory holidays, 调休 make-up workdays, the project's own days off).
Everything is counted in working days; dependencies are finish-to-start (a task starts on the first
workday after its last predecessor's forecast finish).

How a task is forecast (in dependency order):
- done: it finished on the day it was completed; cancelled: left out, and no constraint on others;
- open without a due date: not scheduled (`Forecast.unscheduled`), no constraint on others;
- its planned duration is the workdays from its planned start to its due date (at least one); the
  planned start is `start_date`, else the first workday after its predecessors' due dates (its due date
  itself when they are due after it), else its due date (a length nobody gave is not guessed);
- 待开始: starts no earlier than its planned start, today, and the first workday after its predecessors'
  forecast finish; runs its whole duration;
- 进行中 / 阻塞: the remaining share of its duration (by progress) from today (阻塞: from the next
  workday, it is assumed to resume then) or after its predecessors, whichever is later;
- it never finishes before its due date (the last workday on or before it): a plan is not forecast to
  finish early, so a slip is the working days a forecast finish lies past the due date.

The critical path is the longest chain over dependencies to the project's forecast end: from the open
task finishing last, back through the predecessor that finishes last, to a task nothing open holds up.
Slack is how many working days a task may slip before it moves the project's forecast end.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from models import OPEN_TASK_STATUSES, Project, Task, TaskStatus
from models.calendar import WorkCalendar, load_calendar
from reports.plan import Plan, PlanTask, load_plan

MAX_SPAN = 3660  # days: a search for a workday stops here (a calendar of days off only)


# ---------------------------------------------------------------------------- working-day arithmetic


class Workdays:
    """One calendar's workdays over a span grown on demand, with running counts: a forecast asks
    thousands of “how many workdays between” questions, each answered by one subtraction."""

    MARGIN = 400  # days the span grows by

    def __init__(self, calendar: WorkCalendar) -> None:
        self.calendar = calendar
        self._first = date.min
        self._flags: list[bool] = []
        self._counts: list[int] = []  # workdays in [first, first + i]

    def _index(self, day: date) -> int:
        if not self._flags:
            self._build(day - timedelta(days=self.MARGIN), day + timedelta(days=self.MARGIN))
        elif day < self._first:
            self._build(day - timedelta(days=self.MARGIN), self._first + timedelta(days=len(self._flags) - 1))
        last = self._first + timedelta(days=len(self._flags) - 1)
        if day > last:
            self._extend(day + timedelta(days=self.MARGIN))
        return (day - self._first).days

    def _build(self, first: date, last: date) -> None:
        self._first, self._flags, self._counts = first, [], []
        self._extend(last)

    def _extend(self, last: date) -> None:
        day = self._first + timedelta(days=len(self._flags))
        total = self._counts[-1] if self._counts else 0
        while day <= last:
            flag = self.calendar.is_workday(day)
            total += flag
            self._flags.append(flag)
            self._counts.append(total)
            day += timedelta(days=1)

    def is_workday(self, day: date) -> bool:
        index = self._index(day)  # first: it may replace the lists
        return self._flags[index]

    def between(self, earlier: date, later: date) -> int:
        """Workdays in (earlier, later] (negative when `later` is earlier)."""
        low, high = min(earlier, later), max(earlier, later)
        first = self._index(low)  # first: the span then starts no later than `low`
        last = self._index(high)
        count = self._counts[last] - self._counts[first]
        return count if later >= earlier else -count


Calendar = WorkCalendar | Workdays


def on_or_after(calendar: Calendar, day: date) -> date:
    """`day` if it is a workday, else the next workday."""
    for offset in range(MAX_SPAN):
        candidate = day + timedelta(days=offset)
        if calendar.is_workday(candidate):
            return candidate
    return day


def on_or_before(calendar: Calendar, day: date) -> date:
    """`day` if it is a workday, else the workday before it."""
    for offset in range(MAX_SPAN):
        candidate = day - timedelta(days=offset)
        if calendar.is_workday(candidate):
            return candidate
    return day


def add_workdays(calendar: Calendar, day: date, count: int) -> date:
    """The workday `count` workdays after (before, when negative) `day`; 0: `day` itself, as a workday."""
    if count == 0:
        return on_or_after(calendar, day)
    step = timedelta(days=1 if count > 0 else -1)
    current, left = day, abs(count)
    for _ in range(MAX_SPAN):
        current += step
        if calendar.is_workday(current):
            left -= 1
            if left == 0:
                return current
    return current


def workdays_between(calendar: Calendar, earlier: date, later: date) -> int:
    """Workdays in (earlier, later]; negative (the workdays in (later, earlier]) when `later` is earlier."""
    if isinstance(calendar, Workdays):
        return calendar.between(earlier, later)
    if later < earlier:
        return -workdays_between(calendar, later, earlier)
    count, current = 0, earlier
    while current < later:
        current += timedelta(days=1)
        if calendar.is_workday(current):
            count += 1
    return count


def workday_count(calendar: Calendar, first: date, last: date) -> int:
    """Workdays in [first, last]."""
    if last < first:
        return 0
    return workdays_between(calendar, first - timedelta(days=1), last)


# ---------------------------------------------------------------------------- the forecast


@dataclass(frozen=True, slots=True)
class TaskForecast:
    task: PlanTask
    duration: int  # planned working days
    start: date  # forecast start
    finish: date  # forecast finish
    planned_finish: date | None  # the due date
    slip: int  # working days the forecast finish is past the due date (0: on time)
    slack: int | None  # working days it may slip before the project's end moves (None: done)
    driver: int | None  # the predecessor (task id) whose finish sets its start

    @property
    def done(self) -> bool:
        return self.task.status == TaskStatus.DONE


@dataclass(frozen=True, slots=True)
class Forecast:
    today: date
    deadline: date | None
    tasks: Mapping[int, TaskForecast]  # by task id, in the plan's order
    end: date | None  # the project's forecast end: the last forecast finish of an open task
    critical_path: tuple[int, ...]  # task ids, first to last
    unscheduled: tuple[int, ...]  # open tasks without a due date
    deadline_slip: int  # working days the forecast end lies past the project deadline (0: in time, or none)

    def get(self, task_id: int) -> TaskForecast | None:
        return self.tasks.get(task_id)

    @property
    def milestones(self) -> list[TaskForecast]:
        return [f for f in self.tasks.values() if f.task.milestone]


def forecast(
    plan: Plan, calendar: Calendar, *, finish_at: Mapping[int, date] | None = None
) -> Forecast:
    """Every task's forecast as of `plan.today`. `finish_at` (what-if): a task finishes no earlier than
    this date instead of its due date (its duration unchanged)."""
    finish_at = finish_at or {}
    calendar = calendar if isinstance(calendar, Workdays) else Workdays(calendar)
    tasks = {t.id: t for t in plan.tasks if t.status != TaskStatus.CANCELLED}
    scheduled = {
        i: t for i, t in tasks.items() if t.status == TaskStatus.DONE or t.due_date is not None
    }
    preds = {i: [p for p in t.predecessors if p in scheduled] for i, t in scheduled.items()}
    order = _topological(scheduled, preds)
    today = plan.today
    first_workday = on_or_after(calendar, today)
    resumes = add_workdays(calendar, today, 1)
    results: dict[int, TaskForecast] = {}
    for task_id in order:
        task = scheduled[task_id]
        duration = _duration(calendar, task, scheduled)
        if task.status == TaskStatus.DONE:
            finish = task.completed_on or task.due_date or today
            start = min(task.start, finish)
            slip = max(0, workdays_between(calendar, task.due_date, finish)) if task.due_date else 0
            results[task_id] = TaskForecast(task, duration, start, finish, task.due_date, slip, None, None)
            continue
        assert task.due_date is not None
        earliest = resumes if task.status == TaskStatus.BLOCKED else first_workday
        driver: int | None = None
        after = None
        for pred in preds[task_id]:
            if pred not in results:  # a cycle: the edge is ignored
                continue
            candidate = add_workdays(calendar, results[pred].finish, 1)
            if after is None or candidate > after:
                after, driver = candidate, pred
        if task.status == TaskStatus.TODO:
            remaining = duration
            start = max(earliest, on_or_after(calendar, _planned_start(calendar, task, scheduled)))
        else:
            remaining = max(1, math.ceil(duration * (100 - task.progress) / 100))
            start = earliest
        if after is not None and after >= start:
            start = after
        else:
            driver = None
        worked = add_workdays(calendar, start, remaining - 1)
        due = finish_at.get(task_id, task.due_date)
        finish = max(worked, on_or_before(calendar, due))
        slip = max(0, workdays_between(calendar, task.due_date, finish))
        results[task_id] = TaskForecast(task, duration, start, finish, task.due_date, slip, None, driver)
    ordered = {t.id: results[t.id] for t in plan.tasks if t.id in results}
    open_ids = [i for i, f in ordered.items() if not f.done]
    end = max((ordered[i].finish for i in open_ids), default=None)
    if end is not None:
        _with_slack(calendar, ordered, order, preds, end)
    path = _critical_path(calendar, ordered, order, preds, end)
    unscheduled = tuple(t.id for t in plan.tasks if t.id in tasks and t.id not in scheduled)
    late = max(0, workdays_between(calendar, plan.deadline, end)) if end and plan.deadline else 0
    return Forecast(today, plan.deadline, ordered, end, path, unscheduled, late)


def _topological(tasks: Mapping[int, PlanTask], preds: Mapping[int, list[int]]) -> list[int]:
    """Predecessors first (Kahn; ties by the plan's order); whatever a cycle leaves, at the end."""
    waiting = {i: len(set(preds[i])) for i in tasks}
    successors: dict[int, list[int]] = {i: [] for i in tasks}
    for i in tasks:
        for p in set(preds[i]):
            successors[p].append(i)
    ready = [i for i in tasks if waiting[i] == 0]
    order: list[int] = []
    while ready:
        current = ready.pop(0)
        order.append(current)
        for s in successors[current]:
            waiting[s] -= 1
            if waiting[s] == 0:
                ready.append(s)
    placed = set(order)
    return order + [i for i in tasks if i not in placed]


def _planned_start(calendar: Calendar, task: PlanTask, tasks: Mapping[int, PlanTask]) -> date:
    if task.start_date is not None:
        return task.start_date
    dues = [tasks[p].due_date for p in task.predecessors if p in tasks and tasks[p].due_date is not None]
    if dues:
        after = add_workdays(calendar, max(d for d in dues if d is not None), 1)
        if task.due_date is None or after <= task.due_date:
            return after
        return task.due_date  # its predecessors are due after it: planned as one day's work, on its due date
    # No start date and nothing before it: its length is unknown, so it is not forecast late until its due date.
    return task.due_date or task.start


def _duration(calendar: Calendar, task: PlanTask, tasks: Mapping[int, PlanTask]) -> int:
    end = task.due_date or task.completed_on
    if end is None:
        return 1
    return max(1, workday_count(calendar, on_or_after(calendar, _planned_start(calendar, task, tasks)), end))


def _with_slack(
    calendar: Calendar, results: dict[int, TaskForecast], order: list[int], preds: Mapping[int, list[int]], end: date
) -> None:
    """Backward pass over the open tasks (reverse dependency order): the latest finish that leaves the
    project's end where it is, and the slack to it."""
    open_order = [i for i in order if i in results and not results[i].done]
    latest_finish = dict.fromkeys(open_order, end)
    for task_id in reversed(open_order):
        own = results[task_id]
        span = workday_count(calendar, own.start, own.finish)
        latest_start = add_workdays(calendar, latest_finish[task_id], -(span - 1))
        bound = add_workdays(calendar, latest_start, -1)
        for p in _open_preds(results, preds, task_id):
            if bound < latest_finish[p]:
                latest_finish[p] = bound
    for task_id in open_order:
        own = results[task_id]
        slack = max(0, workdays_between(calendar, own.finish, latest_finish[task_id]))
        results[task_id] = TaskForecast(
            own.task, own.duration, own.start, own.finish, own.planned_finish, own.slip, slack, own.driver
        )


def _critical_path(
    calendar: Calendar, results: Mapping[int, TaskForecast], order: list[int], preds: Mapping[int, list[int]],
    end: date | None,
) -> tuple[int, ...]:
    if end is None:
        return ()
    chain_length: dict[int, int] = {}  # working days of the longest open chain ending with the task
    for task_id in order:  # predecessors first
        own = results.get(task_id)
        if own is None or own.done:
            continue
        before = [chain_length.get(p, 0) for p in _open_preds(results, preds, task_id)]
        chain_length[task_id] = workday_count(calendar, own.start, own.finish) + max(before, default=0)
    last = [i for i, f in results.items() if not f.done and f.finish == end]
    current: int | None = max(last, key=lambda i: (chain_length.get(i, 0), -results[i].task.number))
    path: list[int] = []
    while current is not None and current not in path:
        path.append(current)
        candidates = _open_preds(results, preds, current)
        current = (
            max(candidates, key=lambda p: (results[p].finish, chain_length.get(p, 0), -results[p].task.number))
            if candidates else None
        )
    return tuple(reversed(path))


def _open_preds(results: Mapping[int, TaskForecast], preds: Mapping[int, list[int]], task_id: int) -> list[int]:
    return [p for p in preds.get(task_id, ()) if p in results and not results[p].done]


# ---------------------------------------------------------------------------- what-if


@dataclass(frozen=True, slots=True)
class Move:
    before: TaskForecast
    after: TaskForecast
    shift: int  # working days later (negative: earlier)
    crosses_deadline: bool  # was in time for the project deadline, is not any more

    @property
    def task(self) -> PlanTask:
        return self.after.task


@dataclass(frozen=True, slots=True)
class WhatIf:
    target: int  # task id
    finish: date  # the target's finish in the what-if
    base: Forecast
    result: Forecast
    moves: tuple[Move, ...]  # the tasks whose forecast finish changes, the target first, then by plan order


def what_if(
    plan: Plan, calendar: Calendar, *, task_id: int, delay: int | None = None, finish: date | None = None,
    base: Forecast | None = None,
) -> WhatIf:
    """The forecast if a task finishes `delay` working days later than now forecast, or on `finish`."""
    calendar = calendar if isinstance(calendar, Workdays) else Workdays(calendar)
    base = base or forecast(plan, calendar)
    own = base.get(task_id)
    if own is None:
        raise ValueError(f"task {task_id} has no forecast")
    if finish is None:
        finish = add_workdays(calendar, own.finish, delay or 0)
    result = forecast(plan, calendar, finish_at={task_id: finish})
    moves: list[Move] = []
    for i, after in result.tasks.items():
        before = base.tasks.get(i)
        if before is None or before.finish == after.finish:
            continue
        deadline = plan.deadline
        crosses = deadline is not None and before.finish <= deadline < after.finish
        moves.append(Move(before, after, workdays_between(calendar, before.finish, after.finish), crosses))
    position = {i: n for n, i in enumerate(result.tasks)}
    moves.sort(key=lambda m: (m.task.id != task_id, position[m.task.id]))
    return WhatIf(task_id, result.tasks[task_id].finish, base, result, tuple(moves))


def downstream(plan: Plan, task_id: int) -> list[int]:
    """Every task that depends on `task_id`, directly or through others (plan order)."""
    successors: dict[int, list[int]] = {}
    for t in plan.tasks:
        for p in t.predecessors:
            successors.setdefault(p, []).append(t.id)
    found: set[int] = set()
    stack = [task_id]
    while stack:
        for s in successors.get(stack.pop(), ()):
            if s not in found and s != task_id:
                found.add(s)
                stack.append(s)
    return [t.id for t in plan.tasks if t.id in found]


def upstream(plan: Plan, task_id: int) -> list[int]:
    """Every task `task_id` depends on, directly or through others (plan order)."""
    by_id = {t.id: t for t in plan.tasks}
    found: set[int] = set()
    stack = [task_id]
    while stack:
        current = by_id.get(stack.pop())
        for p in current.predecessors if current else ():
            if p not in found and p != task_id:
                found.add(p)
                stack.append(p)
    return [t.id for t in plan.tasks if t.id in found]


# ---------------------------------------------------------------------------- milestones


@dataclass(frozen=True, slots=True)
class MilestoneRow:
    forecast: TaskForecast
    at_risk: bool
    reasons: tuple[str, ...]  # why it is at risk: “预计晚 2 个工作日”, “#3 阻塞”, “#4 逾期”, “超出项目截止”

    @property
    def task(self) -> PlanTask:
        return self.forecast.task


def milestone_rows(plan: Plan, result: Forecast) -> list[MilestoneRow]:
    """The milestones in plan order, each with whether it is at risk and why (open ones only are at risk)."""
    rows: list[MilestoneRow] = []
    by_id = {t.id: t for t in plan.tasks}
    for own in result.milestones:
        reasons: list[str] = []
        if not own.done:
            if own.slip:
                reasons.append(f"预计晚 {own.slip} 个工作日")
            for up in upstream(plan, own.task.id):
                task = by_id[up]
                if task.status == TaskStatus.BLOCKED:
                    reasons.append(f"{task.ref} 阻塞")
                elif task.overdue:
                    reasons.append(f"{task.ref} 逾期")
            if plan.deadline is not None and own.finish > plan.deadline:
                reasons.append("超出项目截止")
        rows.append(MilestoneRow(own, bool(reasons), tuple(reasons)))
    return rows


def load_forecast(
    session: Session, project: Project, at: datetime, *, calendar: WorkCalendar | None = None
) -> tuple[Plan, WorkCalendar, Forecast]:
    """The project's plan as of `at`, its working calendar and the forecast over them (three statements)."""
    calendar = calendar or load_calendar(session, project_id=project.id)
    plan = load_plan(session, project, at, calendar=calendar)
    return plan, calendar, forecast(plan, calendar)


def milestones_at_risk(session: Session, project: Project, at: datetime, *, calendar: WorkCalendar) -> tuple[MilestoneRow, ...]:
    """The open milestones at risk, for the PM digest and the agenda (nothing is loaded without an open milestone)."""
    has_milestone = exists().where(
        Task.project_id == project.id, Task.is_milestone.is_(True), Task.status.in_(OPEN_TASK_STATUSES)
    )
    if not session.scalar(select(has_milestone)):
        return ()
    # A copy: the days the forecast looks at (next year's estimate, say) are not the scheduler's calendar notice.
    plan, _, result = load_forecast(session, project, at, calendar=WorkCalendar(calendar.national, calendar.overrides))
    return tuple(row for row in milestone_rows(plan, result) if row.at_risk)
