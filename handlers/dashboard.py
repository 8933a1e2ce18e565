"""/看板: a signed, expiring link to the project's read-only web dashboard, for the PM and co-PMs;
`/看板 重置` revokes every link given so far (and gives a new one).

The links themselves are made by the composition root (`bot.dashboard.links`), handed in as
`Context.links`: the handler decides who may have one and what the reply says.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from bot.messages import Reply
from handlers.context import Context
from handlers.errors import UsageError, UserError
from handlers.router import CommandGroup
from handlers.text import Args
from models import Project, record_change

USAGE = "/看板 ｜ /看板 重置"
NOT_SET_UP = "这台服务器没有开启看板（缺少看板链接的设置），请联系管理员。"
group = CommandGroup(("看板", "dashboard"), summary="看板：项目的只读网页看板（PM 获取链接）")


class LinkMaker(Protocol):
    def link(self, session: Session, project: Project, issued_at: datetime) -> str: ...

    def expires_at(self, issued_at: datetime) -> datetime: ...


def _link_reply(ctx: Context, project: Project, first_line: str) -> Reply:
    if ctx.links is None:
        raise UserError(NOT_SET_UP)
    url = ctx.links.link(ctx.session, project, ctx.incoming.sent_at)
    expires = ctx.links.expires_at(ctx.now)
    return Reply(
        f"{first_line}\n{url}\n有效期至 {expires:%Y-%m-%d %H:%M}；只读，拿到链接的人都能查看，请勿外传。"
        "\n发送 /看板 重置 可让所有旧链接立即失效。",
        title="项目看板",
    )


@group.default_command(usage=USAGE, summary="获取项目看板的链接（PM、副 PM）")
def dashboard_link(ctx: Context, args: Args) -> Reply:
    if args.words or args.mentions or args.options:
        raise UsageError(f"不认识“{' '.join(args.words) or '参数'}”。", USAGE)
    project = ctx.require_project()
    ctx.require_manager("获取看板链接")
    return _link_reply(ctx, project, f"“{project.name}”的项目看板：")


@group.command(("重置", "reset", "revoke"), usage="/看板 重置", summary="让所有旧的看板链接失效，并给出新链接")
def reset_links(ctx: Context, args: Args) -> Reply:
    if args.words or args.mentions or args.options:
        raise UsageError("“/看板 重置”不需要参数。", "/看板 重置")
    project = ctx.require_project()
    sender = ctx.require_manager("重置看板链接")
    old = project.dashboard_generation
    project.dashboard_generation = old + 1
    record_change(
        ctx.session, project_id=project.id, entity="project", entity_id=project.id, actor=sender,
        at=ctx.incoming.sent_at, field="dashboard_generation", old=old, new=old + 1, note="看板链接已重置",
    )
    ctx.session.flush()
    return _link_reply(ctx, project, "旧的看板链接已全部失效。新的链接：")


GROUPS = (group,)
