"""“是” after “是要把 #1 标记为已完成吗？”: the sender's pending proposal applied, or dropped.

`handlers.handle_message` takes the sender's proposal (`models.take_pending_update`) before running
their message, outside the command's savepoint, so any next message ends it; only a confirmation from
the same person within `CONFIRM_WINDOW` of the question applies it, each update on its own.
"""

from __future__ import annotations

import re
from datetime import timedelta

from bot.messages import Mention, Reply
from handlers import whatif
from handlers.context import Context
from handlers.errors import UserError
from handlers.free_text import FREE_TEXT_USAGE
from handlers.task_updates import apply_update
from models import Proposal, Task, TaskStatus
from reports.format import TASK_STATUS_LABELS

CONFIRM_WINDOW = timedelta(minutes=5)
_YES = re.compile(
    r"(?:是|是的|是滴|对|对的|对啊|没错|确认|确定|嗯|嗯嗯|好|好的|可以|行|yes|y|yep|yeah|ok|okay|confirm)[!！。.~]*", re.I
)
_NO = re.compile(r"(?:不是|不对|否|不|不用|不要|别|取消|算了|错了|no|n|nope|cancel)[!！。.~]*", re.I)
NOTHING_PENDING = "没有等你确认的更新。" + f"更新任务可以写：{FREE_TEXT_USAGE}"


def answer(text: str) -> bool | None:
    """True for a yes, False for a no, None for anything else."""
    text = text.strip()
    if _YES.fullmatch(text):
        return True
    if _NO.fullmatch(text):
        return False
    return None


def settle(ctx: Context, proposal: Proposal | None, text: str) -> Reply | None:
    """The reply to a yes or no (with or without a proposal); None: the message is something else."""
    said = answer(text)
    if said is None:
        return None
    if proposal is None:
        return Reply(NOTHING_PENDING) if said else None
    if not said:
        return Reply("好的，没有改动。")
    if ctx.incoming.sent_at - proposal.proposed_at > CONFIRM_WINDOW:
        minutes = int(CONFIRM_WINDOW.total_seconds() // 60)
        again = "请重新推演。" if whatif.is_what_if(proposal) else "请重新发一次更新。"
        return Reply(f"这个确认已经过期（超过 {minutes} 分钟），没有改动。{again}")
    if whatif.is_what_if(proposal):
        return whatif.apply_confirmed(ctx, proposal)
    return _apply(ctx, proposal)


def _apply(ctx: Context, proposal: Proposal) -> Reply:
    lines: list[str] = []
    mentions: list[Mention] = []
    for update in proposal.updates:
        try:
            with ctx.session.begin_nested():  # each on its own, as when it was typed
                task = ctx.require_numbered(Task, int(update["number"]))
                if task.status.value != update.get("was", task.status.value):
                    raise UserError(f"{task.ref} 在这期间已改成{TASK_STATUS_LABELS[task.status]}，没有改动，请重新发更新。")
                status = TaskStatus(update["status"]) if update["status"] else None
                reply = apply_update(
                    ctx, task, status=status, progress=update["progress"], note=update["note"],
                    brief=len(proposal.updates) > 1,
                )
        except UserError as exc:
            lines.append(exc.message)
            continue
        lines.append(reply.text)
        mentions += reply.mentions
    return Reply("\n".join(lines), mentions=tuple(dict.fromkeys(mentions)))
