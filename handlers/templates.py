"""模板沉淀: `/项目 存为模板 <名称>` keeps a project's WBS and risk checklist; `/项目 创建 <名称> 模板:<名称>
开始:<日期>` lays it out on the working calendar, shows the preview, and creates it on the requester's
`确认` (or the button); `/模板 列表` and `/模板 <名称>` show what there is.

Templates belong to the platform's workspace (any group of the company can use them). The layout waits
in `template_layout` (one per person and group) for ten minutes: the group has no project yet, so the
members' pending-update store cannot hold it. Owners are not carried over: each task keeps its
department and waits for the PM to assign it.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.messages import Button, Reply, Section, Table
from handlers.common import MAX_DEPARTMENT, checked_text, date_option
from handlers.confirm import answer
from handlers.context import Context
from handlers.errors import UsageError, UserError
from handlers.router import CommandGroup, CommandSet
from handlers.text import Args
from models import Project, ProjectTemplate, Risk, RiskStatus, Task, get_or_create_department, record_change
from models.base import insert_now
from models.calendar import WorkCalendar, load_calendar, national_calendar
from models.project import allocate_number
from models.task_create import NewTask, create_tasks, link_new_tasks
from models.template import ask_layout, find_template, list_templates, take_layout
from reports.format import RISK_LEVEL_LABELS, day, shorten
from reports.templates import Layout, lay_out, template_body

commands = CommandSet()  # /项目 存为模板 (handlers.projects.group)
group = CommandGroup(("模板", "template", "templates"), summary="项目模板：列表、查看（/项目 存为模板 保存）")
SAVE_USAGE = "/项目 存为模板 <名称> [覆盖]"
FROM_TEMPLATE_USAGE = "/项目 创建 <名称> 模板:<模板名> 开始:<日期>"
DETAIL_USAGE = "/模板 <名称>"
MAX_NAME = 100
CONFIRM_WINDOW = timedelta(minutes=10)
PREVIEW_ROWS = 30
_OVERWRITE = ("覆盖", "替换", "overwrite", "replace")


# ---------------------------------------------------------------------------- saving


@commands.command(
    ("存为模板", "保存模板", "save-template", "save-as-template"), usage=SAVE_USAGE,
    summary="把本项目的任务分解和风险清单存为模板（PM）",
)
def save_template(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    pm = ctx.require_manager("存为模板")
    words = list(args.words)
    overwrite = bool(words) and words[-1].lower() in _OVERWRITE
    if overwrite:
        words.pop()
    name = checked_text(" ".join(words), what="模板名称", limit=MAX_NAME, usage=SAVE_USAGE)
    body = template_body(ctx.session, project_id=project.id, calendar=load_calendar(ctx.session, project_id=project.id))
    if not body["tasks"]:
        raise UserError("项目还没有任务，没有可以存为模板的内容。", SAVE_USAGE)
    found = find_template(ctx.session, platform=project.platform, name=name)
    if found is not None and not overwrite:
        raise UserError(
            f"已有模板“{name}”（来自项目“{found.source_name}”，{found.saved_by} 保存）。"
            f"换个名称，或覆盖：/项目 存为模板 {name} 覆盖"
        )
    if found is None:
        ctx.session.add(ProjectTemplate(
            platform=project.platform, name=name, source_project_id=project.id, source_name=project.name,
            saved_by=pm.name, saved_at=ctx.incoming.sent_at, body=body,
        ))
    else:
        found.body, found.source_project_id, found.source_name = body, project.id, project.name
        found.saved_by, found.saved_at = pm.name, ctx.incoming.sent_at
    record_change(
        ctx.session, project_id=project.id, entity="project", entity_id=project.id, actor=pm,
        at=ctx.incoming.sent_at, field="template", new=name, note="覆盖" if found is not None else None,
    )
    tasks = body["tasks"]
    dated = sum(1 for t in tasks if t["offset"] is not None)
    lines = [
        f"已{'覆盖' if found is not None else '保存'}模板“{name}”：任务 {len(tasks)} 个（里程碑 "
        f"{sum(1 for t in tasks if t['milestone'])}，有日期 {dated}），风险 {len(body['risks'])} 条，"
        f"部门：{'、'.join(body['departments']) or '无'}。",
        "日期按工作日偏移保存（从最早开始日算起）。",
        f"用它创建新项目：/项目 创建 <名称> 模板:{name} 开始:<日期>",
    ]
    return Reply("\n".join(lines))


# ---------------------------------------------------------------------------- /模板


@group.command(("列表", "list", "ls"), usage="/模板 列表", summary="本平台保存的项目模板", needs_project=False)
def template_list(ctx: Context, _args: Args) -> Reply:
    found = list_templates(ctx.session, platform=ctx.incoming.platform)
    if not found:
        raise UserError(f"还没有项目模板。PM 可以在项目群里保存：{SAVE_USAGE}")
    lines = [
        f"{t.name} · 任务 {len(t.body.get('tasks', []))} · 风险 {len(t.body.get('risks', []))} · "
        f"来自“{t.source_name}” · {t.saved_by} {day(t.saved_at.date())}"
        for t in found
    ]
    lines.append(f"查看：/模板 <名称> ；使用：{FROM_TEMPLATE_USAGE}")
    return Reply("\n".join(lines), title=f"项目模板（{len(found)}）")


@group.default_command(usage=DETAIL_USAGE, summary="查看一个模板的任务和风险", needs_project=False)
def template_detail(ctx: Context, args: Args) -> Reply:
    if not args.words:
        return template_list(ctx, args)
    template = _template(ctx, args.text.strip())
    layout = lay_out(template.body, start=ctx.today, calendar=WorkCalendar(national_calendar()))
    rows = tuple(
        (_task_label(t.key, t.title, t.milestone), t.department or "—",
         _offset(item), (t.acceptance and shorten(t.acceptance, 20)) or "—")
        for t, item in zip(layout.tasks[:PREVIEW_ROWS], template.body["tasks"], strict=False)
    )
    sections = [Section(table=Table(("任务", "部门", "工作日", "验收标准"), rows))]
    if layout.risks:
        sections.append(Section(title="风险清单", lines=tuple(
            f"（{RISK_LEVEL_LABELS[r.level]}）{shorten(r.title, 40)}" for r in layout.risks
        )))
    return Reply(
        f"来自项目“{template.source_name}”，{template.saved_by} 保存。使用：/项目 创建 <名称> 模板:{template.name} 开始:<日期>",
        title=f"模板：{template.name}", sections=tuple(sections),
    )


def _offset(item: dict[str, Any]) -> str:
    if item["offset"] is None:
        return "无日期"
    return f"第 {item['offset'] + 1} 天起 {item['duration'] or 1} 天"


def _task_label(key: int, title: str, milestone: bool) -> str:
    return f"{key}. {shorten(title, 24)}" + ("（里程碑）" if milestone else "")


def _template(ctx: Context, name: str) -> ProjectTemplate:
    found = find_template(ctx.session, platform=ctx.incoming.platform, name=name)
    if found is None:
        names = [t.name for t in list_templates(ctx.session, platform=ctx.incoming.platform)]
        known = f"现有模板：{'、'.join(names[:10])}" if names else f"还没有项目模板（PM 可以 {SAVE_USAGE}）"
        raise UserError(f"没有叫“{shorten(name, 30)}”的模板。{known}", FROM_TEMPLATE_USAGE)
    return found


# ---------------------------------------------------------------------------- creating from a template


def preview_layout(
    ctx: Context, args: Args, *, name: str, goal: str | None, deadline: date | None, departments: list[str]
) -> Reply:
    """`/项目 创建 … 模板:… 开始:…`: the plan laid out, kept for the sender's 确认; nothing created yet."""
    template = _template(ctx, args.options["template"].strip())
    if not args.options.get("start"):
        raise UsageError("按模板创建需要开始日期，写 开始:2026-10-08。", FROM_TEMPLATE_USAGE)
    start = date_option(ctx, args, "start", what="开始日期", future=False)
    assert start is not None
    for department in departments:
        checked_text(department, what="部门名称", limit=MAX_DEPARTMENT, usage=FROM_TEMPLATE_USAGE)
    layout = lay_out(template.body, start=start, calendar=WorkCalendar(national_calendar()))
    request = {
        "name": name, "goal": goal, "deadline": deadline.isoformat() if deadline else None,
        "departments": departments, "start": start.isoformat(),
    }
    incoming = ctx.incoming
    ask_layout(
        ctx.session, platform=incoming.platform, chat_id=incoming.chat_id, user_id=incoming.sender_id,
        template_id=template.id, at=incoming.sent_at, request=request,
    )
    sections = _layout_sections(layout)
    minutes = int(CONFIRM_WINDOW.total_seconds() // 60)
    sections.append(Section(lines=(f"确认创建请回复：确认（{minutes} 分钟内有效）；不要了请回复：取消",)))
    text = [
        f"将按模板“{template.name}”创建项目“{name}”：任务 {len(layout.tasks)} 个"
        f"（里程碑 {sum(1 for t in layout.tasks if t.milestone)}），风险 {len(layout.risks)} 条。",
        f"排期按工作日（含法定节假日和调休）：{day(layout.start)} 起" + (f"，至 {day(layout.end)}" if layout.end else "") + "。",
    ]
    if layout.start != start:
        text.append(f"（{day(start)} 不是工作日，从下一个工作日 {day(layout.start)} 开始）")
    return Reply(
        "\n".join(text), title=f"预览：按模板创建“{shorten(name, 30)}”", sections=tuple(sections),
        buttons=(Button("确认", "确认", (incoming.sender_id,), "primary"),),
    )


def _layout_sections(layout: Layout) -> list[Section]:
    rows = tuple(
        (_task_label(t.key, t.title, t.milestone), t.department or "—",
         f"{day(t.start)} ~ {day(t.due)}" if t.start else "无日期",
         ",".join(str(d) for d in t.deps) or "—")
        for t in layout.tasks[:PREVIEW_ROWS]
    )
    sections = [Section(title="任务（负责人待按部门指派）", table=Table(("任务", "部门", "开始 ~ 截止", "依赖"), rows))]
    if len(layout.tasks) > PREVIEW_ROWS:
        sections.append(Section(lines=(f"…另有 {len(layout.tasks) - PREVIEW_ROWS} 个任务",)))
    if layout.risks:
        sections.append(Section(title="风险清单", lines=tuple(
            f"（{RISK_LEVEL_LABELS[r.level]}）{shorten(r.title, 40)}" for r in layout.risks
        )))
    return sections


def settle_layout(ctx: Context, text: str) -> Reply | None:
    """A yes or no from someone with a layout waiting in this group; None: not about one."""
    said = answer(text)
    if said is None or ctx.project is not None:
        return None
    incoming = ctx.incoming
    waiting = take_layout(ctx.session, platform=incoming.platform, chat_id=incoming.chat_id, user_id=incoming.sender_id)
    if waiting is None:
        return None
    request = waiting.request
    if not said:
        return Reply(f"好的，没有创建项目“{request['name']}”。")
    if incoming.sent_at - waiting.asked_at > CONFIRM_WINDOW:
        minutes = int(CONFIRM_WINDOW.total_seconds() // 60)
        return Reply(f"这个预览已经过期（超过 {minutes} 分钟），没有创建。请重新发送 {FROM_TEMPLATE_USAGE}")
    template = ctx.session.get(ProjectTemplate, waiting.template_id)
    if template is None:
        raise UserError("这个模板已经不在了，没有创建。")
    return _create(ctx, template, request)


def _create(ctx: Context, template: ProjectTemplate, request: dict[str, Any]) -> Reply:
    from handlers.projects import new_project

    departments = list(dict.fromkeys([*request.get("departments", []), *template.body.get("departments", [])]))
    project, pm = new_project(
        ctx, name=request["name"], goal=request.get("goal"),
        deadline=date.fromisoformat(request["deadline"]) if request.get("deadline") else None, departments=departments,
    )
    ctx.now = ctx.incoming.sent_at.astimezone(ZoneInfo(project.timezone))
    ctx.session.flush()
    calendar = load_calendar(ctx.session, project_id=project.id)
    layout = lay_out(template.body, start=date.fromisoformat(request["start"]), calendar=calendar)
    record_change(
        ctx.session, project_id=project.id, entity="project", entity_id=project.id, actor=pm,
        at=ctx.incoming.sent_at, field="template", new=template.name, note=f"开始 {layout.start.isoformat()}",
    )
    now = ctx.incoming.sent_at
    department_ids: dict[str, int] = {}
    for name in dict.fromkeys(laid.department for laid in layout.tasks if laid.department):
        department_ids[name] = get_or_create_department(ctx.session, project=project, name=name).id
    specs = [
        NewTask(laid.title, department_id=department_ids.get(laid.department) if laid.department else None,
                start=laid.start, due=laid.due, deliverable=laid.deliverable, acceptance=laid.acceptance,
                wbs_code=laid.wbs, milestone=laid.milestone)
        for laid in layout.tasks
    ]
    tasks = create_tasks(ctx.session, project, specs, actor=pm, at=now, note=f"模板 {template.name}")
    by_key = {laid.key: task for laid, task in zip(layout.tasks, tasks, strict=True)}
    link_new_tasks(
        ctx.session, tasks,
        parents={by_key[laid.key].id: by_key[laid.parent].id
                 for laid in layout.tasks if laid.parent is not None and laid.parent in by_key},
        edges=[(by_key[laid.key].id, by_key[k].id) for laid in layout.tasks for k in laid.deps if k in by_key],
    )
    for laid_risk in layout.risks:
        risk = Risk(
            project_id=project.id, number=allocate_number(ctx.session, project, "next_risk_no"),
            description=laid_risk.title, level=laid_risk.level, status=RiskStatus.OPEN, created_by_id=pm.id,
            created_at=now, updated_at=now,
        )
        insert_now(ctx.session, risk)
        record_change(
            ctx.session, project_id=project.id, entity="risk", entity_id=risk.id, actor=pm, at=now,
            field="created", new=shorten(laid_risk.title, 60), note=f"模板 {template.name}",
        )
    ctx.session.flush()
    return Reply(
        "\n".join([
            f"已按模板“{template.name}”创建项目“{project.name}”，PM：{pm.name}",
            f"任务 {len(layout.tasks)} 个（#1–#{len(layout.tasks)}），风险 {len(layout.risks)} 条，"
            f"{day(layout.start)} 起" + (f"，至 {day(layout.end)}" if layout.end else ""),
            *_assignments(project, layout, by_key),
            "指派负责人：/任务 修改 #N @负责人 ；添加成员：/成员 添加 @某人 部门:研发部",
        ]),
        title=f"项目“{project.name}”已创建",
    )


def _assignments(project: Project, layout: Layout, by_key: dict[int, Task]) -> list[str]:
    """Tasks waiting for an owner, by department."""
    grouped: dict[str, list[str]] = {}
    for laid in layout.tasks:
        grouped.setdefault(laid.department or "未分部门", []).append(by_key[laid.key].ref)
    return [f"待指派 · {dept}：{' '.join(refs)}" for dept, refs in grouped.items()]


GROUPS = (group,)
