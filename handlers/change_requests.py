"""/变更: change requests (变更申请单) — ask for a change to the plan (new dates, new or cancelled tasks)
with its reason and impact, approve or reject it, list them.

A request changes nothing until it is approved: by the PM, and also by the sponsor when the project
asks for it (`/项目 设置 变更审批 发起人`). On the last approval it is applied through the normal task
paths (`/任务 修改`, `/任务 新增`, `/任务 取消`, run as the approving PM), so every check of those
commands holds again at that moment and each change writes its usual history row, its note carrying
the change number (`变更 C2`); a task the change touches also gets a `change_request` row. When
applying fails (a task was cancelled since, a date is past) nothing of it is applied and it stays
pending, with the reason said.

Owners' own deadline moves under `/项目 设置 延期审批 开` keep their one mechanism (`handlers.due_moves`:
one task, one date, `/任务 批准 #12`); `/变更 列表` lists those waiting too, so the PM sees every pending
change in one place.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy import select

from bot.messages import Mention, Reply
from handlers import task_edits, tasks
from handlers.charter import sponsor_of
from handlers.common import checked_text, date_option, named_owner
from handlers.context import Context
from handlers.due_moves import successor_warnings
from handlers.errors import PermissionDenied, UsageError, UserError
from handlers.router import CommandGroup
from handlers.task_refs import MAX_TITLE, TASK_REF, parse_task_refs, require_task
from handlers.text import Args
from models import ChangeRequest, Member, Project, Role, Task, TaskStatus, allocate_number, record_change
from models.calendar import load_calendar
from models.change_request import APPLIED, PENDING, REJECTED, get_change_request, list_change_requests
from models.rhythm import DueRequest
from reports.format import day, mention, person, shorten
from reports.lifecycle import CHANGE_STATUS_LABELS, plan_summary

ADD_USAGE = (
    "/变更 新增 #8 截止:10-30 原因:… 影响:… ｜ /变更 新增 新增任务:<标题> [@负责人] [截止:日期] 原因:… ｜ "
    "/变更 新增 取消:#9 原因:…  （可加 目标:<对目标的影响> 预算:<对预算的影响>）"
)
APPROVE_USAGE = "/变更 批准 C2"
REJECT_USAGE = "/变更 驳回 C1 原因:…"
LIST_USAGE = "/变更 列表"
SHOW_USAGE = "/变更 C2"
MAX_REASON = 300
MAX_IMPACT = 300
STATUS_LABELS = CHANGE_STATUS_LABELS
_CHANGE_ID = re.compile(r"#?[Cc](\d{1,9})")

group = CommandGroup(("变更", "change", "changes"), summary="变更：申请、批准、驳回、列表（改期、新增或取消任务）")


def _ref_number(word: str, usage: str) -> int:
    match = _CHANGE_ID.fullmatch(word.strip())
    if not match:
        raise UsageError(f"“{word}”不是变更编号，变更编号写成 C2。", usage)
    return int(match.group(1))


def _require_request(ctx: Context, args: Args, usage: str) -> ChangeRequest:
    if not args.words:
        raise UsageError("缺少变更编号。", usage)
    project = ctx.require_project()
    number = _ref_number(args.words[0], usage)
    found = get_change_request(ctx.session, project_id=project.id, number=number)
    if found is None:
        raise UserError(f"本项目没有变更 C{number}。发送 {LIST_USAGE} 查看。")
    return found


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else None


# ---------------------------------------------------------------------------- /变更 新增


@group.command(
    ("新增", "申请", "提交", "add", "new"),
    usage=ADD_USAGE,
    summary="提交变更申请（任何成员），批准后才生效，得到编号 C2",
    options=("due", "start", "reason", "impact", "goal", "budget", "new_task", "cancel_task", "owner"),
)
def add_change(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    sender = ctx.require_sender()
    ref_words = [w for w in args.words if TASK_REF.fullmatch(w.strip(",，、"))]
    targets = parse_task_refs(ctx, ",".join(ref_words), ADD_USAGE) if ref_words else []
    due = date_option(ctx, args, "due", what="截止日期")
    start = date_option(ctx, args, "start", what="开始日期", future=False)
    content = " ".join(w for w in args.words if w not in ref_words).strip()  # date_option may give words back
    plan: dict[str, Any] = {"edits": [], "new_tasks": [], "cancel": []}
    for task in targets:
        _check_open(task)
        if due is None and start is None:
            raise UsageError(f"要改 {task.ref} 的什么？写 截止:日期 或 开始:日期。", ADD_USAGE)
        new_start, new_due = start or task.start_date, due or task.due_date
        if new_start and new_due and new_start > new_due:
            raise UserError(f"{task.ref} 的开始日期 {new_start.isoformat()} 会晚于截止日期 {new_due.isoformat()}。")
        if new_start == task.start_date and new_due == task.due_date:
            raise UserError(f"{task.ref} 已经是这个日期，不需要变更。")
        plan["edits"].append({
            "task": task.number, "due": _iso(due), "start": _iso(start),
            "old_due": _iso(task.due_date), "old_start": _iso(task.start_date),
        })
    if args.options.get("new_task"):
        title = checked_text(args.options["new_task"], what="新任务标题", limit=MAX_TITLE, usage=ADD_USAGE)
        owner = named_owner(ctx, args, what="任务", usage=ADD_USAGE) or sender
        if start and due and start > due and not targets:
            raise UserError(f"开始日期 {start.isoformat()} 晚于截止日期 {due.isoformat()}。")
        plan["new_tasks"].append({
            "title": title, "owner_id": owner.id,
            "due": None if targets else _iso(due), "start": None if targets else _iso(start),
        })
    elif args.mentions or args.options.get("owner"):
        raise UsageError("负责人只用于新增任务（新增任务:<标题> @负责人）。", ADD_USAGE)
    if "cancel_task" in args.options:
        for task in parse_task_refs(ctx, args.options["cancel_task"], ADD_USAGE):
            _check_open(task)
            if task.number in {e["task"] for e in plan["edits"]}:
                raise UserError(f"{task.ref} 不能同时改期又取消。")
            plan["cancel"].append(task.number)
    if not targets and not plan["new_tasks"] and (due or start):
        raise UsageError("截止/开始日期要跟在任务编号（#8）或 新增任务:… 后面。", ADD_USAGE)
    if not any(plan.values()) and not content:
        raise UsageError("缺少变更内容。", ADD_USAGE)
    reason = checked_text(args.options.get("reason", ""), what="变更原因（原因:…）", limit=MAX_REASON, usage=ADD_USAGE)
    impact = checked_text(args.options.get("impact", ""), what="影响", limit=MAX_IMPACT, required=False) or None
    goal = checked_text(args.options.get("goal", ""), what="对目标的影响", limit=MAX_IMPACT, required=False) or None
    budget = checked_text(args.options.get("budget", ""), what="对预算的影响", limit=200, required=False) or None
    if content:
        checked_text(content, what="变更内容", limit=500, usage=ADD_USAGE)
    now = ctx.incoming.sent_at
    request = ChangeRequest(
        project_id=project.id, number=allocate_number(ctx.session, project, "next_change_no"),
        content=content or None, reason=reason, impact=impact, goal_impact=goal, budget_impact=budget, plan=plan,
        status=PENDING, requested_by_id=sender.id, requested_at=now,
    )
    ctx.session.add(request)
    ctx.session.flush()
    record_change(
        ctx.session, project_id=project.id, entity="change_request", entity_id=request.id, actor=sender, at=now,
        field="created", new=request.ref, note=shorten(reason, 60),
    )
    approvers = _approvers(project)
    lines = [
        *detail_lines(ctx, project, request),
        "批准后才生效。" + " ".join(mention(m) for m in approvers)
        + f" 请处理：{APPROVE_USAGE.replace('C2', request.ref)} ｜ {REJECT_USAGE.replace('C1', request.ref)}",
    ]
    return Reply(
        "\n".join(lines), title=f"变更申请 {request.ref}", mentions=tuple(Mention(m.user_id, m.name) for m in approvers)
    )


def _check_open(task: Task) -> None:
    if task.status == TaskStatus.CANCELLED:
        raise UserError(f"{task.ref} 已取消。")
    if task.status == TaskStatus.DONE:
        raise UserError(f"{task.ref} 已完成，不需要变更。")


def _approvers(project: Project) -> list[Member]:
    found = [m for m in project.members if m.is_manager and m.role == Role.PM] or [
        m for m in project.members if m.is_manager
    ]
    sponsor = sponsor_of(project)
    if project.change_approval == "sponsor" and sponsor is not None and sponsor not in found:
        found.append(sponsor)
    return found


# ---------------------------------------------------------------------------- what a request does, in words


def detail_lines(ctx: Context, project: Project, request: ChangeRequest) -> list[str]:
    """The change, its reason, its impact on goal, schedule and budget, and the tasks it touches."""
    plan = request.plan
    calendar = load_calendar(ctx.session, project_id=project.id)
    lines: list[str] = []
    if request.content:
        lines.append(f"内容：{request.content}")
    lines.append(f"原因：{request.reason}")
    if request.impact:
        lines.append(f"影响：{request.impact}")
    lines.append(f"对目标：{request.goal_impact or '无'} · 对预算：{request.budget_impact or '无'}")
    schedule: list[str] = []
    touched: list[str] = []
    for edit in plan.get("edits", []):
        task = require_task(ctx, edit["task"])
        touched.append(task.ref)
        for key, label in (("due", "截止"), ("start", "开始")):
            new, old = _date(edit.get(key)), _date(edit.get(f"old_{key}"))
            if new is None:
                continue
            shift = _shift(calendar.workdays, old, new)
            schedule.append(f"  {task.ref} {shorten(task.title, 16)} {label} {day(old, today=ctx.today)} → "
                            f"{day(new, today=ctx.today)}{shift}")
            if key == "due" and request.status == PENDING:
                schedule += [f"  {w}" for w in successor_warnings(ctx, task, new)]
                if project.deadline and new > project.deadline:
                    schedule.append(f"  ⚠ 晚于项目截止 {day(project.deadline, today=ctx.today)}")
    for new_task in plan.get("new_tasks", []):
        owner = ctx.session.get(Member, new_task["owner_id"]) if new_task.get("owner_id") else None
        schedule.append(f"  新增任务：{new_task['title']} · 负责人 {person(owner)} · 截止 "
                        f"{day(_date(new_task.get('due')), today=ctx.today)}")
        if new_task.get("number"):
            touched.append(f"#{new_task['number']}")
    for number in plan.get("cancel", []):
        task = require_task(ctx, number)
        touched.append(task.ref)
        waiting = [s.ref for s in task.successors if s.status.is_open]
        schedule.append(f"  取消任务：{task.ref} {shorten(task.title, 16)}"
                        + (f"（{'，'.join(waiting)} 依赖它）" if waiting else ""))
    lines.append("对进度：" + ("无" if not schedule else ""))
    lines += schedule
    if touched:
        lines.append(f"涉及任务：{'，'.join(touched)}")
    return lines


def _shift(workdays: Any, old: date | None, new: date) -> str:
    if old is None or old == new:
        return ""
    later = new > old
    first, last = (old, new) if later else (new, old)
    count = len([d for d in workdays(first, last) if d != first])
    return f"（{'推迟' if later else '提前'} {count} 个工作日）"


# ---------------------------------------------------------------------------- /变更 批准 · 驳回


@group.command(("批准", "同意", "approve"), usage=APPROVE_USAGE, summary="批准变更（PM；项目要求时还需发起人），批准后执行")
def approve_change(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    sender = ctx.require_sender()
    request = _require_request(ctx, args, APPROVE_USAGE)
    if request.status != PENDING:
        raise UserError(f"{request.ref} {STATUS_LABELS[request.status]}，不能再批准。")
    needs_sponsor = project.change_approval == "sponsor"
    sponsor = sponsor_of(project)
    is_sponsor = sponsor is not None and sponsor.id == sender.id
    if not sender.is_manager and not (needs_sponsor and is_sponsor):
        who = "PM 或发起人" if needs_sponsor else "PM "
        raise PermissionDenied(f"只有 {who}可以批准变更。")
    if needs_sponsor and sponsor is None:
        raise UserError("本项目要求发起人批准变更，但还没有发起人：/项目 设置 发起人 @某人")
    now = ctx.incoming.sent_at
    approved: list[str] = []
    if sender.is_manager and request.pm_approved_by_id is None:
        request.pm_approved_by_id, request.pm_approved_at = sender.id, now
        approved.append("PM")
    if needs_sponsor and is_sponsor and request.sponsor_approved_by_id is None:
        request.sponsor_approved_by_id, request.sponsor_approved_at = sender.id, now
        approved.append("发起人")
    if not approved:
        raise UserError(f"你已经批准过 {request.ref}，还在等{_waiting_for(request, needs_sponsor)}批准。")
    record_change(
        ctx.session, project_id=project.id, entity="change_request", entity_id=request.id, actor=sender, at=now,
        field="approval", new="、".join(approved),
    )
    if request.pm_approved_by_id is None or (needs_sponsor and request.sponsor_approved_by_id is None):
        waiting = _waiting_for(request, needs_sponsor)
        heads = [m for m in _approvers(project) if (m.is_manager and request.pm_approved_by_id is None)
                 or (m.is_sponsor and request.sponsor_approved_by_id is None)]
        text = (f"{'、'.join(approved)} {sender.name} 已批准 {request.ref}，还需{waiting}批准后执行。"
                + (" " + " ".join(mention(m) for m in heads) + f" 请处理：{APPROVE_USAGE.replace('C2', request.ref)}"
                   if heads else ""))
        return Reply(text, mentions=tuple(Mention(m.user_id, m.name) for m in heads))
    return _apply(ctx, project, request, sender)


def _waiting_for(request: ChangeRequest, needs_sponsor: bool) -> str:
    parts = []
    if request.pm_approved_by_id is None:
        parts.append("PM")
    if needs_sponsor and request.sponsor_approved_by_id is None:
        parts.append("发起人")
    return "和".join(parts) or "无人"


def _apply(ctx: Context, project: Project, request: ChangeRequest, approver: Member) -> Reply:
    """Every part of the change through the normal task commands, as the approving PM."""
    pm = approver if approver.is_manager else request.pm_approved_by
    if pm is None or not pm.is_manager:
        raise UserError(f"批准 {request.ref} 的 PM 已不在项目里，请现任 PM 再批准一次。")
    as_pm = replace(ctx, sender=pm)
    tag = f"变更 {request.ref}：{shorten(request.reason, 60)}"
    done: list[str] = []
    touched: list[Task] = []
    plan = dict(request.plan)
    for edit in plan.get("edits", []):
        task = require_task(ctx, edit["task"])
        options = {"note": tag}
        for key, current in (("due", task.due_date), ("start", task.start_date)):
            if edit.get(key) and _date(edit[key]) != current:
                options[key] = edit[key]
        if len(options) == 1:
            done.append(f"{task.ref} 已是申请的日期，无需修改")
            continue
        reply = task_edits.edit_task(as_pm, Args([task.ref], options, []))
        done.append(" ".join(reply.text.split("\n")[1:3]).strip() or reply.text)
        touched.append(task)
    new_tasks = []
    for new_task in plan.get("new_tasks", []):
        owner = ctx.session.get(Member, new_task["owner_id"]) if new_task.get("owner_id") else None
        options = {k: new_task[k] for k in ("due", "start") if new_task.get(k)}
        named = [Mention(owner.user_id, owner.name)] if owner is not None and owner.is_active else []
        reply = tasks.add_task(as_pm, Args(new_task["title"].split(), options, named))
        created = require_task(ctx, project.next_task_no - 1)
        new_tasks.append({**new_task, "number": created.number})
        done.append(reply.text.split("\n")[0])
        touched.append(created)
    for number in plan.get("cancel", []):
        task = require_task(ctx, number)
        reply = task_edits.cancel(as_pm, task, tag)
        done.append(reply.text.split("\n")[0])
        touched.append(task)
    if new_tasks:
        plan["new_tasks"] = new_tasks
        request.plan = plan  # the numbers the new tasks got, for the record
    now = ctx.incoming.sent_at
    for task in touched:
        record_change(
            ctx.session, project_id=project.id, entity="task", entity_id=task.id, actor=approver, at=now,
            field="change_request", new=request.ref, note=shorten(request.reason, 60),
        )
    request.status, request.decided_by_id, request.decided_at = APPLIED, approver.id, now
    record_change(
        ctx.session, project_id=project.id, entity="change_request", entity_id=request.id, actor=approver, at=now,
        field="status", old=PENDING, new=APPLIED,
    )
    requester = request.requested_by
    head = f"{mention(requester)} " if requester is not None and requester.id != approver.id else ""
    lines = [f"{head}{request.ref} 已批准并执行：", *(f"  {line}" for line in done)]
    if not done:
        lines[0] = f"{head}{request.ref} 已批准（没有需要修改的任务）。"
    mentions = (Mention(requester.user_id, requester.name),) if head and requester is not None else ()
    return Reply("\n".join(lines), mentions=mentions)


@group.command(
    ("驳回", "拒绝", "reject"), usage=REJECT_USAGE, summary="驳回变更并写明原因（PM 或发起人）", options=("reason",)
)
def reject_change(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    sender = ctx.require_sender()
    request = _require_request(ctx, args, REJECT_USAGE)
    sponsor = sponsor_of(project)
    if not sender.is_manager and not (sponsor is not None and sponsor.id == sender.id):
        raise PermissionDenied("只有 PM 或发起人可以驳回变更。")
    if request.status != PENDING:
        raise UserError(f"{request.ref} {STATUS_LABELS[request.status]}，不能再驳回。")
    reason_text = " ".join([*args.words[1:], args.options.get("reason", "")]).strip()
    reason = checked_text(reason_text, what="驳回原因（原因:…）", limit=MAX_REASON, usage=REJECT_USAGE)
    now = ctx.incoming.sent_at
    request.status, request.decided_by_id, request.decided_at, request.decision_note = REJECTED, sender.id, now, reason
    record_change(
        ctx.session, project_id=project.id, entity="change_request", entity_id=request.id, actor=sender, at=now,
        field="status", old=PENDING, new=REJECTED, note=reason,
    )
    requester = request.requested_by
    head = f"{mention(requester)} " if requester is not None else ""
    return Reply(
        f"{head}{sender.name} 驳回了变更 {request.ref}，计划不变。\n原因：{reason}\n"
        f"调整后可以重新申请：{ADD_USAGE.split(' ｜ ')[0]}",
        mentions=(Mention(requester.user_id, requester.name),) if requester is not None else (),
    )


# ---------------------------------------------------------------------------- /变更 列表 · /变更 C2


@group.command(("列表", "list", "ls"), usage=LIST_USAGE, summary="列出变更申请（待批准在前）和待批准的延期申请")
def list_changes(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    if args.words or args.mentions:
        raise UsageError(f"不明白“{args.text}”。", LIST_USAGE)
    requests = list_change_requests(ctx.session, project_id=project.id)
    moves = ctx.session.scalars(
        select(DueRequest).where(DueRequest.project_id == project.id, DueRequest.status == PENDING)
        .order_by(DueRequest.id)
    ).all()
    if not requests and not moves:
        return Reply(f"还没有变更申请。提交：{ADD_USAGE.split(' ｜ ')[0]}")
    ordered = sorted(requests, key=lambda r: (r.status != PENDING, -r.number))
    lines = [_summary_line(ctx, r) for r in ordered]
    if moves:
        lines.append(f"负责人的延期申请（{len(moves)}，/任务 批准 #N ｜ /任务 驳回 #N）：")
        for move in moves:
            task = ctx.session.get(Task, move.task_id)
            lines.append(f"  #{task.number if task else '?'} 截止 {day(move.old_due, today=ctx.today)} → "
                         f"{day(move.new_due, today=ctx.today)}（{person(move.requested_by)}）")
    lines.append(f"查看一条：{SHOW_USAGE}")
    pending = sum(1 for r in requests if r.status == PENDING)
    return Reply("\n".join(lines), title=f"变更申请（{len(requests)}，待批准 {pending}）")


def _summary_line(ctx: Context, request: ChangeRequest) -> str:
    parts = [p for p in (shorten(request.content, 20) if request.content else "",
                         plan_summary(request.plan, today=ctx.today)) if p]
    state = STATUS_LABELS[request.status]
    if request.status == PENDING and request.pm_approved_by_id is not None:
        state += "（PM 已批准，待发起人）"
    return f"{request.ref} {state} · {'；'.join(parts)} · 原因：{shorten(request.reason, 20)}（{person(request.requested_by)}）"


@group.default_command(usage=f"{SHOW_USAGE}  （申请：/变更 新增 …）", summary="查看一条变更申请")
def show_change(ctx: Context, args: Args) -> Reply:
    if len(args.words) != 1 or not _CHANGE_ID.fullmatch(args.words[0]):
        raise UsageError("请写变更编号（C2），或用子指令。", f"{SHOW_USAGE}\n{ADD_USAGE}\n{APPROVE_USAGE}\n{REJECT_USAGE}")
    project = ctx.require_project()
    request = _require_request(ctx, args, SHOW_USAGE)
    tz = ctx.now.tzinfo
    lines = [f"状态：{STATUS_LABELS[request.status]}", *detail_lines(ctx, project, request)]
    lines.append(f"申请：{person(request.requested_by)} · {request.requested_at.astimezone(tz):%m-%d %H:%M}")
    if request.pm_approved_at:
        lines.append(f"PM 批准：{person(request.pm_approved_by)} · {request.pm_approved_at.astimezone(tz):%m-%d %H:%M}")
    if request.sponsor_approved_at:
        lines.append(f"发起人批准：{person(request.sponsor_approved_by)} · "
                     f"{request.sponsor_approved_at.astimezone(tz):%m-%d %H:%M}")
    if request.status == REJECTED and request.decided_at:
        lines.append(f"驳回：{person(request.decided_by)} · {request.decided_at.astimezone(tz):%m-%d %H:%M} · "
                     f"原因：{request.decision_note}")
    return Reply("\n".join(lines), title=f"变更 {request.ref}")


GROUPS = (group,)
