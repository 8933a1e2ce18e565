"""The pictures as replies: `/甘特图` and the weekly digest's charts, rendered from the plan rows.

`(session, project, at, …) → Reply` like `reports.builders`: read only, no clock. The pictures travel as
the reply's attachments, each as a drawing (the rows it shows, `reports.drawings`) that the outbox
sender draws after the transaction has committed; the outbox row is what makes a post exactly-once,
and retention prunes it after 30 days.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from bot.messages import Attachment, Reply
from models import Project
from models.calendar import WorkCalendar, load_calendar
from reports import burnup, drawings, gantt
from reports.plan import Plan, filter_plan, load_plan

MAX_PAGES = 4  # pages posted into a group at once (200 tasks); the rest: narrow it down, or the dashboard
DIGEST_PAGES = 2


def project_plan(session: Session, project: Project, at: datetime, *, calendar: WorkCalendar | None = None) -> Plan:
    calendar = calendar if calendar is not None else load_calendar(session, project_id=project.id)
    return load_plan(session, project, at, calendar=calendar)


def gantt_reply(plan: Plan, *, max_pages: int = MAX_PAGES) -> Reply:
    """The chart's pages as image attachments, with a line saying what they show (no picture of nothing)."""
    if not plan.tasks:
        if plan.scope:
            return Reply(f"甘特图（{plan.scope}）：没有任务。")
        return Reply("还没有任务，甘特图是空的。先发送：/任务 新增 <标题> [截止:日期] [开始:日期]")
    pages = gantt.plan_pages(plan, max_pages=max_pages)
    total = len(plan.tasks)
    scope = f"（{plan.scope}）" if plan.scope else ""
    lines = [f"甘特图{scope}：共 {total} 个任务，截至 {plan.today:%m-%d}。"]
    if pages and pages[0].pages > 1:
        shown = pages[-1].last_row
        lines.append(f"任务较多，分 {pages[0].pages} 页，每页 {gantt.ROWS_PER_PAGE} 个。")
        if shown < total:
            lines.append(
                f"这里发了前 {len(pages)} 页（前 {shown} 个任务）；其余可用 部门:… / @某人 / #编号 缩小范围，"
                "或发送 /看板 查看全部。"
            )
    return Reply("\n".join(lines), attachments=tuple(drawings.gantt_attachment(page) for page in pages))


def build_gantt(
    session: Session, project: Project, at: datetime, *, department_id: int | None = None, owner_id: int | None = None,
    branch: int | None = None, scope: str | None = None,
) -> Reply:
    plan = project_plan(session, project, at)
    if department_id is not None or owner_id is not None or branch is not None:
        plan = filter_plan(plan, department_id=department_id, owner_id=owner_id, branch=branch, scope=scope)
    return gantt_reply(plan)


def digest_pictures(
    session: Session, project: Project, at: datetime, *, calendar: WorkCalendar | None = None
) -> tuple[Attachment, ...]:
    """What the weekly digest carries: the Gantt (its first pages) and the progress picture."""
    plan = project_plan(session, project, at, calendar=calendar)
    if not plan.tasks:
        return ()
    pages = gantt.plan_pages(plan, max_pages=DIGEST_PAGES)
    progress = burnup.progress_rows(session, project, at, plan)
    return (*(drawings.gantt_attachment(page) for page in pages), drawings.progress_attachment(progress))


def with_digest_pictures(
    session: Session, project: Project, at: datetime, reply: Reply | None, *, calendar: WorkCalendar | None = None
) -> Reply | None:
    """The weekly digest (the tracking table) with its pictures attached."""
    if reply is None:
        return None
    return replace(reply, attachments=reply.attachments + digest_pictures(session, project, at, calendar=calendar))
