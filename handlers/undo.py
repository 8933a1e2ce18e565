"""/撤销 (/undo, 撤回): take back everything one message changed.

`/撤销` takes back the sender's own latest change in this group; the PM (and co-PMs) may name whose
(`/撤销 @某人`) or what (`/撤销 #12`, `R3`, `A4`: the latest change to that task, risk or action item).
A member naming someone else's change is refused. An undo is never itself undone: `/撤销` again takes
back the next older change. The 撤销 button under a reply names its message (`/撤销 消息:<event key>`), so
a press takes back that message even after later ones. The reversal itself is `models.undo`; this
module holds the words.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date

from bot.messages import Mention, Reply
from handlers.context import Context
from handlers.errors import PermissionDenied, UsageError, UserError
from handlers.router import CommandGroup
from handlers.text import Args
from models import ActionItem, Change, Decision, Member, Risk, Task, TaskStatus
from models.base import Base
from models.undo import Taken, UndoRefused, last_undoable_message, message_changes, undo_message, undone
from reports.format import FIELD_LABELS, describe_change, mention, person, shorten

USAGE = "/撤销 （撤回我的上一次修改） ｜ PM：/撤销 @某人 ｜ /撤销 #12"  # 消息:… only on the 撤销 button
_TARGETS = {"#": "task", "r": "risk", "a": "action"}
_TARGET = re.compile(r"(#|[rRaA])(\d{1,9})")

group = CommandGroup(("撤销", "undo", "撤回"), summary="撤销：撤回上一次修改（PM 可撤回别人的）")


@group.default_command(usage=USAGE, summary="撤回你在本群的上一次修改（一条消息改的全部内容）", options=("message",))
def undo(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    sender = ctx.require_sender()
    # An event key has no spaces: words after it are words (the option's value runs over them).
    message, *after = args.options.get("message", "").split() or [""]
    if len(args.words) + len(after) + len(args.mentions) + bool(message) > 1:
        raise UsageError("一次只能撤销一个人或一个编号的修改。", USAGE)
    if message:  # the 撤销 button under a reply: that message, not the latest
        latest, nothing = _message(ctx, message, sender)
    elif args.mentions:
        whose = ctx.resolve_member(args.mentions[0])
        if whose.id != sender.id and not sender.is_manager:
            raise PermissionDenied("只有 PM 可以撤销别人的修改；你可以撤销自己的：/撤销")
        latest = last_undoable_message(ctx.session, project_id=project.id, actor_id=whose.id)
        nothing = f"{'你' if whose.id == sender.id else whose.name}在本群没有可以撤销的修改。"
    elif args.words:
        match = _TARGET.fullmatch(args.words[0])
        if match is None:
            raise UsageError(f"不明白“{args.words[0]}”。要撤销某个任务的上一次修改写 /撤销 #12。", USAGE)
        prefix, number = match.group(1).lower(), int(match.group(2))
        entity = _TARGETS[prefix]
        row: Task | Risk | ActionItem
        if prefix == "#":
            row = ctx.require_numbered(Task, number)
        elif prefix == "r":
            row = ctx.require_numbered(Risk, number)
        else:
            row = ctx.require_numbered(ActionItem, number)
        latest = last_undoable_message(ctx.session, project_id=project.id, entity=entity, entity_id=row.id)
        nothing = f"{row.ref} 没有可以撤销的修改。"
        if latest is not None and latest.actor_id != sender.id and not sender.is_manager:
            raise PermissionDenied(
                f"{row.ref} 最近一次修改是 {person(latest.actor)} 做的，只有 PM 可以撤销别人的修改。"
            )
    else:
        latest = last_undoable_message(ctx.session, project_id=project.id, actor_id=sender.id)
        nothing = "你在本群没有可以撤销的修改。"
    if latest is None or latest.event_key is None:
        return Reply(nothing)
    try:
        result = undo_message(
            ctx.session, project_id=project.id, event_key=latest.event_key, actor=sender, at=ctx.incoming.sent_at
        )
    except UndoRefused as refused:
        raise UserError(_refusal(ctx, refused)) from None
    for taken in result.taken:  # a status or due date put back may block, move or settle a slip downstream
        if isinstance(taken.row, Task) and taken.field in ("status", "due"):
            was = taken.row.due_date
            if taken.field == "due":
                was = _iso_date(taken.old)
            ctx.slip_checks.setdefault(taken.row.id, was)
    author = "你" if result.author is not None and result.author.id == sender.id else person(result.author)
    stamp = result.at.astimezone(ctx.now.tzinfo).strftime("%m-%d %H:%M")
    lines = [f"已撤销{author} {stamp} 的修改，恢复为："]
    lines += _restored_lines(result.taken)
    notice, mentions = _dependents_notice(result.uncompleted)
    return Reply("\n".join(lines + notice), mentions=mentions)


def _message(ctx: Context, event_key: str, sender: Member) -> tuple[Change | None, str]:
    """The message a 撤销 button names: the sender's own (a PM's: anyone's), not undone yet."""
    project = ctx.require_project()
    changes = [c for c in message_changes(ctx.session, project_id=project.id, event_key=event_key) if c.field != "note"]
    if not changes:
        return None, "这条消息没有可以撤销的修改。"
    if changes[0].actor_id != sender.id and not sender.is_manager:
        raise PermissionDenied(f"这是 {person(changes[0].actor)} 的修改，只有本人或 PM 可以撤销。")
    if undone(ctx.session, project_id=project.id, event_key=event_key):
        return None, "这条消息的修改已经撤销过了。"
    return changes[0], ""


