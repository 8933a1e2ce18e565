"""/推演 (what-if): what moves if a task slips, changing nothing; `/推演 应用` makes it the plan.

`/推演 #7 延期3天` (`/whatif #7 +3`) lets #7 finish 3 working days later than now forecast,
`/推演 #7 截止:12月20日` on that date, and answers with the tasks and milestones whose forecast finish
moves, by how many working days, which cross the project deadline and who owns them
(`reports.forecast.what_if`). Nothing is written but, for the PM, the result, kept as their pending
proposal (`models.pending`) so that their next message `/推演 应用` can ask to apply it: a “是” then
moves each due date through `/任务 修改` (permissions, history, undo as typed).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from bot.messages import Mention, Reply
from handlers.common import date_option
from handlers.context import Context
from handlers.errors import UsageError, UserError
from handlers.router import CommandGroup
from handlers.task_refs import require_task, task_number
from handlers.text import Args
from models import Project, Proposal, Task, propose_update
from reports.forecast import WhatIf, load_forecast, what_if
from reports.format import day, mention
from reports.text_forecast import what_if_lines

USAGE = "/推演 #7 延期3天 ｜ /推演 #7 截止:12月20日 ｜ /推演 应用"
KIND = "whatif"
MAX_DELAY = 250  # working days: a year
_DELAY = re.compile(
    r"^(?:(?P<later>延期|推迟|延后|顺延|晚|delay|slip)|(?P<earlier>提前|早))?\s*"
    r"(?P<sign>[+\-＋－])?\s*(?P<n>\d{1,4})\s*(?:个)?\s*(?:工作日|天|日|d|days?|workdays?)?$",
    re.IGNORECASE,
)
APPLY_WORDS = frozenset({"应用", "执行", "apply"})

group = CommandGroup(("推演", "whatif", "what-if"), summary="推演：某个任务延期会影响谁（不改动数据）")


def requires_change_requests(project: Project) -> bool:
    """Whether date changes must go through /变更: the project's changes need the sponsor's approval
    (`/项目 设置 变更审批 发起人`), which the PM alone cannot give."""
    return project.change_approval == "sponsor"


def parse_delay(text: str) -> int | None:
    """Working days later (negative: earlier) from “延期3天”, “+3”, “提前2天”; None: not a delay."""
    match = _DELAY.fullmatch(text.strip())
    if not match:
        return None
    count = int(match.group("n"))
    earlier = match.group("earlier") is not None or match.group("sign") in ("-", "－")
    return -count if earlier else count


@group.default_command(usage=USAGE, summary="推演延期的影响：哪些任务和里程碑推迟几个工作日、谁负责", options=("due",))
def run_what_if(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    if args.words and args.words[0].lower() in APPLY_WORDS and len(args.words) == 1 and not args.options:
        return ask_to_apply(ctx)
    if not args.words:
        raise UsageError("缺少任务编号。", USAGE)
    task = require_task(ctx, task_number(args.words[0], USAGE))
    rest = " ".join(args.words[1:]).strip()
    new_due: date | None = None
    delay: int | None = None
    if "due" in args.options:
        if rest:
            raise UsageError("延期天数和截止日期只写一个。", USAGE)
        new_due = date_option(ctx, args, "due", what="截止日期")
    else:
        delay = parse_delay(rest) if rest else None
        if delay is None:
            problem = f"看不懂“{rest}”，延期写成 延期3天 或 +3（按工作日算）。" if rest else "缺少延期天数或新的截止日期。"
            raise UsageError(problem, USAGE)
        if delay == 0 or abs(delay) > MAX_DELAY:
            raise UsageError(f"延期天数应在 1 到 {MAX_DELAY} 个工作日之间。", USAGE)
    if not task.status.is_open:
        raise UserError(f"{task.ref} 已经{'完成' if task.status.value == 'done' else '取消'}，不用推演。")
    if task.due_date is None:
        raise UserError(f"{task.ref} 还没有截止日期，推演不了。先设截止日期：/任务 修改 {task.ref} 截止:日期")
    plan, calendar, base = load_forecast(ctx.session, project, ctx.incoming.sent_at)
    answer = what_if(plan, calendar, task_id=task.id, delay=delay, finish=new_due, base=base)
    if new_due is not None:
        asked = f"截止改到 {day(new_due, today=ctx.today)}"
    else:
        assert delay is not None
        asked = f"{'延期' if delay > 0 else '提前'} {abs(delay)} 个工作日"
    lines = what_if_lines(plan, answer, asked=asked)
    changes = _due_changes(answer, task, new_due)
    if ctx.is_manager and changes:
        sender = ctx.require_sender()
        propose_update(
            ctx.session, project_id=project.id, member_id=sender.id, at=ctx.incoming.sent_at,
            updates=[{"kind": KIND, "stage": "result", "asked": f"{task.ref} {asked}", "changes": changes}],
        )
        lines.append("PM 可以接着发送 /推演 应用，按这个结果修改截止日期（会再确认一次）。")
    return Reply("\n".join(lines), title=f"推演：{task.ref} {asked}")


def _due_changes(answer: WhatIf, task: Task, new_due: date | None) -> list[dict[str, Any]]:
    """The due dates applying the what-if sets: the task's own, and each moved task's that it now overshoots."""
    changes: list[dict[str, Any]] = []
    own = new_due or answer.finish
    if own != task.due_date:
        changes.append({"number": task.number, "was": _iso(task.due_date), "due": own.isoformat()})
    for move in answer.moves:
        planned = move.task.due_date
        if move.task.id != task.id and planned is not None and move.after.finish > planned:
            changes.append({"number": move.task.number, "was": planned.isoformat(), "due": move.after.finish.isoformat()})
    return changes


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _change_lines(ctx: Context, changes: list[dict[str, Any]]) -> list[str]:
    return [
        f"#{c['number']} 截止 {day(_date(c['was']), today=ctx.today)} → {day(_date(c['due']), today=ctx.today)}"
        for c in changes
    ]


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def ask_to_apply(ctx: Context) -> Reply:
    project = ctx.require_project()
    sender = ctx.require_manager("应用推演结果")
    if requires_change_requests(project):
        raise UserError("本项目的变更需发起人批准：请用 /变更 新增 #任务 截止:日期 原因:… 提交，批准后才生效。")
    proposal = ctx.proposal
    update = proposal.updates[0] if proposal is not None and proposal.updates else None
    if update is None or update.get("kind") != KIND:
        raise UserError("没有可以应用的推演。先发送 /推演 #7 延期3天，紧接着再发 /推演 应用。")
    changes: list[dict[str, Any]] = update["changes"]
    propose_update(
        ctx.session, project_id=project.id, member_id=sender.id, at=ctx.incoming.sent_at,
        updates=[{**update, "stage": "confirm"}],
    )
    lines = [f"按推演（{update['asked']}）修改 {len(changes)} 个任务的截止日期：", *_change_lines(ctx, changes),
             "回复“是”确认修改，回复其他内容取消。"]
    return Reply("\n".join(lines))


def is_what_if(proposal: Proposal | None) -> bool:
    return proposal is not None and bool(proposal.updates) and proposal.updates[0].get("kind") == KIND


def apply_confirmed(ctx: Context, proposal: Proposal) -> Reply:
    """The PM's “是” to /推演 应用: each due date moved through /任务 修改, all or nothing."""
    update = proposal.updates[0]
    if update.get("stage") != "confirm":
        return Reply("推演的结果还没应用。要应用请发送 /推演 应用。")
    project = ctx.require_project()
    ctx.require_manager("应用推演结果")
    if requires_change_requests(project):
        raise UserError("本项目的变更需发起人批准：请用 /变更 新增 #任务 截止:日期 原因:… 提交，批准后才生效。")
    lines = [f"已按推演（{update['asked']}）修改截止日期："]
    mentions: list[Mention] = []
    for change in update["changes"]:
        task = require_task(ctx, int(change["number"]))
        if _iso(task.due_date) != change["was"]:
            raise UserError(f"{task.ref} 的截止日期在这期间已改成 {day(task.due_date, today=ctx.today)}，没有改动。请重新推演。")
        command = f"/任务 修改 {task.ref} 截止:{change['due']} 说明:推演应用（{update['asked']}）"
        resolved = ctx.registry.resolve(command, {})
        resolved.command.func(ctx, resolved.args)
        lines.append(f"{task.ref} {day(_date(change['was']), today=ctx.today)} → {day(task.due_date, today=ctx.today)}"
                     f" · {mention(task.owner)}")
        if task.owner is not None:
            mentions.append(Mention(task.owner.user_id, task.owner.name))
    lines.append("每项改动都记在任务历史里，可用 /撤销 撤回。")
    return Reply("\n".join(lines), mentions=tuple(dict.fromkeys(mentions)))


GROUPS = (group,)
