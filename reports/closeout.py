"""The close-out report (项目总结报告): what the project's rows say once it ends, computed, then rendered.

`closeout(session, project, at=…)` reads as of `at` (the closing time for a closed project) and never
writes. Its numbers:

- **on-time rate**: tasks done on or before their due date (the due date in force, i.e. as last
  approved: unapproved moves never reach `task.due_date`), over all tasks done; a done task without a due
  date is counted as done but not as on time, and said so. Unfinished tasks are counted beside it.
- **milestone slips**: per `is_milestone` task, the planned date (its first due date: the `from` of its
  earliest `due` history row, else its due date) against the actual one (the local day it was
  completed), the slip in working days of the project's calendar (positive: late).
- **blocked days by department**: every stretch between a task's status moving to `blocked` and moving
  off it (from the `change` rows; one still blocked counts up to `at`), in working days (24 hours of
  workdays, `WorkCalendar.working_time_between`), summed over the tasks' departments.
- **risks that happened**: the risk register's entries (risks and issues alike), with how each ended.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.messages import Field, Reply, Section, Table
from models import ActionItem, ActionStatus, Change, Decision, Department, Project, Risk, RiskLevel, RiskStatus, Task, TaskStatus
from models.calendar import WorkCalendar, load_calendar
from models.retro import goal_results
from reports.format import RISK_LEVEL_LABELS, TASK_STATUS_LABELS, day, shorten

NO_DEPARTMENT = "未分部门"
RETRO_LABELS = {"good": "做得好", "improve": "待改进", "reuse": "可复用"}
LIST_LIMIT = 15
_GOAL_SPLIT = re.compile(r"[；;\n]+")


def project_goals(project: Project) -> list[str]:
    """The project's goals in order: the charter's (`/项目 设置 目标 <目标1>；<目标2>`), else the creation's 目标:."""
    if project.goals:
        return list(project.goals)
    return [g.strip() for g in _GOAL_SPLIT.split(project.goal or "") if g.strip()]


@dataclass(frozen=True, slots=True)
class GoalRow:
    index: int
    goal: str
    result: str | None


@dataclass(frozen=True, slots=True)
class TaskRow:
    number: int
    title: str
    status: TaskStatus
    department: str
    due: date | None
    done_on: date | None
    deliverable: str | None
    reason: str | None  # why it is unfinished / was cancelled: the blocked reason or the last note


@dataclass(frozen=True, slots=True)
class MilestoneRow:
    number: int
    title: str
    planned: date | None
    due: date | None  # as last approved
    actual: date | None  # the day it was completed; None: not done
    slip: int | None  # working days late (negative: early); None: not done or no plan


@dataclass(frozen=True, slots=True)
class BlockedRow:
    department: str
    days: float
    tasks: int


@dataclass(frozen=True, slots=True)
class RiskRow:
    number: int
    description: str
    level: RiskLevel
    status: RiskStatus
    note: str | None


@dataclass(frozen=True, slots=True)
class DecisionRow:
    number: int
    content: str
    on: date


@dataclass(frozen=True, slots=True)
class Closeout:
    project_name: str
    started: date
    ended: date | None  # None: still running (a preview before closing)
    deadline: date | None
    goals: tuple[GoalRow, ...]
    tasks: tuple[TaskRow, ...]
    on_time: int
    done_without_due: int
    milestones: tuple[MilestoneRow, ...]
    blocked: tuple[BlockedRow, ...]
    risks: tuple[RiskRow, ...]
    decisions: tuple[DecisionRow, ...]
    open_actions: int

    @property
    def done(self) -> tuple[TaskRow, ...]:
        return tuple(t for t in self.tasks if t.status == TaskStatus.DONE)

    @property
    def unfinished(self) -> tuple[TaskRow, ...]:
        return tuple(t for t in self.tasks if t.status.is_open)

    @property
    def cancelled(self) -> tuple[TaskRow, ...]:
        return tuple(t for t in self.tasks if t.status == TaskStatus.CANCELLED)

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / len(self.done) if self.done else None


