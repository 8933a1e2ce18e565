"""The charter (项目基本信息表 / 项目章程): `/项目 设置 编号|发起部门|发起人|预算|目标|成果|干系人|变更审批`,
shown by `/项目 信息`, posted by `/项目 章程` for everyone to acknowledge (`/项目 章程 确认`).

Every change to the charter moves `project.charter_version` on: an acknowledgement counts for the
version it confirmed, so after a change the PM's `/项目 章程` shows who has not confirmed the new one.
The sponsor (发起人) is a member flag: escalations @ them too, and they approve change requests when
the project asks for it (`/项目 设置 变更审批 发起人`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.messages import Button, Mention, Reply
from handlers.common import CLEAR_WORDS, MAX_DEPARTMENT, checked_text
from handlers.context import Context
from handlers.errors import UsageError, UserError
from handlers.router import CommandSet
from handlers.text import Args
from models import CharterAck, Member, Project, Role, record_change
from models.charter import charter_acks
from models.registers import project_members
from models.snapshots import column_values
from reports.format import WEEKDAY_LABELS, day, mention, person

CHARTER_SET_USAGE = (
    "/项目 设置 编号 XM-001 ｜ 发起部门 运营部 ｜ 发起人 @王总 ｜ 预算 36万 ｜ 目标 <目标1>；<目标2> ｜ "
    "成果 <预期成果> ｜ 干系人 <名单> ｜ 变更审批 PM|发起人"
)
CHARTER_USAGE = "/项目 章程 [确认]"
CONFIRM = "/项目 章程 确认"
MAX_GOALS = 3
MAX_GOAL = 200
MAX_TEXT = 500
_GOAL_SPLIT = re.compile(r"\s*[；;\n]\s*")
_BUDGET = re.compile(r"^[¥￥]?\s*\d+(?:\.\d+)?\s*(?:千|万|百万|千万|亿|k|w|m)?\s*(?:元|人民币|rmb)?$", re.IGNORECASE)
APPROVAL_LABELS = {"pm": "PM 批准", "sponsor": "PM 和发起人都批准"}
_APPROVERS = {"pm": "pm", "项目经理": "pm", "sponsor": "sponsor", "发起人": "sponsor", "分管领导": "sponsor",
              "pm+发起人": "sponsor"}

commands = CommandSet()  # subcommands of /项目 (handlers.projects.group)
Setter = Callable[[Context, Project, Args], Reply]


def _is_clear(value: str) -> bool:
    return value.strip().lower() in CLEAR_WORDS


def _change(ctx: Context, project: Project, field: str, old: object, new: object) -> None:
    """The history row (remembering the column and the charter version, for /撤销), then the new version."""
    record_change(
        ctx.session, project_id=project.id, entity="project", entity_id=project.id, actor=ctx.sender,
        at=ctx.incoming.sent_at, field=field, old=old, new=new,
        before=column_values(project, (field, "charter_version")) if field in _COLUMNS else
        column_values(project, ("charter_version",)),
    )
    project.charter_version += 1


_COLUMNS = ("code", "sponsor_department", "budget", "goals", "expected_results", "stakeholders", "change_approval")


def _text_setter(field: str, what: str, limit: int) -> Setter:
    def setter(ctx: Context, project: Project, args: Args) -> Reply:
        value = args.text.strip()
        new = None if _is_clear(value) else checked_text(value, what=what, limit=limit, usage=CHARTER_SET_USAGE)
        old = getattr(project, field)
        if new == old:
            return Reply(f"{what}没有变化：{old or '未填写'}")
        _change(ctx, project, field, old, new)
        setattr(project, field, new)
        return Reply(f"{what}：{old or '未填写'} → {new or '未填写'}" + _ack_hint(project))
    return setter


def _set_budget(ctx: Context, project: Project, args: Args) -> Reply:
    value = args.text.strip()
    if not _is_clear(value) and not _BUDGET.fullmatch(value.replace(",", "")):
        raise UsageError(f"“{value}”不像预算金额，写成 36万、360000元 或 无。", "/项目 设置 预算 36万")
    return _text_setter("budget", "预算", 40)(ctx, project, args)


def _set_goals(ctx: Context, project: Project, args: Args) -> Reply:
    value = args.text.strip()
    usage = "/项目 设置 目标 <目标1>；<目标2>；<目标3>"
    if _is_clear(value):
        goals: list[str] | None = None
    else:
        goals = [g for g in _GOAL_SPLIT.split(value) if g]
        if not goals:
            raise UsageError("缺少目标。", usage)
        if len(goals) > MAX_GOALS:
            raise UsageError(f"目标最多 {MAX_GOALS} 个（收到 {len(goals)} 个），用“；”分隔。", usage)
        for goal in goals:
            checked_text(goal, what="目标", limit=MAX_GOAL, usage=usage)
    old = project.goals
    if goals == old:
        return Reply("目标没有变化。")
    _change(ctx, project, "goals", "；".join(old or []) or None, "；".join(goals or []) or None)
    project.goals = goals
    if not goals:
        return Reply("已清空项目目标。" + _ack_hint(project))
    listed = "\n".join(f"{i}. {g}" for i, g in enumerate(goals, 1))
    return Reply(f"项目目标（{len(goals)}）：\n{listed}\n目标要可衡量（数字、日期或验收标准）。" + _ack_hint(project))


def _set_sponsor(ctx: Context, project: Project, args: Args) -> Reply:
    usage = "/项目 设置 发起人 @王总 ｜ /项目 设置 发起人 无"
    current = sponsor_of(project)
    if not args.mentions:
        if _is_clear(args.text):
            if current is None:
                return Reply("本项目还没有设置发起人。")
            _sponsor_change(ctx, project, current, False)
            return Reply(f"已取消 {current.name} 的发起人身份。" + _ack_hint(project))
        raise UsageError("请 @ 发起人（分管领导）。", usage)
    if len(args.mentions) > 1 or args.words:
        raise UsageError("发起人只能有一位，请只 @ 一个人。", usage)
    member = ctx.resolve_member(args.mentions[0], assigning=True)
    if current is not None and current.id == member.id:
        return Reply(f"{member.name} 已经是发起人。")
    if current is not None:
        _sponsor_change(ctx, project, current, False)
    _sponsor_change(ctx, project, member, True)
    text = (
        f"{mention(member)} 已设为项目发起人（分管领导）：阻塞和高风险的升级提醒会同时 @ 发起人"
        + ("；变更申请需发起人批准。" if project.change_approval == "sponsor" else "。")
    )
    return Reply(text + _ack_hint(project), mentions=(Mention(member.user_id, member.name),))


def _sponsor_change(ctx: Context, project: Project, member: Member, on: bool) -> None:
    record_change(
        ctx.session, project_id=project.id, entity="member", entity_id=member.id, actor=ctx.sender,
        at=ctx.incoming.sent_at, field="sponsor", old=None if on else member.name, new=member.name if on else None,
        before={"is_sponsor": member.is_sponsor},
    )
    member.is_sponsor = on
    project.charter_version += 1


def _set_change_approval(ctx: Context, project: Project, args: Args) -> Reply:
    usage = "/项目 设置 变更审批 PM|发起人"
    new = _APPROVERS.get(args.text.strip().lower())
    if new is None:
        raise UsageError(f"“{args.text}”看不懂，请写 PM 或 发起人。", usage)
    if new == project.change_approval:
        return Reply(f"变更审批已经是：{APPROVAL_LABELS[new]}。")
    if new == "sponsor" and sponsor_of(project) is None:
        raise UserError("还没有发起人。请先设置：/项目 设置 发起人 @某人")
    _change(ctx, project, "change_approval", project.change_approval, new)
    project.change_approval = new
    return Reply(f"变更申请改为{APPROVAL_LABELS[new]}后生效（/变更 批准 C1）。" + _ack_hint(project))


SETTERS: tuple[tuple[tuple[str, ...], Setter], ...] = (
    (("编号", "项目编号", "code"), _text_setter("code", "项目编号", 40)),
    (("发起部门", "sponsor-dept", "sponsordept"), _text_setter("sponsor_department", "发起部门", MAX_DEPARTMENT)),
    (("发起人", "分管领导", "sponsor"), _set_sponsor),
    (("预算", "budget"), _set_budget),
    (("目标", "goals", "goal"), _set_goals),
    (("成果", "预期成果", "results"), _text_setter("expected_results", "预期成果", MAX_TEXT)),
    (("干系人", "关键干系人", "stakeholders"), _text_setter("stakeholders", "关键干系人", MAX_TEXT)),
    (("变更审批", "change-approval"), _set_change_approval),
)


def find_setter(word: str) -> Setter | None:
    lowered = word.lower()
    return next((setter for names, setter in SETTERS if lowered in names), None)


def sponsor_of(project: Project) -> Member | None:
    return next((m for m in project.members if m.is_sponsor and m.is_active), None)


def _ack_hint(project: Project) -> str:
    return "\n章程已更新，PM 可发 /项目 章程 请大家确认。" if project.charter_version > 1 else ""


# ---------------------------------------------------------------------------- showing the charter


def charter_lines(project: Project) -> list[str]:
    """The charter as lines (what is not filled in says so), the communication rules included."""
    sponsor = sponsor_of(project)
    managers = [m for m in project.members if m.is_manager and m.role == Role.PM] or [
        m for m in project.members if m.is_manager
    ]
    goals = project.goals or ([project.goal] if project.goal else [])
    lines = [
        f"项目编号：{project.code or '未填写'}",
        f"发起部门：{project.sponsor_department or '未填写'} · 发起人：{person(sponsor) if sponsor else '未设置'}",
        f"项目经理：{'、'.join(m.name for m in managers) or '无'} · 截止：{day(project.deadline)}",
        f"预算：{project.budget or '未填写'}",
        "目标：" + ("未填写" if not goals else goals[0] if len(goals) == 1 else ""),
        *(f"  {i}. {g}" for i, g in enumerate(goals, 1) if len(goals) > 1),
        f"预期成果：{project.expected_results or '未填写'}",
        f"关键干系人：{project.stakeholders or '未填写'}",
        f"参与部门：{'、'.join(d.name for d in project.departments) or '未设置'}",
        f"沟通机制：日报 每个工作日 {project.daily_prompt_time:%H:%M} · 周会 每{WEEKDAY_LABELS[project.meeting_weekday]} "
        f"{project.meeting_time:%H:%M} · PM 汇总 {project.digest_time:%H:%M}",
        f"变更审批：{APPROVAL_LABELS.get(project.change_approval, project.change_approval)}",
    ]
    return lines


def _to_confirm(ctx: Context, project: Project) -> list[Member]:
    """Everyone asked to acknowledge: the active members but the PM (whose charter it is)."""
    return [m for m in project_members(ctx.session, project_id=project.id) if m.role != Role.PM]


@commands.command(("章程", "charter"), usage=CHARTER_USAGE, summary="发布项目章程请大家确认；PM 看谁已确认")
def charter(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    word = args.text.strip().lower()
    if word in ("确认", "confirm", "ok", "ack"):
        return _acknowledge(ctx, project)
    if word:
        raise UsageError(f"没看懂“{args.text[:20]}”。", CHARTER_USAGE)
    lines = charter_lines(project)
    acks = charter_acks(ctx.session, project_id=project.id)
    asked = _to_confirm(ctx, project)
    confirmed = [m for m in asked if m.id in acks and acks[m.id].version == project.charter_version]
    missing = [m for m in asked if m not in confirmed]
    mentions: tuple[Mention, ...] = ()
    if ctx.is_manager:
        stale = {m.id for m in missing if m.id in acks}
        lines.append(f"已确认（{len(confirmed)}/{len(asked)}）：{'、'.join(m.name for m in confirmed) or '无'}")
        lines.append(
            f"未确认（{len(missing)}）："
            + ("、".join(m.name + ("（确认的是旧版）" if m.id in stale else "") for m in missing) or "无")
        )
        if missing:
            lines.append(" ".join(mention(m) for m in missing) + f" 请阅读后回复：{CONFIRM}")
            mentions = tuple(Mention(m.user_id, m.name) for m in missing)
    else:
        sender = ctx.sender
        mine = acks.get(sender.id) if sender is not None else None
        if mine is not None and mine.version == project.charter_version:
            lines.append("你已确认本版章程。")
        else:
            lines.append(f"请阅读后回复：{CONFIRM}")
    return Reply(
        "\n".join(lines), title=f"项目章程：{project.name}", mentions=mentions,
        buttons=(Button("确认章程", CONFIRM, (), "primary"),) if missing or not ctx.is_manager else (),
    )


def _acknowledge(ctx: Context, project: Project) -> Reply:
    sender = ctx.require_sender()
    if project.charter_version == 0 and not project.goal:
        raise UserError("PM 还没有填写章程（/项目 设置 目标 …），暂时不需要确认。")
    acks = charter_acks(ctx.session, project_id=project.id)
    mine = acks.get(sender.id)
    now = ctx.incoming.sent_at
    if mine is not None and mine.version == project.charter_version:
        return Reply(f"{sender.name} 已经确认过本版章程。")
    if mine is None:
        ctx.session.add(CharterAck(project_id=project.id, member_id=sender.id, version=project.charter_version,
                                   acknowledged_at=now))
    else:
        mine.version, mine.acknowledged_at = project.charter_version, now
    record_change(
        ctx.session, project_id=project.id, entity="member", entity_id=sender.id, actor=sender, at=now,
        field="charter_ack", new=f"v{project.charter_version}",
    )
    ctx.session.flush()
    asked = _to_confirm(ctx, project)
    acks = charter_acks(ctx.session, project_id=project.id)
    done = sum(1 for m in asked if m.id in acks and acks[m.id].version == project.charter_version)
    return Reply(f"{sender.name} 已确认项目章程（{done}/{len(asked)} 人已确认）。")
