"""/项目 设置 | 暂停 | 恢复 | 休息日 | 补班: the project's rhythm, changeable in chat.

The scheduler reads these settings from the database at every tick, so a change takes effect at the
next occurrence without a restart. Only the PM and co-PMs may change them; anyone may look.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.messages import Reply
from handlers import charter, closeout_report
from handlers.context import Context
from handlers.dates import parse_day_range, take_day_range
from handlers.errors import UsageError, UserError
from handlers.router import CommandSet
from handlers.text import Args
from models import CalendarDay, CalendarDayKind, Project, record_change
from models.calendar import NationalCalendar, national_calendar, project_days_from, remove_project_days, set_project_days
from models.snapshots import column_values
from reports.format import WEEKDAY_LABELS, day

SET_USAGE = (
    "/项目 设置 日报 17:00 ｜ 周会 周一 09:00 ｜ 议程 16:00|默认 ｜ 汇总 18:00 ｜ 工作时间 09:00-18:00 ｜ "
    "时区 Europe/Berlin ｜ 催办 17:30|关闭 ｜ 延期审批 开|关 ｜ 下游提醒 开|关 ｜ 风险提示 开|关 ｜ 交接 开|关 ｜ "
    "节假日截止 开|关 ｜ 合并提醒 开|关 ｜ 提醒上限 开|关 ｜ 目标结果 1 <结果>"
)
commands = CommandSet()  # subcommands of /项目 (handlers.projects.group)
DAY_OFF_USAGE = "/项目 休息日 <日期>[~<日期>] [说明]   或   /项目 休息日 删除 <日期>"
EXTRA_WORKDAY_USAGE = "/项目 补班 <日期>[~<日期>] [说明]   或   /项目 补班 删除 <日期>"
MAX_RANGE_DAYS = 31
MAX_NOTE = 200
LISTED_OVERRIDES = 20

_TIME = re.compile(r"^(\d{1,2})\s*(?::|点|时)\s*(\d{1,2})?\s*分?$|^(\d{1,2})\s*点半$")
_WEEKDAY_WORDS = {
    **{f"{prefix}{ch}": i for prefix in ("周", "星期", "礼拜") for i, ch in enumerate("一二三四五六日")},
    "周天": 6, "星期天": 6, "礼拜天": 6,
    **{name: i for i, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{name: i for i, name in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))},
}
_TIMEZONE_ALIASES = {"北京": "Asia/Shanghai", "北京时间": "Asia/Shanghai", "上海": "Asia/Shanghai",
                     "中国": "Asia/Shanghai", "utc+8": "Asia/Shanghai", "utc": "UTC"}
_OFF_WORDS = ("关闭", "关", "取消", "off", "none", "无")
_DEFAULT_WORDS = ("默认", "default", "auto")
_REMOVE_WORDS = ("删除", "取消", "移除", "remove", "delete", "rm")


# ---------------------------------------------------------------------------- parsing


def parse_clock(text: str, usage: str = SET_USAGE) -> time:
    match = _TIME.match(text.strip())
    if not match:
        raise UsageError(f"“{text}”不是时间，时间写成 17:00 或 17点。", usage)
    if match.group(3) is not None:
        hour, minute = int(match.group(3)), 30
    else:
        hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if hour > 23 or minute > 59:
        raise UsageError(f"没有 {hour}:{minute:02d} 这个时间。", usage)
    return time(hour, minute)


def parse_weekday(text: str) -> int:
    found = _WEEKDAY_WORDS.get(text.strip().lower())
    if found is None:
        raise UsageError(f"“{text}”不是星期几，写成 周一 … 周日。", SET_USAGE)
    return found


def parse_timezone(text: str) -> str:
    name = _TIMEZONE_ALIASES.get(text.strip().lower(), text.strip())
    if "/" in name or name == "UTC":
        try:
            ZoneInfo(name)
            return name
        except (ZoneInfoNotFoundError, ValueError):
            pass
    by_lower = {z.lower(): z for z in available_timezones()}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    raise UsageError(f"不认识时区“{text}”，请写 IANA 时区名，例如 Asia/Shanghai、Europe/Berlin、America/New_York。",
                     SET_USAGE)


def _clock(value: time | None) -> str:
    return value.strftime("%H:%M") if value else "关闭"


# ---------------------------------------------------------------------------- /项目 设置


@commands.command(
    ("设置", "set", "settings", "config"),
    usage=SET_USAGE,
    summary="查看或修改日报、周会等节奏和章程（编号、发起人、预算、目标…；修改仅 PM）",
)
def project_settings(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    if not args.words:
        if args.mentions:
            raise UsageError("要设置什么？例如：/项目 设置 发起人 @某人", charter.CHARTER_SET_USAGE)
        return settings_overview(ctx, project)
    what, rest = args.words[0].lower(), args.words[1:]
    if what in closeout_report.GOAL_RESULT_NAMES:  # works on a closed project too (project_closeout)
        return closeout_report.set_goal_result(ctx, rest)
    ctx.require_manager("修改项目设置")
    value = " ".join(rest).strip()
    charter_setter = charter.find_setter(what)
    if charter_setter is not None:  # 编号 发起部门 发起人 预算 目标 成果 干系人 变更审批
        if not rest and not args.mentions:
            raise UsageError(f"“{args.words[0]}”后面缺少要设置的值。", charter.CHARTER_SET_USAGE)
        return charter_setter(ctx, project, Args(rest, dict(args.options), list(args.mentions)))
    for names, setter in _SETTERS:
        if what in names:
            if not value:
                raise UsageError(f"“{args.words[0]}”后面缺少要设置的值。", SET_USAGE)
            return setter(ctx, project, value)
    raise UsageError(f"没有“{args.words[0]}”这项设置。", f"{SET_USAGE}\n章程：{charter.CHARTER_SET_USAGE}")


# History fields of the settings and the project columns they stand for (remembered, so /撤销 restores them).
_SETTING_COLUMNS = {
    "meeting": ("meeting_weekday", "meeting_time"),
    "work_hours": ("work_start", "work_end"),
    "calendar": (),  # days in their own table: not restored by an undo
}


def _change(ctx: Context, project: Project, field: str, old: object, new: object) -> None:
    """Call before changing the project: the columns' values now are what an undo restores."""
    columns = _SETTING_COLUMNS.get(field, (field,))
    record_change(
        ctx.session, project_id=project.id, entity="project", entity_id=project.id, actor=ctx.sender,
        at=ctx.incoming.sent_at, field=field, old=old, new=new,
        before=column_values(project, columns) if columns else None,
    )


