"""Pure builders: (session, project, at) → Reply | None. They read, never write, never read the clock.

`at` is the moment the message is for (the slot's time, or a `/议程` message's own time); every date in
the text is that moment's date in the project's time zone. Passing a `Snapshot` shared by many
projects lets the scheduler build for a whole batch of projects with a constant number of statements.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache, partial
from operator import itemgetter
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.messages import Mention, Reply
from models import ActionStatus, Project, RiskLevel, RiskStatus, TaskStatus
from models.calendar import WorkCalendar, load_calendar
from reports.format import (
    RISK_LEVEL_LABELS,
    RISK_STRATEGY_LABELS,
    TASK_STATUS_ICONS,
    TASK_STATUS_LABELS,
    day,
    shorten,
)
from reports.snapshot import ActionRow, MemberRow, RiskRow, Snapshot, TaskDetail, TaskRow

ANSWER_HINT = "直接回复即可更新：#12 完成 ｜ #12 阻塞 原因 ｜ #12 进度 60%"
PER_OWNER_LIMIT = 10  # tasks listed per person in the prompt; the rest are counted
SECTION_LIMIT = 20  # lines per section in agendas and digests
TABLE_LIMIT = 60  # rows of the tracking table (the rest are counted)
SLIP_MARGIN = 20  # percentage points behind the linear plan that count as slipping
MEETING_WINDOW = timedelta(hours=2)  # minutes go out at its end, with what was recorded during it
ESCALATE_AFTER = timedelta(hours=24)  # blocked / high risk unchanged, not counting days off
LONG_BLOCK = timedelta(hours=48)  # blocked this long (working time): the agenda asks for a decision

HEALTH_OK, HEALTH_LATE, HEALTH_RISK = "正常", "延迟", "风险"

# Reminder and escalation job names: also the JobRun.job of each incident.
REMIND_DUE = "remind-due"
REMIND_OVERDUE = "remind-overdue"
ESCALATE_BLOCKED = "escalate-blocked"
ESCALATE_RISK = "escalate-risk"


# ---------------------------------------------------------------------------- shared helpers


def local_time(project: Project, at: datetime) -> datetime:
    return at.astimezone(ZoneInfo(project.timezone))


def day_start(project: Project, on: date) -> datetime:
    """Local midnight, as UTC (arithmetic on datetimes sharing a ZoneInfo is wall-clock, not exact)."""
    return datetime.combine(on, time(0), ZoneInfo(project.timezone)).astimezone(UTC)


def _snapshot(session: Session, project: Project, at: datetime, data: Snapshot | None) -> Snapshot:
    if data is not None and data.covers(project.id):
        return data
    return Snapshot(session, [project.id], at=at)


def _calendar(session: Session, project: Project, calendar: WorkCalendar | None) -> WorkCalendar:
    return calendar if calendar is not None else load_calendar(session, project_id=project.id)


def at_marker(member: MemberRow) -> str:
    """The mention marker (as reports.format.mention), for a row instead of an ORM member."""
    return f"<@{member.user_id}>"


def mentions_of(members: Iterable[MemberRow]) -> tuple[Mention, ...]:
    seen: dict[str, Mention] = {}
    for m in members:
        seen.setdefault(m.user_id, Mention(m.user_id, m.name))
    return tuple(seen.values())


def managers(members: dict[int, MemberRow]) -> list[MemberRow]:
    """PM first, then co-PMs."""
    return sorted((m for m in members.values() if m.is_manager), key=lambda m: (m.role != "pm", m.id))


def name_of(members: dict[int, MemberRow], member_id: int | None) -> str:
    member = members.get(member_id) if member_id is not None else None
    return member.name if member else "未指派"


def is_overdue(task: TaskRow, today: date) -> bool:
    return task.is_open and task.due_date is not None and task.due_date < today


def urgency(task: TaskRow, today: date) -> tuple[int, date, int]:
    """Overdue first (oldest first), then by due date (undated last), then by number."""
    due = task.due_date
    return (0 if due is not None and due < today and task.is_open else 1, due or date.max, task.number)


def task_brief(task: TaskRow, today: date, *, with_status: bool = True) -> str:
    """`#3 写发布稿 · 截止11-20(周五) ⚠逾期3天 · 🔵进行中 60%` (the blocker's reason when blocked)."""
    text = f"#{task.number} {shorten(task.title)} · {_due_label(task.due_date, today, task.is_open)}"
    if with_status:
        text += " · " + _status_label(task.status, task.progress)
    if task.status == TaskStatus.BLOCKED and task.blocked_reason:
        text += f" · 原因：{shorten(task.blocked_reason, 24)}"
    return text


@lru_cache(maxsize=4096)
def _due_label(due: date | None, today: date, is_open: bool) -> str:
    label = f"截止{day(due, today=today)}"
    if is_open and due is not None and due < today:
        label += f" ⚠逾期{(today - due).days}天"
    return label


@lru_cache(maxsize=512)
def _status_label(status: TaskStatus, progress: int) -> str:
    label = f"{TASK_STATUS_ICONS[status]}{TASK_STATUS_LABELS[status]}"
    if progress and status in (TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED):
        label += f" {progress}%"
    return label


def planned_start(detail: TaskDetail | None, tz: ZoneInfo) -> date | None:
    if detail is None:
        return None
    return detail.start_date or detail.created_at.astimezone(tz).date()


def planned_progress(start: date | None, due: date | None, today: date) -> int | None:
    """The linear plan: 0% on the start date, 100% on the due date."""
    if due is None:
        return None
    if today >= due:
        return 100
    if start is None or today <= start:
        return 0
    return round(100 * (today - start).days / max((due - start).days, 1))


def behind_plan(task: TaskRow, detail: TaskDetail | None, today: date, tz: ZoneInfo) -> int | None:
    """How many points the task is behind its linear plan (None when not behind by SLIP_MARGIN)."""
    plan = planned_progress(planned_start(detail, tz), task.due_date, today)
    if plan is None:
        return None
    gap = plan - task.progress
    return gap if gap >= SLIP_MARGIN else None


def health(task: TaskRow, detail: TaskDetail | None, today: date, tz: ZoneInfo) -> str:
    """The tracking table's 状态: 延迟 = late already, 风险 = blocked or behind plan, else 正常."""
    if task.status == TaskStatus.DONE:
        done_on = detail.completed_at.astimezone(tz).date() if detail and detail.completed_at else today
        return HEALTH_LATE if task.due_date and done_on > task.due_date else HEALTH_OK
    if is_overdue(task, today):
        return HEALTH_LATE
    if task.status == TaskStatus.BLOCKED or behind_plan(task, detail, today, tz) is not None:
        return HEALTH_RISK
    return HEALTH_OK


def age_text(since: datetime, at: datetime) -> str:
    hours = int((at - since).total_seconds() // 3600)
    if hours < 24:
        return f"{max(hours, 0)}小时"
    return f"{hours // 24}天"


def _section(lines: list[str], title: str, items: Sequence[str], *, limit: int = SECTION_LIMIT) -> None:
    if not items:
        return
    lines.append(f"{title}（{len(items)}）")
    lines.extend(f"  {item}" for item in items[:limit])
    if len(items) > limit:
        lines.append(f"  …另有 {len(items) - limit} 项")


def _clock(value: time) -> str:
    return value.strftime("%H:%M")


# ---------------------------------------------------------------------------- daily prompt


def _open_tasks_by_owner(
    data: Snapshot, project: Project
) -> tuple[dict[int, MemberRow], dict[int, list[TaskRow]], int]:
    members = data.members(project.id)
    by_owner: dict[int, list[TaskRow]] = defaultdict(list)
    unassigned = 0
    for task in data.open_tasks(project.id):
        if task.owner_id is not None and task.owner_id in members:
            by_owner[task.owner_id].append(task)
        else:
            unassigned += 1
    return members, by_owner, unassigned


def _owner_block(owner: MemberRow, tasks: list[TaskRow], today: date) -> list[str]:
    """Tasks already sorted by urgency."""
    lines = [f"{at_marker(owner)}（{len(tasks)} 项）"]
    lines += [f"  {task_brief(t, today)}" for t in tasks[:PER_OWNER_LIMIT]]
    if len(tasks) > PER_OWNER_LIMIT:
        lines.append(f"  …另有 {len(tasks) - PER_OWNER_LIMIT} 项，发送 /任务 列表 我的 查看")
    return lines


def build_daily_prompt(session: Session, project: Project, at: datetime, *, data: Snapshot | None = None) -> Reply | None:
    """The daily progress prompt: @ each owner with open tasks and list them, overdue first."""
    data = _snapshot(session, project, at, data)
    today = local_time(project, at).date()
    members, by_owner, unassigned = _open_tasks_by_owner(data, project)
    if not by_owner:
        return None
    for tasks in by_owner.values():
        tasks.sort(key=lambda t: urgency(t, today))
    # Owners with something overdue first, then in the order they joined.
    owners = sorted((members[oid] for oid in by_owner), key=lambda m: (urgency(by_owner[m.id][0], today)[0], m.id))
    lines = ["请在今天下班前更新自己的任务（逾期的排在最前）："]
    for owner in owners:
        lines += _owner_block(owner, by_owner[owner.id], today)
    if unassigned:
        lines.append(f"另有 {unassigned} 项任务还没有负责人，请 PM 指派。")
    lines.append(ANSWER_HINT)
    return Reply(
        "\n".join(lines),
        title=f"今日进度更新 · {day(today)}",
        mentions=mentions_of(owners),
        style="report",
    )


def not_updated_owners(data: Snapshot, project: Project, at: datetime) -> tuple[list[MemberRow], list[MemberRow]]:
    """(updated today, owners of open tasks who have not updated today), as of `at`."""
    today = local_time(project, at).date()
    since = day_start(project, today)
    members, by_owner, _ = _open_tasks_by_owner(data, project)
    updaters = data.task_updaters(project.id)
    updated = [m for m in members.values() if updaters.get(m.id, since - timedelta(1)) >= since]
    updated_ids = {m.id for m in updated}
    missing = [members[oid] for oid in sorted(by_owner) if oid not in updated_ids]
    return updated, missing


def build_nudge(session: Session, project: Project, at: datetime, *, data: Snapshot | None = None) -> Reply | None:
    """The optional second nudge: @ only the owners who have not updated any task today."""
    data = _snapshot(session, project, at, data)
    today = local_time(project, at).date()
    _, missing = not_updated_owners(data, project, at)
    if not missing:
        return None
    _, by_owner, _ = _open_tasks_by_owner(data, project)
    lines = ["还没有更新今天进度的同事，麻烦花一分钟回复一下："]
    for owner in missing:
        tasks = sorted(by_owner[owner.id], key=lambda t: urgency(t, today))
        refs = "、".join(t.ref for t in tasks[:PER_OWNER_LIMIT])
        more = f" 等 {len(tasks)} 项" if len(tasks) > PER_OWNER_LIMIT else ""
        lines.append(f"{at_marker(owner)} {refs}{more}")
    lines.append(ANSWER_HINT)
    return Reply("\n".join(lines), title=f"进度催办 · {day(today)}", mentions=mentions_of(missing))


# ---------------------------------------------------------------------------- weekly meeting


def next_meeting_day(project: Project, calendar: WorkCalendar, at: datetime) -> date | None:
    """The next meeting (today's if it has not started yet); meetings on days off are skipped."""
    now = local_time(project, at)
    for offset in range(0, 7 * 8):
        candidate = now.date() + timedelta(days=offset)
        if candidate.weekday() != project.meeting_weekday or not calendar.is_workday(candidate):
            continue
        if offset == 0 and now.time() >= project.meeting_time:
            continue
        return candidate
    return None


def build_weekly_agenda(
    session: Session,
    project: Project,
    at: datetime,
    *,
    meeting_day: date | None = None,
    data: Snapshot | None = None,
    calendar: WorkCalendar | None = None,
) -> Reply | None:
    """The weekly meeting's agenda, built from the data as of `at` (the workday before the meeting)."""
    data = _snapshot(session, project, at, data)
    calendar = _calendar(session, project, calendar)
    tz = ZoneInfo(project.timezone)
    today = local_time(project, at).date()
    meeting = meeting_day or next_meeting_day(project, calendar, at)
    members = data.members(project.id)
    details = data.task_details(project.id)
    open_tasks = data.open_tasks(project.id)

    def who(task_or_owner: int | None) -> str:
        return name_of(members, task_or_owner)

    done = [t for t in data.completed_tasks(project.id) if _completed_at(details, t) >= at - timedelta(days=7)]
    completed = [f"{t.ref} {shorten(t.title)}（{who(t.owner_id)}）" for t in done]

    slipping: list[str] = []
    for task in sorted(open_tasks, key=lambda t: urgency(t, today)):
        if task.status == TaskStatus.BLOCKED:
            continue
        if is_overdue(task, today):
            slipping.append(f"{task_brief(task, today, with_status=False)}（{who(task.owner_id)}）")
        elif (gap := behind_plan(task, details.get(task.id), today, tz)) is not None:
            slipping.append(
                f"{task.ref} {shorten(task.title)}（{who(task.owner_id)}）实际 {task.progress}%，"
                f"按计划应达 {task.progress + gap}% · 截止{day(task.due_date, today=today)}"
            )

    blocked_tasks = sorted(
        (t for t in open_tasks if t.status == TaskStatus.BLOCKED),
        key=lambda t: _changed_at(details, t, at),
    )
    blocked = [
        f"{t.ref} {shorten(t.title)}（{who(t.owner_id)}）已阻塞{age_text(_changed_at(details, t, at), at)}："
        f"{shorten(t.blocked_reason or '未说明原因', 40)}"
        for t in blocked_tasks
    ]
    open_risks = [r for r in data.risks(project.id) if r.status == RiskStatus.OPEN]
    high_risks = [_risk_line(r, members) for r in open_risks if r.level == RiskLevel.HIGH]
    overdue_actions = [
        _action_line(a, members, today)
        for a in data.actions(project.id)
        if a.status == ActionStatus.OPEN and a.due_date is not None and a.due_date < today
    ]
    decisions = [
        f"{r.ref} 风险应对方式未定：{shorten(r.description, 30)}"
        for r in open_risks
        if r.strategy is None and r.level != RiskLevel.LOW
    ]
    decisions += [
        f"{t.ref} {shorten(t.title)} 阻塞超过 2 个工作日，需会上协调"
        for t in blocked_tasks
        if calendar.working_time_between(_changed_at(details, t, at), at, tz, limit=LONG_BLOCK) > LONG_BLOCK
    ]
    next_week: list[str] = []
    if meeting is not None:
        horizon = meeting + timedelta(days=7)
        next_week = [
            f"{t.ref} {shorten(t.title)}（{who(t.owner_id)}）截止{day(t.due_date, today=today)}"
            for t in sorted(open_tasks, key=lambda t: urgency(t, today))
            if t.due_date is not None and meeting <= t.due_date < horizon
        ]
    sections = [
        ("一、上周完成", completed),
        ("二、进度滞后", slipping),
        ("三、阻塞", blocked),
        ("四、高风险", high_risks),
        ("五、逾期行动项", overdue_actions),
        ("六、待决策", decisions),
        ("七、下周到期", next_week),
    ]
    if not any(items for _, items in sections) and not open_tasks:
        return None
    when = f"{day(meeting)} {_clock(project.meeting_time)}" if meeting else "（近期没有周会）"
    lines = [f"周会时间：{when}"]
    for title, items in sections:
        if items:
            _section(lines, title, items)
        else:
            lines.append(f"{title}：无")
    lines.append("会上记录：/决议 <内容> ；/行动 新增 <内容> @负责人 截止:日期")
    return Reply("\n".join(lines), title=f"周会议程 · {project.name}", style="report")


def build_minutes(
    session: Session, project: Project, at: datetime, *, meeting_day: date, data: Snapshot | None = None
) -> Reply | None:
    """Minutes after the meeting window: the decisions and action items recorded during it."""
    data = _snapshot(session, project, at, data)
    tz = ZoneInfo(project.timezone)
    start = datetime.combine(meeting_day, project.meeting_time, tz).astimezone(UTC)
    end = min(start + MEETING_WINDOW, at) if at > start else start + MEETING_WINDOW
    members = data.members(project.id)
    today = local_time(project, at).date()
    decisions = [
        f"{d.ref} {d.content}（{name_of(members, d.decided_by_id)}）"
        for d in data.decisions(project.id)
        if start <= d.created_at < end
    ]
    actions = [a for a in data.actions(project.id) if start <= a.created_at < end]
    if not decisions and not actions:
        return None
    owners = [members[a.owner_id] for a in actions if a.owner_id in members]
    action_lines = [
        f"{a.ref} {a.content} · "
        f"{at_marker(members[a.owner_id]) if a.owner_id in members else '未指派'} · 截止{day(a.due_date, today=today)}"
        for a in actions
    ]
    lines = [f"会议时间：{day(meeting_day)} {_clock(project.meeting_time)}"]
    _section(lines, "决议", decisions, limit=50)
    _section(lines, "行动项", action_lines, limit=50)
    if actions:
        lines.append("请各负责人按期完成，完成后回复：/行动 完成 A1")
    return Reply("\n".join(lines), title=f"周会纪要 · {project.name}", mentions=mentions_of(owners), style="report")


# ---------------------------------------------------------------------------- PM digests


def build_digest(
    session: Session,
    project: Project,
    at: datetime,
    *,
    data: Snapshot | None = None,
    calendar: WorkCalendar | None = None,
) -> Reply | None:
    """The PM's daily digest: who updated, new blockers, overdue and due-soon tasks, risk changes."""
    data = _snapshot(session, project, at, data)
    calendar = _calendar(session, project, calendar)
    today = local_time(project, at).date()
    since = day_start(project, today)
    members = data.members(project.id)
    details = data.task_details(project.id)
    open_tasks = sorted(data.open_tasks(project.id), key=lambda t: urgency(t, today))
    updated, missing = not_updated_owners(data, project, at)
    new_blockers = [
        f"{t.ref} {shorten(t.title)}（{name_of(members, t.owner_id)}）：{shorten(t.blocked_reason or '未说明原因', 40)}"
        for t in open_tasks
        if t.status == TaskStatus.BLOCKED and since <= _changed_at(details, t, at) <= at
    ]
    overdue = [f"{task_brief(t, today)}（{name_of(members, t.owner_id)}）" for t in open_tasks if is_overdue(t, today)]
    soon_until = calendar.next_workday(today) or today + timedelta(days=1)
    due_soon = [
        f"{task_brief(t, today)}（{name_of(members, t.owner_id)}）"
        for t in open_tasks
        if t.due_date is not None and today < t.due_date <= soon_until
    ]
    risk_lines = risk_changes(data, project, since, members)
    completed_today = [
        t for t in data.completed_tasks(project.id) if _completed_at(details, t) >= since
    ]
    if not (open_tasks or updated or risk_lines or completed_today):
        return None
    lines = [
        f"已更新（{len(updated)}）：{'、'.join(m.name for m in updated) or '无'}",
        f"未更新（{len(missing)}）：{'、'.join(m.name for m in missing) or '无'}",
        f"今日完成：{len(completed_today)} 项 · 未完成：{len(open_tasks)} 项",
    ]
    soon_label = "明天到期" if soon_until == today + timedelta(days=1) else f"下个工作日（{day(soon_until)}）前到期"
    for title, items in (("新增阻塞", new_blockers), ("逾期", overdue), (soon_label, due_soon), ("风险变化", risk_lines)):
        if items:
            _section(lines, title, items)
        else:
            lines.append(f"{title}：无")
    return Reply("\n".join(lines), title=f"每日汇总 · {project.name} · {day(today)}", style="report")


RISK_FIELD_LABELS = {"level": "等级", "status": "状态", "strategy": "应对", "mitigation": "措施", "impact": "影响",
                     "owner": "负责人", "description": "描述", "trigger": "触发"}
_VALUE_LABELS = {
    **{level.value: label for level, label in RISK_LEVEL_LABELS.items()},
    **{s.value: label for s, label in RISK_STRATEGY_LABELS.items()},
    "open": "打开",
    "closed": "已关闭",
}


def risk_changes(data: Snapshot, project: Project, since: datetime, members: dict[int, MemberRow]) -> list[str]:
    """New risks, closed risks and field changes since `since`, one line each."""
    risks = {r.id: r for r in data.risks(project.id)}
    lines: list[str] = []
    for risk in risks.values():
        if since <= risk.created_at <= data.at:
            lines.append(f"新增 {_risk_line(risk, members)}")
    for change in data.risk_changes(project.id):
        changed = risks.get(change.entity_id)
        if change.at < since or changed is None or change.field == "created":
            continue
        if change.field == "note":
            lines.append(f"{changed.ref} {shorten(changed.description, 20)} 备注：{shorten(change.note or '', 40)}")
            continue
        label = RISK_FIELD_LABELS.get(change.field, change.field)
        old = _VALUE_LABELS.get(change.old_value or "", change.old_value or "空")
        new = _VALUE_LABELS.get(change.new_value or "", change.new_value or "空")
        note = f"（{shorten(change.note, 20)}）" if change.note else ""
        lines.append(f"{changed.ref} {shorten(changed.description, 20)} {label}：{old} → {new}{note}")
    changed_status = {c.entity_id for c in data.risk_changes(project.id) if c.field == "status" and c.at >= since}
    for risk in risks.values():
        if risk.closed_at and since <= risk.closed_at <= data.at and risk.id not in changed_status:
            lines.append(f"{risk.ref} {shorten(risk.description, 20)} 已关闭")
    return lines


def build_weekly_digest(
    session: Session, project: Project, at: datetime, *, data: Snapshot | None = None
) -> Reply | None:
    """The weekly tracking table (进度跟踪表): task, owner, planned, actual, 状态 正常/延迟/风险."""
    data = _snapshot(session, project, at, data)
    tz = ZoneInfo(project.timezone)
    today = local_time(project, at).date()
    week_start = day_start(project, today - timedelta(days=today.weekday()))
    members = data.members(project.id)
    details = data.task_details(project.id)
    done = [t for t in data.completed_tasks(project.id) if _completed_at(details, t) >= week_start]
    tasks = data.open_tasks(project.id) + done
    if not tasks:
        return None
    order = {HEALTH_LATE: 0, HEALTH_RISK: 1, HEALTH_OK: 2}
    rows: list[tuple[tuple[int, date, int], str, TaskRow, TaskDetail | None]] = []
    counts = {HEALTH_OK: 0, HEALTH_LATE: 0, HEALTH_RISK: 0}
    for task in tasks:
        detail = details.get(task.id)
        state = health(task, detail, today, tz)
        counts[state] += 1
        rows.append(((order[state], task.due_date or date.max, task.number), state, task, detail))
    rows.sort(key=itemgetter(0))
    lines = [
        f"本周完成 {len(done)} 项 · 未完成 {len(tasks) - len(done)} 项 · "
        f"正常 {counts[HEALTH_OK]} · 延迟 {counts[HEALTH_LATE]} · 风险 {counts[HEALTH_RISK]}",
        "| 任务 | 负责人 | 计划 | 实际 | 状态 |",
        "|---|---|---|---|---|",
    ]
    for _, state, task, detail in rows[:TABLE_LIMIT]:
        plan = planned_progress(planned_start(detail, tz), task.due_date, today)
        planned = f"截止{day(task.due_date, today=today)}" + (f" 应达{plan}%" if plan is not None else "")
        if task.status == TaskStatus.DONE:
            done_on = detail.completed_at.astimezone(tz).date() if detail and detail.completed_at else today
            actual = f"已完成 {day(done_on, today=today)}"
        else:
            actual = f"{TASK_STATUS_LABELS[task.status]} {task.progress}%"
        lines.append(
            f"| {task.ref} {shorten(task.title, 24)} | {name_of(members, task.owner_id)} | {planned} | {actual} | {state} |"
        )
    if len(rows) > TABLE_LIMIT:
        lines.append(f"…另有 {len(rows) - TABLE_LIMIT} 行未列出（按 延迟 > 风险 > 正常 排序）")
    week = today.isocalendar()
    return Reply("\n".join(lines), title=f"周报 · 进度跟踪表 · {project.name} · {week.year}年第{week.week}周", style="report")


# ---------------------------------------------------------------------------- reminders and escalation


@dataclass(frozen=True, slots=True)
class Incident:
    """Something to remind about; (job, key) is claimed once, so each incident is posted once."""

    job: str
    key: str
    describe: Callable[[], str]  # its line, built only if the incident is new (claimed now)
    owner: MemberRow | None  # the person reminded; None: an escalation to the PM

    @property
    def line(self) -> str:
        return self.describe()


def find_reminders(
    session: Session,
    project: Project,
    at: datetime,
    *,
    data: Snapshot | None = None,
    calendar: WorkCalendar | None = None,
) -> list[Incident]:
    """Every reminder and escalation that applies at `at` (claiming decides which are new)."""
    data = _snapshot(session, project, at, data)
    calendar = _calendar(session, project, calendar)
    tz = ZoneInfo(project.timezone)
    today = local_time(project, at).date()
    next_day = calendar.next_workday(today) or today + timedelta(days=1)
    members = data.members(project.id)
    details = data.task_details(project.id)
    incidents: list[Incident] = []
    for task in sorted(data.open_tasks(project.id), key=lambda t: urgency(t, today)):
        owner = members.get(task.owner_id) if task.owner_id is not None else None
        if owner is not None and task.due_date is not None:
            brief = partial(task_brief, task, today)
            if today < task.due_date <= next_day:
                incidents.append(Incident(REMIND_DUE, f"{task.id}:{task.due_date.isoformat()}", brief, owner))
            elif task.due_date < today:
                incidents.append(Incident(REMIND_OVERDUE, f"{task.id}:{today.isoformat()}", brief, owner))
        if task.status == TaskStatus.BLOCKED:
            since = _changed_at(details, task, at)
            if calendar.working_time_between(since, at, tz, limit=ESCALATE_AFTER) > ESCALATE_AFTER:
                line = partial(_blocked_line, task, members, since, at)
                incidents.append(Incident(ESCALATE_BLOCKED, f"{task.id}:{_stamp(since)}", line, None))
    touched = data.risks_touched(project.id)
    for risk in data.risks(project.id):
        if risk.status != RiskStatus.OPEN or risk.level != RiskLevel.HIGH:
            continue
        # "Unchanged" since its last update, whichever of the row and its history says so.
        unchanged = max(risk.updated_at, risk.created_at, touched.get(risk.id, risk.created_at))
        if calendar.working_time_between(unchanged, at, tz, limit=ESCALATE_AFTER) > ESCALATE_AFTER:
            line = partial(_stale_risk_line, risk, members, unchanged, at)
            incidents.append(Incident(ESCALATE_RISK, f"{risk.id}:{_stamp(unchanged)}", line, None))
    return incidents


def render_reminders(
    project: Project, incidents: Sequence[Incident], at: datetime, *, managers_: Sequence[MemberRow]
) -> list[Reply]:
    """At most two group messages: owners' due/overdue reminders, and escalations @ the PM."""
    replies: list[Reply] = []
    today = local_time(project, at).date()
    owner_items = [i for i in incidents if i.owner is not None]
    if owner_items:
        lines: list[str] = []
        for job, title in ((REMIND_OVERDUE, "已逾期，请尽快处理或更新截止日期"), (REMIND_DUE, "即将到期")):
            items = [i for i in owner_items if i.job == job]
            if items:
                lines.append(f"{title}：")
                lines += [f"  {at_marker(i.owner)} {i.line}" for i in items if i.owner is not None]
        lines.append(ANSWER_HINT)
        owners = [i.owner for i in owner_items if i.owner is not None]
        replies.append(Reply("\n".join(lines), title=f"任务提醒 · {day(today)}", mentions=mentions_of(owners)))
    escalations = [i for i in incidents if i.owner is None]
    if escalations:
        head = " ".join(at_marker(m) for m in managers_) or "PM"
        lines = [f"{head} 以下事项超过 24 小时（不含休息日）没有进展，请关注："]
        lines += [f"  {i.line}" for i in escalations]
        replies.append(Reply("\n".join(lines), title="⚠ 升级提醒", mentions=mentions_of(managers_)))
    return replies


# ---------------------------------------------------------------------------- notices


def build_calendar_notice(project: Project, year: int, *, managers_: Sequence[MemberRow]) -> Reply:
    head = " ".join(at_marker(m) for m in managers_)
    text = (
        f"{head} 节假日数据里还没有 {year} 年的官方安排（国务院通知发布后需升级 chinesecalendar 并重启）。"
        f"在此之前，{year} 年按“周末 + 法定节日”估算，调休补班不会被识别。\n"
        "如需调整，可用：/项目 休息日 <日期> 、/项目 补班 <日期>"
    ).strip()
    return Reply(text, title=f"日历提示：{year} 年节假日为估算", mentions=mentions_of(managers_))


# ---------------------------------------------------------------------------- small pieces


def _risk_line(risk: RiskRow, members: dict[int, MemberRow]) -> str:
    parts = [f"{risk.ref}（{RISK_LEVEL_LABELS[risk.level]}）{shorten(risk.description, 40)}"]
    if risk.owner_id is not None:
        parts.append(f"负责人 {name_of(members, risk.owner_id)}")
    if risk.strategy is not None:
        parts.append(f"应对：{RISK_STRATEGY_LABELS[risk.strategy]}")
    if risk.mitigation:
        parts.append(f"措施：{shorten(risk.mitigation, 20)}")
    return " · ".join(parts)


def _blocked_line(task: TaskRow, members: dict[int, MemberRow], since: datetime, at: datetime) -> str:
    return (
        f"{task.ref} {shorten(task.title)}（{name_of(members, task.owner_id)}）已阻塞"
        f"{age_text(since, at)}：{shorten(task.blocked_reason or '未说明原因', 40)}"
    )


def _stale_risk_line(risk: RiskRow, members: dict[int, MemberRow], since: datetime, at: datetime) -> str:
    return f"{_risk_line(risk, members)} · {age_text(since, at)}无更新"


def _action_line(action: ActionRow, members: dict[int, MemberRow], today: date) -> str:
    overdue = f" ⚠逾期{(today - action.due_date).days}天" if action.due_date and action.due_date < today else ""
    owner = name_of(members, action.owner_id)
    return f"{action.ref} {shorten(action.content)}（{owner}）截止{day(action.due_date, today=today)}{overdue}"


def _changed_at(details: dict[int, TaskDetail], task: TaskRow, at: datetime) -> datetime:
    detail = details.get(task.id)
    return detail.status_changed_at if detail else at


def _completed_at(details: dict[int, TaskDetail], task: TaskRow) -> datetime:
    detail = details.get(task.id)
    assert detail is not None and detail.completed_at is not None
    return detail.completed_at


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S")
