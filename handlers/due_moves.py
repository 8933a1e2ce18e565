"""Deadline moves: the warning when a new due date passes a dependent task's start, and the optional
approval rule (`/项目 设置 延期审批 开`): an owner's move of their own deadline later becomes a request
the PM approves (`/任务 批准 #12`) or rejects (`/任务 驳回 #12 [原因]`).

Every move that takes effect writes the task's `due` history row (who moved it, from → to, why), which
the PM's next digest lists as 延期/提前. A request changes nothing until it is approved.
"""

from __future__ import annotations

from datetime import date

from bot.messages import Mention, Reply
from handlers.common import log_change
from handlers.context import Context
from handlers.errors import UsageError, UserError
from handlers.router import CommandSet
from handlers.task_refs import MAX_NOTE, require_task, task_number
from handlers.text import Args
from models import Member, Task
from models.rhythm import PENDING, DueRequest, pending_due_request
from reports.format import day, mention, person, shorten

APPROVE_USAGE = "/任务 批准 #12"
REJECT_USAGE = "/任务 驳回 #12 [原因]"
commands = CommandSet()  # subcommands of /任务 (handlers.tasks.group)


def needs_approval(ctx: Context, task: Task, actor: Member, due: date | None) -> bool:
    """The rule is on, the owner (not a PM) moves their own deadline later (or removes it)."""
    project = ctx.require_project()
    if not project.due_approval or actor.is_manager or task.owner_id != actor.id or task.due_date is None:
        return False
    return due is None or due > task.due_date


def request_move(ctx: Context, task: Task, actor: Member, due: date | None, note: str | None) -> tuple[str, list[Mention]]:
    """Record the request (replacing an earlier pending one) and say who approves it."""
    if due is None:
        raise UserError(f"已开启延期审批：{task.ref} 的截止日期不能直接去掉，请写新的日期，由 PM 批准。")
    earlier = pending_due_request(ctx.session, task_id=task.id)
    if earlier is not None:
        earlier.status = "withdrawn"
    now = ctx.incoming.sent_at
    ctx.session.add(
        DueRequest(
            project_id=task.project_id, task_id=task.id, requested_by_id=actor.id, old_due=task.due_date, new_due=due,
            note=note, requested_at=now,
        )
    )
    log_change(ctx, "task", task, actor, "due_request", _iso(task.due_date), due.isoformat(), note)
    managers = [m for m in ctx.require_project().members if m.is_manager]
    heads = " ".join(mention(m) for m in managers) or "PM"
    text = (
        f"延期申请：截止 {day(task.due_date, today=ctx.today)} → {day(due, today=ctx.today)}，等 PM 批准后生效。\n"
        f"{heads} 请处理：{APPROVE_USAGE.replace('#12', task.ref)} ｜ {REJECT_USAGE.replace('#12', task.ref)}"
    )
    return text, [Mention(m.user_id, m.name) for m in managers]


def successor_warnings(ctx: Context, task: Task, due: date | None) -> list[str]:
    """Open tasks depending on this one that are planned to start on or before its new due date."""
    if due is None:
        return []
    late = [s for s in task.successors if s.status.is_open and s.start_date is not None and s.start_date <= due]
    return [
        f"注意：{s.ref} {shorten(s.title, 16)} 依赖 {task.ref}，计划 {day(s.start_date, today=ctx.today)} 开始，"
        f"不晚于新的截止日期；请确认 {s.ref} 的开始日期（/任务 修改 {s.ref} 开始:日期）。"
        for s in late
    ]


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _task_and_request(ctx: Context, args: Args, usage: str) -> tuple[Task, DueRequest]:
    if not args.words:
        raise UsageError("缺少任务编号。", usage)
    task = require_task(ctx, task_number(args.words[0], usage))
    request = pending_due_request(ctx.session, task_id=task.id)
    if request is None or request.status != PENDING:
        raise UserError(f"{task.ref} 没有待批准的延期申请。")
    return task, request


@commands.command(("批准", "同意", "approve"), usage=APPROVE_USAGE, summary="批准负责人的延期申请（仅 PM）")
def approve_move(ctx: Context, args: Args) -> Reply:
    approver = ctx.require_manager("批准延期")
    task, request = _task_and_request(ctx, args, APPROVE_USAGE)
    requester = request.requested_by
    why = f"{person(approver)} 批准" + (f"；{request.note}" if request.note else "")
    # The move is the requester's (the digest names who moved it), approved by the PM.
    log_change(ctx, "task", task, requester or approver, "due", _iso(task.due_date), request.new_due.isoformat(), why)
    old = task.due_date
    ctx.slip_checks.setdefault(task.id, old)
    task.due_date = request.new_due
    task.updated_at = ctx.incoming.sent_at
    request.status, request.decided_by_id, request.decided_at = "approved", approver.id, ctx.incoming.sent_at
    lines = [
        f"已批准 {task.ref} {shorten(task.title)} 延期：{day(old, today=ctx.today)} → {day(task.due_date, today=ctx.today)}",
        *successor_warnings(ctx, task, task.due_date),
    ]
    mentions = (Mention(requester.user_id, requester.name),) if requester else ()
    if requester:
        lines[0] = f"{mention(requester)} " + lines[0]
    return Reply("\n".join(lines), mentions=mentions)


@commands.command(("驳回", "拒绝", "reject"), usage=REJECT_USAGE, summary="驳回负责人的延期申请（仅 PM）")
def reject_move(ctx: Context, args: Args) -> Reply:
    approver = ctx.require_manager("驳回延期")
    task, request = _task_and_request(ctx, args, REJECT_USAGE)
    reason = " ".join(args.words[1:]).strip() or None
    if reason and len(reason) > MAX_NOTE:
        raise UserError(f"原因太长（{len(reason)} 字），请控制在 {MAX_NOTE} 字以内。")
    request.status, request.decided_by_id, request.decided_at = "rejected", approver.id, ctx.incoming.sent_at
    log_change(ctx, "task", task, approver, "due_request", request.new_due.isoformat(), None, reason or "驳回")
    requester = request.requested_by
    head = f"{mention(requester)} " if requester else ""
    text = f"{head}已驳回 {task.ref} 的延期申请，截止日期仍是 {day(task.due_date, today=ctx.today)}。"
    if reason:
        text += f"\n原因：{reason}"
    return Reply(text, mentions=(Mention(requester.user_id, requester.name),) if requester else ())
