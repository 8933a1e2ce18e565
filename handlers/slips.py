"""After a command blocked, moved or settled tasks: the downstream warnings (`reports.slips`) in the reply.

The commands that change a task's status or due date note the task in `ctx.slip_checks` (with its due
date before the change); `handle_message` calls `follow_up` once the command has run, inside its
savepoint, so the warning rows commit with the change and the reply that tells the group.
"""

from __future__ import annotations

from dataclasses import replace

from bot.messages import Reply
from handlers.context import Context
from models.slips import record_slip_news
from reports import slips


def follow_up(ctx: Context, reply: Reply) -> Reply:
    project = ctx.project
    if not ctx.slip_checks or project is None or not project.slip_alerts:
        return reply
    ctx.session.flush()
    news = slips.check(ctx.session, project, ctx.incoming.sent_at, checks=ctx.slip_checks)
    if news.empty:
        return reply
    record_slip_news(
        ctx.session, project_id=project.id, warned=news.warned, cleared=news.cleared, at=ctx.incoming.sent_at
    )
    mentions = tuple(dict.fromkeys([*reply.mentions, *news.mentions]))
    return replace(reply, text="\n".join([reply.text, *news.lines]), mentions=mentions)
