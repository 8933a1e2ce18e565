"""The forecast in Chinese: the milestone list, the critical path, a what-if's answer, a slip warning."""

from __future__ import annotations

from datetime import date

from reports.forecast import Forecast, MilestoneRow, TaskForecast, WhatIf
from reports.format import TASK_STATUS_LABELS, day, shorten
from reports.plan import Plan

WORKDAYS_NOTE = "（天数均为工作日，已按节假日、调休和项目休息日计算）"


def _owner(forecast: TaskForecast) -> str:
    return forecast.task.owner or "未指派"


def milestone_line(row: MilestoneRow, today: date) -> str:
    own = row.forecast
    mark = "✅" if own.done else ("⚠" if row.at_risk else "◆")
    text = f"{mark}{own.task.ref} {shorten(own.task.title, 24)} · {_owner(own)} · 计划 {day(own.planned_finish, today=today)}"
    if own.done:
        text += f" · 已于 {day(own.finish, today=today)} 完成"
        if own.slip:
            text += f"（晚 {own.slip} 个工作日）"
        return text
    text += f" · 预计 {day(own.finish, today=today)}"
    if row.reasons:
        text += " · " + "，".join(row.reasons)
    return text


def milestone_list(rows: list[MilestoneRow], today: date) -> list[str]:
    return [milestone_line(r, today) for r in rows]


def critical_path_lines(plan: Plan, result: Forecast) -> list[str]:
    lines: list[str] = []
    for task_id in result.critical_path:
        own = result.tasks[task_id]
        state = TASK_STATUS_LABELS[own.task.status]
        text = (
            f"{own.task.ref}{'◆' if own.task.milestone else ''} {shorten(own.task.title, 24)} · {_owner(own)} · "
            f"{state} · {day(own.start, today=plan.today)}~{day(own.finish, today=plan.today)}"
        )
        if own.slip:
            text += f" · 晚于截止 {own.slip} 个工作日"
        lines.append(text)
    return lines


def end_line(plan: Plan, result: Forecast) -> str:
    if result.end is None:
        return "没有未完成且有截止日期的任务。"
    text = f"预计完工 {day(result.end, today=plan.today)}"
    if plan.deadline is not None:
        text += f"，项目截止 {day(plan.deadline, today=plan.today)}"
        text += f"，超出 {result.deadline_slip} 个工作日" if result.deadline_slip else "，赶得上"
    return text + "。"


def what_if_lines(plan: Plan, answer: WhatIf, *, asked: str) -> list[str]:
    today = plan.today
    target = answer.result.tasks[answer.target]
    lines = [f"假设 {target.task.ref} {shorten(target.task.title, 24)} {asked}，预计 {day(answer.finish, today=today)} 完成。"]
    moved = [m for m in answer.moves if m.task.id != answer.target]
    if not moved:
        lines.append("后续任务都不受影响（有余量或没有后续任务）。")
    else:
        lines.append(f"会推迟的任务（{len(moved)}）：")
        for move in moved:
            sign = "晚" if move.shift > 0 else "早"
            text = (
                f"{move.task.ref}{'◆里程碑' if move.task.milestone else ''} {shorten(move.task.title, 24)} · "
                f"{_owner(move.after)} · {day(move.before.finish, today=today)} → {day(move.after.finish, today=today)}"
                f"（{sign} {abs(move.shift)} 个工作日）"
            )
            if move.crosses_deadline:
                text += " · ⚠超出项目截止"
            elif plan.deadline is not None and move.after.finish > plan.deadline:
                text += " · 本来就晚于项目截止"
            lines.append(text)
    milestones = [m for m in answer.moves if m.task.milestone]
    if milestones:
        lines.append("受影响的里程碑：" + "，".join(f"{m.task.ref} {shorten(m.task.title, 16)}" for m in milestones))
    crossing = [m for m in answer.moves if m.crosses_deadline]
    if crossing:
        lines.append(f"超出项目截止 {day(plan.deadline, today=today)} 的：" + "，".join(m.task.ref for m in crossing))
    lines.append(end_line(plan, answer.result))
    lines.append(WORKDAYS_NOTE.strip("（）") + "。只是推演，没有改动任何任务。")
    return lines
