"""/验收: acceptance of deliverables (成果验收确认单) — ask the named people or departments to confirm a
task's deliverable, each of them accepts or rejects it with a reason, the record per deliverable.

`/验收 #12 @钱主管 [@王总] [市场部]` starts a round (the PM or the task's owner); every one named must
`/验收 通过 #12 [说明]` (a department: any of its members, for it); one `/验收 驳回 #12 原因:…` ends the
round as rejected, and a new `/验收 #12 …` starts the next. `/项目 结项` is refused while a deliverable
is not accepted (`models.acceptance.unaccepted_deliverables`) unless the PM closes with `强制`.
Each step writes a history row on the task (field `acceptance`).
"""

from __future__ import annotations

from bot.messages import Mention, Reply
from handlers.common import checked_text, department_named, log_change
from handlers.context import Context
from handlers.errors import PermissionDenied, UsageError, UserError
from handlers.router import CommandGroup
from handlers.task_refs import require_task, task_number
from handlers.text import Args
from models import Acceptance, AcceptanceSignoff, Department, Member, Task, TaskStatus
from models.acceptance import (
    ACCEPTANCE_LABELS,
    ACCEPTED,
    PENDING,
    REJECTED,
    acceptance_rounds,
    latest_rounds,
    unaccepted_deliverables,
)
from models.registers import project_members
from reports.format import mention, person, shorten

REQUEST_USAGE = "/验收 #12 @钱主管 [@王总] [部门:市场部] [验收标准:…]"
ACCEPT_USAGE = "/验收 通过 #12 [说明]"
REJECT_USAGE = "/验收 驳回 #12 原因:…"
LIST_USAGE = "/验收 列表"
MAX_NOTE = 300
MAX_PARTIES = 10

group = CommandGroup(("验收", "acceptance", "accept"), summary="验收：请人确认交付物、通过、驳回、列表")


def _task(ctx: Context, args: Args, usage: str) -> Task:
    if not args.words:
        raise UsageError("缺少任务编号。", usage)
    return require_task(ctx, task_number(args.words[0], usage))


def _current(ctx: Context, task: Task) -> Acceptance | None:
    rounds = acceptance_rounds(ctx.session, project_id=task.project_id, task_id=task.id)
    return rounds[-1] if rounds else None


# ---------------------------------------------------------------------------- /验收 #12 @…


@group.default_command(
    usage=f"{REQUEST_USAGE}  （只写 /验收 #12：查看验收记录）",
    summary="请指定的人或部门验收任务的交付物（PM 或负责人）",
    options=("dept", "criteria"),
)
def request_acceptance(ctx: Context, args: Args) -> Reply:
    task = _task(ctx, args, REQUEST_USAGE)
    departments: list[Department] = []
    for word in args.words[1:]:
        departments.append(department_named(ctx, word, may_create=False))
    for name in (args.options.get("dept") or "").replace("，", ",").replace("、", ",").split(","):
        if name.strip():
            departments.append(department_named(ctx, name, may_create=False))
    if not args.mentions and not departments:
        if "criteria" in args.options:
            raise UsageError("请写明由谁验收（@某人 或 部门）。", REQUEST_USAGE)
        return _record(ctx, task)
    sender = ctx.require_sender()
    if not sender.is_manager and task.owner_id != sender.id:
        raise PermissionDenied(f"只有 PM 或 {task.ref} 的负责人可以发起验收。")
    if task.status == TaskStatus.CANCELLED:
        raise UserError(f"{task.ref} 已取消，不需要验收。")
    current = _current(ctx, task)
    if current is not None and current.status == PENDING:
        waiting = "、".join(s.party for s in current.signoffs if s.decision == PENDING)
        raise UserError(f"{task.ref} 正在验收（第 {current.round} 轮），还等 {waiting} 确认。")
    if current is not None and current.status == ACCEPTED:
        raise UserError(f"{task.ref} 已通过验收（第 {current.round} 轮），不需要再验收。")
    people: list[Member] = []
    for named in args.mentions:  # those named to confirm, like an owner named: a new name is added, out loud
        member = ctx.resolve_member(named, assigning=True)
        if member not in people:
            people.append(member)
    departments = list(dict.fromkeys(departments))
    if len(people) + len(departments) > MAX_PARTIES:
        raise UsageError(f"一次最多请 {MAX_PARTIES} 方验收。", REQUEST_USAGE)
    now = ctx.incoming.sent_at
    if "criteria" in args.options:
        criteria = checked_text(args.options["criteria"], what="验收标准", limit=500, usage=REQUEST_USAGE)
        if criteria != task.acceptance_criteria:
            log_change(ctx, "task", task, sender, "acceptance_criteria", task.acceptance_criteria, criteria,
                       before={"acceptance_criteria": task.acceptance_criteria})
            task.acceptance_criteria = criteria
    acceptance = Acceptance(
        project_id=task.project_id, task_id=task.id, round=(current.round + 1) if current else 1, status=PENDING,
        requested_by_id=sender.id, requested_at=now,
    )
    acceptance.signoffs = [AcceptanceSignoff(member_id=m.id, decision=PENDING) for m in people] + [
        AcceptanceSignoff(department_id=d.id, decision=PENDING) for d in departments
    ]
    ctx.session.add(acceptance)
    ctx.session.flush()
    parties = [m.name for m in people] + [d.name for d in departments]
    log_change(ctx, "task", task, sender, "acceptance", None, f"第{acceptance.round}轮 请 {'、'.join(parties)} 验收",
               before={})
    asked = list(people)
    members = project_members(ctx.session, project_id=task.project_id)
    for department in departments:
        staff = [m for m in members if m.department_id == department.id]
        if not staff:
            raise UserError(
                f"{department.name}还没有成员，没人能代表它验收。"
                f"请 @ 具体的人，或先 /成员 添加 @某人 部门:{department.name}"
            )
        asked += [m for m in staff if m not in asked]
    lines = [f"{task.ref} {shorten(task.title)} 请验收（第 {acceptance.round} 轮）"]
    lines.append(f"交付物：{task.deliverable or task.title}")
    lines.append(f"验收标准：{task.acceptance_criteria or '未填写（可加 验收标准:…）'}")
    lines.append(f"验收方：{'、'.join(parties)}")
    lines.append(
        " ".join(mention(m) for m in asked)
        + f" 请确认：{ACCEPT_USAGE.replace('#12', task.ref)} ｜ {REJECT_USAGE.replace('#12', task.ref)}"
    )
    return Reply("\n".join(lines), title="成果验收确认", mentions=tuple(Mention(m.user_id, m.name) for m in asked))


