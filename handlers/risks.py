"""/风险: the risk register (风险问题跟踪表): raise, list (open, high first), show, update, close.

Any member may raise a risk; its owner, whoever raised it, and PM/co-PMs may update or close it.
"""

from __future__ import annotations

from bot.messages import Mention, Reply, Section
from handlers.buttons import risk_actions, with_buttons
from handlers.common import checked_text, history_lines, is_clear, log_change, named_owner, parse_ref, word_option
from handlers.context import Context
from handlers.errors import PermissionDenied, UsageError, UserError
from handlers.router import CommandGroup
from handlers.text import Args
from models import Edit, Member, Risk, RiskLevel, RiskStatus, RiskStrategy
from models.base import insert_now
from models.card_views import item_view
from models.project import allocate_number
from models.registers import list_risks as list_risk_rows
from reports.format import (
    RISK_LEVEL_LABELS,
    RISK_STATUS_LABELS,
    RISK_STRATEGY_LABELS,
    day,
    mention,
    person,
    shorten,
)

MAX_DESCRIPTION = 500
MAX_FIELD = 500
MAX_TRIGGER = 200
LIST_LIMIT = 50
ADD_USAGE = "/风险 新增 <描述> [等级:高|中|低] [影响:…] [措施:…] [应对:规避|减轻|转移|接受] [触发:…] [@负责人]"
UPDATE_USAGE = "/风险 更新 R3 [等级:…] [影响:…] [措施:…] [应对:…] [触发:…] [描述:…] [@负责人] [说明]"
CLOSE_USAGE = "/风险 关闭 R3 [说明]"
REOPEN_USAGE = "/风险 重开 R3 [说明]"
LIST_USAGE = "/风险 列表 [全部|高]"
SHOW_USAGE = "/风险 R3"
LEVEL_WORDS = {
    "高": RiskLevel.HIGH, "high": RiskLevel.HIGH, "h": RiskLevel.HIGH, "严重": RiskLevel.HIGH,
    "中": RiskLevel.MEDIUM, "medium": RiskLevel.MEDIUM, "mid": RiskLevel.MEDIUM, "m": RiskLevel.MEDIUM,
    "一般": RiskLevel.MEDIUM,
    "低": RiskLevel.LOW, "low": RiskLevel.LOW, "l": RiskLevel.LOW, "轻微": RiskLevel.LOW,
}
STRATEGY_WORDS = {
    "规避": RiskStrategy.AVOID, "避免": RiskStrategy.AVOID, "avoid": RiskStrategy.AVOID,
    "减轻": RiskStrategy.MITIGATE, "缓解": RiskStrategy.MITIGATE, "降低": RiskStrategy.MITIGATE,
    "mitigate": RiskStrategy.MITIGATE, "reduce": RiskStrategy.MITIGATE,
    "转移": RiskStrategy.TRANSFER, "transfer": RiskStrategy.TRANSFER,
    "接受": RiskStrategy.ACCEPT, "accept": RiskStrategy.ACCEPT,
}
LEVEL_ICONS = {RiskLevel.HIGH: "🔴", RiskLevel.MEDIUM: "🟠", RiskLevel.LOW: "🟢"}
# Text fields an update may set: option key -> (model attribute, label, limit).
TEXT_FIELDS = {
    "impact": ("impact", "影响", MAX_FIELD),
    "mitigation": ("mitigation", "措施", MAX_FIELD),
    "trigger": ("trigger", "触发", MAX_TRIGGER),
}

group = CommandGroup(("风险", "risk", "risks"), summary="风险：新增、列表、查看、更新、关闭、采纳提示")


def _level_key(value: str) -> str:
    return value.strip().lower().removesuffix("风险").removesuffix("级")


def parse_level(value: str, usage: str) -> RiskLevel:
    level = LEVEL_WORDS.get(_level_key(value))
    if level is None:
        raise UsageError(f"不认识风险等级“{value}”，可选：高、中、低。", usage)
    return level


def parse_strategy(value: str, usage: str) -> RiskStrategy:
    strategy = STRATEGY_WORDS.get(value.strip().lower())
    if strategy is None:
        raise UsageError(f"不认识应对策略“{value}”，可选：规避、减轻、转移、接受。", usage)
    return strategy


def require_risk(ctx: Context, word: str, usage: str) -> Risk:
    return ctx.require_numbered(Risk, parse_ref(word, "R", what="风险", usage=usage))


