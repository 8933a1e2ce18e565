"""Short, scannable Chinese renderings shared by handlers and scheduler builders."""

from __future__ import annotations

from datetime import date

from models import ActionStatus, Change, Member, RiskLevel, RiskStatus, RiskStrategy, Role, TaskStatus

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


# History rows store enum codes for status-like fields and display text for the rest.
FIELD_LABELS = {
    "title": "标题",
    "owner": "负责人",
    "due": "截止",
    "due_request": "延期申请",
    "start": "开始",
    "dept": "部门",
    "deliverable": "交付物",
    "milestone": "里程碑",
    "acceptance_criteria": "验收标准",
    "wbs": "WBS编号",
    "parent": "父任务",
    "deps": "依赖",
    "level": "等级",
    "impact": "影响",
    "mitigation": "措施",
    "strategy": "应对",
    "trigger": "触发",
    "description": "描述",
    "content": "内容",
    "role": "角色",
    "origin": "来源",
    "progress": "进度",
    "name": "名称",
    "blocked_reason": "阻塞原因",
    "removed": "移出项目",
    "joined": "加入项目",
    "rejoined": "重新加入",
    "daily_prompt_time": "日报时间",
    "meeting": "周会",
    "agenda_time": "议程时间",
    "digest_time": "汇总时间",
    "work_hours": "工作时间",
    "timezone": "时区",
    "nudge_time": "催办时间",
    "paused": "暂停",
    "calendar": "日历",
    "code": "项目编号",
    "sponsor_department": "发起部门",
    "sponsor": "发起人",
    "budget": "预算",
    "goals": "目标",
    "expected_results": "预期成果",
    "stakeholders": "关键干系人",
    "change_approval": "变更审批",
    "charter_ack": "确认章程",
    "change_request": "变更",
    "approval": "批准",
    "acceptance": "验收",
    "goal_result": "目标结果",
    "template": "模板",
    "action": "行动项",
}
_EVENT_FIELDS = frozenset({"charter_ack", "change_request", "approval", "acceptance"})
_STATUS_LABELS: dict[str, dict[str, str]] = {
    "task": {s.value: label for s, label in TASK_STATUS_LABELS.items()},
    "risk": {s.value: label for s, label in RISK_STATUS_LABELS.items()},
    "action": {s.value: label for s, label in ACTION_STATUS_LABELS.items()},
    "change_request": {"pending": "待批准", "applied": "已批准并执行", "rejected": "已驳回"},
}
_VALUE_LABELS: dict[str, dict[str, str]] = {
    "level": {s.value: label for s, label in RISK_LEVEL_LABELS.items()},
    "strategy": {s.value: label for s, label in RISK_STRATEGY_LABELS.items()},
    "role": {s.value: label for s, label in ROLE_LABELS.items()},
}


def describe_change(change: Change) -> str:
    """One history row in words: `截止：11-27 → 12-01（接口延期）`."""
    if change.field == "created":
        text = "创建"
    elif change.field == "note":
        text = "说明"
    elif change.field == "status":
        labels = _STATUS_LABELS.get(change.entity, {})
        old, new = change.old_value or "", change.new_value or ""
        text = f"{labels.get(old, old)} → {labels.get(new, new)}"
    elif change.field == "progress":
        text = f"进度 {change.old_value}% → {change.new_value}%"
    elif change.field in _EVENT_FIELDS and change.old_value is None:  # a step, not a value replaced
        text = f"{FIELD_LABELS[change.field]}：{change.new_value or ''}"
    else:
        labels = _VALUE_LABELS.get(change.field, {})
        old = labels.get(change.old_value or "", change.old_value) or "空"
        new = labels.get(change.new_value or "", change.new_value) or "空"
        text = f"{FIELD_LABELS.get(change.field, change.field)}：{shorten(old, 30)} → {shorten(new, 30)}"
    if change.note:
        return f"{text}：{change.note}" if change.field == "note" else f"{text}（{change.note}）"
    return text
