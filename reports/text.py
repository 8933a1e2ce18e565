"""The reports as Chinese text: rows (`reports.rows`) → `Reply`. Wording only; what to say was decided
by `reports.compute`."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date, time, timedelta
from functools import lru_cache

from bot.messages import Button, Field, Mention, Reply, Section, Table
from models import RiskLevel, TaskStatus
from reports.format import RISK_LEVEL_LABELS, RISK_STRATEGY_LABELS, TASK_STATUS_ICONS, TASK_STATUS_LABELS, day, shorten
from reports.records import MemberRow, RiskRow, TaskRow
from reports.rows import (
    ActionEntry,
    Agenda,
    Blocked,
    DailyPrompt,
    Digest,
    DueMoveItem,
    FoldedReminder,
    HolidayAhead,
    Minutes,
    Nudge,
    OwnerTasks,
    RiskEvent,
    RiskEventKind,
    TaskItem,
    TrackingTable,
)
from reports.rules import Health
from reports.text_forecast import milestone_list

ANSWER_HINT = "直接回复即可更新：#12 完成 ｜ #12 阻塞 原因 ｜ #12 进度 60%"
PER_OWNER_LIMIT = 10  # tasks listed per person in the prompt; the rest are counted
FOLDED_LIMIT = 4  # folded reminders named per person in the prompt (one phone-width line); the rest counted
SECTION_LIMIT = 20  # lines per section in agendas and digests
TABLE_LIMIT = 60  # rows of the tracking table (the rest are counted)
HEALTH_LABELS = {Health.OK: "正常", Health.LATE: "延迟", Health.RISK: "风险", Health.UNSCHEDULED: "未排期"}
# The tracking table's legend: the rules of reports.rules.health, in the same order.
HEALTH_LEGEND = (
    "状态说明：",
    "· 延迟：过了截止日期未完成，或完成晚于截止",
    "· 风险：阻塞，或落后计划 20 个百分点以上",
    "· 计划：从开始日期（且前置任务都完成）起，",
    "  按天线性增长，截止日达 100%",
    "· 未排期：没有截止日期",
    "· 正常：其余（含未到开始日期、在等前置任务）",
)
DUE_MOVE_LABELS = {"later": "延期", "earlier": "提前", "set": "定截止", "cleared": "取消截止"}
RISK_FIELD_LABELS = {"level": "等级", "status": "状态", "strategy": "应对", "mitigation": "措施", "impact": "影响",
                     "owner": "负责人", "description": "描述", "trigger": "触发"}
_VALUE_LABELS = {
    **{level.value: label for level, label in RISK_LEVEL_LABELS.items()},
    **{s.value: label for s, label in RISK_STRATEGY_LABELS.items()},
    "open": "打开",
    "closed": "已关闭",
}


# ---------------------------------------------------------------------------- pieces


def at_marker(member: MemberRow) -> str:
    """The mention marker (as reports.format.mention), for a row instead of an ORM member."""
    return f"<@{member.user_id}>"


def mentions_of(members: Iterable[MemberRow]) -> tuple[Mention, ...]:
    seen: dict[str, Mention] = {}
    for m in members:
        seen.setdefault(m.user_id, Mention(m.user_id, m.name))
    return tuple(seen.values())


def name(member: MemberRow | None) -> str:
    return member.name if member else "未指派"


def task_brief(task: TaskRow, today: date, *, with_status: bool = True, ref: str | None = None) -> str:
    """`#3 写发布稿 · 截止11-20(周五) ⚠逾期3天 · 🔵进行中 60%` (the blocker's reason when blocked);
    `ref` instead of `#3` where the id must say its project (`发布会#3`, the merged private prompt)."""
    text = f"{ref or task.ref} {shorten(task.title)} · {_due_label(task.due_date, today, task.is_open)}"
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


def working_age(age: timedelta) -> str:
    """Working time as the escalation counts it: hours under a working day, else whole working days
    (24 hours of workdays each; weekends and holidays such as 中秋 not counted)."""
    hours = max(int(age.total_seconds() // 3600), 0)
    if hours < 24:
        return f"{hours}小时"
    return f"{hours // 24}个工作日"


def list_section(title: str, items: Sequence[str], *, limit: int = SECTION_LIMIT, more: str | None = None) -> Section:
    """`title（N）` over the first `limit` items, indented, and how many more there are."""
    lines = [f"  {item}" for item in items[:limit]]
    if len(items) > limit:
        lines.append(f"  …另有 {len(items) - limit} 项")
    return Section(title=f"{title}（{len(items)}）", lines=tuple(lines), more=more)


def none_section(title: str) -> Section:
    """An empty part of a report: one line, `title：无` (no heading of its own)."""
    return Section(lines=(f"{title}：无",))


def sections_or_none(parts: Iterable[tuple[str, Sequence[str], str | None]]) -> list[Section]:
    """Each (title, items, more) as a list section, or one `title：无` line when it has no items."""
    return [list_section(title, items, more=more) if items else none_section(title) for title, items, more in parts]


def _clock(value: time) -> str:
    return value.strftime("%H:%M")


def _task_owner(item: TaskItem) -> str:
    return f"{item.task.ref} {shorten(item.task.title)}（{name(item.owner)}）"


def risk_line(risk: RiskRow, owner: MemberRow | None) -> str:
    parts = [f"{risk.ref}（{RISK_LEVEL_LABELS[risk.level]}）{shorten(risk.description, 40)}"]
    if risk.owner_id is not None:
        parts.append(f"负责人 {name(owner)}")
    if risk.strategy is not None:
        parts.append(f"应对：{RISK_STRATEGY_LABELS[risk.strategy]}")
    if risk.mitigation:
        parts.append(f"措施：{shorten(risk.mitigation, 20)}")
    return " · ".join(parts)


def blocked_line(blocked: Blocked) -> str:
    return (
        f"{_task_owner(TaskItem(blocked.task, blocked.owner))}已阻塞{working_age(blocked.age)}："
        f"{shorten(blocked.task.blocked_reason or '未说明原因', 40)}"
    )


def action_line(entry: ActionEntry, today: date) -> str:
    action = entry.action
    overdue = f" ⚠逾期{(today - action.due_date).days}天" if action.due_date and action.due_date < today else ""
    return f"{action.ref} {shorten(action.content)}（{name(entry.owner)}）截止{day(action.due_date, today=today)}{overdue}"


# ---------------------------------------------------------------------------- daily prompt and nudge


PRIVATELY = "已私信"  # an owner who got today's merged private prompt: named in the group, not @-mentioned


def _owner_sections(block: OwnerTasks, today: date, *, private: bool = False) -> list[Section]:
    who = f"{block.owner.name}（{PRIVATELY}" if private else at_marker(block.owner)
    if block.tasks:
        heading = f"{who}，{len(block.tasks)} 项）" if private else f"{who}（{len(block.tasks)} 项）"
    else:  # only folded reminders to list
        heading = f"{who}）" if private else who
    shown = block.tasks[:PER_OWNER_LIMIT]
    sections = [prompt_task_section(t, today, heading if index == 0 else None) for index, t in enumerate(shown)]
    if len(block.tasks) > PER_OWNER_LIMIT:
        sections.append(Section(lines=(f"  …另有 {len(block.tasks) - PER_OWNER_LIMIT} 项，发送 /任务 列表 我的 查看",)))
    if block.folded:
        sections.append(Section(title=None if sections else heading, lines=(f"  {folded_line(block.folded, today)}",)))
    return sections


def folded_label(item: FoldedReminder, today: date) -> str:
    """`逾期2天` / `今天到期` / `明天到期` / `12-07到期`, as of the prompt's day."""
    if item.due < today:
        return f"逾期{(today - item.due).days}天"
    if item.due == today:
        return "今天到期"
    if item.due == today + timedelta(days=1):
        return "明天到期"
    return f"{item.due:%m-%d}到期"


def folded_line(items: Sequence[FoldedReminder], today: date) -> str:
    """`另有 3 条提醒未单独发送：#3 今天到期、#5 逾期2天、A2 明天到期` (short: phone-width)."""
    shown = "、".join(f"{i.ref} {folded_label(i, today)}" for i in items[:FOLDED_LIMIT])
    more = " 等" if len(items) > FOLDED_LIMIT else ""
    return f"另有 {len(items)} 条提醒未单独发送：{shown}{more}"


def prompt_task_section(task: TaskRow, today: date, title: str | None = None, *, ref: str | None = None) -> Section:
    """One task on the daily prompt: its line, and its buttons while it is open (a task closed from the
    card stays on it, shown with its new status); `ref`: the id as written there and in the buttons."""
    buttons = task_buttons(task, ref=ref) if task.is_open else ()
    return Section(title=title, lines=(f"  {task_brief(task, today, ref=ref)}",), buttons=buttons, hint=False)


def titled(kind: str, project_name: str, *rest: str) -> str:
    """A scheduled post's title: what it is, then the project (people are in several project groups)."""
    return " · ".join((kind, shorten(project_name, 20), *rest))


PROMPT_VIEW = "daily_prompt"  # Reply.view kind of the daily prompt (reports/views.py builds it again)


def daily_prompt(
    prompt: DailyPrompt, *, project_name: str, note: str | None = None, privately: Collection[int] = ()
) -> Reply:
    # One section per task, so a card can put its buttons right under it; text renderers show the same
    # lines as before and the one hint line instead of the buttons (hint=False). The view names the
    # day and the tasks shown, per owner, so the card can be shown again as those tasks now are.
    # `privately`: the owners (member ids) who got today's merged private prompt — listed, not @-mentioned.
    intro = [*([note] if note else []), "请在今天下班前更新自己的任务（逾期的排在最前）："]
    sections: list[Section] = []
    for block in prompt.owners:
        sections += _owner_sections(block, prompt.today, private=block.owner.id in privately)
    closing = [f"另有 {prompt.unassigned} 项任务还没有负责人，请 PM 指派。"] if prompt.unassigned else []
    sections.append(Section(lines=(*closing, ANSWER_HINT)))
    return Reply(
        "\n".join(intro),
        title=titled("今日进度更新", project_name, day(prompt.today)),
        mentions=mentions_of(b.owner for b in prompt.owners if b.owner.id not in privately),
        style="report",
        sections=tuple(sections),
        view={
            "kind": PROMPT_VIEW,
            "day": prompt.today.isoformat(),
            "owners": [[b.owner.id, [t.id for t in b.tasks]] for b in prompt.owners],
            "unassigned": prompt.unassigned,
            "note": note,
            **({"privately": sorted(privately)} if privately else {}),
            **({"folded": [[b.owner.id, [[f.ref, f.due.isoformat(), f.job] for f in b.folded]]
                           for b in prompt.owners if b.folded]} if any(b.folded for b in prompt.owners) else {}),
        },
    )


def task_buttons(task: TaskRow, *, ref: str | None = None) -> tuple[Button, ...]:
    """What the owner (or a PM) can do with an open task in one tap: the same commands as typed
    (nothing for a closed one: a card shown again keeps it, done, without buttons)."""
    return status_buttons(ref or task.ref, task.status) if task.is_open else ()


def status_buttons(ref: str, status: TaskStatus) -> tuple[Button, ...]:
    """开始 (while 待开始) / 完成 / 阻塞 <原因> / 进度 <60%> for the open task `ref`."""
    command = f"/任务 {ref}"
    start = (Button("开始", f"{command} 开始", style="primary"),) if status == TaskStatus.TODO else ()
    return (
        *start,
        Button("完成", f"{command} 完成", style="primary"),
        Button("阻塞", f"{command} 阻塞", style="danger", input="原因"),
        Button("进度", f"{command} 进度", input="进度，如 60%"),
    )


def nudge(rows: Nudge, *, project_name: str, privately: Collection[int] = ()) -> Reply:
    """@ the owners who have not updated today; one who got the merged private prompt is named, not @-ed."""
    lines = ["还没有更新今天进度的同事，麻烦花一分钟回复一下："]
    for block in rows.missing:
        refs = "、".join(t.ref for t in block.tasks[:PER_OWNER_LIMIT])
        more = f" 等 {len(block.tasks)} 项" if len(block.tasks) > PER_OWNER_LIMIT else ""
        who = f"{block.owner.name}（{PRIVATELY}）" if block.owner.id in privately else at_marker(block.owner)
        lines.append(f"{who} {refs}{more}")
    lines.append(ANSWER_HINT)
    title = titled("进度催办", project_name, day(rows.today))
    pinged = (b.owner for b in rows.missing if b.owner.id not in privately)
    return Reply("\n".join(lines), title=title, mentions=mentions_of(pinged))


# ---------------------------------------------------------------------------- weekly meeting


def agenda(rows: Agenda) -> Reply:
    today = rows.today
    slipping = [
        f"{task_brief(s.task, today, with_status=False)}（{name(s.owner)}）"
        if s.behind is None
        else f"{_task_owner(TaskItem(s.task, s.owner))}实际 {s.task.progress}%，"
        f"按计划应达 {s.task.progress + s.behind}% · 截止{day(s.task.due_date, today=today)}"
        for s in rows.slipping
    ]
    decisions = [f"{r.ref} 风险应对方式未定：{shorten(r.description, 30)}" for r in rows.undecided_risks]
    decisions += [f"{b.task.ref} {shorten(b.task.title)} 阻塞超过 2 个工作日，需会上协调" for b in rows.long_blocked]
    parts: list[tuple[str, Sequence[str], str | None]] = [
        ("一、上周完成", [_task_owner(i) for i in rows.completed], "/任务 列表 已完成"),
        ("二、进度滞后", slipping, "/任务 列表"),
        ("三、阻塞", [blocked_line(b) for b in rows.blocked], "/任务 列表 阻塞"),
        ("四、高风险", [risk_line(r.risk, r.owner) for r in rows.high_risks], "/风险 列表 高"),
        ("五、逾期行动项", [action_line(a, today) for a in rows.overdue_actions], "/行动 列表 逾期"),
        ("六、待决策", decisions, "/风险 列表"),
        ("七、下周到期", [f"{_task_owner(i)}截止{day(i.task.due_date, today=today)}" for i in rows.due_next_week],
         "/任务 列表"),
        ("八、会议议题", [f"{shorten(t.topic.content, 40)}（{name(t.added_by)}）" for t in rows.topics], "/议程"),
    ]
    when = f"{day(rows.meeting)} {_clock(rows.meeting_time)}" if rows.meeting else "（近期没有周会）"
    since = rows.covers_from
    intro = [f"周会时间：{when}", f"上周完成统计自 {day(since.date(), today=today)} {since.strftime('%H:%M')} 起"]
    sections = sections_or_none(parts)
    if rows.milestones_at_risk:
        sections.append(list_section("里程碑风险", milestone_list(list(rows.milestones_at_risk), today), more="/里程碑"))
    if rows.holiday is not None:
        sections.append(_holiday_section(rows.holiday, today))
    sections.append(Section(lines=("会上记录：/决议 <内容> ；/行动 新增 <内容> @负责人 截止:日期", "加议题：/议程 新增 <议题>")))
    if rows.blocked or rows.high_risks:
        tone = "alert"
    elif rows.slipping or rows.overdue_actions or rows.undecided_risks or rows.milestones_at_risk:
        tone = "attention"
    else:
        tone = "info"
    return Reply(
        "\n".join(intro), title=titled("周会议程", rows.project_name), style="report", sections=tuple(sections), tone=tone
    )


def _holiday_section(holiday: HolidayAhead, today: date) -> Section:
    """九、节假日前后到期: each task due inside the holiday or just after it, with the working days left."""
    span = f"{day(holiday.first, today=today)}~{day(holiday.last, today=today)} 放假，{day(holiday.back_on, today=today)} 上班"
    title = f"九、{shorten(holiday.name or '长假', 10)}前后到期（{span}）"
    items = []
    for due in holiday.due:
        where = "在假期中" if due.in_holiday else "节后"
        items.append(
            f"{_task_owner(TaskItem(due.task, due.owner))}截止{day(due.task.due_date, today=today)}（{where}）· "
            f"还有 {due.days_left} 天，实际只剩 {due.workdays_left} 个工作日"
        )
    return list_section(title, items, more="/任务 列表") if items else none_section(title)


def minutes(rows: Minutes) -> Reply:
    decisions = [f"{d.decision.ref} {d.decision.content}（{name(d.decided_by)}）" for d in rows.decisions]
    actions = [
        f"{a.action.ref} {a.action.content} · "
        f"{at_marker(a.owner) if a.owner else '未指派'} · 截止{day(a.action.due_date, today=rows.today)}"
        for a in rows.actions
    ]
    sections = [list_section("决议", decisions, limit=50, more="/决议 列表")] if decisions else []
    if actions:
        sections.append(list_section("行动项", actions, limit=50, more="/行动 列表"))
    if rows.actions:
        refs = [a.action.ref for a in rows.actions]
        listed = "、".join(refs[:10]) + (" 等" if len(refs) > 10 else "")
        sections.append(Section(lines=(f"请各负责人按期完成（{listed}），完成后回复：/行动 完成 {refs[0]}",)))
    owners = [a.owner for a in rows.actions if a.owner is not None]
    return Reply(
        f"会议时间：{day(rows.meeting_day)} {_clock(rows.meeting_time)}", title=titled("周会纪要", rows.project_name),
        mentions=mentions_of(owners), style="report", sections=tuple(sections),
    )


# ---------------------------------------------------------------------------- PM digests


def digest(rows: Digest) -> Reply:
    today = rows.today

    def brief(item: TaskItem) -> str:
        return f"{task_brief(item.task, today)}（{name(item.owner)}）"

    figures = Section(fields=(
        Field(f"已更新（{len(rows.updated)}）", "、".join(m.name for m in rows.updated) or "无"),
        Field(f"未更新（{len(rows.missing)}）", "、".join(m.name for m in rows.missing) or "无"),
        Field("未完成", f"{rows.open_count} 项"),
    ))
    # One completion a line (a phone shows ~40 characters): the PM reads what was done, not a count.
    done = [f"{t.ref} {shorten(t.title, 24)}" for t in rows.completed_today]
    done += [f"{a.ref} {shorten(a.content, 24)}" for a in rows.completed_actions]
    tomorrow = rows.soon_until == today + timedelta(days=1)
    soon_label = "明天到期" if tomorrow else f"下个工作日（{day(rows.soon_until)}）前到期"
    new_blockers = [
        f"{_task_owner(i)}：{shorten(i.task.blocked_reason or '未说明原因', 40)}" for i in rows.new_blockers
    ]
    overdue = [brief(i) for i in rows.overdue] + [action_line(a, today) for a in rows.overdue_actions]
    sections = [figures, *sections_or_none((
        ("今日完成", done, "/任务 列表 已完成"),
        ("新增阻塞", new_blockers, "/任务 列表 阻塞"),
        ("逾期", overdue, "/任务 列表 逾期"),
        (soon_label, [brief(i) for i in rows.due_soon] + [action_line(a, today) for a in rows.due_soon_actions],
         "/任务 列表"),
        ("截止日期变更", [due_move_line(m, today) for m in rows.due_moves], "/任务 列表"),
        ("风险变化", [risk_event_line(e) for e in rows.risk_events], "/风险 列表"),
    ))]
    pending = [f"{due_move_line(m, today)} · /任务 批准 {m.move.ref}" for m in rows.pending_moves]
    if pending:
        sections.append(list_section("待批延期", pending, more="/任务 列表"))
    if rows.milestones_at_risk:
        sections.append(list_section("里程碑风险", milestone_list(list(rows.milestones_at_risk), today), more="/里程碑"))
    return Reply(
        "", title=titled("每日汇总", rows.project_name, day(today)), style="report", sections=tuple(sections),
        tone=_digest_tone(rows),
    )


def _digest_tone(rows: Digest) -> str:
    high = any(e.risk.level == RiskLevel.HIGH and e.kind != RiskEventKind.CLOSED for e in rows.risk_events)
    if rows.new_blockers or high:
        return "alert"
    if rows.overdue or rows.overdue_actions or rows.missing or rows.pending_moves or rows.milestones_at_risk:
        return "attention"
    return "good"


def due_move_kind(item: DueMoveItem) -> str:
    old, new = item.move.old, item.move.new
    if old is None:
        return "set"
    if new is None:
        return "cleared"
    return "later" if new > old else "earlier"


def due_move_line(item: DueMoveItem, today: date) -> str:
    """`延期 #3 写发布稿：11-20(周五) → 12-04(周五)（李四；等设计稿）`."""
    move = item.move
    why = f"；{shorten(move.note, 20)}" if move.note else ""
    return (
        f"{DUE_MOVE_LABELS[due_move_kind(item)]} {move.ref} {shorten(move.title, 16)}："
        f"{day(move.old, today=today)} → {day(move.new, today=today)}（{name(item.actor)}{why}）"
    )


def risk_event_line(event: RiskEvent) -> str:
    risk = event.risk
    if event.kind == RiskEventKind.NEW:
        return f"新增 {risk_line(risk, event.owner)}"
    if event.kind == RiskEventKind.CLOSED:
        return f"{risk.ref} {shorten(risk.description, 20)} 已关闭"
    if event.kind == RiskEventKind.NOTE:
        return f"{risk.ref} {shorten(risk.description, 20)} 备注：{shorten(event.note or '', 40)}"
    label = RISK_FIELD_LABELS.get(event.field or "", event.field or "")
    old = _VALUE_LABELS.get(event.old or "", event.old or "空")
    new = _VALUE_LABELS.get(event.new or "", event.new or "空")
    note = f"（{shorten(event.note, 20)}）" if event.note else ""
    return f"{risk.ref} {shorten(risk.description, 20)} {label}：{old} → {new}{note}"


def tracking_table(table: TrackingTable) -> Reply:
    """The table as a `Table` section: each platform lays it out as it can (a markdown table on Feishu
    cards, one line per row on DingTalk, which renders no tables)."""
    today = table.today
    summary = (
        f"本周完成 {table.done_count} 项 · 未完成 {table.open_count} 项 · "
        f"正常 {table.ok} · 延迟 {table.late} · 风险 {table.at_risk} · 未排期 {table.unscheduled}"
    )
    rows: list[tuple[str, ...]] = []
    for row in table.rows[:TABLE_LIMIT]:
        task = row.task
        planned = f"截止{day(task.due_date, today=today)}" + (f" 应达{row.planned}%" if row.planned is not None else "")
        if row.ready.waiting and row.done_on is None:
            planned += " 未开始"
        if row.done_on is not None:
            actual = f"已完成 {day(row.done_on, today=today)}"
        else:
            actual = f"{TASK_STATUS_LABELS[task.status]} {task.progress}%"
        rows.append((f"{task.ref} {shorten(task.title, 24)}", name(row.owner), planned, actual, HEALTH_LABELS[row.health]))
    sections = [Section(table=Table(("任务", "负责人", "计划", "实际", "状态"), tuple(rows)), more="/导出 跟踪")]
    if len(table.rows) > TABLE_LIMIT:
        more = f"…另有 {len(table.rows) - TABLE_LIMIT} 行未列出（按 延迟 > 风险 > 未排期 > 正常 排序）"
        sections.append(Section(lines=(more,)))
    sections.append(Section(lines=tuple(HEALTH_LEGEND)))
    week = today.isocalendar()
    return Reply(
        summary,
        title=titled("周报 · 进度跟踪表", table.project_name, f"{week.year}年第{week.week}周"),
        style="report",
        sections=tuple(sections),
        tone="alert" if table.at_risk else "attention" if table.late else "good",
    )
