"""/任务: add tasks, list them, show one (and update it: `handlers.task_updates`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from bot.messages import Mention, Reply
from handlers.buttons import task_actions, undoable, with_buttons
from handlers.common import checked_text, date_option, department_named, history_lines, named_owner, yes_no
from handlers.context import Context
from handlers.errors import PermissionDenied, UsageError, UserError
from handlers.router import CommandGroup
from handlers.task_edits import cancel
from handlers.task_refs import MAX_TITLE, parse_task_refs, require_task, resolve_department, task_number
from handlers.task_updates import VERBS, update_from_words
from handlers.text import Args
from models import Task, TaskStatus
from models.card_views import item_view
from models.registers import TaskFilter
from models.registers import list_tasks as list_task_rows
from models.task import task_neighbours
from models.task_create import NewTask, create_task
from reports.forecast import load_forecast
from reports.format import TASK_STATUS_ICONS, TASK_STATUS_LABELS, day, mention, person, shorten
from reports.plan import looks_like_milestone

LIST_LIMIT = 50
ADD_USAGE = "/任务 新增 <标题> [@负责人] [截止:日期] [开始:日期] [部门:…] [依赖:#3] [父:#1] [交付物:…] [里程碑:是|否]"
LIST_USAGE = "/任务 列表 [我的|阻塞|逾期|已完成|全部|@某人] [部门:…]"

group = CommandGroup(("任务", "task"), summary="任务：新增、列表、查看、更新")


# ---------------------------------------------------------------------------- /任务 新增


@group.command(
    ("新增", "添加", "新建", "add", "new"),
    usage=ADD_USAGE,
    summary="新增任务（成员可给自己加任务，PM 可指派任何人）",
    options=("due", "start", "dept", "deps", "parent", "deliverable", "owner", "milestone"),
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
    milestone = yes_no(args.options["milestone"], ADD_USAGE) if "milestone" in args.options else looks_like_milestone(title)

    spec = NewTask(title, owner_id=owner.id, department_id=department.id if department else None, start=start,
                   due=due, deliverable=deliverable, parent_id=parent.id if parent else None, milestone=milestone)
    task = create_task(ctx.session, project, spec, actor=sender, at=ctx.incoming.sent_at)
    if predecessors:
        task.predecessors = predecessors
    details = [f"负责人 {mention(owner) if owner.id != sender.id else person(owner)}", f"截止 {day(due, today=ctx.today)}"]
    if department:
        details.append(f"部门 {department.name}")
    if predecessors:
        details.append("依赖 " + ",".join(t.ref for t in predecessors))
    if parent:
        details.append(f"父任务 {parent.ref}")
    if milestone:
        details.append("里程碑")
    return Reply(
        f"已新增 {task.ref} {task.title}\n" + " · ".join(details),
        mentions=(Mention(owner.user_id, owner.name),),
    )


# ---------------------------------------------------------------------------- /任务 列表


def task_line(task: Task, today: date) -> str:
    owner = task.owner.name if task.owner else None
    return _line(
        task.number, task.status, task.progress, task.title, owner, task.due_date, task.blocked_reason, today,
        milestone=task.is_milestone,
    )


MILESTONE_MARK = "◆"  # after the number of a milestone in lists


def _line(
    number: int, status: TaskStatus, progress: int, title: str, owner: str | None, due: date | None,
    blocked_reason: str | None, today: date, *, milestone: bool = False,
) -> str:
    state = f"{TASK_STATUS_ICONS[status]}{TASK_STATUS_LABELS[status]}"
    if status == TaskStatus.IN_PROGRESS and progress:
        state += f" {progress}%"
    parts = [f"#{number}{MILESTONE_MARK if milestone else ''} {state} {shorten(title)}", owner or "未指派",
             f"截止{day(due, today=today)}"]
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
        _line(r.number, r.status, r.progress, r.title, r.owner_name, r.due_date, r.blocked_reason, ctx.today,
              milestone=r.is_milestone)
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


def _forecast_line(ctx: Context, task: Task) -> str:
    """Where the forecast (`reports.forecast`) puts a task linked to others: its finish, slip and slack."""
    _, _, result = load_forecast(ctx.session, ctx.require_project(), ctx.incoming.sent_at)
    own = result.get(task.id)
    if own is None:
        return "预测：暂无"
    text = f"预测：{day(own.finish, today=ctx.today)} 完成"
    text += f" · 晚 {own.slip} 个工作日" if own.slip else " · 按时"
    if own.slack is not None:
        text += f" · 余量 {own.slack} 个工作日"
    if task.id in result.critical_path:
        text += "（关键路径）"
    return text


def _registered_usage(ctx: Context) -> str:
    """/任务's usage as registered, with the subcommands other modules add to it."""
    registered = ctx.registry.find_group(group.names[0])
    return (registered or group).usage


