"""/任务 修改 | 取消 | 恢复 | 依赖: changing a task after it was added (subcommands of the /任务 group).

Every change writes one history row per field (who, when, from → to, note); a refused change leaves
nothing behind (the dispatcher's savepoint rolls back).
"""

from __future__ import annotations

from bot.messages import Mention, Reply
from handlers import due_moves
from handlers.common import checked_text, date_option, department_named, is_clear, log_change, named_owner, yes_no
from handlers.context import Context
from handlers.errors import PermissionDenied, UsageError, UserError
from handlers.router import CommandSet
from handlers.task_refs import MAX_NOTE, MAX_TITLE, parse_task_refs, require_task, require_updatable, task_number
from handlers.text import Args
from models import Edit, Task, TaskStatus
from models.snapshots import FIELD_COLUMNS, PREDECESSORS, column_values
from models.task import dependency_edges, parent_links
from reports.format import TASK_STATUS_ICONS, TASK_STATUS_LABELS, day, mention, person, shorten

EDIT_USAGE = (
    "/任务 修改 #12 [标题:…] [@新负责人] [截止:日期|无] [开始:日期|无] [部门:…|无] [交付物:…|无] [父:#1|无] "
    "[里程碑:是|否] [说明:…]"
)
CANCEL_USAGE = "/任务 取消 #12 [原因]"
REOPEN_USAGE = "/任务 恢复 #12"
DEPS_USAGE = "/任务 依赖 #12 #3,#4  ｜ /任务 依赖 #12 去掉 #3  ｜ /任务 依赖 #12 清空"
_REMOVE_WORDS = frozenset({"去掉", "删除", "移除", "取消", "不依赖", "remove", "rm", "del", "drop", "-"})
_CLEAR_ALL = frozenset({"清空", "全部去掉", "clear", "none", "无"})

commands = CommandSet()  # subcommands of /任务 (handlers.tasks.group)
_EDITED_FIELDS = ("title", "owner", "due", "start", "dept", "deliverable", "parent", "milestone")



def _task_from_words(ctx: Context, args: Args, usage: str) -> Task:
    if not args.words:
        raise UsageError("缺少任务编号。", usage)
    return require_task(ctx, task_number(args.words[0], usage))


def _note(args: Args, words: list[str]) -> str | None:
    parts = [*words, args.options.get("note", "")]
    note = " ".join(p for p in parts if p).strip()
    if len(note) > MAX_NOTE:
        raise UserError(f"说明太长（{len(note)} 字），请控制在 {MAX_NOTE} 字以内。")
    return note or None


# ---------------------------------------------------------------------------- /任务 修改


