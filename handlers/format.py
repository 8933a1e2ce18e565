"""Short, scannable Chinese renderings shared by handlers and scheduler builders."""

from __future__ import annotations

from datetime import date

from models import ActionStatus, Member, RiskLevel, RiskStatus, RiskStrategy, Role, TaskStatus

TASK_STATUS_LABELS = {
    TaskStatus.TODO: "待开始",
    TaskStatus.IN_PROGRESS: "进行中",
    TaskStatus.DONE: "已完成",
    TaskStatus.BLOCKED: "阻塞",
    TaskStatus.CANCELLED: "已取消",
}
TASK_STATUS_ICONS = {
    TaskStatus.TODO: "⚪",
    TaskStatus.IN_PROGRESS: "🔵",
    TaskStatus.DONE: "✅",
    TaskStatus.BLOCKED: "⛔",
    TaskStatus.CANCELLED: "➖",
}
RISK_LEVEL_LABELS = {RiskLevel.HIGH: "高", RiskLevel.MEDIUM: "中", RiskLevel.LOW: "低"}
RISK_STRATEGY_LABELS = {
    RiskStrategy.AVOID: "规避",
    RiskStrategy.MITIGATE: "减轻",
    RiskStrategy.TRANSFER: "转移",
    RiskStrategy.ACCEPT: "接受",
}
RISK_STATUS_LABELS = {RiskStatus.OPEN: "打开", RiskStatus.CLOSED: "已关闭"}
ACTION_STATUS_LABELS = {ActionStatus.OPEN: "未完成", ActionStatus.DONE: "已完成", ActionStatus.CANCELLED: "已取消"}
ROLE_LABELS = {Role.PM: "PM", Role.CO_PM: "副PM", Role.MEMBER: "成员"}
WEEKDAY_LABELS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def day(value: date | None, *, today: date | None = None) -> str:
    """`12-01(周二)`; the year is shown only when it is not this year's."""
    if value is None:
        return "未定"
    shown = value.strftime("%m-%d") if today is None or value.year == today.year else value.isoformat()
    return f"{shown}({WEEKDAY_LABELS[value.weekday()]})"


def person(member: Member | None) -> str:
    return member.name if member else "未指派"


def mention(member: Member | None) -> str:
    """A mention marker the platform renders as a real @ (notifies the person)."""
    return f"<@{member.user_id}>" if member else "未指派"


def shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
