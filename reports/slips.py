"""Slips that warn downstream: what to tell the owners of dependent tasks, and when it is clear.

A task *slips* when it is blocked, when its due date is moved later (and that pushes a dependent past
its own due date), or when it passes its due date unfinished. The owners of the open tasks depending
on it (directly, and further down when the forecast pushes them past their due date) are told once,
with the forecast impact on their own dates (`reports.forecast`); when the cause is gone (unblocked,
done, cancelled, moved back) they are told it is clear. `check` reads; the caller (a command in
`handlers.slips`, or the scheduler's daily check for the overdue case) writes the rows it returns with
`models.slips.record_slip_news`, in the same transaction as the post.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.messages import Mention
from models import Member, Project, TaskStatus
from models.calendar import WorkCalendar
from models.slips import SlipCause, SlipWarning, open_slip_warnings, slip_state
from reports.forecast import Forecast, Workdays, downstream, forecast, load_forecast, workdays_between
from reports.format import day, shorten
from reports.plan import Plan, PlanTask

CAUSE_LABELS = {SlipCause.BLOCKED: "阻塞", SlipCause.MOVED: "推迟", SlipCause.OVERDUE: "逾期"}


@dataclass(slots=True)
class SlipNews:
    warned: list[tuple[int, SlipCause, date | None]] = field(default_factory=list)
    cleared: list[SlipWarning] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.warned and not self.cleared


def overdue_checks(plan: Plan) -> dict[int, date | None]:
    """The scheduler's daily candidates: every open task past its due date."""
    return {t.id: None for t in plan.tasks if t.overdue}


def check(
    session: Session, project: Project, at: datetime, *, checks: Mapping[int, date | None],
    calendar: WorkCalendar | None = None,
) -> SlipNews:
    """What to tell about the tasks in `checks` (task id → its due date before this change; None: unchanged)."""
    news = SlipNews()
    if not checks or not project.slip_alerts:
        return news
    depended_on, warned = slip_state(session, task_ids=list(checks))
    if not depended_on and not warned:
        return news  # nothing depends on these tasks and nothing was told: no forecast to load
    active: dict[tuple[int, str], SlipWarning] = {
        (w.task_id, w.cause): w for w in open_slip_warnings(session, task_ids=list(checks))
    } if warned else {}
    plan, work_calendar, current = load_forecast(session, project, at, calendar=calendar)
    days = Workdays(work_calendar)
    by_id = {t.id: t for t in plan.tasks}
    owners = _members(session, [t.owner_id for t in plan.tasks if t.owner_id is not None])
    moved = {i: d for i, d in checks.items() if d is not None and i in by_id and _moved_now(by_id[i], d)}
    after_moves = current
    if moved:
        # The moves measured as a what-if from the plan before them (durations as they were planned),
        # each dependent against its due date now (one moved in the same message is not late).
        before = replace(plan, tasks=tuple(replace(t, due_date=moved[t.id]) if t.id in moved else t for t in plan.tasks))
        after_moves = forecast(before, days, finish_at={i: by_id[i].due_date or d for i, d in moved.items()})
    for task_id, due_before in checks.items():
        task = by_id.get(task_id)
        if task is None:
            continue
        result = after_moves if task_id in moved else current
        affected = _affected(plan, result, task, days)
        for cause in SlipCause:
            warning = active.get((task_id, cause.value))
            holds = _holds(task, cause, due_before, warning, plan.today)
            if warning is not None and not holds:
                news.cleared.append(warning)
                _clear_lines(news, plan, result, task, cause, affected, owners)
            elif holds and (warning is None or (cause == SlipCause.MOVED and _moved_now(task, due_before))):
                late = any(_late(plan, result, a, days) for a in affected)
                if not affected or (cause == SlipCause.MOVED and not late):
                    continue
                if warning is not None:  # moved again: a new warning, the first one's date kept
                    news.cleared.append(warning)
                first_due = due_before if cause == SlipCause.MOVED else task.due_date
                if warning is not None:
                    first_due = warning.due_date
                news.warned.append((task_id, cause, first_due))
                _warn_lines(news, plan, result, task, cause, due_before, affected, owners, days)
    return news


def _moved_now(task: PlanTask, due_before: date | None) -> bool:
    return due_before is not None and task.due_date is not None and task.due_date > due_before


