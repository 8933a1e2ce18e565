"""/任务 and the quick updates (/开始 /完成 /阻塞 /进度, and free text such as “#12 已经完成了”)."""

from __future__ import annotations

import re
from datetime import date

from bot.messages import Mention, Reply
from handlers.common import checked_text, date_option, department_named, history_lines, named_owner
from handlers.context import Context
from handlers.errors import PermissionDenied, UsageError, UserError
from handlers.router import CommandGroup
from handlers.text import Args
from models import (
    Change,
    Department,
    Edit,
    Member,
    Task,
    TaskStatus,
    record_change,
)
from models.base import insert_now
from models.project import allocate_number
from models.registers import TaskFilter
from models.registers import list_tasks as list_task_rows
from models.task import task_neighbours
from reports.format import TASK_STATUS_ICONS, TASK_STATUS_LABELS, day, mention, person, shorten
from reports.format import describe_change as format_change

MAX_TITLE = 200
MAX_NOTE = 500
LIST_LIMIT = 50
TASK_REF = re.compile(r"#(\d{1,9})")

ADD_USAGE = "/任务 新增 <标题> [@负责人] [截止:日期] [开始:日期] [部门:…] [依赖:#3] [父:#1] [交付物:…]"
LIST_USAGE = "/任务 列表 [我的|阻塞|逾期|已完成|全部|@某人] [部门:…]"
START_USAGE = "/开始 #12"
DONE_USAGE = "/完成 #12 [说明]"
BLOCK_USAGE = "/阻塞 #12 <原因>"
PROGRESS_USAGE = "/进度 #12 60% [说明]"

group = CommandGroup(("任务", "task"), summary="任务：新增、列表、查看、更新")


# ---------------------------------------------------------------------------- lookups


def task_number(word: str, usage: str) -> int:
    match = TASK_REF.fullmatch(word.strip())
    if not match:
        raise UsageError(f"“{word}”不是任务编号，任务编号写成 #12。", usage)
    return int(match.group(1))


def require_task(ctx: Context, number: int) -> Task:
    return ctx.require_numbered(Task, number)


def require_updatable(ctx: Context, task: Task) -> Member:
    """The owner, the PM and co-PMs may update a task; an unassigned one, its creator too."""
    sender = ctx.require_sender()
    if sender.is_manager or task.owner_id == sender.id:
        return sender
    if task.owner_id is None and task.created_by_id == sender.id:
        return sender
    raise PermissionDenied(f"#{task.number} 的负责人是 {person(task.owner)}，只有负责人或 PM 可以更新。")


def resolve_department(ctx: Context, name: str) -> Department:
    """A known department; PM and co-PMs may name a new one, which is then added to the project."""
    return department_named(ctx, name, may_create=ctx.is_manager)


def parse_task_refs(ctx: Context, value: str, usage: str) -> list[Task]:
    numbers = [int(n) for n in TASK_REF.findall(value)]
    leftovers = re.sub(r"[,，、;；和\s]+", "", TASK_REF.sub("", value))
    if not numbers or leftovers:
        raise UsageError(f"“{value}”里应当是任务编号，如 #3 或 #3,#5。", usage)
    return [require_task(ctx, n) for n in dict.fromkeys(numbers)]


# ---------------------------------------------------------------------------- /任务 新增


