"""/决议: decisions taken (usually in the weekly meeting): record one (any member), list them, show one."""

from __future__ import annotations

import re

from bot.messages import MENTION_MARKER, Reply
from handlers.common import checked_text, parse_ref
from handlers.context import Context
from handlers.errors import UsageError
from handlers.router import CommandGroup
from handlers.text import Args, normalize
from models import Decision, record_change
from models.base import insert_now
from models.project import allocate_number
from models.registers import decision_actions
from models.registers import list_decisions as list_decision_rows
from reports.format import day, person, shorten

MAX_CONTENT = 500
LIST_LIMIT = 30
ADD_USAGE = "/决议 <内容>"
LIST_USAGE = "/决议 列表"
_DECISION_ID = re.compile(r"#?[Dd]\d{1,9}")

group = CommandGroup(("决议", "decision", "decisions"), summary="决议：记录会议决定、列表")


@group.default_command(usage=f"{ADD_USAGE}  （查看一条：/决议 D2）", summary="记录一条决议（任何成员），得到编号 D2")
def record_decision(ctx: Context, args: Args) -> Reply:
    if len(args.words) == 1 and _DECISION_ID.fullmatch(args.words[0]) and not args.mentions:
        return show_decision(ctx, args.words[0])
    return _add(ctx, args)


add_names = ("新增", "添加", "记录", "add", "new")


@group.command(add_names, usage="/决议 新增 <内容>", summary="同 /决议 <内容>")
def add_decision(ctx: Context, args: Args) -> Reply:
    return _add(ctx, args)


def _add(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    sender = ctx.require_sender()
    content = checked_text(_content(ctx, args), what="决议内容", limit=MAX_CONTENT, usage=ADD_USAGE)
    now = ctx.incoming.sent_at
    decision = Decision(
        project_id=project.id,
        number=allocate_number(ctx.session, project, "next_decision_no"),
        content=content,
        decided_by_id=sender.id,
        created_at=now,
    )
    insert_now(ctx.session, decision)
    record_change(
        ctx.session, project_id=project.id, entity="decision", entity_id=decision.id, actor=sender, at=now,
        field="created", new=shorten(content, 60),
    )
    return Reply(
        f"已记录决议 {decision.ref}：{content}\n要据此安排行动项：/行动 新增 <内容> @负责人 截止:日期 来源:{decision.ref}"
    )


@group.command(("列表", "list", "ls"), usage=LIST_USAGE, summary="列出决议，最新在前")
def list_decisions(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    if args.words or args.mentions:
        raise UsageError(f"不明白“{args.text}”。", LIST_USAGE)
    page = list_decision_rows(ctx.session, project_id=project.id, limit=LIST_LIMIT)
    total, decisions = page.total, page.rows
    if total == 0:
        return Reply(f"还没有决议。记录：{ADD_USAGE}")
    tz = ctx.now.tzinfo
    lines = [
        f"{d.ref} {day(d.created_at.astimezone(tz).date(), today=ctx.today)} {shorten(d.content, 40)}（{person(d.decided_by)}）"
        for d in decisions
    ]
    if total > len(decisions):
        lines.append(f"…另有 {total - len(decisions)} 条更早的决议。")
    return Reply("\n".join(lines), title=f"决议（{total}）")


def _content(ctx: Context, args: Args) -> str:
    """The decision as typed, mentions kept in place as @name (“由 @张三 负责对接”)."""
    if not args.mentions:
        return args.text
    text = normalize(ctx.incoming.text).removeprefix("/")
    _, _, rest = text.partition(" ")
    first, _, after = rest.strip().partition(" ")
    if first.lower() in {n.lower() for n in add_names}:
        rest = after
    names = {m.user_id: m.name for m in ctx.incoming.mentions}
    return " ".join(MENTION_MARKER.sub(lambda m: f"@{names.get(m.group(1), m.group(1))}", rest).split())


def show_decision(ctx: Context, word: str) -> Reply:
    decision = ctx.require_numbered(Decision, parse_ref(word, "D", what="决议", usage=ADD_USAGE))
    actions = decision_actions(ctx.session, decision_id=decision.id)
    tz = ctx.now.tzinfo
    lines = [
        decision.content,
        f"记录：{person(decision.decided_by)} · {decision.created_at.astimezone(tz).strftime('%m-%d %H:%M')}",
    ]
    if actions:
        lines.append("行动项：" + "，".join(f"{a.ref} {shorten(a.content, 20)}" for a in actions))
    return Reply("\n".join(lines), title=f"决议 {decision.ref}")


GROUPS = (group,)
