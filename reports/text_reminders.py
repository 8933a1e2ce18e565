"""Reminders, escalations and notices as Chinese text (the rows come from `reports.compute_reminders`).

Ages are working time, in the escalation's own words: "N个工作日" counts 24 hours of the project
calendar's workdays each, so weekends and holidays (中秋, 国庆 …) are in neither the count nor the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from bot.messages import Reply, Section
from reports.format import day, shorten
from reports.records import MemberRow
from reports.rows import Blocked, Incident
from reports.rules import DUE_SOON_JOBS, DUE_TODAY_JOBS, ESCALATE_BLOCKED, ESCALATE_RISK, OVERDUE_JOBS
from reports.text import ANSWER_HINT, at_marker, blocked_line, mentions_of, risk_line, task_brief, titled, working_age

ESCALATION_HEAD = "以下事项超过 1 个工作日没有进展（只算工作日，周末和节假日不计），请关注："


def incident_line(incident: Incident) -> str:
    """The incident's line in its reminder or escalation."""
    if incident.task is not None and incident.job not in (ESCALATE_BLOCKED, ESCALATE_RISK):
        return task_brief(incident.task, incident.today)
    if incident.action is not None:
        action = incident.action
        overdue = ""
        if action.due_date is not None and action.due_date < incident.today:
            overdue = f" ⚠逾期{(incident.today - action.due_date).days}天"
        return f"{action.ref} {shorten(action.content)} · 截止{day(action.due_date, today=incident.today)}{overdue}"
    if incident.job == ESCALATE_BLOCKED and incident.task is not None and incident.since is not None:
        return blocked_line(Blocked(incident.task, incident.responsible, incident.since, _age(incident)))
    if incident.job == ESCALATE_RISK and incident.risk is not None:
        return f"{risk_line(incident.risk, incident.responsible)} · {working_age(_age(incident))}无更新"
    raise ValueError(f"no wording for incident {incident.job}:{incident.key}")


def _age(incident: Incident) -> timedelta:
    return incident.age if incident.age is not None else timedelta(0)


def reminders(
    incidents: Sequence[Incident], today: date, *, managers: Sequence[MemberRow], project_name: str
) -> list[Reply]:
    """At most three group messages: owners' reminders (overdue, due today, due soon), items of people on
    leave @ the PM, and escalations @ the PM."""
    replies: list[Reply] = []
    owner_items = [i for i in incidents if i.owner is not None]
    if owner_items:
        sections: list[Section] = []
        groups = (
            (OVERDUE_JOBS, "已逾期，请尽快处理或更新截止日期"),
            (DUE_TODAY_JOBS, "今天到期"),
            (DUE_SOON_JOBS, "即将到期"),
        )
        for jobs, title in groups:
            items = [i for i in owner_items if i.job in jobs]
            if items:
                shown = tuple(f"  {at_marker(i.owner)} {incident_line(i)}" for i in items if i.owner is not None)
                sections.append(Section(title=f"{title}：", lines=shown, more="/任务 列表 我的"))
        closing = [ANSWER_HINT]
        actions = [i.action for i in owner_items if i.action is not None]
        if actions:
            closing.append(f"行动项完成后回复：/行动 完成 {actions[0].ref}")
        sections.append(Section(lines=tuple(closing)))
        owners = [i.owner for i in owner_items if i.owner is not None]
        title = titled("任务提醒", project_name, day(today))
        overdue = any(i.job in OVERDUE_JOBS for i in owner_items)
        replies.append(Reply("", title=title, mentions=mentions_of(owners), sections=tuple(sections),
                             tone="attention" if overdue else "info"))
    covering = [i for i in incidents if i.owner is None and i.away]
    if covering:
        head = " ".join(at_marker(m) for m in managers) or "PM"
        lines = [f"{head} 以下事项的负责人在请假，请安排（/交接 确认 … 或 /任务 修改 #12 @某人）："]
        lines += [f"  {incident_line(i)} · {i.responsible.name if i.responsible else '未指派'}请假中" for i in covering]
        replies.append(Reply("\n".join(lines), title=titled("请假期间的到期事项", project_name),
                             mentions=mentions_of(managers), tone="attention"))
    escalations = [i for i in incidents if i.owner is None and not i.away]
    if escalations:
        head = " ".join(at_marker(m) for m in managers) or "PM"
        lines = [f"{head} {ESCALATION_HEAD}"]
        lines += [f"  {incident_line(i)}" for i in escalations]
        replies.append(Reply("\n".join(lines), title=titled("⚠ 升级提醒", project_name), mentions=mentions_of(managers),
                             tone="alert"))
    return replies


# ---------------------------------------------------------------------------- notices


def calendar_notice(year: int, *, managers: Sequence[MemberRow], project_name: str) -> Reply:
    head = " ".join(at_marker(m) for m in managers)
    text = (
        f"{head} 节假日数据里还没有 {year} 年的官方安排（国务院通知发布后需升级 chinesecalendar 并重启）。"
        f"在此之前，{year} 年按“周末 + 法定节日”估算，调休补班不会被识别。\n"
        "如需调整，可用：/项目 休息日 <日期> 、/项目 补班 <日期>"
    ).strip()
    return Reply(text, title=titled(f"日历提示：{year} 年节假日为估算", project_name), mentions=mentions_of(managers))