@group.command(
    ("新增", "添加", "新建", "add", "new"),
    usage=ADD_USAGE,
    summary="新增任务（成员可给自己加任务，PM 可指派任何人）",
    options=("due", "start", "dept", "deps", "parent", "deliverable", "owner"),
)
def add_task(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    sender = ctx.require_sender()
    due = date_option(ctx, args, "due", what="截止日期")
    start = date_option(ctx, args, "start", what="开始日期", future=False)
    title = checked_text(args.text, what="任务标题", limit=MAX_TITLE, usage=ADD_USAGE)
    owner = named_owner(ctx, args, what="任务", usage=ADD_USAGE) or sender
    if owner.id != sender.id and not sender.is_manager:
        raise PermissionDenied("成员只能给自己新增任务；给别人派任务请找 PM。")
    if start and due and start > due:
        raise UserError(f"开始日期 {start.isoformat()} 晚于截止日期 {due.isoformat()}。")
    department = resolve_department(ctx, args.options["dept"]) if args.options.get("dept") else None
    predecessors = parse_task_refs(ctx, args.options["deps"], ADD_USAGE) if args.options.get("deps") else []
    parent = parse_task_refs(ctx, args.options["parent"], ADD_USAGE)[0] if args.options.get("parent") else None
    deliverable = checked_text(args.options.get("deliverable", ""), what="交付物描述", limit=200, required=False) or None

    now = ctx.incoming.sent_at
    task = Task(
        project_id=project.id,
        number=allocate_number(ctx.session, project, "next_task_no"),
        title=title,
        owner_id=owner.id,
        department_id=department.id if department else None,
        start_date=start,
        due_date=due,
        status=TaskStatus.TODO,
        progress=0,
        deliverable=deliverable,
        parent_id=parent.id if parent else None,
        created_by_id=sender.id,
        created_at=now,
        updated_at=now,
        status_changed_at=now,
    )
    insert_now(ctx.session, task)
    if predecessors:
        task.predecessors = predecessors
    record_change(
        ctx.session, project_id=project.id, entity="task", entity_id=task.id, actor=sender, at=now,
        field="created", new=title,
    )
    details = [f"负责人 {mention(owner) if owner.id != sender.id else person(owner)}", f"截止 {day(due, today=ctx.today)}"]
    if department:
        details.append(f"部门 {department.name}")
    if predecessors:
        details.append("依赖 " + ",".join(t.ref for t in predecessors))
    if parent:
        details.append(f"父任务 {parent.ref}")
    return Reply(
        f"已新增 {task.ref} {task.title}\n" + " · ".join(details),
        mentions=(Mention(owner.user_id, owner.name),),
    )


# ---------------------------------------------------------------------------- /任务 列表


def task_line(task: Task, today: date) -> str:
    owner = task.owner.name if task.owner else None
    return _line(task.number, task.status, task.progress, task.title, owner, task.due_date, task.blocked_reason, today)


def _line(
    number: int, status: TaskStatus, progress: int, title: str, owner: str | None, due: date | None,
    blocked_reason: str | None, today: date,
) -> str:
    state = f"{TASK_STATUS_ICONS[status]}{TASK_STATUS_LABELS[status]}"
    if status == TaskStatus.IN_PROGRESS and progress:
        state += f" {progress}%"
    parts = [f"#{number} {state} {shorten(title)}", owner or "未指派", f"截止{day(due, today=today)}"]
    if status.is_open and due and due < today:
        parts.append(f"⚠逾期{(today - due).days}天")
    if status == TaskStatus.BLOCKED and blocked_reason:
        parts.append(f"原因：{shorten(blocked_reason, 20)}")
    return " · ".join(parts)


@group.command(
    ("列表", "list", "ls"), usage=LIST_USAGE, summary="列出未完成的任务，可按人、部门、阻塞、逾期筛选", options=("dept",)
)
def list_tasks(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    if len(args.words) > 1 or len(args.mentions) > 1 or (args.words and args.mentions):
        raise UsageError("一次只能用一个筛选条件。", LIST_USAGE)
    title = ""
    department_id: int | None = None
    if args.options.get("dept"):
        department = department_named(ctx, args.options["dept"], may_create=False)
        department_id, title = department.id, f"{department.name} · "
    word = args.words[0].lower() if args.words else ""
    owner_id: int | None = None
    if args.mentions:
        owner = ctx.resolve_member(args.mentions[0])
        kind, owner_id, title = TaskFilter.OWNER, owner.id, f"{title}{owner.name} 的未完成任务"
    elif word in _LIST_FILTERS:
        kind, label = _LIST_FILTERS[word]
        title += label
        if kind == TaskFilter.OWNER:
            owner_id = ctx.require_sender().id
    else:
        raise UsageError(f"不认识筛选条件“{args.words[0]}”。", LIST_USAGE)
    page = list_task_rows(
        ctx.session, project_id=project.id, kind=kind, owner_id=owner_id, department_id=department_id,
        today=ctx.today, limit=LIST_LIMIT,
    )
    if not page.rows:
        return Reply(f"{title}：没有。")
    lines = [
        _line(r.number, r.status, r.progress, r.title, r.owner_name, r.due_date, r.blocked_reason, ctx.today)
        for r in page.rows
    ]
    if page.total > len(page.rows):
        lines.append(f"…另有 {page.total - len(page.rows)} 个未列出，可用 {LIST_USAGE} 缩小范围。")
    return Reply("\n".join(lines), title=f"{title}（{page.total}）")


_OPEN, _MINE = (TaskFilter.OPEN, "未完成的任务"), (TaskFilter.OWNER, "我的未完成任务")
_LIST_FILTERS = {
    "": _OPEN, "open": _OPEN, "未完成": _OPEN, "我的": _MINE, "mine": _MINE, "my": _MINE,
    "阻塞": (TaskFilter.BLOCKED, "阻塞的任务"), "blocked": (TaskFilter.BLOCKED, "阻塞的任务"),
    "逾期": (TaskFilter.OVERDUE, "逾期的任务"), "overdue": (TaskFilter.OVERDUE, "逾期的任务"),
    "全部": (TaskFilter.ALL, "全部任务"), "all": (TaskFilter.ALL, "全部任务"),
    "已完成": (TaskFilter.DONE, "已完成的任务"), "done": (TaskFilter.DONE, "已完成的任务"),
}


# ---------------------------------------------------------------------------- /任务 #12


def _registered_usage(ctx: Context) -> str:
    """/任务's usage as registered, with the subcommands other modules add to it."""
    registered = ctx.registry.find_group(group.names[0])
    return (registered or group).usage


@group.default_command(usage="/任务 #12  或  /task #12 done|start|block <原因>|progress 60%", summary="查看或更新一个任务")
def task_detail(ctx: Context, args: Args) -> Reply:
    if not args.words:
        raise UsageError("缺少任务编号或子指令。", _registered_usage(ctx))
    task = require_task(ctx, task_number(args.words[0], _registered_usage(ctx)))
    if len(args.words) > 1:
        verb, rest = args.words[1].lower(), args.words[2:]
        for names, status in _VERBS:
            if verb in names:
                return _update_from_words(ctx, task, status, rest)
        if verb in ("取消", "cancel"):
            from handlers.task_edits import cancel

            return cancel(ctx, task, " ".join(rest).strip() or None)
        raise UsageError(f"不认识对任务的操作“{args.words[1]}”。", group.default.usage if group.default else None)
    lines = [
        f"状态：{TASK_STATUS_LABELS[task.status]}" + (f" {task.progress}%" if task.progress else ""),
        f"负责人：{person(task.owner)}" + (f" · 部门：{task.department.name}" if task.department else ""),
        f"开始：{day(task.start_date, today=ctx.today)} · 截止：{day(task.due_date, today=ctx.today)}",
    ]
    if task.deliverable:
        lines.append(f"交付物：{task.deliverable}")
    if task.status == TaskStatus.BLOCKED:
        lines.append(f"阻塞原因：{task.blocked_reason or '未说明'}")
    if task.parent:
        lines.append(f"父任务：{task.parent.ref} {shorten(task.parent.title, 20)}")
    neighbours = task_neighbours(ctx.session, task_id=task.id)  # one statement for three collections
    for kind, label in (("child", "子任务"), ("pred", "依赖"), ("succ", "后续")):
        if neighbours[kind]:
            lines.append(f"{label}：" + "，".join(f"#{n}{TASK_STATUS_ICONS[s]}" for n, s in neighbours[kind]))
    lines += history_lines(ctx.session, ctx, entity="task", entity_id=task.id)
    return Reply("\n".join(lines), title=f"{task.ref} {task.title}")


def describe_change(change: Change) -> str:
    return format_change(change)


# ---------------------------------------------------------------------------- status updates


def apply_update(
    ctx: Context,
    task: Task,
    *,
    status: TaskStatus | None = None,
    progress: int | None = None,
    note: str | None = None,
) -> Reply:
    """Change a task's status and/or progress, with a history row per field changed."""
    actor = require_updatable(ctx, task)
    if note and len(note) > MAX_NOTE:
        raise UserError(f"说明太长（{len(note)} 字），请控制在 {MAX_NOTE} 字以内。")
    if task.status == TaskStatus.CANCELLED:
        raise UserError(f"{task.ref} 已取消，不能再更新。")
    if status == TaskStatus.BLOCKED and not note:
        raise UsageError(f"请写上 {task.ref} 阻塞的原因。", BLOCK_USAGE)
    if progress is not None and not 0 <= progress <= 100:
        raise UsageError("进度应在 0% 到 100% 之间。", PROGRESS_USAGE)
    still_blocked = False
    if status is None and progress is not None:
        status = TaskStatus.DONE if progress == 100 else TaskStatus.IN_PROGRESS
        if task.status == TaskStatus.BLOCKED and progress < 100:
            status = TaskStatus.BLOCKED  # progress while blocked keeps the blocker (and its reason) visible
            still_blocked = True
    if status == TaskStatus.DONE:
        progress = 100
    now = ctx.incoming.sent_at
    edit = Edit(ctx.session, task, entity="task", actor=actor, at=now)
    moved = status is not None and status != task.status
    if status is not None and moved:
        edit.status(status, note=note, status_changed_at=now, completed_at=now if status == TaskStatus.DONE else None)
    if status == TaskStatus.BLOCKED and not still_blocked and note != task.blocked_reason:
        edit.set(blocked_reason=note)
    elif status is not None and status != TaskStatus.BLOCKED and task.blocked_reason is not None:
        edit.set(blocked_reason=None)
    if progress is not None and progress != task.progress:
        edit.field("progress", task.progress, progress, note=None if moved else note)
    if not edit.changed:
        if note:
            edit.record("note", note=note)
            edit.apply()
            return Reply(f"已记录 {task.ref} 的说明：{note}")
        return Reply(f"{task.ref} 已经是{TASK_STATUS_LABELS[task.status]}（{task.progress}%），没有变化。")
    edit.apply()
    ready = _unblocked_followers(task)
    text = _update_summary(task, ctx.today, note)
    if ready:
        text += "\n可以开始：" + "，".join(f"{s.ref} {shorten(s.title, 20)}（{mention(s.owner)}）" for s in ready)
    return Reply(text, mentions=tuple(Mention(s.owner.user_id, s.owner.name) for s in ready if s.owner))


def _update_summary(task: Task, today: date, note: str | None) -> str:
    state = TASK_STATUS_LABELS[task.status]
    if task.status in (TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED) and task.progress:
        state += f" {task.progress}%"
    text = f"{task.ref} {shorten(task.title)} → {state}"
    if task.status == TaskStatus.BLOCKED:
        text += f"\n原因：{task.blocked_reason or '未说明'}"
    elif note:
        text += f"\n说明：{note}"
    if task.status.is_open and task.due_date:
        text += f"\n截止 {day(task.due_date, today=today)}"
    return text


def _unblocked_followers(task: Task) -> list[Task]:
    """When a task is done, the tasks it was holding up that are now free to start."""
    if task.status != TaskStatus.DONE:
        return []
    return [
        s for s in task.successors
        if s.status.is_open and all(p.status in (TaskStatus.DONE, TaskStatus.CANCELLED) for p in s.predecessors)
    ]


_PERCENT = re.compile(r"(?<![\d-])(-?\d{1,4})\s*%")


def _update_from_words(ctx: Context, task: Task, status: TaskStatus | None, words: list[str]) -> Reply:
    note = " ".join(words).strip() or None
    if status is None:  # progress
        if words and words[0].lstrip("-").isdigit() and len(words[0]) <= 4:  # “/进度 #12 60”
            return apply_update(ctx, task, progress=int(words[0]), note=" ".join(words[1:]).strip() or None)
        match = _PERCENT.search(note or "")
        if not match:
            raise UsageError("缺少进度百分比。", PROGRESS_USAGE)
        rest = (_PERCENT.sub("", note or "", count=1)).strip() or None
        return apply_update(ctx, task, progress=int(match.group(1)), note=rest)
    return apply_update(ctx, task, status=status, note=note)


_VERBS: tuple[tuple[tuple[str, ...], TaskStatus | None], ...] = (
    (("开始", "start"), TaskStatus.IN_PROGRESS),
    (("完成", "done", "finish"), TaskStatus.DONE),
    (("阻塞", "block", "blocked"), TaskStatus.BLOCKED),
    (("进度", "progress"), None),
)


def _quick(names: tuple[str, ...], status: TaskStatus | None, usage: str, summary: str) -> CommandGroup:
    """A top-level shortcut such as `/完成 #12`, the same update as `/task #12 done`."""
    quick = CommandGroup(names, summary=summary)

    @quick.default_command(usage=usage, summary=summary)
    def run(ctx: Context, args: Args) -> Reply:
        if not args.words:
            raise UsageError("缺少任务编号。", usage)
        task = require_task(ctx, task_number(args.words[0], usage))
        return _update_from_words(ctx, task, status, args.words[1:])

    return quick


START = _quick(("开始", "start"), TaskStatus.IN_PROGRESS, START_USAGE, "开始任务：#12 → 进行中")
DONE = _quick(("完成", "done"), TaskStatus.DONE, DONE_USAGE, "完成任务")
BLOCK = _quick(("阻塞", "block"), TaskStatus.BLOCKED, BLOCK_USAGE, "标记阻塞并写明原因")
PROGRESS = _quick(("进度", "progress"), None, PROGRESS_USAGE, "更新进度百分比")


# ---------------------------------------------------------------------------- free text

FREE_TEXT_USAGE = "#12 完成 ｜ #7 阻塞 <原因> ｜ #3 进度 80% [说明] ｜ #12 开始 ｜ /任务 #12 查看"
_DONE_WORDS = r"(?:已经?|都)?(?:完成|做完|做好|搞定|弄完|弄好|结束|好了|done|finished|complete)(?!前|之前|后|以后|时|的|度)了?"
_FREE_DONE = re.compile(_DONE_WORDS, re.IGNORECASE)
_FREE_BLOCKED = re.compile(r"(?:卡住|卡在|阻塞|受阻|被卡|blocked|stuck)了?", re.IGNORECASE)
_FREE_STARTED = re.compile(r"(?:开始做?|在做|着手|进行中|started|working on|start)了?", re.IGNORECASE)
_FREE_PROGRESS = re.compile(
    r"(?:进度|progress)\s*(?:到了?|为|是|:)?\s*(-?\d{1,4})\s*%?(?!\d)|(?:完成了?\s*)?(?<![\d-])(-?\d{1,4})\s*%",
    re.IGNORECASE,
)
_LEADING_REFS = re.compile(r"(?:任务\s*)?((?:#\d{1,9}[\s,，、和]*)+)")
_NEGATED = re.compile(r"(?:没有?|未|不|别|尚未|还没有?|not|n't)\s*$", re.IGNORECASE)
_QUESTION = re.compile(r"[吗?？]|多少|怎么样|如何")
_LEADING_PUNCT = re.compile(r"^[\s,，。:：;；、]+|[\s,，。;；、]+$")


def free_text_update(ctx: Context, text: str) -> Reply | None:
    """“#12 已经完成了”, “#7 卡住了，等接口”, “#3 进度80% 明天联调”, “#3 80%”, “#3 #4 完成”.

    None when the message does not start with a task ref. A ref with no status the bot is sure of
    changes nothing and says what was understood.
    """
    match = _LEADING_REFS.match(text)
    if not match:
        return None
    numbers = list(dict.fromkeys(int(n) for n in TASK_REF.findall(match.group(1))))
    rest = text[match.end():].strip()
    tasks = [require_task(ctx, n) for n in numbers]
    refs = "、".join(t.ref for t in tasks)
    if not rest:
        if len(tasks) == 1:
            return task_detail(ctx, Args(words=[tasks[0].ref]))
        raise UsageError(f"看到了 {refs}，但没说要更新成什么。", FREE_TEXT_USAGE)
    if _QUESTION.search(rest):
        lines = [task_line(t, ctx.today) for t in tasks]
        return Reply("\n".join([*lines, f"要更新请直接说，例如：{tasks[0].ref} 完成"]))
    parsed = _parse_status(rest)
    if parsed is None:
        about = f"{tasks[0].ref} {shorten(tasks[0].title, 20)}" if len(tasks) == 1 else refs
        raise UsageError(f"看到了 {about}，但没看懂“{shorten(rest, 20)}”要更新成什么，所以没有改动。", FREE_TEXT_USAGE)
    status, progress, note = parsed
    replies = [apply_update(ctx, task, status=status, progress=progress, note=note) for task in tasks]
    return Reply(
        "\n\n".join(r.text for r in replies),
        mentions=tuple(dict.fromkeys(m for r in replies for m in r.mentions)),
    )


def _parse_status(rest: str) -> tuple[TaskStatus | None, int | None, str | None] | None:
    """(status, progress, note) from the words after the refs; None when no status is certain."""
    if m := _FREE_PROGRESS.search(rest):
        return None, int(m.group(1) or m.group(2)), _remainder(rest, m)
    for pattern, status in (
        (_FREE_BLOCKED, TaskStatus.BLOCKED),
        (_FREE_DONE, TaskStatus.DONE),
        (_FREE_STARTED, TaskStatus.IN_PROGRESS),
    ):
        m = pattern.search(rest)
        if m is None:
            continue
        if _NEGATED.search(rest[: m.start()]):
            return None  # “还没完成”, “没有卡住”: not a status change the bot should guess
        return status, None, _remainder(rest, m)
    return None


def _remainder(rest: str, match: re.Match[str]) -> str | None:
    """What is left around the status words: the note (“等接口”, “明天联调”)."""
    left = " ".join((rest[: match.start()] + " " + rest[match.end():]).split())
    return _LEADING_PUNCT.sub("", left) or None


SHORTCUTS = (START, DONE, BLOCK, PROGRESS)  # /开始 /完成 /阻塞 /进度
