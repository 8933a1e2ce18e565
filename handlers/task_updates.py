"""Status and progress updates of a task: `/任务 #12 完成`, the shortcuts /开始 /完成 /阻塞 /进度, and
what free text (`handlers.free_text`) understood."""

from __future__ import annotations

import re
from datetime import date

from bot.messages import Mention, Reply
from handlers.context import Context
from handlers.errors import UsageError, UserError
from handlers.router import CommandGroup
from handlers.task_refs import MAX_NOTE, require_task, require_updatable, task_number
from handlers.text import Args
from models import Edit, Task, TaskStatus
from reports.format import TASK_STATUS_LABELS, day, mention, shorten

START_USAGE = "/开始 #12"
DONE_USAGE = "/完成 #12 [说明]"
BLOCK_USAGE = "/阻塞 #12 <原因>"
PROGRESS_USAGE = "/进度 #12 60% [说明]"



def apply_update(
    ctx: Context,
    task: Task,
    *,
    status: TaskStatus | None = None,
    progress: int | None = None,
    note: str | None = None,
    brief: bool = False,
) -> Reply:
    """Change a task's status and/or progress, with a history row per field changed (the message's
    sender and time, so everything one message changed shares them). `brief`: one of several in a reply."""
    actor = require_updatable(ctx, task)
    if note and len(note) > MAX_NOTE:
        raise UserError(f"说明太长（{len(note)} 字），请控制在 {MAX_NOTE} 字以内。")
    if task.status == TaskStatus.CANCELLED:
        raise UserError(f"{task.ref} 已取消，不能再更新。")
    if status == TaskStatus.BLOCKED and not note:
        raise UsageError(f"请写上 {task.ref} 阻塞的原因。", BLOCK_USAGE)
    if progress is not None and not 0 <= progress <= 100:
        raise UsageError("进度应在 0% 到 100% 之间。", PROGRESS_USAGE)
    still_blocked = False
    if status is None and progress is not None:
        status = TaskStatus.DONE if progress == 100 else TaskStatus.IN_PROGRESS
        if task.status == TaskStatus.BLOCKED and progress < 100:
            status = TaskStatus.BLOCKED  # progress while blocked keeps the blocker (and its reason) visible
            still_blocked = True
    if status == TaskStatus.DONE:
        progress = 100
    now = ctx.incoming.sent_at
    edit = Edit(ctx.session, task, entity="task", actor=actor, at=now)
    moved = status is not None and status != task.status
    if status is not None and moved:
        ctx.slip_checks.setdefault(task.id, task.due_date)
        edit.status(status, note=note, status_changed_at=now, completed_at=now if status == TaskStatus.DONE else None)
    if status == TaskStatus.BLOCKED and not still_blocked and note != task.blocked_reason:
        edit.set(blocked_reason=note)
    elif status is not None and status != TaskStatus.BLOCKED and task.blocked_reason is not None:
        edit.set(blocked_reason=None)
    if progress is not None and progress != task.progress:
        edit.field("progress", task.progress, progress, note=None if moved else note)
    if not edit.changed:
        if note:
            edit.record("note", note=note)
            edit.apply()
            return Reply(f"已记录 {task.ref} 的说明：{note}")
        return Reply(f"{task.ref} 已经是{TASK_STATUS_LABELS[task.status]}（{task.progress}%），没有变化。")
    edit.apply()
    ready = _unblocked_followers(task)
    text = _update_summary(task, None if brief else ctx.today, note)
    if ready:
        text += "\n可以开始：" + "，".join(f"{s.ref} {shorten(s.title, 20)}（{mention(s.owner)}）" for s in ready)
    return Reply(text, mentions=tuple(Mention(s.owner.user_id, s.owner.name) for s in ready if s.owner))


def _update_summary(task: Task, today: date | None, note: str | None) -> str:
    state = TASK_STATUS_LABELS[task.status]
    if task.status in (TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED) and task.progress:
        state += f" {task.progress}%"
    text = f"{task.ref} {shorten(task.title)} → {state}"
    if task.status == TaskStatus.BLOCKED:
        text += f"\n原因：{task.blocked_reason or '未说明'}"
    elif note:
        text += f"\n说明：{note}"
    if task.status.is_open and task.due_date and today is not None:
        text += f"\n截止 {day(task.due_date, today=today)}"
    return text


def add_note(ctx: Context, task: Task, note: str) -> Reply:
    """A comment on a task (`#12 备注 …`, `/任务 备注 #12 …`): a history row, no field changed."""
    actor = ctx.require_sender()
    if len(note) > MAX_NOTE:
        raise UserError(f"备注太长（{len(note)} 字），请控制在 {MAX_NOTE} 字以内。")
    edit = Edit(ctx.session, task, entity="task", actor=actor, at=ctx.incoming.sent_at)
    edit.record("note", note=note)
    edit.apply()
    return Reply(f"已记录 {task.ref} 的备注：{note}")


def _unblocked_followers(task: Task) -> list[Task]:
    """When a task is done, the tasks it was holding up that are now free to start."""
    if task.status != TaskStatus.DONE:
        return []
    return [
        s for s in task.successors
        if s.status.is_open and all(p.status in (TaskStatus.DONE, TaskStatus.CANCELLED) for p in s.predecessors)
    ]


_PERCENT = re.compile(r"(?<![\d-])(-?\d{1,4})\s*%")


def update_from_words(ctx: Context, task: Task, status: TaskStatus | None, words: list[str]) -> Reply:
    note = " ".join(words).strip() or None
    if status is None:  # progress
        if words and words[0].lstrip("-").isdigit() and len(words[0]) <= 4:  # “/进度 #12 60”
            return apply_update(ctx, task, progress=int(words[0]), note=" ".join(words[1:]).strip() or None)
        match = _PERCENT.search(note or "")
        if not match:
            raise UsageError("缺少进度百分比。", PROGRESS_USAGE)
        rest = (_PERCENT.sub("", note or "", count=1)).strip() or None
        return apply_update(ctx, task, progress=int(match.group(1)), note=rest)
    return apply_update(ctx, task, status=status, note=note)


VERBS: tuple[tuple[tuple[str, ...], TaskStatus | None], ...] = (
    (("开始", "start"), TaskStatus.IN_PROGRESS),
    (("完成", "done", "finish"), TaskStatus.DONE),
    (("阻塞", "block", "blocked"), TaskStatus.BLOCKED),
    (("进度", "progress"), None),
)


def _quick(names: tuple[str, ...], status: TaskStatus | None, usage: str, summary: str) -> CommandGroup:
    """A top-level shortcut such as `/完成 #12`, the same update as `/task #12 done`."""
    quick = CommandGroup(names, summary=summary)

    @quick.default_command(usage=usage, summary=summary)
    def run(ctx: Context, args: Args) -> Reply:
        if not args.words:
            raise UsageError("缺少任务编号。", usage)
        task = require_task(ctx, task_number(args.words[0], usage))
        return update_from_words(ctx, task, status, args.words[1:])

    return quick


START = _quick(("开始", "start"), TaskStatus.IN_PROGRESS, START_USAGE, "开始任务：#12 → 进行中")
DONE = _quick(("完成", "done"), TaskStatus.DONE, DONE_USAGE, "完成任务")
BLOCK = _quick(("阻塞", "block"), TaskStatus.BLOCKED, BLOCK_USAGE, "标记阻塞并写明原因")
PROGRESS = _quick(("进度", "progress"), None, PROGRESS_USAGE, "更新进度百分比")


SHORTCUTS = (START, DONE, BLOCK, PROGRESS)  # /开始 /完成 /阻塞 /进度
