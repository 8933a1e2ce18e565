"""The buttons replies offer where one tap beats typing: each runs the typed command as whoever
presses it (same permissions, same history). Cards show them (Feishu); text renderers leave them out
(`Section.hint=False`), the text already says what to type or the command is in the usage."""

from __future__ import annotations

from dataclasses import replace

from bot.messages import Button, Reply, Section
from handlers.context import Context
from models import OPEN_TASK_STATUSES, ActionItem, ActionStatus, Risk, RiskStatus, Task
from models.undo import message_changed
from reports.text import status_buttons

YES, NO = "是", "不是"


def with_buttons(reply: Reply, *buttons: Button) -> Reply:
    """`reply` with a row of buttons under it (text renderers show it as before)."""
    if not buttons:
        return reply
    return replace(reply, sections=(*reply.sections, Section(buttons=buttons, hint=False)))


def task_actions(task: Task) -> tuple[Button, ...]:
    return status_buttons(task.ref, task.status) if task.status in OPEN_TASK_STATUSES else ()


def risk_actions(risk: Risk) -> tuple[Button, ...]:
    if risk.status == RiskStatus.CLOSED:
        return (Button("重开", f"/风险 重开 {risk.ref}"),)
    return (
        Button("更新", f"/风险 更新 {risk.ref}", input="进展"),
        Button("关闭", f"/风险 关闭 {risk.ref}", style="danger"),
    )


def action_actions(item: ActionItem) -> tuple[Button, ...]:
    return (Button("完成", f"/行动 完成 {item.ref}", style="primary"),) if item.status == ActionStatus.OPEN else ()


def confirm_buttons(user_id: str) -> tuple[Button, ...]:
    """The answers to “是要……吗？” (only the person asked can confirm: the proposal is theirs)."""
    return (Button("是", YES, (user_id,), "primary"), Button("不是", NO, (user_id,)))


def undo_button(user_id: str, event_key: str) -> Button:
    """Takes back what this message changed, however many changes came after it (`/撤销 消息:…`)."""
    return Button("撤销", f"/撤销 消息:{event_key}", (user_id,))


def undoable(ctx: Context, reply: Reply) -> Reply:
    """`reply` with 撤销 under it when this message changed something `/撤销` takes back."""
    sender, project = ctx.sender, ctx.project
    if sender is None or project is None or reply.style == "refusal":
        return reply
    if not message_changed(ctx.session, project_id=project.id, event_key=ctx.incoming.event_key):
        return reply
    return with_buttons(reply, undo_button(sender.user_id, ctx.incoming.event_key))
