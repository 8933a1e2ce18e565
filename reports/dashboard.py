"""The dashboard's rows: one project's overview, plan, tracking table, registers and history, as of `at`.

Computed from the same rows as the chat (`reports.plan`, `reports.compute.tracking_table`, the
snapshot's risks); the web page (`bot/dashboard`) only renders them. Read only; a fixed number of
statements whatever the project's size.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.messages import Section
from models import ActionItem, ActionStatus, Change, ChangeRequest, Decision, Member, Project, Risk, Task, TaskStatus
from models.calendar import load_calendar
from reports import compute
from reports.closeout import closeout, closeout_sections
from reports.format import RISK_LEVEL_LABELS, RISK_STATUS_LABELS, RISK_STRATEGY_LABELS, describe_change
from reports.lifecycle import AcceptanceLine, ChangeLine, acceptance_lines, change_lines
from reports.plan import Plan, PlanTask, load_plan
from reports.rows import TrackingTable
from reports.rules import local_time

HISTORY_LIMIT = 100
ENTITY_PREFIX = {"task": "#", "risk": "R", "action": "A", "decision": "D", "change_request": "C"}
ENTITY_LABELS = {"project": "项目", "member": "成员", "retro": "复盘"}


@dataclass(frozen=True, slots=True)
class TaskFilters:
    status: TaskStatus | None = None
    department: str | None = None
    owner: str | None = None
    overdue: bool = False

    def keep(self, task: PlanTask) -> bool:
        return (
            (self.status is None or task.status == self.status)
            and (self.department is None or task.department == self.department)
            and (self.owner is None or task.owner == self.owner)
            and (not self.overdue or task.overdue)
        )


@dataclass(frozen=True, slots=True)
class RiskLine:
    ref: str
    description: str
    level: str
    status: str
    strategy: str | None
    mitigation: str | None
    owner: str | None
    age_days: int


@dataclass(frozen=True, slots=True)
class ActionLine:
    ref: str
    content: str
    owner: str | None
    due_date: date | None
    status: ActionStatus
    overdue: bool


@dataclass(frozen=True, slots=True)
class DecisionLine:
    ref: str
    content: str
    decided_by: str | None
    on: date


@dataclass(frozen=True, slots=True)
class HistoryLine:
    at: datetime  # local time
    actor: str | None
    ref: str
    what: str  # `截止：11-27 → 12-01（接口延期）`


@dataclass(frozen=True, slots=True)
class Dashboard:
    project_name: str
    goal: str | None
    created_on: date
    deadline: date | None
    today: date
    status_counts: dict[TaskStatus, int]
    changes_this_week: int
    plan: Plan
    tasks: tuple[PlanTask, ...]  # the filtered task table
    filters: TaskFilters
    departments: tuple[str, ...]
    owners: tuple[str, ...]
    tracking: TrackingTable | None
    risks: tuple[RiskLine, ...]
    actions: tuple[ActionLine, ...]
    decisions: tuple[DecisionLine, ...]
    changes: tuple[ChangeLine, ...]  # change requests (变更申请)
    acceptance: tuple[AcceptanceLine, ...]  # the acceptance record (验收记录)
    history: tuple[HistoryLine, ...]
    closeout: tuple[Section, ...] = ()  # the 项目总结报告, once the project is closed


def dashboard(session: Session, project: Project, at: datetime, filters: TaskFilters = TaskFilters()) -> Dashboard:
    tz = ZoneInfo(project.timezone)
    today = local_time(project, at).date()
    plan = load_plan(session, project, at, calendar=load_calendar(session, project_id=project.id))
    named = session.execute(select(Member.id, Member.name).where(Member.project_id == project.id))
    members: dict[int, str] = {member_id: name for member_id, name in named}
    week_start = datetime.combine(today - timedelta(days=today.weekday()), datetime.min.time(), tz)
    history = _history(session, project, tz, members)
    return Dashboard(
        project_name=project.name,
        goal=project.goal,
        created_on=project.created_at.astimezone(tz).date(),
        deadline=project.deadline,
        today=today,
        status_counts=dict(Counter(t.status for t in plan.tasks)),
        changes_this_week=sum(1 for h in history if h.at >= week_start),
        plan=plan,
        tasks=tuple(t for t in plan.tasks if filters.keep(t)),
        filters=filters,
        departments=tuple(sorted({t.department for t in plan.tasks if t.department})),
        owners=tuple(sorted({t.owner for t in plan.tasks if t.owner})),
        tracking=compute.tracking_table(session, project, at),
        risks=_risks(session, project, today, tz, members),
        actions=_actions(session, project, today, members),
        decisions=_decisions(session, project, tz, members),
        changes=tuple(change_lines(session, project, tz)),
        acceptance=tuple(acceptance_lines(session, project, tz)),
        history=history,
        closeout=closeout_sections(closeout(session, project, at=at)) if project.closed_at else (),
    )


def _risks(session: Session, project: Project, today: date, tz: ZoneInfo, members: dict[int, str]) -> tuple[RiskLine, ...]:
    rows = session.scalars(select(Risk).where(Risk.project_id == project.id).order_by(Risk.number))
    return tuple(
        RiskLine(r.ref, r.description, RISK_LEVEL_LABELS[r.level], RISK_STATUS_LABELS[r.status],
                 RISK_STRATEGY_LABELS[r.strategy] if r.strategy else None, r.mitigation,
                 members.get(r.owner_id) if r.owner_id else None, (today - r.created_at.astimezone(tz).date()).days)
        for r in rows
    )


def _actions(session: Session, project: Project, today: date, members: dict[int, str]) -> tuple[ActionLine, ...]:
    rows = session.execute(
        select(ActionItem.number, ActionItem.content, ActionItem.owner_id, ActionItem.due_date, ActionItem.status)
        .where(ActionItem.project_id == project.id)
        .order_by(ActionItem.number)
    )
    return tuple(
        ActionLine(f"A{n}", content, members.get(owner) if owner else None, due, status,
                   status == ActionStatus.OPEN and due is not None and due < today)
        for n, content, owner, due, status in rows
    )


def _decisions(session: Session, project: Project, tz: ZoneInfo, members: dict[int, str]) -> tuple[DecisionLine, ...]:
    rows = session.scalars(select(Decision).where(Decision.project_id == project.id).order_by(Decision.number.desc()))
    return tuple(
        DecisionLine(
            d.ref, d.content, members.get(d.decided_by_id) if d.decided_by_id else None, d.created_at.astimezone(tz).date()
        )
        for d in rows
    )


def _history(session: Session, project: Project, tz: ZoneInfo, members: dict[int, str]) -> tuple[HistoryLine, ...]:
    numbers: dict[tuple[str, int], int] = {}
    registers = ((Risk, "risk"), (ActionItem, "action"), (Decision, "decision"), (ChangeRequest, "change_request"))
    for model, entity in registers:
        for entity_id, number in session.execute(select(model.id, model.number).where(model.project_id == project.id)):
            numbers[(entity, entity_id)] = number

    for entity_id, number in session.execute(select(Task.id, Task.number).where(Task.project_id == project.id)):
        numbers[("task", entity_id)] = number
    rows = session.scalars(
        select(Change).where(Change.project_id == project.id).order_by(Change.at.desc(), Change.id.desc()).limit(HISTORY_LIMIT)
    )
    lines = []
    for change in rows:
        number = numbers.get((change.entity, change.entity_id))
        ref = f"{ENTITY_PREFIX[change.entity]}{number}" if number is not None and change.entity in ENTITY_PREFIX else (
            ENTITY_LABELS.get(change.entity, change.entity))
        actor = members.get(change.actor_id) if change.actor_id else None
        lines.append(HistoryLine(change.at.astimezone(tz), actor, ref, describe_change(change)))
    return tuple(lines)
