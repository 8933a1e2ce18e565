"""Finding tasks in a command: `#12` references, the project's task by number, who may update it."""

from __future__ import annotations

import re

from handlers.common import department_named
from handlers.context import Context
from handlers.errors import PermissionDenied, UsageError
from models import Department, Member, Task
from reports.format import person

MAX_TITLE = 200
MAX_NOTE = 500
TASK_REF = re.compile(r"#(\d{1,9})")



def task_number(word: str, usage: str) -> int:
    match = TASK_REF.fullmatch(word.strip())
    if not match:
        raise UsageError(f"“{word}”不是任务编号，任务编号写成 #12。", usage)
    return int(match.group(1))


def require_task(ctx: Context, number: int) -> Task:
    return ctx.require_numbered(Task, number)


def require_updatable(ctx: Context, task: Task) -> Member:
    """The owner, the PM and co-PMs may update a task; an unassigned one, its creator too."""
    sender = ctx.require_sender()
    if sender.is_manager or task.owner_id == sender.id:
        return sender
    if task.owner_id is None and task.created_by_id == sender.id:
        return sender
    raise PermissionDenied(f"#{task.number} 的负责人是 {person(task.owner)}，只有负责人或 PM 可以更新。")


def resolve_department(ctx: Context, name: str) -> Department:
    """A known department; PM and co-PMs may name a new one, which is then added to the project."""
    return department_named(ctx, name, may_create=ctx.is_manager)


def parse_task_refs(ctx: Context, value: str, usage: str) -> list[Task]:
    numbers = [int(n) for n in TASK_REF.findall(value)]
    leftovers = re.sub(r"[,，、;；和\s]+", "", TASK_REF.sub("", value))
    if not numbers or leftovers:
        raise UsageError(f"“{value}”里应当是任务编号，如 #3 或 #3,#5。", usage)
    return [require_task(ctx, n) for n in dict.fromkeys(numbers)]
