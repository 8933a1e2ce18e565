"""/行动: meeting action items (行动项), each with an owner and a due date: add, list, done, cancel.

PM/co-PMs add items for anyone; a member adds items for themselves. The owner or a PM completes or
cancels one. `来源:D2` links the decision it came from; without it the origin is the day it was added.
"""

from __future__ import annotations

import re
from datetime import date

from bot.messages import Mention, Reply
from handlers.buttons import action_actions, with_buttons
from handlers.common import checked_text, date_option, history_lines, is_clear, log_change, named_owner, parse_ref
from handlers.context import Context
from handlers.errors import PermissionDenied, UsageError, UserError
from handlers.router import CommandGroup
from handlers.text import Args
from models import ActionItem, ActionStatus, Decision, Edit, Member
from models.base import insert_now
from models.card_views import item_view
from models.project import allocate_number
from models.registers import list_actions as list_action_rows
from models.snapshots import FIELD_COLUMNS, column_values
from reports.format import ACTION_STATUS_LABELS, day, mention, person, shorten

MAX_CONTENT = 500
MAX_ORIGIN = 50
LIST_LIMIT = 50
ADD_USAGE = "/行动 新增 <内容> @负责人 截止:日期 [来源:D2]"
DONE_USAGE = "/行动 完成 A4 [说明]"
CANCEL_USAGE = "/行动 取消 A4 [原因]"
EDIT_USAGE = "/行动 修改 A4 [截止:日期] [@新负责人] [内容:…]"
LIST_USAGE = "/行动 列表 [我的|逾期|已完成|全部|@某人]"
STATUS_ICONS = {ActionStatus.OPEN: "⚪", ActionStatus.DONE: "✅", ActionStatus.CANCELLED: "➖"}
_DECISION_REF = re.compile(r"#?[Dd](\d{1,9})")

group = CommandGroup(("行动", "action", "actions"), summary="行动项：新增、列表、完成、取消（会议决定的待办）")


def require_action(ctx: Context, word: str, usage: str) -> ActionItem:
    return ctx.require_numbered(ActionItem, parse_ref(word, "A", what="行动项", usage=usage))


def require_action_editor(ctx: Context, item: ActionItem) -> Member:
    sender = ctx.require_sender()
    if sender.is_manager or item.owner_id == sender.id:
        return sender
    raise PermissionDenied(f"{item.ref} 的负责人是 {person(item.owner)}，只有负责人或 PM 可以更新。")



# ---------------------------------------------------------------------------- /行动 新增


@group.command(
    ("新增", "添加", "新建", "add", "new"),
    usage=ADD_USAGE,
    summary="新增行动项（必须有负责人和截止日期），得到编号 A4",
    options=("due", "owner", "origin"),
)
def add_action(ctx: Context, args: Args) -> Reply:
    ctx.require_project()
    sender = ctx.require_sender()
    due = date_option(ctx, args, "due", what="截止日期")
    content = checked_text(args.text, what="行动项内容", limit=MAX_CONTENT, usage=ADD_USAGE)
    owner = named_owner(ctx, args, what="行动项", usage=ADD_USAGE)
    if owner is None:
        raise UsageError("行动项必须有负责人，请 @ 负责人。", ADD_USAGE)
    if due is None:
        raise UsageError("行动项必须有截止日期，请写 截止:日期。", ADD_USAGE)
    if owner.id != sender.id and not sender.is_manager:
        raise PermissionDenied("成员只能给自己新增行动项；给别人派请找 PM。")
    decision_id, origin = None, ctx.today.isoformat()
    if args.options.get("origin"):
        value = args.options["origin"].strip()
        if m := _DECISION_REF.fullmatch(value):
            decision = ctx.require_numbered(Decision, int(m.group(1)))
            decision_id, origin = decision.id, decision.ref
        else:
            origin = checked_text(value, what="来源", limit=MAX_ORIGIN, usage=ADD_USAGE)
    item = create_action(ctx, content=content, owner=owner, due=due, origin=origin, decision_id=decision_id)
    who = mention(owner) if owner.id != sender.id else person(owner)
    return Reply(
        f"已新增行动项 {item.ref} {shorten(content)}\n负责人 {who} · 截止 {day(due, today=ctx.today)} · 来源 {origin}",
        mentions=(Mention(owner.user_id, owner.name),) if owner.id != sender.id else (),
    )


