"""/请假 and /交接: a member's leave, and the stand-ins who cover their items while they are away.

`/请假 12-01~12-05 [说明]` (anyone, for themselves) or `/请假 @某人 …` (PM): while it lasts the person
gets no prompt, nudge or reminder and is never 未更新; reminders about their items go to the PM
(`reports`). Before it starts (at once when it starts by the next workday, otherwise the reminders run
of the workday before, `leave-handover`) the bot proposes stand-ins for their tasks, risks and action items due
by its last day (`models.leave.propose_handovers`); `/交接 确认 #12` (PM) makes the stand-in the owner
and tells the group who covers what. After the leave (the reminders run of the first day after it,
`leave-hand-back`) the group is told what stand-ins still cover, and `/交接 交还 #12` (PM) hands an item
back to the person. `/项目 设置 交接 关` turns the proposals off.
"""

from __future__ import annotations

from datetime import timedelta

from bot.messages import Mention, Reply
from handlers.common import log_change
from handlers.context import Context
from handlers.dates import parse_day_range, take_day_range
from handlers.errors import UsageError, UserError
from handlers.router import CommandGroup
from handlers.text import Args
from models import ActionItem, Handover, HandoverStatus, Leave, Member, Risk, Task, leaves_of, pending_handovers
from models.calendar import load_calendar
from models.leave import overlapping, propose_handovers, to_hand_back
from models.registers import managers
from reports.format import mention, person
from reports.text_leave import (
    CONFIRM_USAGE,
    RETURN_USAGE,
    handover_item,
    handover_proposal,
    item_label,
    leave_span,
)

LEAVE_USAGE = "/请假 12-01~12-05 [说明] ｜ /请假 @某人 12-01~12-05（PM）"
CANCEL_USAGE = "/请假 取消 [@某人]"
LIST_USAGE = "/请假 列表"
MAX_LEAVE_DAYS = 92
MAX_NOTE = 200
_ALL_WORDS = ("全部", "所有", "all")

leave_group = CommandGroup(("请假", "leave"), summary="请假：登记、取消、列表（期间不提醒，事项交接给同事）")
handover_group = CommandGroup(("交接", "handover"), summary="交接：确认请假同事事项的代理人，回来后交还（PM）")


def _whose(ctx: Context, args: Args, action: str) -> Member:
    sender = ctx.require_sender()
    if len(args.mentions) > 1:
        raise UsageError("一次只能登记一个人。", LEAVE_USAGE)
    if not args.mentions:
        return sender
    member = ctx.resolve_member(args.mentions[0])
    if member.id != sender.id:
        ctx.require_manager(action)
    return member