def _record(ctx: Context, task: Task) -> Reply:
    rounds = acceptance_rounds(ctx.session, project_id=task.project_id, task_id=task.id)
    lines = [f"交付物：{task.deliverable or task.title}", f"验收标准：{task.acceptance_criteria or '未填写'}"]
    if not rounds:
        lines.append(f"还没有发起验收：{REQUEST_USAGE.replace('#12', task.ref)}")
    tz = ctx.now.tzinfo
    for acceptance in rounds:
        lines.append(f"第 {acceptance.round} 轮 · {ACCEPTANCE_LABELS[acceptance.status]} · "
                     f"{person(acceptance.requested_by)} 发起于 {acceptance.requested_at.astimezone(tz):%m-%d %H:%M}")
        for signoff in acceptance.signoffs:
            line = f"  {signoff.party}：{ACCEPTANCE_LABELS[signoff.decision]}"
            if signoff.decided_at is not None:
                by = signoff.decided_by
                if by is not None and signoff.member_id is None:
                    line += f"（{by.name}）"
                line += f" {signoff.decided_at.astimezone(tz):%m-%d %H:%M}"
            if signoff.note:
                line += f" · {'原因' if signoff.decision == REJECTED else '说明'}：{signoff.note}"
            lines.append(line)
    return Reply("\n".join(lines), title=f"验收记录 {task.ref} {shorten(task.title, 20)}")


# ---------------------------------------------------------------------------- /验收 通过 · 驳回


def _my_signoff(ctx: Context, task: Task, usage: str) -> tuple[Acceptance, AcceptanceSignoff, Member]:
    sender = ctx.require_sender()
    current = _current(ctx, task)
    if current is None or current.status != PENDING:
        state = "还没有发起验收" if current is None else f"的验收已{ACCEPTANCE_LABELS[current.status][1:]}"
        raise UserError(f"{task.ref} {state}。发起：{REQUEST_USAGE.replace('#12', task.ref)}")
    pending = [s for s in current.signoffs if s.decision == PENDING]
    mine = next((s for s in pending if s.member_id == sender.id), None) or next(
        (s for s in pending if s.department_id is not None and s.department_id == sender.department_id), None
    )
    if mine is None:
        answered = [s for s in current.signoffs if s.decision != PENDING and (
            s.member_id == sender.id or (s.department_id is not None and s.department_id == sender.department_id))]
        if answered:
            raise UserError(f"你已经{ACCEPTANCE_LABELS[answered[0].decision][1:]}了 {task.ref} 的本轮验收。")
        parties = "、".join(s.party for s in current.signoffs)
        raise PermissionDenied(f"{task.ref} 本轮由 {parties} 验收，你不在其中。")
    return current, mine, sender


