"""/议程 /汇总 /周报: the scheduler's views on demand, built by the same builders as the scheduled posts.

They answer in the group at the message's own time and claim no slot: the scheduled agenda, digest
and weekly report still go out at their times. `/议程` is the next meeting's agenda as it stands
(上周完成 since the previous posted agenda); `/议程 新增 <议题>` adds a topic for the meeting. The
digest names who did not update, so only a PM or co-PM gets it; a member is told what to use instead.
"""

from __future__ import annotations

from dataclasses import replace

from bot.messages import Reply
from handlers.common import checked_text
from handlers.context import Context
from handlers.errors import UsageError
from handlers.router import CommandGroup
from handlers.text import Args
from models.calendar import load_calendar
from models.rhythm import add_topic
from reports import builders, pictures
from reports.format import day, shorten
from reports.rules import next_meeting_day

MAX_TOPIC = 200
TOPIC_USAGE = "/议程 新增 <议题>"
MEMBER_DIGEST = (
    "每日汇总（含谁还没更新）只发给 PM 和副 PM。\n"
    "看自己的：/任务 列表 我的 ｜ /行动 列表 我的\n"
    "看整体：/周报 ｜ /议程"
)

agenda = CommandGroup(("议程", "agenda"), summary="议程：下次周会的议程（当前）、新增议题")
digest = CommandGroup(("汇总", "digest"), summary="汇总：PM 的今日汇总（谁更新了、阻塞、逾期、延期、风险变化）")
weekly = CommandGroup(("周报", "weekly"), summary="周报：本周的进度跟踪表（正常/延迟/风险/未排期）")


@agenda.default_command(usage="/议程", summary="下次周会的议程，按现在的数据")
def show_agenda(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    if args.words or args.mentions:
        raise UsageError(f"不明白“{args.text}”。", f"/议程 ｜ {TOPIC_USAGE}")
    calendar = load_calendar(ctx.session, project_id=project.id)
    meeting = next_meeting_day(project, calendar, ctx.now)
    reply = builders.build_weekly_agenda(ctx.session, project, ctx.now, meeting_day=meeting, calendar=calendar)
    if reply is None:
        return Reply("目前没有可以列入议程的内容（还没有任务、风险或行动项）。")
    # As it stands now (the scheduled post is built the workday before the meeting).
    return replace(reply, title=f"{reply.title}（截至 {day(ctx.today)} {ctx.now.strftime('%H:%M')}）")


@agenda.command(("新增", "添加", "加", "add", "new"), usage=TOPIC_USAGE, summary="给下次周会加一个议题（任何成员）")
def add_agenda_topic(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    sender = ctx.require_sender()
    content = checked_text(args.text, what="议题", limit=MAX_TOPIC, usage=TOPIC_USAGE)
    add_topic(ctx.session, project_id=project.id, content=content, added_by=sender, at=ctx.incoming.sent_at)
    meeting = next_meeting_day(project, load_calendar(ctx.session, project_id=project.id), ctx.now)
    when = f"{day(meeting, today=ctx.today)} 的周会" if meeting else "下次周会"
    return Reply(f"已加入{when}议程：{shorten(content, 40)}\n会后自动移出；查看：/议程")


@digest.default_command(usage="/汇总", summary="PM 的今日汇总（仅 PM、副 PM）")
def show_digest(ctx: Context, _args: Args) -> Reply:
    project = ctx.require_project()
    if not ctx.is_manager:
        return Reply(MEMBER_DIGEST)
    reply = builders.build_digest(ctx.session, project, ctx.now)
    return reply or Reply("今天还没有可以汇总的内容（没有未完成的任务、更新或风险变化）。")


@weekly.default_command(usage="/周报", summary="本周的进度跟踪表")
def show_weekly(ctx: Context, _args: Args) -> Reply:
    project = ctx.require_project()
    weekly = builders.build_weekly_digest(ctx.session, project, ctx.now)
    reply = pictures.with_digest_pictures(ctx.session, project, ctx.now, weekly)  # the tracking table with its pictures
    return reply or Reply("本周还没有任务可以列入进度跟踪表。")


GROUPS = (agenda, digest, weekly)