def create_action(
    ctx: Context, *, content: str, owner: Member, due: date | None, origin: str, decision_id: int | None = None
) -> ActionItem:
    """A new open action item of the project, numbered and in the history (the sender created it)."""
    project, sender = ctx.require_project(), ctx.require_sender()
    now = ctx.incoming.sent_at
    item = ActionItem(
        project_id=project.id,
        number=allocate_number(ctx.session, project, "next_action_no"),
        content=content,
        owner_id=owner.id,
        due_date=due,
        status=ActionStatus.OPEN,
        origin=origin,
        decision_id=decision_id,
        created_by_id=sender.id,
        created_at=now,
        updated_at=now,
    )
    insert_now(ctx.session, item)
    log_change(ctx, "action", item, sender, "created", None, shorten(content, 60), None)
    return item


# ---------------------------------------------------------------------------- /行动 列表


def action_line(item: ActionItem, ctx: Context) -> str:
    parts = [f"{item.ref} {STATUS_ICONS[item.status]} {shorten(item.content, 30)}", person(item.owner),
             f"截止{day(item.due_date, today=ctx.today)}"]
    if item.status == ActionStatus.OPEN and item.due_date and item.due_date < ctx.today:
        parts.append(f"⚠逾期{(ctx.today - item.due_date).days}天")
    if item.status != ActionStatus.OPEN:
        parts.append(ACTION_STATUS_LABELS[item.status])
    if item.origin:
        parts.append(f"来源 {item.origin}")
    return " · ".join(parts)


