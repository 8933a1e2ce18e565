"""The lifecycle registers as rows: change requests (变更申请) and the acceptance record (验收记录), for the
export's sheets and the dashboard's sections (the chat commands show the same records in their words)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from models import Project
from models.acceptance import ACCEPTANCE_LABELS, acceptance_rounds
from models.change_request import APPLIED, PENDING, REJECTED, list_change_requests
from reports.format import day, shorten

CHANGE_STATUS_LABELS = {PENDING: "待批准", APPLIED: "已批准并执行", REJECTED: "已驳回"}


def plan_summary(plan: dict[str, Any], *, today: date | None = None) -> str:
    """What a change request does, in one line: `#8 截止→10-30(周五)；新增“做海报”；取消#9`."""
    def when(value: Any) -> str:
        return day(date.fromisoformat(value), today=today) if isinstance(value, str) else "未定"

    parts = [
        f"#{e['task']} " + " ".join(f"{label}→{when(e[k])}" for k, label in (("due", "截止"), ("start", "开始")) if e.get(k))
        for e in plan.get("edits", [])
    ]
    parts += [f"新增“{shorten(t['title'], 12)}”" + (f"（#{t['number']}）" if t.get("number") else "")
              for t in plan.get("new_tasks", [])]
    parts += [f"取消#{n}" for n in plan.get("cancel", [])]
    return "；".join(parts)


@dataclass(frozen=True, slots=True)
class ChangeLine:
    ref: str
    status: str
    content: str  # what it does, then the words of the request
    reason: str
    impact: str  # on goal, schedule and budget
    requested_by: str | None
    requested_at: datetime  # local time
    approved_by: str | None  # PM, then sponsor
    decided_at: datetime | None
    decision_note: str | None


def change_lines(session: Session, project: Project, tz: ZoneInfo) -> list[ChangeLine]:
    lines = []
    for r in list_change_requests(session, project_id=project.id):
        content = "；".join(p for p in (plan_summary(r.plan), r.content or "") if p)
        goal = f"目标：{r.goal_impact}" if r.goal_impact else ""
        budget = f"预算：{r.budget_impact}" if r.budget_impact else ""
        impact = "；".join(p for p in (r.impact or "", goal, budget) if p)
        approvers = "、".join(m.name for m in (r.pm_approved_by, r.sponsor_approved_by) if m is not None)
        lines.append(ChangeLine(
            r.ref, CHANGE_STATUS_LABELS.get(r.status, r.status), content, r.reason, impact,
            r.requested_by.name if r.requested_by else None, r.requested_at.astimezone(tz), approvers or None,
            r.decided_at.astimezone(tz) if r.decided_at else None, r.decision_note,
        ))
    return lines


@dataclass(frozen=True, slots=True)
class AcceptanceLine:
    task_ref: str
    title: str
    deliverable: str | None
    criteria: str | None
    round: int
    status: str  # the round's
    party: str  # a person or a department
    decision: str
    decided_by: str | None
    decided_at: datetime | None  # local time
    note: str | None


def acceptance_lines(session: Session, project: Project, tz: ZoneInfo) -> list[AcceptanceLine]:
    """One line per party asked, round by round, deliverable by deliverable."""
    lines = []
    for a in sorted(acceptance_rounds(session, project_id=project.id), key=lambda a: (a.task.number, a.round)):
        for s in a.signoffs:
            lines.append(AcceptanceLine(
                a.task.ref, a.task.title, a.task.deliverable, a.task.acceptance_criteria, a.round,
                ACCEPTANCE_LABELS[a.status], s.party, ACCEPTANCE_LABELS[s.decision],
                s.decided_by.name if s.decided_by else None, s.decided_at.astimezone(tz) if s.decided_at else None, s.note,
            ))
    return lines
