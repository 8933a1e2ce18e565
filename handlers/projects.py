"""/项目: create the group's project, show it, close it."""

from __future__ import annotations

from datetime import date

from bot.messages import Reply
from handlers.charter import CHARTER_SET_USAGE, charter_lines
from handlers.common import MAX_DEPARTMENT, checked_text
from handlers.context import Context
from handlers.dates import parse_future_date
from handlers.errors import UsageError, UserError
from handlers.router import CommandGroup
from handlers.text import Args
from models import (
    OPEN_TASK_STATUSES,
    Member,
    Project,
    ProjectStatus,
    Role,
    TaskStatus,
    ensure_member,
    get_or_create_department,
    record_change,
)
from models.registers import managers as project_managers
from models.registers import task_status_counts
from reports.format import day, person

MAX_NAME = 100
group = CommandGroup(("项目", "project"), summary="项目：创建、信息、章程、结项、总结、历史、设置、存为模板")
CREATE_USAGE = "/项目 创建 <名称> [目标:…] [截止:日期] [部门:研发部,市场部] [模板:<模板名> 开始:日期]"


@group.command(
    ("创建", "新建", "init", "create"),
    usage=CREATE_USAGE,
    summary="把本群绑定到一个新项目，创建者成为 PM",
    options=("goal", "due", "dept", "template", "start"),
    needs_project=False,
)
def create_project(ctx: Context, args: Args) -> Reply:
    if ctx.project is not None:
        raise UserError(f"本群已经有进行中的项目“{ctx.project.name}”。结项后才能创建新项目（/项目 结项）。")
    name = args.text.strip()
    if not name:
        raise UsageError("缺少项目名称。", CREATE_USAGE)
    if len(name) > MAX_NAME:
        raise UsageError(f"项目名称太长（{len(name)} 字），请控制在 {MAX_NAME} 字以内。", CREATE_USAGE)
    deadline = parse_future_date(args.options["due"], today=ctx.today) if "due" in args.options else None
    goal = checked_text(args.options.get("goal", ""), what="项目目标", limit=500, usage=CREATE_USAGE, required=False)
    departments = list(dict.fromkeys(d for d in _split_list(args.options.get("dept", "")) if d))
    for name_ in departments:
        checked_text(name_, what="部门名称", limit=MAX_DEPARTMENT, usage=CREATE_USAGE)
    if "start" in args.options and "template" not in args.options:
        raise UsageError("开始日期用于按模板创建：/项目 创建 <名称> 模板:<模板名> 开始:<日期>。", CREATE_USAGE)
    if "template" in args.options:
        from handlers.templates import preview_layout

        return preview_layout(ctx, args, name=name, goal=goal or None, deadline=deadline, departments=departments)
    project, pm = new_project(ctx, name=name, goal=goal or None, deadline=deadline, departments=departments)
    lines = [f"已创建项目“{project.name}”，PM：{pm.name}"]
    if project.goal:
        lines.append(f"目标：{project.goal}")
    if deadline:
        lines.append(f"截止：{day(deadline, today=ctx.today)}")
    if departments:
        lines.append(f"部门：{'、'.join(departments)}")
    lines.append("下一步：/任务 新增 <标题> @负责人 截止:日期 ；/成员 添加 @某人 部门:研发部")
    return Reply("\n".join(lines))


def new_project(
    ctx: Context, *, name: str, goal: str | None, deadline: date | None, departments: list[str]
) -> tuple[Project, Member]:
    """The group's new active project, its sender the PM, its departments, and the history row."""
    incoming = ctx.incoming
    project = Project(
        platform=incoming.platform,
        chat_id=incoming.chat_id,
        name=name,
        goal=goal,
        deadline=deadline,
        created_at=incoming.sent_at,
        status=ProjectStatus.ACTIVE,
    )
    ctx.session.add(project)
    ctx.session.flush()
    pm = ensure_member(
        ctx.session, project=project, user_id=incoming.sender_id, name=incoming.sender_name, now=ctx.now,
        role=Role.PM,
    )
    pm.last_seen_at = incoming.sent_at
    for name_ in departments:
        get_or_create_department(ctx.session, project=project, name=name_)
    ctx.project, ctx.sender = project, pm
    record_change(
        ctx.session, project_id=project.id, entity="project", entity_id=project.id, actor=pm,
        at=incoming.sent_at, field="created", new=project.name,
    )
    return project, pm


@group.command(("信息", "info", "show"), usage="/项目 信息", summary="项目概况")
def project_info(ctx: Context, _args: Args) -> Reply:
    project = ctx.require_project()
    counts = task_status_counts(ctx.session, project_id=project.id)
    open_count = sum(counts.get(s, 0) for s in OPEN_TASK_STATUSES)
    managers = project_managers(ctx.session, project_id=project.id)
    lines = [
        f"PM：{'、'.join(person(m) for m in managers) or '无'}",
        *charter_lines(project)[:2],
        f"截止：{day(project.deadline, today=ctx.today)}",
        *charter_lines(project)[3:],
        f"成员：{len(project.members)} 人",
        f"任务：未完成 {open_count}（阻塞 {counts.get(TaskStatus.BLOCKED, 0)}），"
        f"已完成 {counts.get(TaskStatus.DONE, 0)}",
        f"日报提醒：{'已暂停' if project.paused else project.daily_prompt_time.strftime('%H:%M')}",
    ]
    lines.append(f"章程确认：/项目 章程 ；修改：{CHARTER_SET_USAGE}")
    return Reply("\n".join(lines), title=f"项目：{project.name}")


def _split_list(value: str) -> list[str]:
    return [part.strip() for part in value.replace("、", ",").replace("，", ",").split(",")]