@group.command(("列表", "list", "ls"), usage=LIST_USAGE, summary="列出未完成的行动项，逾期在前")
def list_actions(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    if len(args.words) > 1 or len(args.mentions) > 1 or (args.words and args.mentions):
        raise UsageError("一次只能用一个筛选条件。", LIST_USAGE)
    word = args.words[0].lower() if args.words else ""
    status: ActionStatus | None = ActionStatus.OPEN
    owner_id: int | None = None
    due_before = None
    title = "未完成的行动项"
    if args.mentions:
        owner = ctx.resolve_member(args.mentions[0])
        owner_id, title = owner.id, f"{owner.name} 的未完成行动项"
    elif word in ("", "open", "未完成"):
        pass
    elif word in ("我的", "mine", "my"):
        owner_id, title = ctx.require_sender().id, "我的未完成行动项"
    elif word in ("逾期", "overdue"):
        due_before, title = ctx.today, "逾期的行动项"
    elif word in ("已完成", "done"):
        status, title = ActionStatus.DONE, "已完成的行动项"
    elif word in ("全部", "all"):
        status, title = None, "全部行动项"
    else:
        raise UsageError(f"不认识筛选条件“{args.words[0]}”。", LIST_USAGE)
    page = list_action_rows(
        ctx.session, project_id=project.id, status=status, owner_id=owner_id, due_before=due_before, limit=LIST_LIMIT
    )
    if page.total == 0:
        return Reply(f"{title}：没有。")
    lines = [action_line(item, ctx) for item in page.rows]
    if page.total > len(page.rows):
        lines.append(f"…另有 {page.total - len(page.rows)} 个未列出。")
    return Reply("\n".join(lines), title=f"{title}（{page.total}）")


# ---------------------------------------------------------------------------- /行动 A4


@group.default_command(usage="/行动 A4  查看一个行动项", summary="查看一个行动项及其记录")
def show_action(ctx: Context, args: Args) -> Reply:
    if not args.words:
        raise UsageError("缺少行动项编号或子指令。", group.usage)
    item = require_action(ctx, args.words[0], group.usage)
    if len(args.words) > 1:
        verb = args.words[1].lower()
        if verb in ("完成", "done", "finish"):
            return complete(ctx, item, " ".join(args.words[2:]).strip() or None)
        if verb in ("取消", "cancel"):
            return cancel(ctx, item, " ".join(args.words[2:]).strip() or None)
        raise UsageError(f"不明白“{args.words[1]}”。", group.usage)
    return action_card(ctx, item)


def action_card(ctx: Context, item: ActionItem) -> Reply:
    """`/行动 A4`: the action item, its history and 完成 while it is open; kept up to date like the
    task's card (handlers/card_refresh)."""
    lines = [
        f"状态：{ACTION_STATUS_LABELS[item.status]} · 负责人：{person(item.owner)}",
        f"截止：{day(item.due_date, today=ctx.today)} · 来源：{item.origin or '未记录'}",
    ]
    lines += history_lines(ctx.session, ctx, entity="action", entity_id=item.id)
    reply = Reply("\n".join(lines), title=f"{item.ref} {shorten(item.content, 60)}", view=item_view("action", item.id))
    return with_buttons(reply, *action_actions(item))


# ---------------------------------------------------------------------------- /行动 完成 · 取消 · 修改


def _note(words: list[str], usage: str) -> str | None:
    return checked_text(" ".join(words), what="说明", limit=MAX_CONTENT, usage=usage, required=False) or None


@group.command(("完成", "done", "finish"), usage=DONE_USAGE, summary="完成行动项（负责人或 PM）")
def done_action(ctx: Context, args: Args) -> Reply:
    if not args.words:
        raise UsageError("缺少行动项编号。", DONE_USAGE)
    item = require_action(ctx, args.words[0], DONE_USAGE)
    return complete(ctx, item, _note(args.words[1:], DONE_USAGE))


def complete(ctx: Context, item: ActionItem, note: str | None) -> Reply:
    actor = require_action_editor(ctx, item)
    if item.status == ActionStatus.DONE:
        return Reply(f"{item.ref} 已经完成了。")
    if item.status == ActionStatus.CANCELLED:
        raise UserError(f"{item.ref} 已取消，不能完成。")
    now = ctx.incoming.sent_at
    edit = Edit(ctx.session, item, entity="action", actor=actor, at=now)
    edit.status(ActionStatus.DONE, note=note, done_at=now)
    edit.apply()
    late = ""
    if item.due_date and ctx.today > item.due_date:
        late = f"（晚于截止 {(ctx.today - item.due_date).days} 天）"
    return Reply(f"✅ {item.ref} {shorten(item.content)} 已完成{late}" + (f"\n说明：{note}" if note else ""))


@group.command(("取消", "cancel"), usage=CANCEL_USAGE, summary="取消行动项（负责人或 PM）")
def cancel_action(ctx: Context, args: Args) -> Reply:
    if not args.words:
        raise UsageError("缺少行动项编号。", CANCEL_USAGE)
    item = require_action(ctx, args.words[0], CANCEL_USAGE)
    return cancel(ctx, item, _note(args.words[1:], CANCEL_USAGE))


def cancel(ctx: Context, item: ActionItem, reason: str | None) -> Reply:
    actor = require_action_editor(ctx, item)
    if item.status != ActionStatus.OPEN:
        raise UserError(f"{item.ref} 已经{ACTION_STATUS_LABELS[item.status]}，不能取消。")
    edit = Edit(ctx.session, item, entity="action", actor=actor, at=ctx.incoming.sent_at)
    edit.status(ActionStatus.CANCELLED, note=reason)
    edit.apply()
    return Reply(f"已取消行动项 {item.ref} {shorten(item.content)}" + (f"\n原因：{reason}" if reason else ""))


@group.command(
    ("修改", "改", "edit"),
    usage=EDIT_USAGE,
    summary="修改行动项的截止日期、负责人或内容（负责人或 PM；改派仅 PM）",
    options=("due", "owner", "desc", "note"),
)
def edit_action(ctx: Context, args: Args) -> Reply:
    if not args.words:
        raise UsageError("缺少行动项编号。", EDIT_USAGE)
    item = require_action(ctx, args.words[0], EDIT_USAGE)
    actor = require_action_editor(ctx, item)
    if item.status != ActionStatus.OPEN:
        raise UserError(f"{item.ref} 已经{ACTION_STATUS_LABELS[item.status]}，不能修改。")
    before = column_values(item, ("due_date", "owner_id", "content"))  # for undo
    lines: list[str] = []
    mentions: list[Mention] = []
    changes: list[tuple[str, str | None, str | None]] = []  # field, old, new (display text)
    if "due" in args.options:
        if is_clear(args.options["due"]):
            raise UsageError("行动项必须有截止日期。", EDIT_USAGE)
        due = date_option(ctx, args, "due", what="截止日期")
        if due is not None and due != item.due_date:
            lines.append(f"截止 {day(item.due_date, today=ctx.today)} → {day(due, today=ctx.today)}")
            changes.append(("due", item.due_date.isoformat() if item.due_date else None, due.isoformat()))
            item.due_date = due
    owner = named_owner(ctx, args, what="行动项", usage=EDIT_USAGE)
    if owner is not None and owner.id != item.owner_id:
        if not actor.is_manager:
            raise PermissionDenied(f"只有 PM 可以改派 {item.ref} 的负责人。")
        changes.append(("owner", person(item.owner), owner.name))
        lines.append(f"负责人 {person(item.owner)} → {mention(owner)}")
        mentions.append(Mention(owner.user_id, owner.name))
        item.owner = owner
    if "desc" in args.options:
        content = checked_text(args.options["desc"], what="行动项内容", limit=MAX_CONTENT, usage=EDIT_USAGE)
        if content != item.content:
            changes.append(("content", item.content, content))
            lines.append(f"内容 → {shorten(content)}")
            item.content = content
    note = _note([*args.words[1:], args.options.get("note", "")], EDIT_USAGE)
    if not changes:
        raise UsageError(f"{item.ref} 没有变化。", EDIT_USAGE)
    for field, old, new in changes:
        column = FIELD_COLUMNS[field]
        log_change(ctx, "action", item, actor, field, old, new, note, before={column: before[column]})
    item.updated_at = ctx.incoming.sent_at
    return Reply(f"已修改行动项 {item.ref}\n" + "\n".join(lines), mentions=tuple(mentions))


# ---------------------------------------------------------------------------- free text “A4 完成了”

_FREE_ACTION = re.compile(r"[Aa](\d{1,9})\s*(.*)")
_FREE_DONE = re.compile(
    r"^(?:已经?|都)?(?:完成|做完|做好|搞定|弄完|好了|done|finished)了?(?:[\s,，。:;；、]+(.*))?$", re.IGNORECASE
)


def free_text_update(ctx: Context, text: str) -> Reply | None:
    """“A4 完成了”, “A4 done 已发邮件”; None when the text does not start with an action item id."""
    match = _FREE_ACTION.fullmatch(text)
    if not match or ctx.project is None:
        return None
    item = require_action(ctx, f"A{match.group(1)}", DONE_USAGE)
    rest = match.group(2).strip()
    if not rest:
        return show_action(ctx, Args(words=[item.ref]))
    done = _FREE_DONE.match(rest)
    if done is None:
        raise UsageError(f"看到了行动项 {item.ref} {shorten(item.content, 20)}，但没看懂“{shorten(rest, 20)}”，所以没有改动。",
                         f"{item.ref} 完成 ｜ {DONE_USAGE} ｜ {CANCEL_USAGE}")
    return complete(ctx, item, (done.group(1) or "").strip() or None)


GROUPS = (group,)