def _set_daily(ctx: Context, project: Project, value: str) -> Reply:
    new = parse_clock(value)
    if project.nudge_time is not None and project.nudge_time <= new:
        raise UserError(f"催办时间 {_clock(project.nudge_time)} 不晚于 {_clock(new)}。请先调整催办（/项目 设置 催办 …|关闭）。")
    _change(ctx, project, "daily_prompt_time", _clock(project.daily_prompt_time), _clock(new))
    project.daily_prompt_time = new
    return Reply(f"日报提醒改为每个工作日 {_clock(new)}（{project.timezone}），下一次起生效。")


def _set_meeting(ctx: Context, project: Project, value: str) -> Reply:
    parts = value.split()
    if len(parts) != 2:
        raise UsageError("周会要写星期几和时间。", "/项目 设置 周会 周一 09:00")
    weekday, clock = parse_weekday(parts[0]), parse_clock(parts[1])
    old = f"{WEEKDAY_LABELS[project.meeting_weekday]} {_clock(project.meeting_time)}"
    _change(ctx, project, "meeting", old, f"{WEEKDAY_LABELS[weekday]} {_clock(clock)}")
    project.meeting_weekday, project.meeting_time = weekday, clock
    agenda = _clock(project.agenda_time or project.daily_prompt_time)
    return Reply(
        f"周会改为每{WEEKDAY_LABELS[weekday]} {_clock(clock)}；议程在会前一个工作日 {agenda} 发出，"
        "会后 2 小时发纪要。周会当天是休息日时，该周不开会。"
    )


def _set_agenda(ctx: Context, project: Project, value: str) -> Reply:
    new = None if value.lower() in _DEFAULT_WORDS else parse_clock(value)
    _change(ctx, project, "agenda_time", _clock(project.agenda_time), _clock(new))
    project.agenda_time = new
    shown = _clock(new) if new else f"{_clock(project.daily_prompt_time)}（同日报时间）"
    return Reply(f"周会议程改为在会前一个工作日 {shown} 发出。")


def _set_digest(ctx: Context, project: Project, value: str) -> Reply:
    new = parse_clock(value)
    _change(ctx, project, "digest_time", _clock(project.digest_time), _clock(new))
    project.digest_time = new
    return Reply(f"PM 每日汇总改为每个工作日 {_clock(new)} 发出（每周最后一个工作日另发周报）。")


