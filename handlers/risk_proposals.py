"""Worried updates become risk candidates: proposed to the PM, adopted or dismissed in one step.

`propose_from_update` is called by `handlers.free_text` with a task's words (“#3 估计赶不上”): when
they carry a worry (`handlers.worry_words`) and the project has the proposals on (/项目 设置 风险提示),
a `RiskProposal` is kept (once per task and kind of worry) and the reply @-mentions the PM with the
one command that adopts or dismisses it. `/风险 采纳 #3` registers the risk (level as suggested, the
task's owner as owner, the task linked); `/风险 忽略 #3` drops it; `/风险 候选` lists what waits.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.messages import Mention, Reply
from handlers.common import log_change, named_owner
from handlers.context import Context
from handlers.errors import UsageError, UserError
from handlers.risks import LEVEL_ICONS, parse_level, split_level
from handlers.router import CommandSet
from handlers.text import Args
from handlers.worry_words import WORRY_LABELS, WorryKind, read_worry
from models import (
    ProposalStatus,
    Risk,
    RiskLevel,
    RiskProposal,
    RiskStatus,
    Task,
    allocate_number,
    already_proposed,
    pending_proposals,
)
from models.base import insert_now
from models.registers import managers
from reports.format import RISK_LEVEL_LABELS, day, mention, person, shorten

ADOPT_USAGE = "/风险 采纳 #3|全部 [等级:高|中|低] [@负责人]"
DISMISS_USAGE = "/风险 忽略 #3|全部"
LIST_USAGE = "/风险 候选"
_ALL_WORDS = ("全部", "所有", "all")
_LEVEL_RANK = {RiskLevel.HIGH: 0, RiskLevel.MEDIUM: 1, RiskLevel.LOW: 2}
MAX_WORDS = 200

commands = CommandSet()  # subcommands of /风险 (handlers.risks.group)


# ---------------------------------------------------------------------------- proposing


def propose_from_update(ctx: Context, task: Task, typed: str) -> Reply | None:
    """The line that tells the PM about a worried update (None: no worry, off, done, or proposed before)."""
    project = ctx.require_project()
    if not project.risk_proposals or not task.status.is_open:
        return None
    worry = read_worry(typed)
    if worry is None or already_proposed(ctx.session, task_id=task.id, worry=worry.kind.value):
        return None
    sender = ctx.require_sender()
    proposal = RiskProposal(
        project_id=project.id, task_id=task.id, worry=worry.kind.value, level=worry.level,
        words=shorten(typed.strip(), MAX_WORDS), proposed_by_id=sender.id, proposed_at=ctx.incoming.sent_at,
        status=ProposalStatus.PENDING,
    )
    ctx.session.add(proposal)
    ctx.session.flush()
    pms = [m for m in managers(ctx.session, project_id=project.id) if m.id != sender.id]
    to = " ".join(mention(m) for m in pms) or "PM"
    text = (
        f"⚠️ {task.ref} {WORRY_LABELS[worry.kind]}（“{worry.words}”），建议登记为{RISK_LEVEL_LABELS[worry.level]}风险。"
        f"\n{to} 确认：/风险 采纳 {task.ref} ｜ 不用：/风险 忽略 {task.ref}"
    )
    return Reply(text, mentions=tuple(Mention(m.user_id, m.name) for m in pms))


# ---------------------------------------------------------------------------- choosing


def _chosen(ctx: Context, args: Args, usage: str) -> list[RiskProposal]:
    """The pending proposals the command names: those of `#3`, all of them, or the only one."""
    project = ctx.require_project()
    words = args.words
    if len(words) > 1:
        raise UsageError(f"不明白“{' '.join(words[1:])}”。", usage)
    if words and words[0].lower() in _ALL_WORDS:
        found = pending_proposals(ctx.session, project_id=project.id)
        if not found:
            raise UserError("没有待确认的风险提示。")
        return list(found)
    if words:
        number = _task_number(words[0], usage)
        task = ctx.require_numbered(Task, number)
        found = pending_proposals(ctx.session, project_id=project.id, task_id=task.id)
        if not found:
            raise UserError(f"{task.ref} 没有待确认的风险提示。待确认的见 {LIST_USAGE}")
        return list(found)
    found = pending_proposals(ctx.session, project_id=project.id)
    tasks = {p.task_id for p in found}
    if not found:
        raise UserError("没有待确认的风险提示。")
    if len(tasks) > 1:
        raise UsageError(f"有 {len(tasks)} 个任务的风险提示待确认，请写明是哪个：\n" + _listing(found), usage)
    return list(found)


def _task_number(word: str, usage: str) -> int:
    text = word.strip().lstrip("#＃")
    if not text.isdigit() or len(text) > 9:
        raise UsageError(f"“{word}”不是任务编号，任务编号写成 #3。", usage)
    return int(text)


def _by_task(proposals: Sequence[RiskProposal]) -> dict[int, list[RiskProposal]]:
    grouped: dict[int, list[RiskProposal]] = {}
    for p in proposals:
        grouped.setdefault(p.task_id, []).append(p)
    return grouped


def _listing(proposals: Sequence[RiskProposal]) -> str:
    lines = []
    for items in _by_task(proposals).values():
        top = min(items, key=lambda p: _LEVEL_RANK[p.level])
        task = top.task
        done = "" if task.status.is_open else "（任务已关闭）"
        lines.append(
            f"{task.ref} {shorten(task.title, 20)}{done} · {LEVEL_ICONS[top.level]}{RISK_LEVEL_LABELS[top.level]} · "
            f"{person(top.proposed_by)}：“{shorten(top.words, 30)}”"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------- /风险 采纳 · 忽略 · 候选


@commands.command(
    ("采纳", "采用", "登记", "adopt", "accept"),
    usage=ADOPT_USAGE,
    summary="把成员更新里的进度担忧登记为风险（PM）",
    options=("level", "owner"),
)
def adopt(ctx: Context, args: Args) -> Reply:
    actor = ctx.require_manager("采纳风险提示")
    split_level(args)
    level = parse_level(args.options["level"], ADOPT_USAGE) if args.options.get("level") else None
    chosen = _chosen(ctx, args, ADOPT_USAGE)
    owner_named = named_owner(ctx, args, what="风险", usage=ADOPT_USAGE)
    now = ctx.incoming.sent_at
    project = ctx.require_project()
    lines: list[str] = []
    mentions: list[Mention] = []
    for items in _by_task(chosen).values():
        top = min(items, key=lambda p: _LEVEL_RANK[p.level])
        task = top.task
        owner = owner_named or task.owner or actor
        chosen_level = level or top.level
        description = (
            f"{task.ref} {shorten(task.title, 30)} {WORRY_LABELS[WorryKind(top.worry)]}："
            f"{person(top.proposed_by)}说“{top.words}”"
        )
        impact = f"{task.ref} 截止 {day(task.due_date, today=ctx.today)} 可能推迟" if task.due_date else None
        risk = Risk(
            project_id=project.id, number=allocate_number(ctx.session, project, "next_risk_no"),
            description=description, level=chosen_level, impact=impact, owner_id=owner.id,
            status=RiskStatus.OPEN, created_by_id=actor.id, created_at=now, updated_at=now, task_id=task.id,
        )
        insert_now(ctx.session, risk)
        log_change(ctx, "risk", risk, actor, "created", None, shorten(description, 60))
        for p in items:
            p.status, p.risk_id, p.settled_at = ProposalStatus.ADOPTED, risk.id, now
        lines.append(
            f"已登记风险 {risk.ref}{LEVEL_ICONS[chosen_level]} {shorten(description)}\n"
            f"等级 {RISK_LEVEL_LABELS[chosen_level]} · 负责人 {mention(owner) if owner.id != actor.id else person(owner)}"
        )
        if owner.id != actor.id:
            mentions.append(Mention(owner.user_id, owner.name))
    return Reply("\n".join(lines), mentions=tuple(dict.fromkeys(mentions)))


@commands.command(("忽略", "不采纳", "dismiss", "ignore"), usage=DISMISS_USAGE, summary="不登记这条风险提示（PM）")
def dismiss(ctx: Context, args: Args) -> Reply:
    ctx.require_manager("忽略风险提示")
    chosen = _chosen(ctx, args, DISMISS_USAGE)
    for p in chosen:
        p.status, p.settled_at = ProposalStatus.DISMISSED, ctx.incoming.sent_at
    refs = "、".join(dict.fromkeys(p.task.ref for p in chosen))
    return Reply(f"好的，{refs} 的风险提示不登记（同样的担忧不会再提示）。")


@commands.command(("候选", "待确认", "提示", "proposals", "candidates"), usage=LIST_USAGE,
                  summary="列出待 PM 确认的风险提示")
def list_proposals(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    if args.words:
        raise UsageError(f"不明白“{' '.join(args.words)}”。", LIST_USAGE)
    found = pending_proposals(ctx.session, project_id=project.id)
    if not found:
        return Reply("待确认的风险提示：没有。")
    count = len(_by_task(found))
    return Reply(_listing(found) + f"\n采纳：{ADOPT_USAGE} ｜ 忽略：{DISMISS_USAGE}", title=f"待确认的风险提示（{count}）")
