"""/项目 总结 | 目标结果: the close-out report (项目总结报告), and the result the PM enters for each goal.

The report is `reports.closeout` rendered; `/项目 结项 确认` posts it, `/项目 总结` shows it to a PM before
closing (a preview, as of now) or after (as of the closing). Both commands also answer on the group's
most recently closed project (see `handlers.project_closeout.AFTER_CLOSE`): results are often known
only once the project is over.
"""

from __future__ import annotations

from bot.messages import Reply
from handlers.common import checked_text
from handlers.context import Context
from handlers.errors import UsageError, UserError
from handlers.router import CommandSet
from handlers.text import Args
from models import GoalResult, Project, record_change
from models.closed import project_record
from models.retro import find_goal_result
from reports.closeout import Closeout, closeout, closeout_reply, project_goals
from reports.format import shorten

commands = CommandSet()  # subcommands of /项目 (handlers.projects.group)
REPORT_USAGE = "/项目 总结"
GOAL_RESULT_USAGE = "/项目 目标结果 <序号> <结果>"
GOAL_RESULT_NAMES = ("目标结果", "结果", "goal-result", "result")
MAX_RESULT = 500


def report_for(ctx: Context, project: Project) -> tuple[Closeout, Reply]:
    """The report and its reply (the summary counts first, then the sections)."""
    from handlers.project_closeout import summary_lines

    report = closeout(ctx.session, project, at=ctx.incoming.sent_at)
    intro = summary_lines(project, project_record(ctx.session, project_id=project.id), today=ctx.today)
    return report, closeout_reply(report, intro)


@commands.command(("总结", "总结报告", "report", "summary"), usage=REPORT_USAGE, summary="项目总结报告（PM；结项前为预览）")
def show_report(ctx: Context, _args: Args) -> Reply:
    project = ctx.require_project()
    ctx.require_manager("查看项目总结报告")
    _, reply = report_for(ctx, project)
    if project.closed_at is None:
        return Reply(
            "（预览：项目尚未结项，数字截至现在）\n" + reply.text, title=reply.title, style=reply.style,
            sections=reply.sections,
        )
    return reply


@commands.command(
    GOAL_RESULT_NAMES, usage=GOAL_RESULT_USAGE, summary="填写某个项目目标的实际结果（PM；也可 /项目 设置 目标结果 …）"
)
def goal_result(ctx: Context, args: Args) -> Reply:
    return set_goal_result(ctx, args.words)


def set_goal_result(ctx: Context, words: list[str]) -> Reply:
    project = ctx.require_project()
    pm = ctx.require_manager("填写目标结果")
    goals = project_goals(project)
    if not goals:
        raise UserError("项目还没有目标。先设置目标：/项目 设置 目标 <目标1>；<目标2>", GOAL_RESULT_USAGE)
    if not words or not words[0].isdigit():
        raise UsageError("请写目标的序号和结果。", GOAL_RESULT_USAGE)
    index = int(words[0])
    if not 1 <= index <= len(goals):
        listed = "；".join(f"{i}. {shorten(g, 20)}" for i, g in enumerate(goals, start=1))
        raise UserError(f"没有第 {index} 个目标。项目目标：{listed}", GOAL_RESULT_USAGE)
    result = checked_text(" ".join(words[1:]), what="目标结果", limit=MAX_RESULT, usage=GOAL_RESULT_USAGE)
    found = find_goal_result(ctx.session, project_id=project.id, goal_index=index)
    old = found.result if found else None
    if found is None:
        ctx.session.add(GoalResult(
            project_id=project.id, goal_index=index, result=result, set_by_id=pm.id, set_at=ctx.incoming.sent_at
        ))
    elif found.result == result:
        return Reply(f"目标 {index} 的结果没有变化。")
    else:
        found.result, found.set_by_id, found.set_at = result, pm.id, ctx.incoming.sent_at
    record_change(
        ctx.session, project_id=project.id, entity="project", entity_id=project.id, actor=pm,
        at=ctx.incoming.sent_at, field="goal_result", old=old, new=f"{index}. {result}",
    )
    return Reply(f"已记录目标 {index}“{shorten(goals[index - 1], 30)}”的结果：{result}")
