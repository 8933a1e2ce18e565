"""/复盘: the retrospective. Anyone adds what went well (好), what to improve (改进) and what to reuse (复用);
the PM posts the 复盘纪要 (grouped, who said what); an improvement becomes an action item with an owner
(`/复盘 改进 … @某人`, or afterwards `/复盘 行动 <序号> @某人`).

The entries belong to the project, and answer on the group's most recently closed project too
(`handlers.project_closeout.after_close_commands`): the retrospective happens once it is closed.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.messages import Mention, Reply, Section
from handlers.actions import create_action
from handlers.common import checked_text, date_option, named_owner
from handlers.context import Context
from handlers.errors import PermissionDenied, UsageError, UserError
from handlers.router import CommandGroup, Handler
from handlers.text import Args
from models import Member, RetroEntry, ensure_member, record_change
from models.retro import retro_entries
from reports.closeout import RETRO_LABELS
from reports.format import day, mention, person, shorten

group = CommandGroup(("复盘", "retro", "retrospective"), summary="复盘：做得好、待改进、可复用，PM 汇总纪要")
GOOD_USAGE = "/复盘 好 <内容>"
IMPROVE_USAGE = "/复盘 改进 <内容> [@负责人 截止:日期]"
REUSE_USAGE = "/复盘 复用 <内容>"
MINUTES_USAGE = "/复盘 纪要"
ACTION_USAGE = "/复盘 行动 <改进序号> @负责人 [截止:日期]"
MAX_CONTENT = 500
KIND_LABELS = RETRO_LABELS


def _member(ctx: Context) -> Member:
    """The sender; on a closed project someone who never spoke in it becomes a member to say their piece."""
    if ctx.sender is None:
        project = ctx.require_project()
        ctx.sender = ensure_member(
            ctx.session, project=project, user_id=ctx.incoming.sender_id, name=ctx.incoming.sender_name, now=ctx.now
        )
    return ctx.sender


def _add(ctx: Context, args: Args, kind: str, usage: str) -> Reply:
    project = ctx.require_project()
    author = _member(ctx)
    text = args.text
    if kind != "improve" and args.mentions:  # people named in praise stay in the words
        text = " ".join([text, *(f"@{m.name}" for m in args.mentions)])
    content = checked_text(text, what="复盘内容", limit=MAX_CONTENT, usage=usage)
    entry = RetroEntry(
        project_id=project.id, kind=kind, content=content, author_id=author.id, created_at=ctx.incoming.sent_at
    )
    ctx.session.add(entry)
    ctx.session.flush()
    record_change(
        ctx.session, project_id=project.id, entity="retro", entity_id=entry.id, actor=author,
        at=ctx.incoming.sent_at, field="created", new=f"{KIND_LABELS[kind]}：{shorten(content, 60)}",
    )
    lines = [f"已记入复盘（{KIND_LABELS[kind]}）：{shorten(content, 60)}"]
    mentions: tuple[Mention, ...] = ()
    if kind == "improve" and (args.mentions or "owner" in args.options):
        line, mentions = _make_action(ctx, args, entry, usage)
        lines.append(line)
    elif kind == "improve":
        number = _improvements(retro_entries(ctx.session, project_id=project.id)).index(entry) + 1
        lines.append(f"要指定负责人跟进：/复盘 行动 {number} @负责人 [截止:日期]")
    return Reply("\n".join(lines), mentions=mentions)


def _make_action(ctx: Context, args: Args, entry: RetroEntry, usage: str) -> tuple[str, tuple[Mention, ...]]:
    sender = _member(ctx)
    owner = named_owner(ctx, args, what="改进项", usage=usage)
    if owner is None:
        raise UsageError("请 @ 负责人。", usage)
    if owner.id != sender.id and not sender.is_manager:
        raise PermissionDenied("成员只能把改进项派给自己；派给别人请找 PM。")
    if entry.action_id is not None:
        raise UserError(f"这条改进已经是行动项 A{entry.action.number if entry.action else '?'}。")
    due = date_option(ctx, args, "due", what="截止日期")
    item = create_action(ctx, content=entry.content, owner=owner, due=due, origin="复盘")
    entry.action_id = item.id
    record_change(
        ctx.session, project_id=entry.project_id, entity="retro", entity_id=entry.id, actor=sender,
        at=ctx.incoming.sent_at, field="action", new=item.ref,
    )
    who = mention(owner) if owner.id != sender.id else person(owner)
    line = f"已转为行动项 {item.ref}，负责人 {who}" + (f" · 截止 {day(due, today=ctx.today)}" if due else "")
    return line, ((Mention(owner.user_id, owner.name),) if owner.id != sender.id else ())


@group.command(("好", "做得好", "good", "well"), usage=GOOD_USAGE, summary="记一条做得好的经验（任何人）")
def add_good(ctx: Context, args: Args) -> Reply:
    return _add(ctx, args, "good", GOOD_USAGE)


@group.command(
    ("改进", "待改进", "improve"), usage=IMPROVE_USAGE, summary="记一条待改进（@负责人 即转为行动项）",
    options=("due", "owner"),
)
def add_improve(ctx: Context, args: Args) -> Reply:
    return _add(ctx, args, "improve", IMPROVE_USAGE)


@group.command(("复用", "可复用", "reuse"), usage=REUSE_USAGE, summary="记一条可复用的做法（任何人）")
def add_reuse(ctx: Context, args: Args) -> Reply:
    return _add(ctx, args, "reuse", REUSE_USAGE)


def _improvements(entries: Sequence[RetroEntry]) -> list[RetroEntry]:
    return [e for e in entries if e.kind == "improve"]


@group.command(("纪要", "汇总", "minutes", "summary"), usage=MINUTES_USAGE, summary="发出复盘纪要（PM）")
def retro_minutes(ctx: Context, _args: Args) -> Reply:
    project = ctx.require_project()
    ctx.require_manager("发复盘纪要")
    entries = retro_entries(ctx.session, project_id=project.id)
    if not entries:
        raise UserError("还没有复盘内容。请大家先发：/复盘 好 … ｜ /复盘 改进 … ｜ /复盘 复用 …")
    sections = retro_sections(ctx, entries)
    people = len({e.author_id for e in entries})
    return Reply(
        f"共 {len(entries)} 条，{people} 人参与。", title=f"复盘纪要：{project.name}", style="report",
        sections=tuple(sections),
    )


def retro_sections(ctx: Context, entries: Sequence[RetroEntry]) -> list[Section]:
    """The entries grouped 做得好 / 待改进 / 可复用, who said each, the action an improvement became."""
    sections: list[Section] = []
    improvements = _improvements(entries)
    for kind, label in KIND_LABELS.items():
        chosen = [e for e in entries if e.kind == kind]
        if not chosen:
            continue
        lines = []
        for entry in chosen:
            prefix = f"{improvements.index(entry) + 1}. " if kind == "improve" else "· "
            action = ""
            if entry.action is not None:
                owner = entry.action.owner
                action = f" → 行动项 A{entry.action.number}（{person(owner)}"
                action += f"，截止 {day(entry.action.due_date, today=ctx.today)}）" if entry.action.due_date else "）"
            lines.append(f"{prefix}{entry.content}（{person(entry.author)}）{action}")
        sections.append(Section(title=f"{label}（{len(chosen)}）", lines=tuple(lines)))
    pending = [i + 1 for i, e in enumerate(improvements) if e.action_id is None]
    if pending:
        sections.append(Section(lines=(
            f"改进 {'、'.join(map(str, pending))} 还没有负责人，转为行动项：{ACTION_USAGE}",
        )))
    return sections


@group.command(("行动", "转行动", "action"), usage=ACTION_USAGE, summary="把一条改进转为行动项（PM 或本人认领）",
               options=("due", "owner"))
def improvement_action(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    if not args.words or not args.words[0].isdigit():
        raise UsageError("请写改进的序号（见 /复盘 纪要）。", ACTION_USAGE)
    number = int(args.words[0])
    improvements = _improvements(retro_entries(ctx.session, project_id=project.id))
    if not 1 <= number <= len(improvements):
        raise UserError(f"没有第 {number} 条改进（共 {len(improvements)} 条，见 /复盘 纪要）。", ACTION_USAGE)
    args.words = args.words[1:]
    entry = improvements[number - 1]
    line, mentions = _make_action(ctx, args, entry, ACTION_USAGE)
    return Reply(f"改进 {number}：{shorten(entry.content, 40)}\n{line}", mentions=mentions)


COMMANDS: tuple[Handler, ...] = (add_good, add_improve, add_reuse, retro_minutes, improvement_action)
GROUPS = (group,)
