"""/甘特图: the project's Gantt chart as pictures in the group, for everyone, optionally narrowed to one
department (`部门:…`), one person (`@某人`) or one task and its subtasks (`#3`)."""

from __future__ import annotations

from bot.messages import Reply
from handlers.common import department_named
from handlers.context import Context
from handlers.errors import UsageError
from handlers.router import CommandGroup
from handlers.task_refs import require_task, task_number
from handlers.text import Args
from reports import pictures

USAGE = "/甘特图 [部门:…] [@某人] [#编号]"
group = CommandGroup(("甘特图", "gantt"), summary="甘特图：任务计划图（可按部门、负责人或某个任务分支）")


@group.default_command(usage=USAGE, summary="把项目的甘特图发到群里", options=("dept",))
def show_gantt(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    if len(args.words) > 1 or len(args.mentions) > 1:
        raise UsageError("一次只能看一个分支（#编号）或一个人。", USAGE)
    scope: list[str] = []
    department_id = owner_id = branch = None
    if args.options.get("dept"):
        department = department_named(ctx, args.options["dept"], may_create=False)
        department_id = department.id
        scope.append(f"部门：{department.name}")
    if args.mentions:
        owner = ctx.resolve_member(args.mentions[0])
        owner_id = owner.id
        scope.append(f"负责人：{owner.name}")
    if args.words:
        task = require_task(ctx, task_number(args.words[0], USAGE))
        branch = task.id
        scope.append(f"#{task.number} 及其子任务")
    reply = pictures.build_gantt(
        ctx.session, project, ctx.now, department_id=department_id, owner_id=owner_id, branch=branch,
        scope="，".join(scope) or None,
    )
    return reply


GROUPS = (group,)