@commands.command(
    ("修改", "改", "编辑", "edit", "change"),
    usage=EDIT_USAGE,
    summary="修改负责人、日期、标题、部门、交付物、父任务（负责人本人或 PM）",
    options=("title", "owner", "due", "start", "dept", "deliverable", "parent", "milestone", "note"),
)
def edit_task(ctx: Context, args: Args) -> Reply:
    task = _task_from_words(ctx, args, EDIT_USAGE)
    actor = require_updatable(ctx, task)
    if task.status == TaskStatus.CANCELLED:
        raise UserError(f"{task.ref} 已取消，不能修改。要恢复请用 {REOPEN_USAGE}")
    before = column_values(task, tuple(FIELD_COLUMNS[f] for f in _EDITED_FIELDS))  # for undo
    changes: list[tuple[str, str | None, str | None]] = []  # field, old, new (display text)
    lines: list[str] = []
    mentions: list[Mention] = []

    if "title" in args.options:
        title = checked_text(args.options["title"], what="任务标题", limit=MAX_TITLE, usage=EDIT_USAGE)
        if title != task.title:
            changes.append(("title", task.title, title))
            lines.append(f"标题 → {shorten(title)}")
            task.title = title

    owner = named_owner(ctx, args, what="任务", usage=EDIT_USAGE)
    if owner is not None and owner.id != task.owner_id:
        if not actor.is_manager:
            raise PermissionDenied(f"只有 PM 可以改派 {task.ref} 的负责人。")
        changes.append(("owner", person(task.owner), owner.name))
        lines.append(f"负责人 {person(task.owner)} → {mention(owner)}")
        mentions.append(Mention(owner.user_id, owner.name))
        task.owner = owner

    due, start = task.due_date, task.start_date
    if "due" in args.options:
        due = None if is_clear(args.options["due"]) else date_option(ctx, args, "due", what="截止日期")
    if "start" in args.options:
        start = None if is_clear(args.options["start"]) else date_option(ctx, args, "start", what="开始日期", future=False)
    if start and due and start > due:
        raise UserError(f"开始日期 {start.isoformat()} 晚于截止日期 {due.isoformat()}。", EDIT_USAGE)
    note = _note(args, args.words[1:])
    warnings: list[str] = []
    requested = False
    if due != task.due_date and due_moves.needs_approval(ctx, task, actor, due):
        request, asked = due_moves.request_move(ctx, task, actor, due, note)
        lines.append(request)
        mentions += asked
        requested = True
    elif due != task.due_date:
        changes.append(("due", _iso(task.due_date), _iso(due)))
        lines.append(f"截止 {day(task.due_date, today=ctx.today)} → {day(due, today=ctx.today)}")
        warnings += due_moves.successor_warnings(ctx, task, due)
        ctx.slip_checks.setdefault(task.id, task.due_date)
        task.due_date = due
    if start != task.start_date:
        changes.append(("start", _iso(task.start_date), _iso(start)))
        lines.append(f"开始 {day(task.start_date, today=ctx.today)} → {day(start, today=ctx.today)}")
        task.start_date = start

    if "dept" in args.options:
        value = args.options["dept"]
        department = None if is_clear(value) else department_named(ctx, value, may_create=actor.is_manager)
        if (department.id if department else None) != task.department_id:
            old = task.department.name if task.department else None
            changes.append(("dept", old, department.name if department else None))
            lines.append(f"部门 {old or '无'} → {department.name if department else '无'}")
            task.department = department

    if "deliverable" in args.options:
        value = args.options["deliverable"]
        deliverable = None if is_clear(value) else checked_text(value, what="交付物描述", limit=200, usage=EDIT_USAGE)
        if deliverable != task.deliverable:
            changes.append(("deliverable", task.deliverable, deliverable))
            lines.append(f"交付物 → {deliverable or '无'}")
            task.deliverable = deliverable

    if "parent" in args.options:
        value = args.options["parent"]
        parent = None if is_clear(value) else _single_ref(ctx, value, EDIT_USAGE)
        if parent is not None:
            _check_parent(ctx, task, parent)
        if (parent.id if parent else None) != task.parent_id:
            changes.append(("parent", task.parent.ref if task.parent else None, parent.ref if parent else None))
            lines.append(f"父任务 → {parent.ref + ' ' + shorten(parent.title, 20) if parent else '无'}")
            task.parent = parent

    if "milestone" in args.options:
        milestone = yes_no(args.options["milestone"], EDIT_USAGE)
        if milestone != task.is_milestone:
            changes.append(("milestone", _yes(task.is_milestone), _yes(milestone)))
            lines.append(f"里程碑 {_yes(task.is_milestone)} → {_yes(milestone)}")
            task.is_milestone = milestone

    for word in args.words[1:]:
        key = word.partition(":")[0]
        if ":" in word and key.lower() in ("依赖", "前置", "dep", "deps", "depends"):
            raise UsageError("依赖请用专门的指令修改。", DEPS_USAGE)
    if not changes and requested:
        task.updated_at = ctx.incoming.sent_at
        return Reply(f"{task.ref} {shorten(task.title)}\n" + "\n".join(lines), mentions=tuple(mentions))
    if not changes:
        if args.words[1:] and "title" not in args.options:
            raise UsageError("没有要修改的内容。改标题请写 标题:新标题。", EDIT_USAGE)
        raise UsageError(f"{task.ref} 没有变化。", EDIT_USAGE)
    for field, old, new in changes:
        column = FIELD_COLUMNS[field]
        log_change(ctx, "task", task, actor, field, old, new, note, before={column: before[column]})
    task.updated_at = ctx.incoming.sent_at
    text = f"已修改 {task.ref} {shorten(task.title)}\n" + "\n".join(lines)
    if note:
        text += f"\n说明：{note}"
    if warnings:
        text += "\n" + "\n".join(warnings)
    return Reply(text, mentions=tuple(mentions))


