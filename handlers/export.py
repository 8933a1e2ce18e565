"""/导出 (/export): every register of the project as one .xlsx workbook posted into the group as a file,
or one table as CSV (`/导出 风险 csv`). The PM and co-PMs only: the workbook holds everyone's work."""

from __future__ import annotations

from bot.messages import Reply
from handlers.context import Context
from handlers.errors import UsageError
from handlers.router import CommandGroup
from handlers.text import Args
from reports.export import export_reply

USAGE = "/导出 [任务|跟踪|风险|行动|决议|变更申请|验收|变更|总结|复盘 csv]"
# What a PM types for one table → the sheet's title.
TABLES = {
    "任务": "任务分工表", "任务分工表": "任务分工表", "tasks": "任务分工表",
    "跟踪": "进度跟踪表", "进度": "进度跟踪表", "进度跟踪表": "进度跟踪表", "tracking": "进度跟踪表",
    "风险": "风险登记表", "风险登记表": "风险登记表", "risks": "风险登记表",
    "行动": "行动项", "行动项": "行动项", "actions": "行动项",
    "决议": "决议", "decisions": "决议",
    "变更申请": "变更申请", "change-requests": "变更申请", "changes": "变更申请",
    "验收": "验收记录", "验收记录": "验收记录", "acceptance": "验收记录",
    "变更": "变更记录", "变更记录": "变更记录", "历史": "变更记录", "history": "变更记录",
    "总结": "项目总结报告", "项目总结报告": "项目总结报告", "closeout": "项目总结报告", "report": "项目总结报告",
    "复盘": "复盘", "retro": "复盘",
}
group = CommandGroup(
    ("导出", "export"), summary="导出：把任务、跟踪、风险、行动项、决议、变更申请、验收、变更记录、总结、复盘导出成 Excel"
)


@group.default_command(usage=USAGE, summary="把项目台账导出成 Excel 文件发到群里（PM）")
def export_registers(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    ctx.require_manager("导出项目台账")
    words = [w.lower() for w in args.words]
    if not words:
        return export_reply(ctx.session, project, ctx.now)
    as_csv = words[-1] == "csv"
    names = words[:-1] if as_csv else words
    if len(names) != 1 or names[0] not in TABLES:
        raise UsageError("导出单张表请写表名和 csv，如：/导出 风险 csv；不写就导出全部（Excel）。", USAGE)
    if not as_csv:
        raise UsageError(f"单张表导出为 CSV，请发：/导出 {args.words[0]} csv", USAGE)
    return export_reply(ctx.session, project, ctx.now, only=TABLES[names[0]])


GROUPS = (group,)
