"""Every register of a project as tables for one workbook: 任务分工表 (WBS order, importable again),
进度跟踪表 (the weekly table's rows), 风险登记表, 行动项, 决议, 变更申请, 验收记录, 变更记录.

The task sheet's headers are ones the importer recognises (`handlers/sheet_read.py`), and its status
and progress columns are ones it ignores, so a PM can edit the sheet and import it back.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from bot.messages import Attachment, Reply
from models import ActionItem, Change, ChangeRequest, Decision, Member, Project, Risk, Task
from models.calendar import load_calendar
from models.registers import list_actions, list_decisions, list_risks
from models.retro import retro_entries
from models.task import department_names
from reports.closeout import RETRO_LABELS, closeout, percent
from reports.compute_digest import tracking_table
from reports.format import (
    ACTION_STATUS_LABELS,
    RISK_LEVEL_LABELS,
    RISK_STATUS_LABELS,
    RISK_STRATEGY_LABELS,
    TASK_STATUS_LABELS,
    describe_change,
)
from reports.lifecycle import acceptance_lines, change_lines
from reports.plan import PlanTask, load_plan
from reports.text import HEALTH_LABELS
from reports.workbook import CSV_TYPE, XLSX_TYPE, SheetTable, SheetValue, csv_bytes, workbook_bytes

ALL = 1_000_000  # the register functions page; an export takes every row
TASK_HEADER = ("WBS编号", "任务名称", "任务号", "层级", "负责人", "配合部门", "计划开始", "计划完成", "交付物",
               "验收标准", "前置依赖", "状态", "进度", "里程碑")
ENTITY_PREFIX = {"task": "#", "risk": "R", "action": "A", "decision": "D", "change_request": "C"}
ENTITY_LABELS = {"project": "项目", "member": "成员", "retro": "复盘"}


def wbs_codes(tasks: tuple[PlanTask, ...], kept: dict[int, str] | None = None) -> dict[int, str]:
    """Each task's WBS code: the one an import kept (`kept`: task id → code), else `1`, `1.1`, `1.1.1` …
    from the plan's WBS order (each parent before its subtasks), skipping the codes kept by others."""
    kept = kept or {}
    used = set(kept.values())
    codes: dict[int, str] = {}
    counters: dict[str, int] = {}
    for task in tasks:
        if task.id in kept:
            codes[task.id] = kept[task.id]
            continue
        parent = codes.get(task.parent_id) if task.parent_id is not None and task.depth else None
        prefix = parent or ""
        while True:
            counters[prefix] = counters.get(prefix, 0) + 1
            code = f"{prefix}.{counters[prefix]}" if parent else str(counters[prefix])
            if code not in used:
                break
        codes[task.id] = code
    return codes