def _yes(value: bool) -> str:
    return "是" if value else "否"


def _iso(value: object) -> str | None:
    return value.isoformat() if value is not None and hasattr(value, "isoformat") else None


def _single_ref(ctx: Context, value: str, usage: str) -> Task:
    found = parse_task_refs(ctx, value, usage)
    if len(found) != 1:
        raise UsageError("父任务只能有一个。", usage)
    return found[0]


def _check_parent(ctx: Context, task: Task, parent: Task) -> None:
    """A task cannot be its own parent, nor the parent of one of its ancestors."""
    if parent.id == task.id:
        raise UserError(f"{task.ref} 不能做自己的父任务。")
    parents = parent_links(ctx.session, project_id=task.project_id)
    numbers = {task_id: number for task_id, (number, _) in parents.items()}
    chain, current = [parent.id], parents[parent.id][1]
    while current is not None and len(chain) <= len(parents):
        chain.append(current)
        if current == task.id:
            path = " → ".join(f"#{numbers[i]}" for i in reversed(chain))
            raise UserError(f"{parent.ref} 是 {task.ref} 的子任务（{path}），不能反过来做它的父任务。")
        current = parents[current][1]


# ---------------------------------------------------------------------------- /任务 取消 · 恢复


@commands.command(("取消", "cancel"), usage=CANCEL_USAGE, summary="取消任务并写明原因（负责人本人或 PM）")
def cancel_task(ctx: Context, args: Args) -> Reply:
    task = _task_from_words(ctx, args, CANCEL_USAGE)
    return cancel(ctx, task, _note(args, args.words[1:]))


def cancel(ctx: Context, task: Task, reason: str | None) -> Reply:
    actor = require_updatable(ctx, task)
    if task.status == TaskStatus.CANCELLED:
        raise UserError(f"{task.ref} 已经取消了。")
    if task.status == TaskStatus.DONE:
        raise UserError(f"{task.ref} 已完成，不能取消。")
    now = ctx.incoming.sent_at
    edit = Edit(ctx.session, task, entity="task", actor=actor, at=now)
    ctx.slip_checks.setdefault(task.id, task.due_date)
    edit.status(TaskStatus.CANCELLED, note=reason, status_changed_at=now, blocked_reason=None)
    edit.apply()
    text = f"已取消 {task.ref} {shorten(task.title)}" + (f"\n原因：{reason}" if reason else "")
    waiting = [s for s in task.successors if s.status.is_open]
    if waiting:
        refs = "，".join(s.ref for s in waiting)
        text += f"\n注意：{refs} 依赖它，请确认是否调整（/任务 依赖 {waiting[0].ref} 去掉 {task.ref}）。"
    children = [c for c in task.children if c.status.is_open]
    if children:
        text += f"\n注意：子任务 {'，'.join(c.ref for c in children)} 仍未完成。"
    return Reply(text)


@commands.command(("恢复", "reopen"), usage=REOPEN_USAGE, summary="恢复已取消的任务（仅 PM）")
def reopen_task(ctx: Context, args: Args) -> Reply:
    task = _task_from_words(ctx, args, REOPEN_USAGE)
    actor = ctx.require_manager("恢复已取消的任务")
    if task.status != TaskStatus.CANCELLED:
        raise UserError(f"{task.ref} 没有取消（现在是{TASK_STATUS_LABELS[task.status]}），不需要恢复。")
    now = ctx.incoming.sent_at
    edit = Edit(ctx.session, task, entity="task", actor=actor, at=now)
    edit.status(TaskStatus.TODO, note=_note(args, args.words[1:]), status_changed_at=now, completed_at=None)
    edit.apply()
    return Reply(f"已恢复 {task.ref} {shorten(task.title)} → 待开始 · 负责人 {person(task.owner)}")


# ---------------------------------------------------------------------------- /任务 依赖