@group.command(("通过", "确认", "accept", "ok"), usage=ACCEPT_USAGE, summary="确认交付物通过验收（被请的人或部门成员）")
def accept(ctx: Context, args: Args) -> Reply:
    task = _task(ctx, args, ACCEPT_USAGE)
    note = checked_text(" ".join(args.words[1:]), what="说明", limit=MAX_NOTE, required=False) or None
    acceptance, signoff, sender = _my_signoff(ctx, task, ACCEPT_USAGE)
    now = ctx.incoming.sent_at
    signoff.decision, signoff.decided_by_id, signoff.decided_at, signoff.note = ACCEPTED, sender.id, now, note
    waiting = [s.party for s in acceptance.signoffs if s.decision == PENDING]
    log_change(ctx, "task", task, sender, "acceptance", None, f"{signoff.party} 通过", note)
    if waiting:
        return Reply(f"{signoff.party} 已确认 {task.ref} 通过验收。还等：{'、'.join(waiting)}。")
    acceptance.status, acceptance.closed_at = ACCEPTED, now
    log_change(ctx, "task", task, sender, "acceptance", None, f"第{acceptance.round}轮 验收通过")
    requester = acceptance.requested_by
    head = f"{mention(requester)} " if requester is not None and requester.id != sender.id else ""
    return Reply(
        f"{head}{task.ref} {shorten(task.title)} 验收通过（{'、'.join(s.party for s in acceptance.signoffs)} 均已确认）。",
        mentions=(Mention(requester.user_id, requester.name),) if head and requester is not None else (),
    )


@group.command(
    ("驳回", "拒绝", "reject"), usage=REJECT_USAGE, summary="驳回交付物并写明原因（被请的人或部门成员）",
    options=("reason",),
)
def reject(ctx: Context, args: Args) -> Reply:
    task = _task(ctx, args, REJECT_USAGE)
    reason = checked_text(
        " ".join([*args.words[1:], args.options.get("reason", "")]), what="驳回原因（原因:…）", limit=MAX_NOTE,
        usage=REJECT_USAGE,
    )
    acceptance, signoff, sender = _my_signoff(ctx, task, REJECT_USAGE)
    now = ctx.incoming.sent_at
    signoff.decision, signoff.decided_by_id, signoff.decided_at, signoff.note = REJECTED, sender.id, now, reason
    acceptance.status, acceptance.closed_at = REJECTED, now
    log_change(ctx, "task", task, sender, "acceptance", None, f"{signoff.party} 驳回", reason)
    notify = [m for m in (task.owner, acceptance.requested_by) if m is not None and m.id != sender.id]
    notify = list(dict.fromkeys(notify))
    heads = " ".join(mention(m) for m in notify)
    return Reply(
        f"{heads} {signoff.party} 驳回了 {task.ref} {shorten(task.title)} 的验收（第 {acceptance.round} 轮）。\n"
        f"原因：{reason}\n修改后重新发起：/验收 {task.ref} {_parties_typed(acceptance)}".strip(),
        mentions=tuple(Mention(m.user_id, m.name) for m in notify),
    )


def _parties_typed(acceptance: Acceptance) -> str:
    """The round's parties as they would be typed again (@李四 市场部)."""
    return " ".join(f"@{s.member.name}" if s.member is not None else s.party for s in acceptance.signoffs)


# ---------------------------------------------------------------------------- /验收 列表


@group.command(("列表", "list", "ls"), usage=LIST_USAGE, summary="每个交付物的验收状态（未验收的在前）")
def list_acceptance(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    if args.words or args.mentions:
        raise UsageError(f"不明白“{args.text}”。", LIST_USAGE)
    latest = latest_rounds(ctx.session, project_id=project.id)
    open_ones = unaccepted_deliverables(ctx.session, project_id=project.id)
    open_ids = {t.id for t, _ in open_ones}
    accepted = [a for a in latest.values() if a.status == ACCEPTED and a.task_id not in open_ids]
    if not open_ones and not accepted:
        return Reply(f"还没有需要验收的交付物。发起验收：{REQUEST_USAGE}")
    lines: list[str] = []
    for task, current in open_ones:
        if current is None:
            lines.append(f"{task.ref} {shorten(task.title, 20)} · 未发起验收")
        elif current.status == PENDING:
            waiting = "、".join(s.party for s in current.signoffs if s.decision == PENDING)
            lines.append(f"{task.ref} {shorten(task.title, 20)} · 待验收（第 {current.round} 轮）· 还等 {waiting}")
        else:
            by = next((s for s in current.signoffs if s.decision == REJECTED), None)
            lines.append(f"{task.ref} {shorten(task.title, 20)} · 已驳回（{by.party if by else ''}："
                         f"{shorten(by.note or '', 20) if by else ''}）· 待重新发起")
    for acceptance in sorted(accepted, key=lambda a: a.task.number):
        lines.append(f"{acceptance.task.ref} {shorten(acceptance.task.title, 20)} · 已通过（"
                     f"{'、'.join(s.party for s in acceptance.signoffs)}）")
    lines.append("查看一项：/验收 #12 ｜ 未验收的交付物会阻止结项（PM 可 /项目 结项 强制）")
    return Reply("\n".join(lines), title=f"成果验收（已通过 {len(accepted)}，未通过 {len(open_ones)}）")


GROUPS = (group,)