def _set_hours(ctx: Context, project: Project, value: str) -> Reply:
    parts = [p for p in re.split(r"\s*(?:-|~|～|至|到|\s)\s*", value.strip()) if p]
    if len(parts) != 2:
        raise UsageError("工作时间写成 09:00-18:00。", "/项目 设置 工作时间 09:00-18:00")
    start, end = parse_clock(parts[0]), parse_clock(parts[1])
    if start >= end:
        raise UserError(f"上班时间 {_clock(start)} 应早于下班时间 {_clock(end)}。")
    _change(ctx, project, "work_hours", f"{_clock(project.work_start)}-{_clock(project.work_end)}",
            f"{_clock(start)}-{_clock(end)}")
    project.work_start, project.work_end = start, end
    return Reply(f"工作时间改为 {_clock(start)}–{_clock(end)}：提醒和升级只在工作日的这段时间内发出。")


def _set_timezone(ctx: Context, project: Project, value: str) -> Reply:
    new = parse_timezone(value)
    _change(ctx, project, "timezone", project.timezone, new)
    project.timezone = new
    return Reply(f"项目时区改为 {new}：日报、周会、汇总和提醒都按这个时区的当地时间发出。")


def _set_nudge(ctx: Context, project: Project, value: str) -> Reply:
    new = None if value.lower() in _OFF_WORDS else parse_clock(value)
    if new is not None and new <= project.daily_prompt_time:
        raise UserError(f"催办时间应晚于日报时间 {_clock(project.daily_prompt_time)}。")
    _change(ctx, project, "nudge_time", _clock(project.nudge_time), _clock(new))
    project.nudge_time = new
    if new is None:
        return Reply("已关闭二次催办。")
    return Reply(f"每个工作日 {_clock(new)} 会再 @ 一次当天还没更新任务的负责人（只催一次）。")


_ON_WORDS = ("开", "开启", "打开", "on", "yes", "是")


@dataclass(frozen=True, slots=True)
class _Switch:
    """A per-project rule turned on or off (`/项目 设置 <name> 开|关`): the column, and what each answer says."""

    name: str  # as typed, for the usage line
    column: str
    on: str
    off: str

    def __call__(self, ctx: Context, project: Project, value: str) -> Reply:
        word = value.strip().lower()
        if word not in _ON_WORDS and word not in _OFF_WORDS:
            raise UsageError(f"“{value}”看不懂，请写 开 或 关。", f"/项目 设置 {self.name} 开|关")
        new = word in _ON_WORDS
        _change(ctx, project, self.column, getattr(project, self.column), new)
        setattr(project, self.column, new)
        return Reply(self.on if new else self.off)


_DUE_APPROVAL = _Switch(
    "延期审批", "due_approval",
    on="已开启延期审批：负责人把自己的截止日期往后推，要 PM 批准才生效。\n"
    "PM 处理：/任务 批准 #12 ｜ /任务 驳回 #12 [原因]",
    off="已关闭延期审批：负责人改自己的截止日期直接生效（PM 的汇总里照样列出每次延期/提前）。",
)
_SLIP_ALERTS = _Switch(
    "下游提醒", "slip_alerts",
    on="已开启下游提醒：任务阻塞、推迟或逾期时，会在群里提醒后续任务的负责人一次（附预测影响），解除后再告知。",
    off="已关闭下游提醒：任务阻塞、推迟或逾期时，不再在群里提醒后续任务的负责人。",
)
_RISK_PROPOSALS = _Switch(
    "风险提示", "risk_proposals",
    on="已开启风险提示：成员更新里说可能延期、没把握或有保留（“估计赶不上”“有点悬”“原则上周五能完成”）时，"
    "记为备注并提请 PM 登记风险。\nPM 处理：/风险 采纳 #12 ｜ /风险 忽略 #12 ｜ /风险 候选",
    off="已关闭风险提示：成员更新里的“可能延期”“有点悬”等照样记为备注，不再提请 PM 登记风险。",
)
_LEAVE_HANDOVER = _Switch(
    "交接", "leave_handover",
    on="已开启请假交接：请假开始前提议由谁代为负责期间到期的事项，PM 确认：/交接 确认 #12",
    off="已关闭请假交接：请假的人照样不收提醒，但不再提议代理人。",
)
_HOLIDAY_DEADLINES = _Switch(
    "节假日截止", "holiday_deadlines",
    on="已开启节假日截止提醒：长假（国庆、春节、五一）前两周的周会议程列出假期中和节后头几天到期的任务，"
    "并写明实际剩几个工作日。",
    off="已关闭节假日截止提醒：周会议程不再单列长假前后到期的任务。",
)
_MERGED_PROMPT = _Switch(
    "合并提醒", "merged_prompt",
    on="已开启合并提醒：同时在几个项目里有任务的人，在最早的日报时间私信收到一条汇总所有项目的提醒，"
    "群里的日报照样列出他们的任务但不再 @ 他们；私信里直接回复即可更新（#12 完成，重号时写 项目名#12）。",
    off="已关闭合并提醒：本项目的日报照常在群里 @ 每位负责人，不并入私信。",
)
_REMINDER_CAP = _Switch(
    "提醒上限", "reminder_cap",
    on="已开启每日提醒上限：同一个人一天在所有项目里收到的单独提醒有上限，超出的合并到他下一次的日报里列出。",
    off="已关闭本项目的每日提醒上限：本项目的到期和逾期提醒都单独发出（仍计入这个人当天的提醒数）。",
)


