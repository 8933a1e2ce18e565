"""/项目 结项 | 历史 | 重开: closing a project (only its PM, confirmed by typing), its history, reopening.

A closed project stays readable: until the group creates a new one, the read-only commands
(`READ_ONLY`) answer from the most recently closed project, saying so; everything else is refused
with what can still be done (`closed_refusal`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from zoneinfo import ZoneInfo

from bot.messages import Button, Reply, Section
from handlers import closeout_report, retro
from handlers.context import Context
from handlers.errors import PermissionDenied, UsageError, UserError
from handlers.router import CommandSet, Handler
from handlers.text import Args
from models import Member, Project, ProjectStatus, RiskLevel, Role, Task, TaskStatus, find_member, record_change
from models.acceptance import ACCEPTANCE_LABELS, Acceptance, unaccepted_deliverables
from models.closed import ProjectRecord, TaskOutcome, closed_projects, project_record
from models.retro import retro_entries
from reports.format import RISK_LEVEL_LABELS, day, shorten

commands = CommandSet()
CLOSE_USAGE = "/项目 结项 [确认|强制]"
CONFIRM = "/项目 结项 确认"
FORCE = "/项目 结项 强制"  # closes although deliverables are not accepted (the PM says so explicitly)
HISTORY_USAGE = "/项目 历史 [名称]"
REOPEN_USAGE = "/项目 重开"
LIST_LIMIT = 10  # tasks named per category in a summary


@commands.command(("结项", "close"), usage=CLOSE_USAGE, summary="结束项目并输出总结（仅 PM，需确认）")
def close_project(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    pm = _require_pm(ctx, "结项")
    record = project_record(ctx.session, project_id=project.id)
    word = args.text.strip().lower()
    forced = word in ("强制", "force")
    unaccepted = unaccepted_deliverables(ctx.session, project_id=project.id)
    if word not in ("确认", "confirm", "yes") and not forced:
        if args.text.strip():
            raise UsageError(f"没看懂“{shorten(args.text, 20)}”。确认结项请发送：{CONFIRM}", CLOSE_USAGE)
        lines = [
            f"确认要结项“{project.name}”吗？结项后不再发日报和提醒，数据仍可查看，PM 可以 {REOPEN_USAGE}。",
            *summary_lines(project, record)[:4],
        ]
        if unaccepted:
            lines += [*_unaccepted_lines(unaccepted), f"仍要结项请发送：{FORCE}"]
            return Reply("\n".join(lines), buttons=(Button("强制结项", FORCE, (pm.user_id,), "danger"),))
        lines.append(f"确认请发送：{CONFIRM}")
        return Reply("\n".join(lines), buttons=(Button("确认结项", CONFIRM, (pm.user_id,), "danger"),))
    if unaccepted and not forced:
        raise UserError("\n".join([
            "还有交付物没有通过验收，暂不能结项。", *_unaccepted_lines(unaccepted),
            f"请先完成验收（/验收 列表），或由 PM 明确强制结项：{FORCE}",
        ]))
    project.status = ProjectStatus.CLOSED
    project.closed_at = ctx.incoming.sent_at
    record_change(
        ctx.session, project_id=project.id, entity="project", entity_id=project.id, actor=pm,
        at=ctx.incoming.sent_at, field="status", old="active", new="closed",
        note=f"强制结项：{len(unaccepted)} 项交付物未通过验收" if unaccepted else None,
    )
    _, report = closeout_report.report_for(ctx, project)
    if unaccepted:  # said in the report kept with the project, not only in this reply
        forced_line = f"强制结项：{len(unaccepted)} 项交付物未通过验收（" + "，".join(t.ref for t, _ in unaccepted) + "）"
        report = replace(report, sections=(Section(lines=(forced_line,)), *report.sections))
    project.summary = report.plain_text()
    hints = (
        "复盘：请大家补充 /复盘 好 <内容> ｜ /复盘 改进 <内容> ｜ /复盘 复用 <内容>，PM 发 /复盘 纪要 汇总。",
        f"填写目标结果：{closeout_report.GOAL_RESULT_USAGE} ；存为模板：/项目 存为模板 <名称>",
        f"查看：{HISTORY_USAGE} ；新项目：/项目 创建 <名称>",
    )
    return replace(
        report, title=f"项目“{project.name}”已结项 · 项目总结报告", sections=(*report.sections, Section(lines=hints))
    )


@commands.command(("历史", "history"), usage=HISTORY_USAGE, summary="本群已结项的项目（加名称看总结）", needs_project=False)
def project_history(ctx: Context, args: Args) -> Reply:
    incoming = ctx.incoming
    closed = closed_projects(ctx.session, platform=incoming.platform, chat_id=incoming.chat_id)
    if not closed:
        raise UserError("本群还没有已结项的项目。")
    wanted = args.text.strip()
    if not wanted:
        lines = [f"{p.name} · {day(p.created_at.date())} ~ {day(p.closed_at.date() if p.closed_at else None)}" for p in closed]
        lines.append(f"看总结：{HISTORY_USAGE}")
        return Reply("\n".join(lines), title=f"已结项的项目（{len(closed)}）")
    project = _named(closed, wanted)
    report = closeout_report.report_for(ctx, project)[1]
    entries = retro_entries(ctx.session, project_id=project.id)
    retro_part = (Section(title=f"复盘（{len(entries)} 条）"), *retro.retro_sections(ctx, entries)) if entries else ()
    return replace(report, title=f"项目总结：{project.name}", sections=(*report.sections, *retro_part))


@commands.command(("重开", "reopen"), usage=REOPEN_USAGE, summary="重新打开最近结项的项目（仅其 PM）", needs_project=False)
def reopen_project(ctx: Context, _args: Args) -> Reply:
    if ctx.project is not None:
        raise UserError(f"本群已经有进行中的项目“{ctx.project.name}”，不能再重开别的项目。")
    project = ctx.closed_project
    if project is None:
        raise UserError("本群没有可以重开的项目。")
    member = find_member(ctx.session, project_id=project.id, user_id=ctx.incoming.sender_id)
    if member is None or member.role != Role.PM:
        raise PermissionDenied(f"只有项目“{project.name}”的 PM 可以重开它。")
    project.status, project.closed_at = ProjectStatus.ACTIVE, None
    ctx.session.flush()  # the one-active-project index is checked here, inside the command's savepoint
    record_change(
        ctx.session, project_id=project.id, entity="project", entity_id=project.id, actor=member,
        at=ctx.incoming.sent_at, field="status", old="closed", new="active",
    )
    ctx.project, ctx.sender, ctx.closed_project = project, member, None
    return Reply(f"已重开项目“{project.name}”，日报和提醒恢复。")


# ---------------------------------------------------------------------------- the summary


def summary_lines(project: Project, record: ProjectRecord, *, today: date | None = None) -> list[str]:
    """Counts, then what was completed (late ones marked), left open, cancelled; open risks; dates.
    Open tasks are late against the closing day (before closing: `today`)."""
    tasks = record.tasks
    done = [t for t in tasks if t.status == TaskStatus.DONE]
    cancelled = [t for t in tasks if t.status == TaskStatus.CANCELLED]
    unfinished = [t for t in tasks if t.status not in (TaskStatus.DONE, TaskStatus.CANCELLED)]
    tz = ZoneInfo(project.timezone)  # days are the project's local days, as in the report's on-time rate
    closed_on = project.closed_at.astimezone(tz).date() if project.closed_at else (
        today or project.created_at.astimezone(tz).date())
    late = [t for t in done if _late(t, tz)] + [t for t in unfinished if t.due_date and t.due_date < closed_on]
    lines = [
        f"周期：{day(project.created_at.astimezone(tz).date())} ~ "
        f"{day(project.closed_at.astimezone(tz).date()) if project.closed_at else '进行中'}"
        + (f" · 计划截止 {day(project.deadline)}" if project.deadline else ""),
        f"任务 {len(tasks)} 个：完成 {len(done)}（其中逾期完成 {sum(1 for t in done if _late(t, tz))}），"
        f"未完成 {len(unfinished)}，取消 {len(cancelled)}",
        f"未关闭风险 {len(record.open_risks)} 个 · 未完成行动项 {record.open_actions} 个",
    ]
    for title, items in (("已完成", done), ("逾期", late), ("未完成", unfinished), ("已取消", cancelled)):
        _named_tasks(lines, title, items)
    if record.open_risks:
        lines.append(f"未关闭风险（{len(record.open_risks)}）")
        lines += [
            f"  R{r.number}（{RISK_LEVEL_LABELS[r.level]}）{shorten(r.description, 30)}"
            for r in sorted(record.open_risks, key=lambda r: r.level != RiskLevel.HIGH)[:LIST_LIMIT]
        ]
    return lines


def _unaccepted_lines(unaccepted: Sequence[tuple[Task, Acceptance | None]]) -> list[str]:
    lines = [f"未通过验收的交付物（{len(unaccepted)}）："]
    for task, current in unaccepted[:LIST_LIMIT]:
        state = "未发起验收" if current is None else ACCEPTANCE_LABELS[current.status]
        lines.append(f"  {task.ref} {shorten(task.title, 30)} · {state}")
    if len(unaccepted) > LIST_LIMIT:
        lines.append(f"  …另有 {len(unaccepted) - LIST_LIMIT} 项")
    return lines


def _late(task: TaskOutcome, tz: ZoneInfo) -> bool:
    return bool(task.due_date and task.completed_at and task.completed_at.astimezone(tz).date() > task.due_date)


def _named_tasks(lines: list[str], title: str, items: Sequence[TaskOutcome]) -> None:
    if not items:
        return
    lines.append(f"{title}（{len(items)}）")
    for t in items[:LIST_LIMIT]:
        lines.append(f"  #{t.number} {shorten(t.title, 30)}" + (f" · 截止{day(t.due_date)}" if t.due_date else ""))
    if len(items) > LIST_LIMIT:
        lines.append(f"  …另有 {len(items) - LIST_LIMIT} 项")


# ---------------------------------------------------------------------------- a closed project, read only


def read_only_commands() -> frozenset[Handler]:
    """What still answers from the most recently closed project (the task details only when shown, not
    when the words after the id would change it)."""
    from handlers import acceptance, change_requests, export, projects, schedule_views, tasks

    return frozenset({
        tasks.list_tasks, tasks.task_detail, schedule_views.show_weekly, projects.project_info, export.export_registers,
        change_requests.list_changes, acceptance.list_acceptance,
    })


def after_close_commands() -> frozenset[Handler]:
    """What still works on the most recently closed project and is not read only: the close-out
    report, the goals' results, the retrospective and saving the project as a template."""
    from handlers import templates

    return frozenset({
        closeout_report.show_report, closeout_report.goal_result, templates.save_template, *retro.COMMANDS,
    })