@group.default_command(usage="/任务 #12 [完成|开始|阻塞 <原因>|进度 60%]", summary="查看或更新一个任务")
def task_detail(ctx: Context, args: Args) -> Reply:
    if not args.words:
        raise UsageError("缺少任务编号或子指令。", _registered_usage(ctx))
    task = require_task(ctx, task_number(args.words[0], _registered_usage(ctx)))
    if len(args.words) > 1:
        verb, rest = args.words[1].lower(), args.words[2:]
        for names, status in VERBS:
            if verb in names:
                return undoable(ctx, update_from_words(ctx, task, status, rest))
        if verb in ("取消", "cancel"):
            return cancel(ctx, task, " ".join(rest).strip() or None)
        raise UsageError(f"不认识对任务的操作“{args.words[1]}”。", group.default.usage if group.default else None)
    return task_card(ctx, task)


def task_card(ctx: Context, task: Task) -> Reply:
    """`/任务 #12`: the task's details, history and the buttons valid for it now; kept up to date
    (its view: a card pressed or the task changed is shown again, handlers/card_refresh)."""
    lines = [
        f"状态：{TASK_STATUS_LABELS[task.status]}" + (f" {task.progress}%" if task.progress else ""),
        f"负责人：{person(task.owner)}" + (f" · 部门：{'、'.join(d.name for d in task.departments)}" if task.departments else ""),
        f"开始：{day(task.start_date, today=ctx.today)} · 截止：{day(task.due_date, today=ctx.today)}",
    ]
    if task.is_milestone:
        lines.append("里程碑：是")
    if task.deliverable:
        lines.append(f"交付物：{task.deliverable}")
    if task.acceptance_criteria:
        lines.append(f"验收标准：{task.acceptance_criteria}")
    if task.wbs_code:
        lines.append(f"WBS编号：{task.wbs_code}")
    if task.status == TaskStatus.BLOCKED:
        lines.append(f"阻塞原因：{task.blocked_reason or '未说明'}")
    if task.parent:
        lines.append(f"父任务：{task.parent.ref} {shorten(task.parent.title, 20)}")
    neighbours = task_neighbours(ctx.session, task_id=task.id)  # one statement for three collections
    for kind, label in (("child", "子任务"), ("pred", "依赖"), ("succ", "后续")):
        if neighbours[kind]:
            lines.append(f"{label}：" + "，".join(f"#{n}{TASK_STATUS_ICONS[s]}" for n, s in neighbours[kind]))
    if task.status.is_open and task.due_date and (task.is_milestone or neighbours["pred"] or neighbours["succ"]):
        lines.append(_forecast_line(ctx, task))
    lines += history_lines(ctx.session, ctx, entity="task", entity_id=task.id)
    detail = Reply("\n".join(lines), title=f"{task.ref} {task.title}")
    if ctx.project is None:  # a closed project, read only
        return detail
    return with_buttons(replace(detail, view=item_view("task", task.id)), *task_actions(task))