def closeout(
    session: Session, project: Project, *, at: datetime, calendar: WorkCalendar | None = None
) -> Closeout:
    """The report's rows for `project` as of `at` (its closing time once closed)."""
    tz = ZoneInfo(project.timezone)
    calendar = calendar or load_calendar(session, project_id=project.id)
    end = project.closed_at or at
    tasks = session.execute(
        select(Task, Department.name).outerjoin(Department, Department.id == Task.department_id)
        .where(Task.project_id == project.id).order_by(Task.number)
    ).all()
    changes = session.scalars(
        select(Change).where(
            Change.project_id == project.id, Change.entity == "task", Change.at <= end,
            Change.field.in_(("status", "due", "note")),
        ).order_by(Change.at, Change.id)
    ).all()
    by_task: dict[int, list[Change]] = {}
    for change in changes:
        by_task.setdefault(change.entity_id, []).append(change)

    rows: list[TaskRow] = []
    milestones: list[MilestoneRow] = []
    blocked: dict[str, tuple[timedelta, set[int]]] = {}
    on_time = without_due = 0
    for task, department in tasks:
        history = by_task.get(task.id, [])
        done_on = task.completed_at.astimezone(tz).date() if task.completed_at and task.status == TaskStatus.DONE else None
        dept = department or NO_DEPARTMENT
        rows.append(TaskRow(
            task.number, task.title, task.status, dept, task.due_date, done_on, task.deliverable,
            _reason(task, history),
        ))
        if done_on is not None:
            if task.due_date is None:
                without_due += 1
            elif done_on <= task.due_date:
                on_time += 1
        if task.is_milestone:
            planned = _planned(task, history)
            slip = _slip(calendar, planned, done_on) if planned and done_on else None
            milestones.append(MilestoneRow(task.number, task.title, planned, task.due_date, done_on, slip))
        spent = _blocked_time(history, end, calendar, tz)
        if spent > timedelta(0):
            total, numbers = blocked.get(dept, (timedelta(0), set()))
            blocked[dept] = (total + spent, numbers | {task.number})
    blocked_rows = sorted(
        (BlockedRow(d, round(t / timedelta(days=1), 1), len(n)) for d, (t, n) in blocked.items()),
        key=lambda r: (-r.days, r.department),
    )
    risks = session.execute(
        select(Risk.number, Risk.description, Risk.level, Risk.status, Risk.close_note)
        .where(Risk.project_id == project.id, Risk.created_at <= end).order_by(Risk.number)
    ).all()
    decisions = session.execute(
        select(Decision.number, Decision.content, Decision.created_at)
        .where(Decision.project_id == project.id, Decision.created_at <= end).order_by(Decision.number)
    ).all()
    open_actions = len(session.scalars(
        select(ActionItem.id).where(ActionItem.project_id == project.id, ActionItem.status == ActionStatus.OPEN)
    ).all())
    results = goal_results(session, project_id=project.id)
    goals = tuple(GoalRow(i, g, results.get(i)) for i, g in enumerate(project_goals(project), start=1))
    return Closeout(
        project_name=project.name,
        started=project.created_at.astimezone(tz).date(),
        ended=project.closed_at.astimezone(tz).date() if project.closed_at else None,
        deadline=project.deadline,
        goals=goals,
        tasks=tuple(rows),
        on_time=on_time,
        done_without_due=without_due,
        milestones=tuple(milestones),
        blocked=tuple(blocked_rows),
        risks=tuple(RiskRow(*r) for r in risks),
        decisions=tuple(DecisionRow(n, c, at_.astimezone(tz).date()) for n, c, at_ in decisions),
        open_actions=open_actions,
    )


def _planned(task: Task, history: list[Change]) -> date | None:
    """The first due date the task had: the `from` of its earliest due move, else its due date."""
    for change in history:
        if change.field == "due":
            return date.fromisoformat(change.old_value) if change.old_value else task.due_date
    return task.due_date


def _slip(calendar: WorkCalendar, planned: date, actual: date) -> int:
    if actual > planned:
        return len(calendar.workdays(planned + timedelta(days=1), actual))
    if actual < planned:
        return -len(calendar.workdays(actual + timedelta(days=1), planned))
    return 0


def _blocked_time(history: list[Change], end: datetime, calendar: WorkCalendar, tz: ZoneInfo) -> timedelta:
    total = timedelta(0)
    since: datetime | None = None
    for change in history:
        if change.field != "status":
            continue
        if change.new_value == TaskStatus.BLOCKED.value and since is None:
            since = change.at
        elif change.old_value == TaskStatus.BLOCKED.value and since is not None:
            total += calendar.working_time_between(since, change.at, tz)
            since = None
    if since is not None:
        total += calendar.working_time_between(since, end, tz)
    return total


def _reason(task: Task, history: list[Change]) -> str | None:
    if task.status == TaskStatus.DONE:
        return None
    if task.status == TaskStatus.BLOCKED and task.blocked_reason:
        return task.blocked_reason
    notes = [c.note for c in history if c.note]
    return notes[-1] if notes else None


# ---------------------------------------------------------------------------- rendering


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _days(value: float) -> str:
    return f"{value:g}"


