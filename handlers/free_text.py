"""Free-text updates: a message that starts with task ids and says what happened (“#12 已经完成了”,
“#7 卡住了，等接口”, “#3 进度80% 明天联调”, “#3 #4 完成”)."""

from __future__ import annotations

import re

from bot.messages import Reply
from handlers.context import Context
from handlers.errors import UsageError
from handlers.task_refs import TASK_REF, require_task
from handlers.task_updates import apply_update
from handlers.tasks import task_detail, task_line
from handlers.text import Args
from models import TaskStatus
from reports.format import shorten

FREE_TEXT_USAGE = "#12 完成 ｜ #7 阻塞 <原因> ｜ #3 进度 80% [说明] ｜ #12 开始 ｜ /任务 #12 查看"
_DONE_WORDS = r"(?:已经?|都)?(?:完成|做完|做好|搞定|弄完|弄好|结束|好了|done|finished|complete)(?!前|之前|后|以后|时|的|度)了?"
_FREE_DONE = re.compile(_DONE_WORDS, re.IGNORECASE)
_FREE_BLOCKED = re.compile(r"(?:卡住|卡在|阻塞|受阻|被卡|blocked|stuck)了?", re.IGNORECASE)
_FREE_STARTED = re.compile(r"(?:开始做?|在做|着手|进行中|started|working on|start)了?", re.IGNORECASE)
_FREE_PROGRESS = re.compile(
    r"(?:进度|progress)\s*(?:到了?|为|是|:)?\s*(-?\d{1,4})\s*%?(?!\d)|(?:完成了?\s*)?(?<![\d-])(-?\d{1,4})\s*%",
    re.IGNORECASE,
)
_LEADING_REFS = re.compile(r"(?:任务\s*)?((?:#\d{1,9}[\s,，、和]*)+)")
_NEGATED = re.compile(r"(?:没有?|未|不|别|尚未|还没有?|not|n't)\s*$", re.IGNORECASE)
_QUESTION = re.compile(r"[吗?？]|多少|怎么样|如何")
_LEADING_PUNCT = re.compile(r"^[\s,，。:：;；、]+|[\s,，。;；、]+$")


def free_text_update(ctx: Context, text: str) -> Reply | None:
    """“#12 已经完成了”, “#7 卡住了，等接口”, “#3 进度80% 明天联调”, “#3 80%”, “#3 #4 完成”.

    None when the message does not start with a task ref. A ref with no status the bot is sure of
    changes nothing and says what was understood.
    """
    match = _LEADING_REFS.match(text)
    if not match:
        return None
    numbers = list(dict.fromkeys(int(n) for n in TASK_REF.findall(match.group(1))))
    rest = text[match.end():].strip()
    tasks = [require_task(ctx, n) for n in numbers]
    refs = "、".join(t.ref for t in tasks)
    if not rest:
        if len(tasks) == 1:
            return task_detail(ctx, Args(words=[tasks[0].ref]))
        raise UsageError(f"看到了 {refs}，但没说要更新成什么。", FREE_TEXT_USAGE)
    if _QUESTION.search(rest):
        lines = [task_line(t, ctx.today) for t in tasks]
        return Reply("\n".join([*lines, f"要更新请直接说，例如：{tasks[0].ref} 完成"]))
    parsed = _parse_status(rest)
    if parsed is None:
        about = f"{tasks[0].ref} {shorten(tasks[0].title, 20)}" if len(tasks) == 1 else refs
        raise UsageError(f"看到了 {about}，但没看懂“{shorten(rest, 20)}”要更新成什么，所以没有改动。", FREE_TEXT_USAGE)
    status, progress, note = parsed
    replies = [apply_update(ctx, task, status=status, progress=progress, note=note) for task in tasks]
    return Reply(
        "\n\n".join(r.text for r in replies),
        mentions=tuple(dict.fromkeys(m for r in replies for m in r.mentions)),
    )


def _parse_status(rest: str) -> tuple[TaskStatus | None, int | None, str | None] | None:
    """(status, progress, note) from the words after the refs; None when no status is certain."""
    if m := _FREE_PROGRESS.search(rest):
        return None, int(m.group(1) or m.group(2)), _remainder(rest, m)
    for pattern, status in (
        (_FREE_BLOCKED, TaskStatus.BLOCKED),
        (_FREE_DONE, TaskStatus.DONE),
        (_FREE_STARTED, TaskStatus.IN_PROGRESS),
    ):
        m = pattern.search(rest)
        if m is None:
            continue
        if _NEGATED.search(rest[: m.start()]):
            return None  # “还没完成”, “没有卡住”: not a status change the bot should guess
        return status, None, _remainder(rest, m)
    return None


def _remainder(rest: str, match: re.Match[str]) -> str | None:
    """What is left around the status words: the note (“等接口”, “明天联调”)."""
    left = " ".join((rest[: match.start()] + " " + rest[match.end():]).split())
    return _LEADING_PUNCT.sub("", left) or None