def require_risk_editor(ctx: Context, risk: Risk) -> Member:
    sender = ctx.require_sender()
    if sender.is_manager or sender.id in (risk.owner_id, risk.created_by_id):
        return sender
    raise PermissionDenied(f"{risk.ref} 的负责人是 {person(risk.owner)}，只有负责人、提出人或 PM 可以修改。")


class _Levels:
    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and _level_key(value) in LEVEL_WORDS


def split_level(args: Args) -> None:
    """`等级:高 …`: the level option is one word."""
    word_option(args, "level", _Levels())


def _split_choices(args: Args) -> None:
    """`等级:高 服务器扛不住` — one-word choices never run over into the words after them."""
    word_option(args, "level", _Levels())
    word_option(args, "strategy", STRATEGY_WORDS)



# ---------------------------------------------------------------------------- /风险 新增


@group.command(
    ("新增", "添加", "新建", "add", "new", "raise"),
    usage=ADD_USAGE,
    summary="登记风险（任何成员），得到编号 R3",
    options=("level", "impact", "mitigation", "strategy", "trigger", "owner"),
)
def add_risk(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    sender = ctx.require_sender()
    _split_choices(args)
    description = checked_text(args.text, what="风险描述", limit=MAX_DESCRIPTION, usage=ADD_USAGE)
    level = parse_level(args.options["level"], ADD_USAGE) if args.options.get("level") else RiskLevel.MEDIUM
    strategy = parse_strategy(args.options["strategy"], ADD_USAGE) if args.options.get("strategy") else None
    texts = {
        key: checked_text(args.options.get(key, ""), what=label, limit=limit, usage=ADD_USAGE, required=False) or None
        for key, (_, label, limit) in TEXT_FIELDS.items()
    }
    owner = named_owner(ctx, args, what="风险", usage=ADD_USAGE) or sender
    now = ctx.incoming.sent_at
    risk = Risk(
        project_id=project.id,
        number=allocate_number(ctx.session, project, "next_risk_no"),
        description=description,
        level=level,
        strategy=strategy,
        owner_id=owner.id,
        status=RiskStatus.OPEN,
        created_by_id=sender.id,
        created_at=now,
        updated_at=now,
        **texts,
    )
    insert_now(ctx.session, risk)
    log_change(ctx, "risk", risk, sender, "created", None, shorten(description, 60))
    details = [f"等级 {RISK_LEVEL_LABELS[level]}", f"负责人 {mention(owner) if owner.id != sender.id else person(owner)}"]
    if strategy:
        details.append(f"应对 {RISK_STRATEGY_LABELS[strategy]}")
    text = f"已登记风险 {risk.ref}{LEVEL_ICONS[level]} {shorten(description)}\n" + " · ".join(details)
    missing = [label for key, (_, label, _limit) in TEXT_FIELDS.items() if key != "trigger" and not texts[key]]
    if missing and level == RiskLevel.HIGH:
        text += f"\n建议补充{'、'.join(missing)}：/风险 更新 {risk.ref} 影响:… 措施:…"
    mentions = (Mention(owner.user_id, owner.name),) if owner.id != sender.id else ()
    return Reply(text, mentions=mentions)


# ---------------------------------------------------------------------------- /风险 列表


def risk_line(risk: Risk) -> str:
    level = f"{LEVEL_ICONS[risk.level]}{RISK_LEVEL_LABELS[risk.level]}"
    parts = [f"{risk.ref}{level} {shorten(risk.description, 30)}", person(risk.owner)]
    if risk.strategy:
        parts.append(RISK_STRATEGY_LABELS[risk.strategy])
    if risk.status == RiskStatus.CLOSED:
        parts.append("已关闭")
    return " · ".join(parts)


@group.command(("列表", "list", "ls"), usage=LIST_USAGE, summary="列出未关闭的风险，高风险在前")
def list_risks(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    word = args.words[0].lower() if args.words else ""
    if len(args.words) > 1:
        raise UsageError("一次只能用一个筛选条件。", LIST_USAGE)
    status: RiskStatus | None = RiskStatus.OPEN
    level: RiskLevel | None = None
    title = "未关闭的风险"
    if word in ("", "open", "未关闭", "打开"):
        pass
    elif word in ("全部", "all"):
        status, title = None, "全部风险"
    elif word in ("已关闭", "关闭", "closed"):
        status, title = RiskStatus.CLOSED, "已关闭的风险"
    elif word in LEVEL_WORDS:
        level = LEVEL_WORDS[word]
        title = f"未关闭的{RISK_LEVEL_LABELS[level]}风险"
    else:
        raise UsageError(f"不认识筛选条件“{args.words[0]}”。", LIST_USAGE)
    page = list_risk_rows(ctx.session, project_id=project.id, status=status, level=level, limit=LIST_LIMIT)
    if page.total == 0:
        return Reply(f"{title}：没有。")
    # One section per level, as the rows come (high first): a card shows each as its own block; the
    # lines carry the level, so text renderers show them as before, without headings.
    sections: list[Section] = []
    for risk_level in dict.fromkeys(r.level for r in page.rows):
        shown = tuple(risk_line(r) for r in page.rows if r.level == risk_level)
        sections.append(Section(lines=shown, more="/导出 风险"))
    if page.total > len(page.rows):
        sections.append(Section(lines=(f"…另有 {page.total - len(page.rows)} 个未列出。",)))
    high = any(r.level == RiskLevel.HIGH and r.status == RiskStatus.OPEN for r in page.rows)
    return Reply("", title=f"{title}（{page.total}）", sections=tuple(sections), tone="alert" if high else "info")


# ---------------------------------------------------------------------------- /风险 R3


@group.default_command(usage=f"{SHOW_USAGE}  查看一个风险及其记录", summary="查看一个风险及其记录")
def show_risk(ctx: Context, args: Args) -> Reply:
    if not args.words:
        raise UsageError("缺少风险编号或子指令。", group.usage)
    risk = require_risk(ctx, args.words[0], group.usage)
    if len(args.words) > 1:
        raise UsageError(f"不明白“{' '.join(args.words[1:])}”。", group.usage)
    return risk_card(ctx, risk)


def risk_card(ctx: Context, risk: Risk) -> Reply:
    """`/风险 R3`: the risk, its history and the buttons valid for it now (更新 · 关闭, or 重开); kept
    up to date like the task's card (handlers/card_refresh)."""
    lines = [
        f"等级：{LEVEL_ICONS[risk.level]}{RISK_LEVEL_LABELS[risk.level]} · 状态：{RISK_STATUS_LABELS[risk.status]}",
        f"负责人：{person(risk.owner)}",
        f"影响：{risk.impact or '未填写'}",
        f"应对：{RISK_STRATEGY_LABELS[risk.strategy] if risk.strategy else '未定'} · 措施：{risk.mitigation or '未填写'}",
    ]
    if risk.trigger:
        lines.append(f"触发：{risk.trigger}")
    if risk.task is not None:
        lines.append(f"关联任务：{risk.task.ref} {shorten(risk.task.title)}")
    lines.append(f"登记：{day(risk.created_at.astimezone(ctx.now.tzinfo).date(), today=ctx.today)}")
    if risk.status == RiskStatus.CLOSED and risk.close_note:
        lines.append(f"关闭说明：{risk.close_note}")
    lines += history_lines(ctx.session, ctx, entity="risk", entity_id=risk.id)
    reply = Reply("\n".join(lines), title=f"{risk.ref} {shorten(risk.description, 60)}", view=item_view("risk", risk.id))
    return with_buttons(reply, *risk_actions(risk))


# ---------------------------------------------------------------------------- /风险 更新


@group.command(
    ("更新", "修改", "改", "update", "edit"),
    usage=UPDATE_USAGE,
    summary="修改等级、影响、措施、应对、负责人（负责人、提出人或 PM）",
    options=("level", "impact", "mitigation", "strategy", "trigger", "owner", "desc", "note"),
)
def update_risk(ctx: Context, args: Args) -> Reply:
    if not args.words:
        raise UsageError("缺少风险编号。", UPDATE_USAGE)
    risk = require_risk(ctx, args.words[0], UPDATE_USAGE)
    actor = require_risk_editor(ctx, risk)
    if risk.status == RiskStatus.CLOSED:
        raise UserError(f"{risk.ref} 已关闭。要重新打开请用 {REOPEN_USAGE}")
    _split_choices(args)
    note = _note(args, args.words[1:], UPDATE_USAGE)
    lines: list[str] = []
    mentions: list[Mention] = []
    if args.options.get("level"):
        level = parse_level(args.options["level"], UPDATE_USAGE)
        if level != risk.level:
            log_change(ctx, "risk", risk, actor, "level", risk.level.value, level.value, note)
            lines.append(f"等级 {RISK_LEVEL_LABELS[risk.level]} → {LEVEL_ICONS[level]}{RISK_LEVEL_LABELS[level]}")
            risk.level = level
    if args.options.get("strategy"):
        value = args.options["strategy"]
        strategy = None if is_clear(value) else parse_strategy(value, UPDATE_USAGE)
        if strategy != risk.strategy:
            log_change(ctx, "risk", risk, actor, "strategy", risk.strategy.value if risk.strategy else None,
                    strategy.value if strategy else None, note)
            lines.append(f"应对 → {RISK_STRATEGY_LABELS[strategy] if strategy else '未定'}")
            risk.strategy = strategy
    for key, (attribute, label, limit) in TEXT_FIELDS.items():
        if key not in args.options:
            continue
        value = args.options[key]
        new = None if is_clear(value) else checked_text(value, what=label, limit=limit, usage=UPDATE_USAGE)
        old = getattr(risk, attribute)
        if new != old:
            log_change(ctx, "risk", risk, actor, key, old, new, note)
            lines.append(f"{label} → {shorten(new, 30) if new else '空'}")
            setattr(risk, attribute, new)
    if "desc" in args.options:
        description = checked_text(args.options["desc"], what="风险描述", limit=MAX_DESCRIPTION, usage=UPDATE_USAGE)
        if description != risk.description:
            log_change(ctx, "risk", risk, actor, "description", risk.description, description, note)
            lines.append(f"描述 → {shorten(description)}")
            risk.description = description
    owner = named_owner(ctx, args, what="风险", usage=UPDATE_USAGE)
    if owner is not None and owner.id != risk.owner_id:
        log_change(ctx, "risk", risk, actor, "owner", person(risk.owner), owner.name, note)
        lines.append(f"负责人 {person(risk.owner)} → {mention(owner)}")
        mentions.append(Mention(owner.user_id, owner.name))
        risk.owner = owner
    if not lines:
        if not note:
            raise UsageError(f"{risk.ref} 没有变化。", UPDATE_USAGE)
        log_change(ctx, "risk", risk, actor, "note", None, None, note)
        risk.updated_at = ctx.incoming.sent_at
        return Reply(f"已记录 {risk.ref} 的进展：{note}")
    risk.updated_at = ctx.incoming.sent_at
    text = f"已更新 {risk.ref} {shorten(risk.description)}\n" + "\n".join(lines)
    if note:
        text += f"\n说明：{note}"
    return Reply(text, mentions=tuple(mentions))


def _note(args: Args, words: list[str], usage: str) -> str | None:
    note = " ".join(p for p in [*words, args.options.get("note", "")] if p).strip()
    return checked_text(note, what="说明", limit=MAX_FIELD, usage=usage, required=False) or None


# ---------------------------------------------------------------------------- /风险 关闭 · 重开


@group.command(("关闭", "close"), usage=CLOSE_USAGE, summary="关闭风险并写明结果（负责人、提出人或 PM）", options=("note",))
def close_risk(ctx: Context, args: Args) -> Reply:
    if not args.words:
        raise UsageError("缺少风险编号。", CLOSE_USAGE)
    risk = require_risk(ctx, args.words[0], CLOSE_USAGE)
    actor = require_risk_editor(ctx, risk)
    if risk.status == RiskStatus.CLOSED:
        raise UserError(f"{risk.ref} 已经关闭了。")
    note = _note(args, args.words[1:], CLOSE_USAGE)
    now = ctx.incoming.sent_at
    edit = Edit(ctx.session, risk, entity="risk", actor=actor, at=now)
    edit.status(RiskStatus.CLOSED, note=note, closed_at=now, close_note=note)
    edit.apply()
    return Reply(f"已关闭风险 {risk.ref} {shorten(risk.description)}" + (f"\n说明：{note}" if note else ""))


@group.command(("重开", "重新打开", "reopen"), usage=REOPEN_USAGE, summary="重新打开已关闭的风险", options=("note",))
def reopen_risk(ctx: Context, args: Args) -> Reply:
    if not args.words:
        raise UsageError("缺少风险编号。", REOPEN_USAGE)
    risk = require_risk(ctx, args.words[0], REOPEN_USAGE)
    actor = require_risk_editor(ctx, risk)
    if risk.status == RiskStatus.OPEN:
        raise UserError(f"{risk.ref} 没有关闭。")
    note = _note(args, args.words[1:], REOPEN_USAGE)
    edit = Edit(ctx.session, risk, entity="risk", actor=actor, at=ctx.incoming.sent_at)
    edit.status(RiskStatus.OPEN, note=note, closed_at=None, close_note=None)
    edit.apply()
    return Reply(f"已重新打开风险 {risk.ref}{LEVEL_ICONS[risk.level]} {shorten(risk.description)} · 负责人 {person(risk.owner)}")


GROUPS = (group,)