_SETTERS = (
    (("日报", "提醒", "daily", "prompt"), _set_daily),
    (("周会", "例会", "meeting"), _set_meeting),
    (("议程", "agenda"), _set_agenda),
    (("汇总", "digest"), _set_digest),
    (("工作时间", "hours", "workhours"), _set_hours),
    (("时区", "timezone", "tz"), _set_timezone),
    (("催办", "nudge"), _set_nudge),
    (("延期审批", "审批", "approval", "due-approval"), _DUE_APPROVAL),
    (("下游提醒", "下游预警", "slip-alerts", "slips"), _SLIP_ALERTS),
    (("风险提示", "风险候选", "risk-hints", "risk-proposals"), _RISK_PROPOSALS),
    (("交接", "请假交接", "handover"), _LEAVE_HANDOVER),
    (("节假日截止", "节前截止", "holiday-deadlines"), _HOLIDAY_DEADLINES),
    (("合并提醒", "合并日报", "私信提醒", "merged-prompt", "merged"), _MERGED_PROMPT),
    (("提醒上限", "每日提醒上限", "reminder-cap", "cap"), _REMINDER_CAP),
)


def settings_overview(ctx: Context, project: Project, national: NationalCalendar | None = None) -> Reply:
    agenda = _clock(project.agenda_time) if project.agenda_time else f"{_clock(project.daily_prompt_time)}（同日报）"
    lines = [
        f"状态：{'已暂停（/项目 恢复）' if project.paused else '运行中'}",
        f"时区：{project.timezone}",
        f"日报：每个工作日 {_clock(project.daily_prompt_time)} · 二次催办：{_clock(project.nudge_time)}",
        f"周会：每{WEEKDAY_LABELS[project.meeting_weekday]} {_clock(project.meeting_time)} · 议程：会前一个工作日 {agenda}",
        f"PM 汇总：每个工作日 {_clock(project.digest_time)}（每周最后一个工作日另发周报）",
        f"工作时间：{_clock(project.work_start)}–{_clock(project.work_end)}（提醒与升级只在这段时间）",
        f"延期审批：{'开（负责人推迟自己的截止日期需 PM 批准）' if project.due_approval else '关'}",
        f"下游提醒：{'开（任务阻塞、推迟、逾期时提醒后续任务的负责人）' if project.slip_alerts else '关'}",
        f"风险提示：{'开（更新里说可能延期、没把握时提请 PM 登记风险）' if project.risk_proposals else '关'}",
        f"请假交接：{'开（请假前提议代理人，PM 确认）' if project.leave_handover else '关'}",
        f"节假日截止：{'开（长假前的议程列出假期前后到期的任务）' if project.holiday_deadlines else '关'}",
        f"合并提醒：{'开（在几个项目里都有任务的人私信收一条合并的日报）' if project.merged_prompt else '关'}",
        f"提醒上限：{'开（每人每天的单独提醒有上限，其余并入日报）' if project.reminder_cap else '关（本项目提醒都单独发）'}",
        "日历：中国法定节假日与调休" + _calendar_note(ctx.today, national or national_calendar()),
    ]
    overrides = project_days_from(
        ctx.session, project_id=project.id, since=ctx.today - timedelta(days=7), limit=LISTED_OVERRIDES + 1
    )
    off = [_override(d, ctx.today) for d in overrides[:LISTED_OVERRIDES] if d.kind == CalendarDayKind.OFF]
    work = [_override(d, ctx.today) for d in overrides[:LISTED_OVERRIDES] if d.kind == CalendarDayKind.WORK]
    lines.append(f"项目休息日：{'；'.join(off) or '无'}")
    lines.append(f"项目补班日：{'；'.join(work) or '无'}")
    if len(overrides) > LISTED_OVERRIDES:
        lines.append("…更多日期未列出")
    lines.append(f"变更审批：{charter.APPROVAL_LABELS.get(project.change_approval, project.change_approval)}")
    lines.append("修改：" + SET_USAGE)
    lines.append("章程：" + charter.CHARTER_SET_USAGE + "（/项目 章程 查看）")
    return Reply("\n".join(lines), title=f"项目设置：{project.name}")