def _local(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    """Excel has no time zones: the project's local time, without one."""
    return value.astimezone(tz).replace(tzinfo=None, microsecond=0) if value is not None else None


def task_sheet(session: Session, project: Project, at: datetime) -> SheetTable:
    plan = load_plan(session, project, at, calendar=load_calendar(session, project_id=project.id))
    extra: dict[int, tuple[str | None, str | None, str | None]] = {
        task_id: (deliverable, acceptance, code)
        for task_id, deliverable, acceptance, code in session.execute(
            select(Task.id, Task.deliverable, Task.acceptance_criteria, Task.wbs_code).where(Task.project_id == project.id))
    }
    codes = wbs_codes(plan.tasks, {task_id: code for task_id, (_d, _a, code) in extra.items() if code})
    departments = department_names(session, project_id=project.id)
    rows: list[tuple[SheetValue, ...]] = []
    for task in plan.tasks:
        predecessors = "、".join(codes[p] for p in task.predecessors if p in codes)
        deliverable, acceptance, _code = extra.get(task.id, (None, None, None))
        rows.append((codes[task.id], task.title, task.number, task.depth + 1, task.owner,
                     "、".join(departments.get(task.id, ())) or None, task.start_date, task.due_date, deliverable,
                     acceptance, predecessors or None, TASK_STATUS_LABELS[task.status], task.progress,
                     "是" if task.milestone else None))
    return SheetTable("任务分工表", TASK_HEADER, rows)


def tracking_sheet(session: Session, project: Project, at: datetime) -> SheetTable:
    table = tracking_table(session, project, at)
    rows: list[tuple[SheetValue, ...]] = []
    for row in table.rows if table else ():
        task = row.task
        if task.blocked_reason:
            reason = task.blocked_reason
        elif row.done_on is None and task.due_date is not None and task.due_date < row.today:
            reason = f"已过截止 {(row.today - task.due_date).days} 天"
        elif row.planned is not None and task.progress < row.planned:
            reason = f"进度 {task.progress}% 低于应达 {row.planned}%"
        else:
            reason = None
        rows.append((task.number, task.title, row.owner.name if row.owner else None, task.due_date,
                     row.planned, TASK_STATUS_LABELS[task.status], task.progress, row.done_on,
                     HEALTH_LABELS[row.health], reason))
    header = ("任务号", "任务名称", "负责人", "计划完成", "应达进度%", "实际状态", "实际进度%", "完成日期", "状态", "原因")
    return SheetTable("进度跟踪表", header, rows)


def risk_sheet(session: Session, project: Project, tz: ZoneInfo) -> SheetTable:
    risks = sorted(list_risks(session, project_id=project.id, status=None, limit=ALL).rows, key=lambda r: r.number)
    rows: list[tuple[SheetValue, ...]] = [
        (f"R{r.number}", r.description, RISK_LEVEL_LABELS[r.level], r.impact,
         RISK_STRATEGY_LABELS[r.strategy] if r.strategy else None, r.mitigation, r.trigger,
         r.owner.name if r.owner else None, RISK_STATUS_LABELS[r.status], _local(r.created_at, tz),
         _local(r.closed_at, tz))
        for r in risks
    ]
    header = ("编号", "风险描述", "等级", "影响", "应对策略", "应对措施", "触发条件", "负责人", "状态", "登记时间", "关闭时间")
    return SheetTable("风险登记表", header, rows)


def action_sheet(session: Session, project: Project, tz: ZoneInfo) -> SheetTable:
    actions: list[ActionItem] = sorted(
        list_actions(session, project_id=project.id, status=None, limit=ALL).rows, key=lambda a: a.number)
    rows: list[tuple[SheetValue, ...]] = [
        (f"A{a.number}", a.content, a.owner.name if a.owner else None, a.due_date,
         ACTION_STATUS_LABELS[a.status], a.origin, _local(a.created_at, tz), _local(a.done_at, tz))
        for a in actions
    ]
    return SheetTable("行动项", ("编号", "内容", "负责人", "截止", "状态", "来源", "创建时间", "完成时间"), rows)


def decision_sheet(session: Session, project: Project, tz: ZoneInfo) -> SheetTable:
    decisions: list[Decision] = sorted(
        list_decisions(session, project_id=project.id, limit=ALL).rows, key=lambda d: d.number)
    rows: list[tuple[SheetValue, ...]] = [
        (f"D{d.number}", d.content, d.decided_by.name if d.decided_by else None, _local(d.created_at, tz))
        for d in decisions
    ]
    return SheetTable("决议", ("编号", "决议内容", "记录人", "时间"), rows)


def change_request_sheet(session: Session, project: Project, tz: ZoneInfo) -> SheetTable:
    rows: list[tuple[SheetValue, ...]] = [
        (c.ref, c.content, c.reason, c.impact or None, c.status, c.requested_by, _local(c.requested_at, tz),
         c.approved_by, _local(c.decided_at, tz), c.decision_note)
        for c in change_lines(session, project, tz)
    ]
    header = ("编号", "变更内容", "原因", "影响", "状态", "申请人", "申请时间", "批准人", "批准/驳回时间", "驳回原因")
    return SheetTable("变更申请", header, rows)


def acceptance_sheet(session: Session, project: Project, tz: ZoneInfo) -> SheetTable:
    rows: list[tuple[SheetValue, ...]] = [
        (a.task_ref, a.title, a.deliverable, a.criteria, a.round, a.status, a.party, a.decision, a.decided_by,
         _local(a.decided_at, tz), a.note)
        for a in acceptance_lines(session, project, tz)
    ]
    header = ("任务号", "任务名称", "交付物", "验收标准", "轮次", "本轮结果", "验收方", "结论", "确认人", "确认时间", "说明/原因")
    return SheetTable("验收记录", header, rows)


def history_sheet(session: Session, project: Project, tz: ZoneInfo) -> SheetTable:
    numbers: dict[tuple[str, int], int] = {}
    models = (("task", Task), ("risk", Risk), ("action", ActionItem), ("decision", Decision),
              ("change_request", ChangeRequest))
    for entity, model in models:
        for row_id, number in session.execute(select(model.id, model.number).where(model.project_id == project.id)):
            numbers[(entity, row_id)] = number
    actor = aliased(Member)
    rows: list[tuple[SheetValue, ...]] = []
    for change, name in session.execute(
        select(Change, actor.name).outerjoin(actor, actor.id == Change.actor_id)
        .where(Change.project_id == project.id).order_by(Change.at, Change.id)
    ):
        number = numbers.get((change.entity, change.entity_id))
        ref = f"{ENTITY_PREFIX[change.entity]}{number}" if number is not None else ENTITY_LABELS.get(change.entity, change.entity)
        rows.append((_local(change.at, tz), ref, describe_change(change), name))
    return SheetTable("变更记录", ("时间", "对象", "变更", "操作人"), rows)


def closeout_sheet(session: Session, project: Project, at: datetime) -> SheetTable:
    """项目总结报告: the close-out report's figures and lists, one row each (as of now before closing)."""
    report = closeout(session, project, at=at)
    rows: list[tuple[SheetValue, ...]] = [
        ("项目", project.name, f"{report.started.isoformat()} ~ {report.ended.isoformat() if report.ended else '进行中'}"),
    ]
    rows += [("目标", f"{g.index}. {g.goal}", g.result) for g in report.goals]
    rows += [
        ("按时完成率", percent(report.on_time_rate), f"按时 {report.on_time} / 已完成 {len(report.done)}"),
        ("已完成", len(report.done), f"其中无截止日期 {report.done_without_due}" if report.done_without_due else None),
        ("未完成", len(report.unfinished), None),
        ("已取消", len(report.cancelled), None),
    ]
    rows += [
        ("未完成事项", f"#{t.number} {t.title}（{TASK_STATUS_LABELS[t.status]}）", t.reason)
        for t in (*report.unfinished, *report.cancelled)
    ]
    rows += [
        ("里程碑", f"#{m.number} {m.title}",
         f"计划 {m.planned.isoformat() if m.planned else '未定'} · 实际 {m.actual.isoformat() if m.actual else '未完成'}"
         + (f" · 偏差 {m.slip} 个工作日" if m.slip is not None else ""))
        for m in report.milestones
    ]
    rows += [("阻塞天数", b.department, f"{b.days:g} 个工作日（{b.tasks} 个任务）") for b in report.blocked]
    rows += [
        ("风险与问题", f"R{r.number}（{RISK_LEVEL_LABELS[r.level]}）{r.description}",
         RISK_STATUS_LABELS[r.status] + (f"：{r.note}" if r.note else ""))
        for r in report.risks
    ]
    rows += [("决议", f"D{d.number} {d.content}", d.on.isoformat()) for d in report.decisions]
    return SheetTable("项目总结报告", ("分项", "内容", "说明"), rows)


def retro_sheet(session: Session, project: Project, tz: ZoneInfo) -> SheetTable:
    rows: list[tuple[SheetValue, ...]] = [
        (RETRO_LABELS[e.kind], e.content, e.author.name if e.author else None,
         f"A{e.action.number}" if e.action else None, _local(e.created_at, tz))
        for e in retro_entries(session, project_id=project.id)
    ]
    return SheetTable("复盘", ("类别", "内容", "提出人", "行动项", "时间"), rows)


def export_tables(session: Session, project: Project, at: datetime) -> list[SheetTable]:
    tz = ZoneInfo(project.timezone)
    return [
        task_sheet(session, project, at),
        tracking_sheet(session, project, at),
        risk_sheet(session, project, tz),
        action_sheet(session, project, tz),
        decision_sheet(session, project, tz),
        change_request_sheet(session, project, tz),
        acceptance_sheet(session, project, tz),
        history_sheet(session, project, tz),
        closeout_sheet(session, project, at),
        retro_sheet(session, project, tz),
    ]


def _file_name(project: Project, at: datetime, what: str, suffix: str) -> str:
    safe = "".join(ch for ch in project.name if ch not in '\\/:*?"<>|').strip() or "项目"
    return f"{safe}-{what}-{_local(at, ZoneInfo(project.timezone)):%Y%m%d}.{suffix}"


def export_reply(session: Session, project: Project, at: datetime, *, only: str | None = None) -> Reply:
    """The workbook (or, `only` a sheet's title, that table as CSV) as a file attachment."""
    tables = export_tables(session, project, at)
    counts = "，".join(f"{t.title} {len(t.rows)} 行" for t in tables)
    if only is not None:
        table = next(t for t in tables if t.title == only)
        name = _file_name(project, at, table.title, "csv")
        attachment = Attachment("file", name, CSV_TYPE, csv_bytes(table))
        return Reply(f"已导出{table.title}（{len(table.rows)} 行）：{name}", attachments=(attachment,))
    name = _file_name(project, at, "项目台账", "xlsx")
    attachment = Attachment("file", name, XLSX_TYPE, workbook_bytes(tables))
    return Reply(f"已导出项目台账：{name}\n{counts}。\n任务分工表改好后可以再导入。", attachments=(attachment,))