def _refusal(ctx: Context, refused: UndoRefused) -> str:
    change = refused.change
    stamp = change.at.astimezone(ctx.now.tzinfo).strftime("%m-%d %H:%M")
    what = FIELD_LABELS.get(change.field, "状态" if change.field == "status" else change.field)
    ref = _ref(ctx, change)
    if refused.reason == "later":
        return (
            f"没有撤销：{ref} 的{what}在那之后（{stamp}）又被 {person(change.actor)} 改过。"
            f"请直接修改，或先撤销那次修改。"
        )
    if change.field == "created":
        return f"没有撤销：你要撤回的那条消息（{stamp}）新增了{ref.strip()}，这种新增不能用 /撤销 撤回。"
    return f"没有撤销：你要撤回的那条消息（{stamp}）改的是{ref}的{what}，这种修改不能用 /撤销 撤回，请直接改回。"


def _ref(ctx: Context, change: Change) -> str:
    model = {"task": Task, "risk": Risk, "action": ActionItem, "member": Member}.get(change.entity)
    row = ctx.session.get(model, change.entity_id) if model is not None else None
    if isinstance(row, Member):
        return f" {row.name} "
    if row is not None:
        return f" {row.ref} "  # type: ignore[attr-defined]
    if change.entity == "decision" and change.entity_id:
        return f"决议 D{_decision_number(ctx, change.entity_id)}"
    return {"project": "项目", "department": "部门"}.get(change.entity, "")


def _decision_number(ctx: Context, decision_id: int) -> str:
    decision = ctx.session.get(Decision, decision_id)
    return str(decision.number) if decision else "?"


def _iso_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _restored_lines(taken: list[Taken]) -> list[str]:
    """One line per row: `#3 写发布稿：已完成 → 进行中，进度 100% → 60%`."""
    by_row: dict[int, list[Taken]] = defaultdict(list)
    rows: dict[int, Base] = {}
    for item in taken:
        by_row[id(item.row)].append(item)
        rows[id(item.row)] = item.row
    lines = []
    for key, items in by_row.items():
        row = rows[key]
        parts = []
        for item in items:
            if item.field == "created":
                parts.append("新增的撤回了（已取消）" if item.entity != "risk" else "新增的撤回了（已关闭）")
            else:
                parts.append(describe_change(Change(entity=item.entity, field=item.field, old_value=item.old,
                                                    new_value=item.new)))
        lines.append(f"  {_row_name(row)}：" + "，".join(parts))
    return lines


def _row_name(row: Base) -> str:
    if isinstance(row, Task):
        return f"{row.ref} {shorten(row.title, 20)}"
    if isinstance(row, Risk):
        return f"{row.ref} {shorten(row.description, 20)}"
    if isinstance(row, ActionItem):
        return f"{row.ref} {shorten(row.content, 20)}"
    if isinstance(row, Member):
        return row.name
    return ""


def _dependents_notice(uncompleted: list[Task]) -> tuple[list[str], tuple[Mention, ...]]:
    """Owners told “可以开始” when the task was completed are told that no longer holds."""
    lines: list[str] = []
    mentions: list[Mention] = []
    for task in uncompleted:
        waiting = [
            s for s in task.successors
            if s.status.is_open
            and all(p.status in (TaskStatus.DONE, TaskStatus.CANCELLED) for p in s.predecessors if p.id != task.id)
        ]
        for successor in waiting:
            lines.append(
                f"注意：{task.ref} 不再是已完成，{successor.ref} {shorten(successor.title, 20)}"
                f"（{mention(successor.owner)}）先不能开始，之前的“可以开始”不算数了。"
            )
            if successor.owner is not None:
                mentions.append(Mention(successor.owner.user_id, successor.owner.name))
    return lines, tuple(dict.fromkeys(mentions))


GROUPS = (group,)
