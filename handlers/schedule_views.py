"""/议程 /汇总 /周报: the scheduler's views on demand, built by the same builders as the scheduled posts.

They answer in the group at the message's own time and claim no slot: the scheduled agenda, digest
and weekly report still go out at their times.
"""

from __future__ import annotations

from dataclasses import replace

from bot.messages import Reply
from handlers.context import Context
from handlers.router import CommandGroup
from handlers.text import Args
from models.calendar import load_calendar
from reports import builders, pictures
from reports.rules import next_meeting_day

agenda = CommandGroup(("议程", "agenda"), summary="议程：预览下次周会的议程")
digest = CommandGroup(("汇总", "digest"), summary="汇总：PM 的今日汇总（谁更新了、阻塞、逾期、风险变化）")
weekly = CommandGroup(("周报", "weekly"), summary="周报：本周的进度跟踪表（正常/延迟/风险）")


@agenda.default_command(usage="/议程", summary="预览下次周会的议程")
def show_agenda(ctx: Context, _args: Args) -> Reply:
    project = ctx.require_project()
    calendar = load_calendar(ctx.session, project_id=project.id)
    meeting = next_meeting_day(project, calendar, ctx.now)
    reply = builders.build_weekly_agenda(ctx.session, project, ctx.now, meeting_day=meeting, calendar=calendar)
    if reply is None:
        return Reply("目前没有可以列入议程的内容（还没有任务、风险或行动项）。")
    return replace(reply, title=f"{reply.title}（预览）")


@digest.default_command(usage="/汇总", summary="PM 的今日汇总")
def show_digest(ctx: Context, _args: Args) -> Reply:
    project = ctx.require_project()
    reply = builders.build_digest(ctx.session, project, ctx.now)
    return reply or Reply("今天还没有可以汇总的内容（没有未完成的任务、更新或风险变化）。")


@weekly.default_command(usage="/周报", summary="本周的进度跟踪表")
def show_weekly(ctx: Context, _args: Args) -> Reply:
    project = ctx.require_project()
    weekly = builders.build_weekly_digest(ctx.session, project, ctx.now)
    reply = pictures.with_digest_pictures(ctx.session, project, ctx.now, weekly)  # the tracking table with its pictures
    return reply or Reply("本周还没有任务可以列入进度跟踪表。")


GROUPS = (agenda, digest, weekly)