@leave_group.default_command(usage=LEAVE_USAGE, summary="登记请假（自己；PM 可替别人登记）")
def add_leave(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    member = _whose(ctx, args, "替别人登记请假")
    if not args.words:
        raise UsageError("缺少请假日期。", LEAVE_USAGE)
    date_text, rest = take_day_range(args.words)
    first, last = parse_day_range(date_text, today=ctx.today, usage=LEAVE_USAGE, max_days=MAX_LEAVE_DAYS)
    if last < ctx.today:
        raise UserError(f"{last.isoformat()} 已经过去了（今天是 {ctx.today.isoformat()}）。")
    note = " ".join(rest).strip() or None
    if note and len(note) > MAX_NOTE:
        raise UsageError(f"说明太长（{len(note)} 字），请控制在 {MAX_NOTE} 字以内。", LEAVE_USAGE)
    for existing in leaves_of(ctx.session, project_id=project.id, since=first, member_id=member.id):
        if existing.first_day <= last:
            raise UserError(f"{member.name} 已登记 {leave_span(existing, ctx.today)} 请假，与这次重叠。"
                            f"要改请先 {CANCEL_USAGE}")
    leave = Leave(project_id=project.id, member_id=member.id, first_day=first, last_day=last, note=note,
                  created_by_id=ctx.require_sender().id, created_at=ctx.incoming.sent_at)
    ctx.session.add(leave)
    ctx.session.flush()
    calendar = load_calendar(ctx.session, project_id=project.id)
    workdays = len(calendar.workdays(first, last))
    lines = [
        f"已登记：{member.name} {leave_span(leave, ctx.today)} 请假（{workdays} 个工作日）"
        + (f"：{note}" if note else "") + "。",
        "期间不@提醒、不计入未更新，到期和逾期提醒改发 PM。",
    ]
    mentions: tuple[Mention, ...] = ()
    if project.leave_handover:
        # As the scheduler's job would: it starts by the next workday (tomorrow, or Monday on a Friday).
        if first <= (calendar.next_workday(ctx.today) or ctx.today + timedelta(days=1)):
            handovers = propose_handovers(ctx.session, leave, at=ctx.incoming.sent_at)
            proposal = handover_proposal(
                ctx.session, leave, handovers, managers=managers(ctx.session, project_id=project.id), today=ctx.today
            )
            lines.append(proposal.text)
            mentions = proposal.mentions
        else:
            lines.append("开始前一天会提议由谁代为负责期间到期的事项，PM 确认后交接。")
    return Reply("\n".join(lines), mentions=mentions)


@leave_group.command(("取消", "撤销", "cancel"), usage=CANCEL_USAGE, summary="取消还没结束的请假")
def cancel_leave(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    member = _whose(ctx, args, "取消别人的请假")
    if args.words:
        raise UsageError(f"不明白“{' '.join(args.words)}”。", CANCEL_USAGE)
    found = leaves_of(ctx.session, project_id=project.id, since=ctx.today, member_id=member.id)
    if not found:
        raise UserError(f"{member.name} 没有还没结束的请假。")
    leave = found[0]
    leave.cancelled_at = ctx.incoming.sent_at
    dropped = 0
    for handover in pending_handovers(ctx.session, project_id=project.id):
        if handover.leave_id == leave.id:
            handover.status, handover.settled_at = HandoverStatus.DROPPED, ctx.incoming.sent_at
            dropped += 1
    text = f"已取消 {member.name} {leave_span(leave, ctx.today)} 的请假，提醒照常。"
    if dropped:
        text += f"\n{dropped} 项待确认的交接已作废。"
    return Reply(text)


@leave_group.command(("列表", "list", "ls"), usage=LIST_USAGE, summary="列出正在请假和将要请假的人")
def list_leaves(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    if args.words:
        raise UsageError(f"不明白“{' '.join(args.words)}”。", LIST_USAGE)
    found = leaves_of(ctx.session, project_id=project.id, since=ctx.today)
    if not found:
        return Reply("请假：没有人正在请假或将要请假。")
    lines = []
    for leave in found:
        now = "（请假中）" if leave.first_day <= ctx.today else ""
        lines.append(f"{leave.member.name} {leave_span(leave, ctx.today)}{now}" + (f" · {leave.note}" if leave.note else ""))
    waiting = len(pending_handovers(ctx.session, project_id=project.id))
    if waiting:
        lines.append(f"待确认的交接 {waiting} 项：/交接")
    return Reply("\n".join(lines), title=f"请假（{len(found)}）")


# ---------------------------------------------------------------------------- /交接


@handover_group.default_command(usage="/交接  列出待确认和待交还的交接", summary="列出待 PM 确认或交还的交接")
def list_handovers(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    if args.words:
        raise UsageError(f"不明白“{' '.join(args.words)}”。", f"/交接\n{CONFIRM_USAGE}\n{RETURN_USAGE}")
    waiting = pending_handovers(ctx.session, project_id=project.id)
    back = to_hand_back(ctx.session, project_id=project.id, today=ctx.today)
    if not waiting and not back:
        return Reply("没有待确认或待交还的交接。")
    lines = [
        f"{item_label(ctx.session, h)} · {person(h.leave.member)} 请假 → {person(h.stand_in) if h.stand_in else '待指定'}"
        for h in waiting
    ]
    if waiting:
        lines.append(f"确认：{CONFIRM_USAGE}")
    if back:
        lines.append("请假已结束，可交还：")
        lines += [f"  {item_label(ctx.session, h)} · {person(h.stand_in)} → {person(h.leave.member)}" for h in back]
        lines.append(f"交还：{RETURN_USAGE}")
    return Reply("\n".join(lines), title=f"交接（待确认 {len(waiting)} · 待交还 {len(back)}）")


def _ref_key(word: str) -> str:
    text = word.strip().lstrip("＃")
    if text[:1].lower() in ("r", "a"):
        return text[0].upper() + text[1:]
    return "#" + text.lstrip("#")


@handover_group.command(("确认", "同意", "confirm", "ok"), usage=CONFIRM_USAGE, summary="确认代理人，事项改由其负责（PM）")
def confirm_handover(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    actor = ctx.require_manager("确认交接")
    if len(args.words) != 1:
        raise UsageError("请写明交接哪一项（#12、R3、A4 或 全部）。", CONFIRM_USAGE)
    if len(args.mentions) > 1:
        raise UsageError("一项只能交给一位代理人，请只 @ 一个人。", CONFIRM_USAGE)
    stand_in = ctx.resolve_member(args.mentions[0], assigning=True) if args.mentions else None
    waiting = pending_handovers(ctx.session, project_id=project.id)
    word = args.words[0]
    if word.lower() in _ALL_WORDS:
        chosen = list(waiting)
    else:
        key = _ref_key(word)
        chosen = [h for h in waiting if h.ref == key]
    if not chosen:
        raise UserError(f"没有待确认的交接“{word}”。待确认的见 /交接")
    lines: list[str] = []
    mentions: list[Mention] = []
    for handover in chosen:
        lines.append(_settle(ctx, handover, stand_in or handover.stand_in, actor, mentions))
    return Reply("\n".join(lines), mentions=tuple(dict.fromkeys(mentions)))


def _settle(ctx: Context, handover: Handover, stand_in: Member | None, actor: Member, mentions: list[Mention]) -> str:
    leave = handover.leave
    label = item_label(ctx.session, handover)
    if stand_in is None:
        return f"{label}：没有建议的代理人，请指定：/交接 确认 {handover.ref} @某人"
    away = overlapping(ctx.session, project_id=leave.project_id, first=leave.first_day, last=leave.last_day)
    if stand_in.id in away:
        return f"{label}：{stand_in.name} 这段时间也请假，请换一位：/交接 确认 {handover.ref} @某人"
    row = handover_item(ctx.session, handover)
    now = ctx.incoming.sent_at
    if row is None or row.owner_id != leave.member_id or not _still_open(row):
        handover.status, handover.settled_at = HandoverStatus.DROPPED, now
        return f"{label}：已不由 {leave.member.name} 负责或已结束，不用交接。"
    entity = handover.kind
    log_change(ctx, entity, row, actor, "owner", person(leave.member), stand_in.name,
               f"{leave.member.name} 请假 {leave.first_day.isoformat()}~{leave.last_day.isoformat()}")
    row.owner = stand_in
    handover.stand_in, handover.status, handover.settled_at = stand_in, HandoverStatus.CONFIRMED, now
    mentions.append(Mention(stand_in.user_id, stand_in.name))
    return f"{label} 由 {mention(stand_in)} 代为负责（{leave.member.name} {leave_span(leave, ctx.today)} 请假）"


@handover_group.command(("交还", "归还", "return", "handback"), usage=RETURN_USAGE,
                        summary="请假结束后，把代理人负责的事项交还本人（PM）")
def hand_back(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    actor = ctx.require_manager("交还交接的事项")
    if len(args.words) != 1 or args.mentions:
        raise UsageError("请写明交还哪一项（#12、R3、A4 或 全部）。", RETURN_USAGE)
    back = to_hand_back(ctx.session, project_id=project.id, today=ctx.today)
    word = args.words[0]
    chosen = list(back) if word.lower() in _ALL_WORDS else [h for h in back if h.ref == _ref_key(word)]
    if not chosen:
        raise UserError(f"没有可交还的“{word}”（只有请假已结束、由代理人负责的事项可以交还）。待交还的见 /交接")
    now = ctx.incoming.sent_at
    lines: list[str] = []
    mentions: list[Mention] = []
    for handover in chosen:
        leave, label = handover.leave, item_label(ctx.session, handover)
        row = handover_item(ctx.session, handover)
        if row is None or handover.stand_in_id is None or row.owner_id != handover.stand_in_id or not _still_open(row):
            handover.status, handover.returned_at = HandoverStatus.DROPPED, now
            lines.append(f"{label}：已不由 {person(handover.stand_in)} 负责或已结束，不用交还。")
            continue
        log_change(ctx, handover.kind, row, actor, "owner", person(handover.stand_in), leave.member.name,
                   f"{leave.member.name} 请假结束，交还")
        row.owner = leave.member
        handover.status, handover.returned_at = HandoverStatus.RETURNED, now
        mentions.append(Mention(leave.member.user_id, leave.member.name))
        lines.append(f"{label} 交还 {mention(leave.member)} 负责（{person(handover.stand_in)} 代理结束）")
    return Reply("\n".join(lines), mentions=tuple(dict.fromkeys(mentions)))


def _still_open(row: Task | Risk | ActionItem) -> bool:
    if isinstance(row, Task):
        return row.status.is_open
    return row.status.value == "open"


GROUPS = (leave_group, handover_group)
