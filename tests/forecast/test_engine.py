"""The forecast engine's rules on plan rows (reports/forecast.py), over the real 2026 calendar."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from models import TaskStatus
from models.calendar import WorkCalendar, national_calendar
from reports.forecast import add_workdays, forecast, what_if, workdays_between
from reports.plan import Plan, PlanTask

TODAY = date(2026, 9, 28)  # Monday, the last week before 国庆 (Oct 1–7 off, Sat Oct 10 worked)


def calendar() -> WorkCalendar:
    return WorkCalendar(national_calendar())


def row(
    number: int, *, start: date | None, due: date | None, status: TaskStatus = TaskStatus.TODO, progress: int = 0,
    preds: tuple[int, ...] = (), done_on: date | None = None,
) -> PlanTask:
    first = start or due or TODAY
    return PlanTask(
        id=number, number=number, title=f"任务{number}", status=status, progress=progress, owner_id=None, owner=None,
        department_id=None, department=None, parent_id=None, depth=0, start=first, end=due or first, start_date=start,
        due_date=due, completed_on=done_on, status_since=datetime(2026, 9, 1, tzinfo=UTC), predecessors=preds,
        milestone=False, overdue=status.is_open and due is not None and due < TODAY,
    )


def plan(*tasks: PlanTask, deadline: date | None = None) -> Plan:
    return Plan(1, "p", TODAY, deadline, tasks, TODAY, TODAY, (), ())


def test_working_day_arithmetic_over_national_day() -> None:
    cal = calendar()
    assert add_workdays(cal, date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert add_workdays(cal, date(2026, 10, 9), 1) == date(2026, 10, 10)  # 调休 Saturday
    assert add_workdays(cal, date(2026, 10, 8), -1) == date(2026, 9, 30)
    assert workdays_between(cal, date(2026, 9, 30), date(2026, 10, 12)) == 4  # 10-08, 09, 10, 12
    assert workdays_between(cal, date(2026, 10, 12), date(2026, 9, 30)) == -4


def test_progress_leaves_the_remaining_share_and_a_done_predecessor_frees_its_successor() -> None:
    result = forecast(plan(
        row(1, start=date(2026, 9, 21), due=date(2026, 9, 24), status=TaskStatus.DONE, done_on=date(2026, 9, 29)),
        row(2, start=date(2026, 9, 28), due=date(2026, 10, 9), status=TaskStatus.IN_PROGRESS, progress=80),
        row(3, start=None, due=date(2026, 10, 12), preds=(1, 2)),
    ), calendar())
    assert result.tasks[1].slip == 2  # done 09-29, due 09-24: 09-25 中秋节, the weekend, then 09-28 and 09-29
    assert (result.tasks[2].finish, result.tasks[2].slip) == (date(2026, 10, 9), 0)  # 1 of 5 days left, by its due
    assert result.tasks[3].start == date(2026, 10, 10) and result.tasks[3].driver == 2
    assert result.critical_path == (2, 3)


def test_cancelled_and_undated_tasks_constrain_nothing_and_a_cycle_does_not_loop() -> None:
    result = forecast(plan(
        row(1, start=None, due=date(2026, 10, 20), status=TaskStatus.CANCELLED),
        row(2, start=None, due=None),
        row(3, start=date(2026, 9, 28), due=date(2026, 9, 30), preds=(1, 2, 4)),
        row(4, start=date(2026, 9, 28), due=date(2026, 9, 29), preds=(3,)),
    ), calendar())
    assert 1 not in result.tasks and result.unscheduled == (2,)
    assert set(result.tasks) == {3, 4}
    assert result.end is not None


def test_slack_and_what_if_earlier_date() -> None:
    cal = calendar()
    rows = plan(
        row(1, start=date(2026, 9, 28), due=date(2026, 9, 30)),
        row(2, start=None, due=date(2026, 10, 12), preds=(1,)),  # 10-08 … 10-12: 4 workdays
        row(3, start=None, due=date(2026, 10, 9), preds=(1,)),  # 10-08, 10-09: 2, slack to 10-12 is 2
        deadline=date(2026, 10, 12),
    )
    result = forecast(rows, cal)
    assert [result.tasks[i].slack for i in (1, 2, 3)] == [0, 0, 2]
    assert result.critical_path == (1, 2)
    late = what_if(rows, cal, task_id=3, delay=3)
    assert [(m.task.number, m.shift, m.crosses_deadline) for m in late.moves] == [(3, 3, True)]
    assert late.result.deadline_slip == 1  # 10-09 + 3 = 10-13; the project's end moves one workday


def test_a_task_without_start_date_or_predecessors_is_not_forecast_late_before_its_due_date() -> None:
    created_long_ago = replace(row(1, start=None, due=date(2026, 12, 31)), start=date(2026, 6, 1))
    result = forecast(plan(created_long_ago), calendar())
    assert (result.tasks[1].finish, result.tasks[1].slip) == (date(2026, 12, 31), 0)