def _holds(task: PlanTask, cause: SlipCause, due_before: date | None, warning: SlipWarning | None, today: date) -> bool:
    if not task.status.is_open:
        return False
    if cause == SlipCause.BLOCKED:
        return task.status == TaskStatus.BLOCKED
    if cause == SlipCause.OVERDUE:
        return task.due_date is not None and task.due_date < today
    if _moved_now(task, due_before):
        return True
    original = warning.due_date if warning is not None else None
    return original is not None and task.due_date is not None and task.due_date > original


def _late(plan: Plan, result: Forecast, task_id: int, calendar: Workdays) -> int:
    """Working days the forecast finish lies past the task's due date as it is now."""
    due = next((t.due_date for t in plan.tasks if t.id == task_id), None)
    own = result.tasks.get(task_id)
    if due is None or own is None:
        return 0
    return max(0, workdays_between(calendar, due, own.finish))


def _affected(plan: Plan, result: Forecast, task: PlanTask, calendar: Workdays) -> list[int]:
    """Open dependents told: the direct ones, and those further down that the forecast makes late."""
    direct = {t.id for t in plan.tasks if task.id in t.predecessors}
    found = []
    for task_id in downstream(plan, task.id):
        own = result.tasks.get(task_id)
        if own is None or own.done:
            continue
        if task_id in direct or _late(plan, result, task_id, calendar):
            found.append(task_id)
    return found


def _members(session: Session, ids: Sequence[int]) -> dict[int, Member]:
    if not ids:
        return {}
    return {m.id: m for m in session.scalars(select(Member).where(Member.id.in_(sorted(set(ids)))))}


def _who(news: SlipNews, task: PlanTask, owners: Mapping[int, Member]) -> str:
    member = owners.get(task.owner_id) if task.owner_id is not None else None
    if member is None:
        return task.owner or "未指派"
    mention = Mention(member.user_id, member.name)
    if mention not in news.mentions:
        news.mentions.append(mention)
    return f"<@{member.user_id}>"


def _what(task: PlanTask, cause: SlipCause, due_before: date | None, today: date) -> str:
    head = f"{task.ref} {shorten(task.title, 24)}（{task.owner or '未指派'}）"
    if cause == SlipCause.BLOCKED:
        return f"{head}阻塞了"
    if cause == SlipCause.MOVED:
        return f"{head}截止从 {day(due_before, today=today)} 推迟到 {day(task.due_date, today=today)}"
    return f"{head}已过截止 {day(task.due_date, today=today)} 仍未完成"


def _warn_lines(
    news: SlipNews, plan: Plan, result: Forecast, task: PlanTask, cause: SlipCause, due_before: date | None,
    affected: list[int], owners: Mapping[int, Member], calendar: Workdays,
) -> None:
    today = plan.today
    own = result.tasks.get(task.id)
    finish = f"，预计 {day(own.finish, today=today)} 完成" if own is not None else ""
    news.lines.append(f"⚠ 下游提醒：{_what(task, cause, due_before, today)}{finish}。受影响的后续任务：")
    by_id = {t.id: t for t in plan.tasks}
    for task_id in affected:
        after, due = result.tasks[task_id], by_id[task_id].due_date
        who = _who(news, by_id[task_id], owners)
        line = f"· {who} {after.task.ref} {shorten(after.task.title, 20)}：预计 {day(after.finish, today=today)} 完成"
        if late := _late(plan, result, task_id, calendar):
            line += f"（截止 {day(due, today=today)}，晚 {late} 个工作日）"
        else:
            line += f"（截止 {day(due, today=today)}，目前还赶得上）"
        news.lines.append(line)


def _clear_lines(
    news: SlipNews, plan: Plan, result: Forecast, task: PlanTask, cause: SlipCause, affected: list[int],
    owners: Mapping[int, Member],
) -> None:
    by_id = {t.id: t for t in plan.tasks}
    state = {
        SlipCause.BLOCKED: "已解除阻塞", SlipCause.MOVED: "不再推迟", SlipCause.OVERDUE: "不再逾期",
    }[cause]
    if task.status == TaskStatus.DONE:
        state = "已完成"
    elif task.status == TaskStatus.CANCELLED:
        state = "已取消"
    who = "、".join(f"{_who(news, by_id[i], owners)} {by_id[i].ref}" for i in affected)
    line = f"✅ 解除提醒：{task.ref} {shorten(task.title, 24)} {state}（之前的{CAUSE_LABELS[cause]}提醒）"
    news.lines.append(line + (f"，{who} 不再受它影响。" if who else "。"))
