"""/任务 备注 #12 <内容>: a comment on a task, kept in its history, no field changed (`#12 备注 …` too)."""

from __future__ import annotations

from bot.messages import Reply
from handlers.context import Context
from handlers.errors import UsageError
from handlers.router import CommandSet
from handlers.task_refs import require_task, task_number
from handlers.task_updates import add_note
from handlers.text import Args

NOTE_USAGE = "/任务 备注 #12 <内容>"

commands = CommandSet()  # a subcommand of /任务 (handlers.tasks.group)


@commands.command(("备注", "note", "comment"), usage=NOTE_USAGE, summary="给任务记一条备注，不改任何字段")
def note_task(ctx: Context, args: Args) -> Reply:
    if not args.words:
        raise UsageError("缺少任务编号。", NOTE_USAGE)
    task = require_task(ctx, task_number(args.words[0], NOTE_USAGE))
    note = " ".join(args.words[1:]).strip().removeprefix(":").strip()
    if not note:
        raise UsageError(f"请写上 {task.ref} 的备注内容。", NOTE_USAGE)
    return add_note(ctx, task, note)