def enter_closed(ctx: Context, func: Handler, args: Args) -> bool:
    """Let a read-only command (or one of `after_close_commands`) see the group's most recently closed
    project; False when it may not."""
    project = ctx.closed_project
    if project is None:
        return False
    from handlers import schedule_settings, tasks

    goal_setting = (
        func is schedule_settings.project_settings and bool(args.words)
        and args.words[0].lower() in closeout_report.GOAL_RESULT_NAMES
    )
    if func not in read_only_commands() and func not in after_close_commands() and not goal_setting:
        return False
    if func is tasks.task_detail and len(args.words) > 1:
        return False
    ctx.project = project
    ctx.sender = find_member(ctx.session, project_id=project.id, user_id=ctx.incoming.sender_id)
    return True


def is_read_only(func: Handler) -> bool:
    return func in read_only_commands()


def mark_read_only(project: Project, reply: Reply) -> Reply:
    note = f"（项目“{project.name}”已结项，以下为只读记录）"
    return replace(reply, text=f"{note}\n{reply.text}" if reply.text else note)


def closed_refusal(project: Project) -> str:
    return (
        f"本群的项目“{project.name}”已结项（{day(project.closed_at.date()) if project.closed_at else ''}），只能查看："
        "/任务 列表 全部 ｜ /任务 #N ｜ /周报 ｜ /项目 历史 ｜ /项目 总结 ｜ /复盘。"
        f"PM 可以 {REOPEN_USAGE}，或 /项目 创建 <名称> 开始新项目。"
    )


def _require_pm(ctx: Context, action: str) -> Member:
    sender = ctx.require_sender()
    if sender.role != Role.PM:
        raise PermissionDenied(f"只有项目经理（PM）可以{action}，副PM 不行。")
    return sender


def _named(projects: Sequence[Project], wanted: str) -> Project:
    exact = [p for p in projects if p.name == wanted]
    if exact:
        return exact[0]  # the most recently closed of that name
    partial = [p for p in projects if wanted in p.name]
    if len(partial) == 1:
        return partial[0]
    names = "、".join(p.name for p in (partial or projects)[:5])
    if partial:
        raise UserError(f"有 {len(partial)} 个项目名称含“{shorten(wanted, 20)}”：{names}。请写全名。")
    raise UserError(f"本群没有叫“{shorten(wanted, 20)}”的已结项项目。已结项的有：{names}")
