"""/里程碑 and /关键路径: the milestones with their forecast dates, and the critical path (`reports.forecast`)."""

from __future__ import annotations

from bot.messages import Reply
from handlers.context import Context
from handlers.errors import UsageError
from handlers.router import CommandGroup
from handlers.text import Args
from reports.forecast import load_forecast, milestone_rows
from reports.text_forecast import WORKDAYS_NOTE, critical_path_lines, end_line, milestone_list

MILESTONES_USAGE = "/里程碑"
CRITICAL_USAGE = "/关键路径"
NO_MILESTONES = "还没有里程碑。设为里程碑：/任务 修改 #7 里程碑:是，或新增时写 里程碑:是。"

milestones_group = CommandGroup(("里程碑", "milestones", "milestone"), summary="里程碑：计划与预测日期、是否有风险")
critical_group = CommandGroup(("关键路径", "critical", "critical-path"), summary="关键路径：决定完工日期的任务链")


@milestones_group.default_command(usage=MILESTONES_USAGE, summary="列出里程碑：计划日期、预测日期、晚几个工作日、风险")
def show_milestones(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    if args.words or args.mentions:
        raise UsageError("/里程碑 不需要参数。", MILESTONES_USAGE)
    plan, _, result = load_forecast(ctx.session, project, ctx.incoming.sent_at)
    rows = milestone_rows(plan, result)
    if not rows:
        return Reply(NO_MILESTONES)
    at_risk = sum(1 for r in rows if r.at_risk)
    lines = milestone_list(rows, plan.today)
    lines.append(f"有风险 {at_risk} 个。" if at_risk else "都在计划内。")
    lines.append("预测按进度、依赖和工作日历推算" + WORKDAYS_NOTE)
    return Reply("\n".join(lines), title=f"里程碑（{len(rows)}）")


@critical_group.default_command(usage=CRITICAL_USAGE, summary="关键路径：哪条任务链决定完工日期，含日期与负责人")
def show_critical_path(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    if args.words or args.mentions:
        raise UsageError("/关键路径 不需要参数。", CRITICAL_USAGE)
    plan, _, result = load_forecast(ctx.session, project, ctx.incoming.sent_at)
    if not result.critical_path:
        return Reply("没有未完成且有截止日期的任务，算不出关键路径。")
    lines = critical_path_lines(plan, result)
    lines.append(end_line(plan, result))
    lines.append("关键路径上的任务晚一天，完工就晚一天。" + WORKDAYS_NOTE)
    if result.unscheduled:
        lines.append(f"另有 {len(result.unscheduled)} 个未完成任务没有截止日期，未计入。")
    return Reply("\n".join(lines), title=f"关键路径（{len(result.critical_path)} 个任务）")


GROUPS = (milestones_group, critical_group)
