"""The command language: turn one neutral message into model changes and a neutral reply.

`handle_message` is what the dispatcher calls inside its transaction; handlers never commit, never
touch the network and never read the wall clock: the message's own time is `ctx.now`.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.messages import Incoming, Reply
from handlers import help as help_commands
from handlers import projects, schedule_settings, schedule_views, tasks
from handlers.context import Context
from handlers.errors import UsageError, UserError
from handlers.router import CommandRegistry
from handlers.text import normalize, split_tokens
from models import ensure_member, get_active_project


def build_registry() -> CommandRegistry:
    registry = CommandRegistry()
    registry.include(*projects.GROUPS, *tasks.GROUPS, *help_commands.GROUPS)
    registry.include(*schedule_settings.GROUPS, *schedule_views.GROUPS)
    return registry


NON_TEXT_HINT = "我目前只看得懂文字消息。发送 /帮助 查看可用指令。"


def handle_message(
    session: Session, incoming: Incoming, *, registry: CommandRegistry, default_timezone: str
) -> tuple[Reply | None, int | None]:
    """Run one message; returns the reply (None: say nothing) and the project it concerned."""
    project = (
        get_active_project(session, platform=incoming.platform, chat_id=incoming.chat_id)
        if incoming.is_group
        else None
    )
    now = incoming.sent_at.astimezone(ZoneInfo(project.timezone if project else default_timezone))
    sender = None
    if project is not None:
        sender = ensure_member(
            session, project=project, user_id=incoming.sender_id, name=incoming.sender_name, now=now
        )
        sender.last_seen_at = incoming.sent_at
    project_id = project.id if project else None
    if not incoming.is_group:
        return help_commands.private_chat_reply(registry), project_id
    if incoming.kind != "text":
        return Reply(NON_TEXT_HINT), project_id
    text = normalize(incoming.text)
    ctx = Context(
        session=session, incoming=incoming, now=now, registry=registry, project=project, sender=sender
    )
    try:
        # A savepoint: a refused command leaves nothing half-applied, while the sender's
        # membership and the event's processed mark still commit.
        with session.begin_nested():
            reply = _run(ctx, text, registry)
    except UserError as exc:
        return Reply(exc.reply_text()), project_id
    return reply, (ctx.project.id if ctx.project else project_id)


def _run(ctx: Context, text: str, registry: CommandRegistry) -> Reply:
    if not text:
        return help_commands.short_help()
    tokens = split_tokens(text)
    if text.startswith("/") or registry.find_group(tokens[0]) is not None:
        resolved = registry.resolve(text, {m.user_id: m.name for m in ctx.incoming.mentions})
        if resolved.command.needs_project:
            ctx.require_project()
        return resolved.command.func(ctx, resolved.args)
    reply = tasks.free_text_update(ctx, text)
    if reply is None:
        raise UsageError(
            f"没看懂“{text[:30]}”。更新任务可以写：#12 完成、#7 阻塞 等接口、#3 进度 80%。",
            "/帮助 查看全部指令",
        )
    return reply