def _calendar_note(today: date, national: NationalCalendar) -> str:
    unknown = [y for y in (today.year, today.year + 1) if not national.is_known(y)]
    if not unknown:
        return ""
    years = "、".join(str(y) for y in unknown)
    return f"（{years} 年官方安排尚未收录，暂按周末 + 法定节日估算）"


def _override(entry: CalendarDay, today: date) -> str:
    return day(entry.day, today=today) + (f" {entry.note}" if entry.note else "")


# ---------------------------------------------------------------------------- pause / resume


@commands.command(("暂停", "pause"), usage="/项目 暂停", summary="暂停日报、议程、汇总和提醒（仅 PM）")
def pause(ctx: Context, _args: Args) -> Reply:
    project = ctx.require_project()
    ctx.require_manager("暂停项目提醒")
    if project.paused:
        return Reply("项目提醒已经是暂停状态。恢复：/项目 恢复")
    _change(ctx, project, "paused", False, True)
    project.paused = True
    return Reply("已暂停：不再发日报、议程、汇总和提醒。恢复：/项目 恢复")


@commands.command(("恢复", "resume"), usage="/项目 恢复", summary="恢复日报、议程、汇总和提醒（仅 PM）")
def resume(ctx: Context, _args: Args) -> Reply:
    project = ctx.require_project()
    ctx.require_manager("恢复项目提醒")
    if not project.paused:
        return Reply("项目提醒正在运行，无需恢复。")
    _change(ctx, project, "paused", True, False)
    project.paused = False
    return Reply(f"已恢复：日报每个工作日 {_clock(project.daily_prompt_time)} 照常发出。")


# ---------------------------------------------------------------------------- project days off / extra workdays


def _parse_days(text: str, today: date, usage: str) -> list[date]:
    first, last = parse_day_range(text, today=today, usage=usage, max_days=MAX_RANGE_DAYS)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _calendar_command(ctx: Context, args: Args, kind: CalendarDayKind, usage: str) -> Reply:
    project = ctx.require_project()
    ctx.require_manager("调整项目日历")
    if not args.words:
        raise UsageError("缺少日期。", usage)
    words = list(args.words)
    if words[0].lower() in _REMOVE_WORDS:
        if len(words) < 2:
            raise UsageError("缺少要删除的日期。", usage)
        days = _parse_days(" ".join(words[1:]), ctx.today, usage)
        removed = remove_project_days(ctx.session, project_id=project.id, days=days)
        if not removed:
            raise UserError("这些日期没有项目自定义安排，按法定日历执行。")
        _change(ctx, project, "calendar", ",".join(d.isoformat() for d in days), None)
        return Reply(f"已删除 {removed} 天的项目自定义安排，这些日期恢复按法定日历执行。")
    # The date may be a range written with spaces ("12-24 ~ 12-26"): take words while they form one.
    date_text, words = take_day_range(words)
    days = _parse_days(date_text, ctx.today, usage)
    note = " ".join(words).strip() or None
    if note and len(note) > MAX_NOTE:
        raise UserError(f"说明请控制在 {MAX_NOTE} 字以内。")
    set_project_days(ctx.session, project_id=project.id, days=days, kind=kind, note=note)
    label = "休息日" if kind == CalendarDayKind.OFF else "补班日（工作日）"
    _change(ctx, project, "calendar", None, f"{kind.value}:{days[0].isoformat()}~{days[-1].isoformat()}")
    shown = day(days[0], today=ctx.today) + (f" 至 {day(days[-1], today=ctx.today)}" if len(days) > 1 else "")
    effect = "当天不发日报、议程、汇总和提醒。" if kind == CalendarDayKind.OFF else "当天照常发日报和提醒。"
    return Reply(f"已把 {shown} 设为本项目的{label}" + (f"：{note}" if note else "") + f"。{effect}")


@commands.command(("休息日", "放假", "dayoff", "holiday"), usage=DAY_OFF_USAGE, summary="设置项目自己的休息日（仅 PM）")
def day_off(ctx: Context, args: Args) -> Reply:
    return _calendar_command(ctx, args, CalendarDayKind.OFF, DAY_OFF_USAGE)


@commands.command(("补班", "工作日", "workday"), usage=EXTRA_WORKDAY_USAGE, summary="设置项目额外的工作日（仅 PM）")
def extra_workday(ctx: Context, args: Args) -> Reply:
    return _calendar_command(ctx, args, CalendarDayKind.WORK, EXTRA_WORKDAY_USAGE)


