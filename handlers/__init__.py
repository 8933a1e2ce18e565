"""The command language: turn one neutral message into model changes and a neutral reply.

`handle_message` is what the dispatcher calls inside its transaction; handlers never commit, never
touch the network and never read the wall clock: the message's own time is `ctx.now`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.messages import MAX_MESSAGE, Incoming, Reply, Section
from handlers import (
    acceptance,
    actions,
    change_requests,
    charter,
    closeout_report,
    confirm,
    dashboard,
    decisions,
    due_moves,
    export,
    forecasts,
    free_text,
    gantt,
    imports,
    leave,
    members,
    private_chat,
    project_closeout,
    projects,
    retro,
    risk_proposals,
    risks,
    schedule_settings,
    schedule_views,
    slips,
    task_edits,
    task_notes,
    task_updates,
    tasks,
    templates,
    undo,
    whatif,
)
from handlers import help as help_commands
from handlers.context import Context
from handlers.dashboard import LinkMaker
from handlers.errors import PermissionDenied, UsageError, UserError
from handlers.router import CommandGroup, CommandRegistry
from handlers.text import normalize, split_tokens
from models import Proposal, ensure_member, get_active_project_and_member, take_pending_update
from models.card_views import sent_privately
from models.closed import latest_closed_project


def build_registry() -> CommandRegistry:
    """Every command there is, in the order `/帮助` lists them."""
    registry = CommandRegistry()
    # /项目 … 结项|历史|重开, 总结|目标结果, 存为模板, then 设置|暂停|恢复|休息日|补班, then 章程
    registry.include(projects.group.extended(
        project_closeout.commands, closeout_report.commands, templates.commands, schedule_settings.commands,
        charter.commands,
    ))
    registry.include(  # /任务 … 修改|取消|恢复|依赖|批准|驳回|备注
        tasks.group.extended(task_edits.commands, due_moves.commands, task_notes.commands), *task_updates.SHORTCUTS
    )
    registry.include(*members.GROUPS, risks.group.extended(risk_proposals.commands), *actions.GROUPS, *decisions.GROUPS,
                     *change_requests.GROUPS, *acceptance.GROUPS, *leave.GROUPS)
    registry.include(*forecasts.GROUPS, *whatif.GROUPS)
    registry.include(*undo.GROUPS, *schedule_views.GROUPS, *gantt.GROUPS, *dashboard.GROUPS, *export.GROUPS,
                     *imports.GROUPS, *retro.GROUPS, *templates.GROUPS, *help_commands.GROUPS)
    return registry


_TASK_NUMBER_FIRST = re.compile(r"(?:任务|task)\s*\d", re.IGNORECASE)
NON_TEXT_HINT = "我目前只看得懂文字消息。发送 /帮助 查看可用指令。"
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


def handle_message(
    session: Session, incoming: Incoming, *, registry: CommandRegistry, default_timezone: str, links: LinkMaker | None = None
) -> tuple[Reply | None, int | None]:
    """Run one message; returns the reply (None: say nothing) and the project it concerned."""
    if incoming.is_group and incoming.card_message_id and sent_privately(
        session, platform=incoming.platform, message_id=incoming.card_message_id
    ):  # a button on a card sent privately (the callback names the chat, not its kind)
        incoming = replace(incoming, is_group=False)
    if incoming.is_group:
        project, sender = get_active_project_and_member(
            session, platform=incoming.platform, chat_id=incoming.chat_id, user_id=incoming.sender_id
        )
    else:  # a private message: a task update runs in the sender's project it names (handlers.private_chat)
        routed = private_chat.route(session, incoming, registry)
        if isinstance(routed, Reply):
            return routed, None
        project, sender = routed.project, routed.sender
        incoming = replace(incoming, text=routed.text)
    now = incoming.sent_at.astimezone(ZoneInfo(project.timezone if project else default_timezone))
    if project is not None:
        if sender is None or (incoming.sender_name and sender.name != incoming.sender_name[:100]):
            sender = ensure_member(  # first message from this person, or a new display name
                session, project=project, user_id=incoming.sender_id, name=incoming.sender_name, now=now
            )
        last = sender.last_seen_at
        if last is None or incoming.sent_at - last >= LAST_SEEN_RESOLUTION:  # never backwards; one write a minute
            sender.last_seen_at = incoming.sent_at
    project_id = project.id if project else None
    if incoming.kind != "text" and incoming.file is None:
        return Reply(NON_TEXT_HINT), project_id
    # A file message on its own (no text) is an import of that file: `/导入` with it.
    text = normalize(incoming.text) if incoming.kind == "text" else f"/{imports.group.names[0]}"
    closed = (
        latest_closed_project(session, platform=incoming.platform, chat_id=incoming.chat_id) if project is None else None
    )
    ctx = Context(
        session=session, incoming=incoming, now=now, registry=registry, project=project, sender=sender,
        closed_project=closed, links=links,
    )
    # Whatever this message is, it ends the sender's pending proposal (outside the savepoint, so a
    # refused command ends it too); only a “是” within the window applies it.
    proposal = take_pending_update(session, member_id=sender.id) if sender is not None else None
    ctx.proposal = proposal
    try:
        # A savepoint: a refused command leaves nothing half-applied, while the sender's
        # membership and the event's processed mark still commit.
        with session.begin_nested():
            reply = slips.follow_up(ctx, _run(ctx, text, registry, proposal))
    except UserError as exc:
        reply = Reply(exc.reply_text(), style="refusal")
    else:
        if ctx.notes:  # what the command did besides what was asked, said in the same reply
            notes = tuple(dict.fromkeys(ctx.notes))
            if reply.style == "report" and reply.sections:  # after the report's sections, as when it was one text
                reply = replace(reply, sections=(*reply.sections, Section(lines=notes)))
            else:
                reply = replace(reply, text="\n".join([reply.text, *notes]))
        project_id = ctx.project.id if ctx.project else project_id
    if not incoming.is_group and project is not None:  # people in several projects: say which one it was
        reply = replace(reply, text=f"【{project.name}】{reply.text}")
    return reply, project_id


def _run(ctx: Context, text: str, registry: CommandRegistry, proposal: Proposal | None) -> Reply:
    if not text:
        return help_commands.short_help()
    length = ctx.incoming.text_length or len(text)  # a text cut by the adapter keeps its real length
    if length > MAX_MESSAGE:
        raise UsageError(f"消息太长（{length} 字），请控制在 {MAX_MESSAGE} 字以内，或分几条发送。")
    if ctx.project is not None and (settled := confirm.settle(ctx, proposal, text)) is not None:
        return settled
    if ctx.project is None and (laid := templates.settle_layout(ctx, text)) is not None:
        return laid  # 确认 after the preview of a project from a template
    tokens = split_tokens(text)
    named_command = text.startswith("/") or registry.find_group(tokens[0]) is not None or registry.split_head(tokens[0])
    if named_command and not _TASK_NUMBER_FIRST.match(text):  # “任务 3 完成了” names a task, not /任务
        resolved = registry.resolve(text, {m.user_id: m.name for m in ctx.incoming.mentions})
        closed = ctx.closed_project if ctx.project is None else None
        if closed is not None and project_closeout.enter_closed(ctx, resolved.command.func, resolved.args):
            answered = resolved.command.func(ctx, resolved.args)
            if not project_closeout.is_read_only(resolved.command.func):
                return answered
            return project_closeout.mark_read_only(closed, answered)
        if resolved.command.needs_project:
            ctx.require_project()
        try:
            return resolved.command.func(ctx, resolved.args)
        except UserError as exc:
            if exc.usage is None and not isinstance(exc, PermissionDenied):
                exc.usage = resolved.command.usage  # every refusal ends with the command's usage line
            raise
    ctx.require_project()  # free text in a group without a project: say how to start one
    try:
        reply = free_text.free_text_update(ctx, ctx.incoming.text) or actions.free_text_update(ctx, text)
    except UserError as exc:
        if exc.usage is None and not isinstance(exc, PermissionDenied):
            exc.usage = free_text.FREE_TEXT_USAGE
        raise
    if reply is None:
        near = _group_named_in(registry, text)
        if near is not None:
            raise UsageError(f"没看懂“{text[:30]}”。是不是想用 /{near.names[0]}？", f"/帮助 {near.names[0]}")
        raise UsageError(f"没看懂“{text[:30]}”。更新任务可以这样写：", free_text.FREE_TEXT_USAGE)
    return reply


def _group_named_in(registry: CommandRegistry, text: str) -> CommandGroup | None:
    """The command group a not-understood message names somewhere (“帮我看看风险” → /风险)."""
    lowered = text.lower()
    for name in sorted(registry.all_names(), key=len, reverse=True):
        if len(name) >= 2 and not name.isascii() and name in lowered:
            return registry.find_group(name)
    return None