def closeout_sections(report: Closeout) -> tuple[Section, ...]:
    """The report as sections (a card on Feishu, headed markdown on DingTalk, text on the console)."""
    done, unfinished = report.done, report.unfinished
    sections: list[Section] = []
    goals = [
        f"{g.index}. {shorten(g.goal, 60)} → {g.result or '（结果未填写）'}" for g in report.goals
    ] or ["未设置项目目标"]
    if report.goals and any(g.result is None for g in report.goals):
        goals.append("PM 填写结果：/项目 设置 目标结果 <序号> <结果>")
    sections.append(Section(title="目标达成", lines=tuple(goals)))
    key = [t for t in done if t.deliverable] or [t for t in done if any(m.number == t.number for m in report.milestones)]
    if key:
        sections.append(Section(title="关键成果", lines=tuple(
            f"#{t.number} {shorten(t.title, 30)}" + (f" · 交付物：{shorten(t.deliverable, 30)}" if t.deliverable else "")
            for t in key[:LIST_LIMIT]
        )))
    rate = [
        Field("按时完成率", f"{percent(report.on_time_rate)}（按时 {report.on_time} / 已完成 {len(done)}）"),
        Field("未完成", f"{len(unfinished)} 项（取消 {len(report.cancelled)} 项）"),
    ]
    if report.done_without_due:
        rate.append(Field("无截止日期", f"{report.done_without_due} 项已完成但没有截止日期，不计为按时"))
    sections.append(Section(title="按时完成率", fields=tuple(rate)))
    if unfinished or report.cancelled:
        lines = [
            f"#{t.number} {shorten(t.title, 30)}（{TASK_STATUS_LABELS[t.status]}）· 原因：{_reason_text(t.reason)}"
            for t in (*unfinished, *report.cancelled)[:LIST_LIMIT]
        ]
        sections.append(Section(title="未完成事项及原因", lines=tuple(lines)))
    if report.milestones:
        sections.append(Section(title="里程碑偏差（计划 vs 实际）", table=Table(
            ("里程碑", "计划", "实际", "偏差"),
            tuple(
                (f"#{m.number} {shorten(m.title, 20)}", day(m.planned), day(m.actual) if m.actual else "未完成", _slip_text(m))
                for m in report.milestones
            ),
        )))
    if report.blocked:
        sections.append(Section(title="阻塞天数（按部门，工作日）", lines=tuple(
            f"{b.department}：{_days(b.days)} 天（{b.tasks} 个任务）" for b in report.blocked
        )))
    else:
        sections.append(Section(title="阻塞天数（按部门，工作日）", lines=("没有任务阻塞过",)))
    if report.risks:
        sections.append(Section(title=f"发生的风险与问题（{len(report.risks)}）", lines=tuple(
            f"R{r.number}（{RISK_LEVEL_LABELS[r.level]}）{shorten(r.description, 30)} · "
            + ("已关闭" + (f"：{shorten(r.note, 30)}" if r.note else "") if r.status == RiskStatus.CLOSED else "未关闭")
            for r in report.risks[:LIST_LIMIT]
        )))
    if report.decisions:
        sections.append(Section(title=f"决议（{len(report.decisions)}）", lines=tuple(
            f"D{d.number} {day(d.on)} {shorten(d.content, 50)}" for d in report.decisions[:LIST_LIMIT]
        )))
    return tuple(sections)


def _reason_text(reason: str | None) -> str:
    return shorten(reason, 40) if reason else "未说明"


def _slip_text(m: MilestoneRow) -> str:
    if m.slip is None:
        return "—"
    if m.slip > 0:
        return f"延期 {m.slip} 个工作日"
    if m.slip < 0:
        return f"提前 {-m.slip} 个工作日"
    return "按期"


def closeout_reply(report: Closeout, intro: list[str]) -> Reply:
    """The 项目总结报告: the summary lines, then the report's sections."""
    return Reply(
        "\n".join(intro), title=f"项目总结报告：{report.project_name}", style="report",
        sections=closeout_sections(report),
    )


def retro_prompt(project_name: str, closed_on: date, until: date) -> Reply:
    """The scheduler's prompt, within three workdays after closing, to write the retrospective."""
    return Reply(
        "\n".join([
            f"项目“{project_name}”已于 {day(closed_on)} 结项，请大家在 {day(until)} 前补充复盘：",
            "做得好：/复盘 好 <内容>",
            "待改进：/复盘 改进 <内容> [@负责人]",
            "可复用：/复盘 复用 <内容>",
            "PM 汇总：/复盘 纪要",
        ]),
        title=f"复盘提醒：{project_name}",
    )