@commands.command(
    ("依赖", "前置", "dep", "deps", "depends"),
    usage=DEPS_USAGE,
    summary="设置前置任务：添加、去掉或清空（负责人本人或 PM）",
)
def task_dependencies(ctx: Context, args: Args) -> Reply:
    task = _task_from_words(ctx, args, DEPS_USAGE)
    rest = args.words[1:]
    if not rest:
        current = "，".join(f"{p.ref}{TASK_STATUS_ICONS[p.status]}" for p in task.predecessors) or "无"
        return Reply(f"{task.ref} 的前置任务：{current}\n用法：{DEPS_USAGE}")
    actor = require_updatable(ctx, task)
    if task.status == TaskStatus.CANCELLED:
        raise UserError(f"{task.ref} 已取消，不能修改依赖。")
    before = [p.ref for p in task.predecessors]
    before_ids = column_values(task, (PREDECESSORS,))  # for undo
    verb = rest[0].lower()
    if verb in _CLEAR_ALL and len(rest) == 1:
        if not task.predecessors:
            raise UserError(f"{task.ref} 没有前置任务。")
        task.predecessors = []
        summary = f"已清空 {task.ref} 的前置任务（原来：{'，'.join(before)}）"
    elif verb in _REMOVE_WORDS or verb.startswith("-"):
        value = " ".join(rest[1:]) if verb in _REMOVE_WORDS else " ".join(rest).lstrip("-")
        targets = parse_task_refs(ctx, value, DEPS_USAGE)
        missing = [t.ref for t in targets if t not in task.predecessors]
        if missing:
            raise UserError(f"{task.ref} 本来就不依赖 {'，'.join(missing)}。")
        task.predecessors = [p for p in task.predecessors if p not in targets]
        summary = f"{task.ref} 不再依赖 {'，'.join(t.ref for t in targets)}"
    else:
        targets = parse_task_refs(ctx, " ".join(rest), DEPS_USAGE)
        new = [t for t in targets if t not in task.predecessors]
        if not new:
            raise UserError(f"{task.ref} 已经依赖 {'，'.join(t.ref for t in targets)}。")
        _check_no_cycle(ctx, task, new)
        task.predecessors = sorted([*task.predecessors, *new], key=lambda t: t.number)
        summary = f"{task.ref} 现在依赖 {'，'.join(t.ref for t in new)}"
    after = [p.ref for p in task.predecessors]
    log_change(ctx, "task", task, actor, "deps", ",".join(before) or None, ",".join(after) or None, None, before=before_ids)
    task.updated_at = ctx.incoming.sent_at
    listed = "，".join(f"{p.ref}{TASK_STATUS_ICONS[p.status]}" for p in task.predecessors) or "无"
    return Reply(f"{summary}\n{task.ref} {shorten(task.title)} 的前置任务：{listed}")


def _check_no_cycle(ctx: Context, task: Task, new: list[Task]) -> None:
    """Refuse self-dependency and any edge that closes a loop (one query for the project's edges)."""
    for predecessor in new:
        if predecessor.id == task.id:
            raise UserError(f"{task.ref} 不能依赖自己。")
    edges = dependency_edges(ctx.session, project_id=task.project_id)
    numbers = {task.id: task.number, **{t.id: t.number for t in new}}
    numbers.update(edges.numbers)
    for predecessor in new:
        # A loop exists when `task` is already (transitively) a predecessor of `predecessor`.
        path = _path(edges.predecessors, predecessor.id, task.id)
        if path is not None:
            shown = " → ".join(f"#{numbers[i]}" for i in path)
            raise UserError(
                f"不能让 {task.ref} 依赖 {predecessor.ref}：{predecessor.ref} 已经依赖 {task.ref}（{shown}），会形成循环。"
            )


def _path(predecessors: dict[int, list[int]], start: int, goal: int) -> list[int] | None:
    """A chain start → … → goal following predecessor links, or None (iterative DFS)."""
    stack: list[tuple[int, list[int]]] = [(start, [start])]
    seen = {start}
    while stack:
        node, path = stack.pop()
        for nxt in predecessors.get(node, ()):
            if nxt == goal:
                return [*path, nxt]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None

