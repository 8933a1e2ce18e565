"""Free-text updates: messages that name tasks and say what happened to them.

“#12 已经完成了”, “#7 卡住了，等接口”, “#3 进度80% 明天联调”, “3号任务完成”, one per line or several on
a line (“#1 完成 #2 开始”, “#1、#2 都完成了”). Each task's words are read by `handlers.update_reading`;
what it is sure of is applied (each on its own: a refused one leaves the others applied), what it is
only fairly sure of is asked back and kept for the sender's “是” (`handlers.confirm`), and everything
else changes nothing and says what was understood.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.messages import Mention, Reply
from handlers.buttons import confirm_buttons, undoable, with_buttons
from handlers.context import Context
from handlers.errors import UsageError, UserError
from handlers.risk_proposals import propose_from_update
from handlers.task_mentions import Segment, task_segments
from handlers.task_updates import MAX_NOTE, add_note, apply_update
from handlers.tasks import task_detail, task_line
from handlers.text import Args
from handlers.update_reading import WHY, Outcome, Reading, read_update
from handlers.update_words import Marker
from handlers.worry_words import read_worry
from models import Task, TaskStatus, propose_update
from reports.format import TASK_STATUS_LABELS, shorten

FREE_TEXT_USAGE = "#12 完成 ｜ #7 阻塞 原因 ｜ #3 进度 60% ｜ #12 备注 …"
CONFIRM_HINT = "回复“是”确认，回复其他内容则不改动"
# A line whose first ids are followed by words that lead into the next id (“#4 被 #2 卡住了”) is one
# sentence about several tasks, not one update each.
_LEADS_ON = ("被", "等", "在", "和", "跟", "给", "把", "比", "让", "对", "向", "为", "由", "靠", "依赖", "因为", "由于", "受",
             "是", "要", "同", "与", "跟着", "等待", "卡在", "阻塞在", "取决于")


@dataclass(slots=True)
class _Item:
    """One task's part of the message: what was typed and what came of it."""

    label: str  # “#3 写文案” or the id as typed
    reading: Reading | None = None
    task: Task | None = None
    typed: str = ""
    refusal: str | None = None


def free_text_update(ctx: Context, raw: str) -> Reply | None:
    """None when the message names no task; otherwise the reply, with what was applied or asked."""
    segments = task_segments(raw)
    if not segments:
        return None
    items = [item for segment in _sentences(segments) for item in _items(ctx, segment)]
    if len(items) == 1:
        return _single(ctx, items[0])
    return _several(ctx, items)


def _sentences(segments: list[Segment]) -> list[Segment]:
    """Segments as read; a line that is one sentence about several tasks becomes one unread segment."""
    out: list[Segment] = []
    for line in dict.fromkeys(s.line for s in segments):
        on_line = [s for s in segments if s.line == line]
        leads_on = any(not s.last_on_line and (not s.text or s.text.endswith(_LEADS_ON)) for s in on_line)
        if len(on_line) > 1 and leads_on:
            refs = tuple(r for s in on_line for r in s.refs)
            text = " ".join(s.text for s in on_line)
            out.append(Segment(refs, text, on_line[0].before, line, one_sentence=True))
        else:
            out += on_line
    return out


def _items(ctx: Context, segment: Segment) -> list[_Item]:
    items = []
    numbers_seen: set[int] = set()
    for ref in segment.refs:
        if ref.number is None:
            items.append(_Item(ref.typed, refusal=f"{ref.problem}，没有改动"))
            continue
        if ref.number in numbers_seen:
            continue
        numbers_seen.add(ref.number)
        try:
            task = ctx.require_numbered(Task, ref.number)
        except UserError as exc:
            items.append(_Item(f"#{ref.number}", refusal=exc.message))
            continue
        if segment.one_sentence:
            reading = Reading(Outcome.UNKNOWN)
        else:
            reading = read_update(segment.text, before=segment.before, title=task.title)
        items.append(_Item(f"{task.ref} {shorten(task.title, 20)}", reading, task, segment.text))
    return items


# ---------------------------------------------------------------------------- one task


def _single(ctx: Context, item: _Item) -> Reply:
    """One task named: the reply of that update; a refusal raises (nothing applied, the usage line)."""
    if item.refusal is not None or item.reading is None or item.task is None:
        raise UserError(item.refusal or "没有改动。", FREE_TEXT_USAGE)
    task, reading = item.task, item.reading
    if reading.outcome == Outcome.SHOW:
        return task_detail(ctx, Args(words=[task.ref]))
    if reading.outcome == Outcome.NO_CHANGE and reading.why == WHY[Marker.QUESTION]:
        return Reply(f"{task_line(task, ctx.today)}\n要更新请直接说，例如：{task.ref} 完成")
    if reading.outcome in (Outcome.NO_CHANGE, Outcome.UNKNOWN) and _worried(item):
        return _with_risk(ctx, item, _worry_note(ctx, item))
    if reading.outcome in (Outcome.NO_CHANGE, Outcome.UNKNOWN, Outcome.REFUSE):
        raise UsageError(_unchanged_line(item), FREE_TEXT_USAGE)
    asks: list[dict[str, Any]] = []
    reply = _act(ctx, item, asks, brief=False)
    if asks:
        _keep_proposal(ctx, asks)
    return _answer_buttons(ctx, _with_risk(ctx, item, reply), asked=bool(asks))


# ---------------------------------------------------------------------------- several


def _several(ctx: Context, items: list[_Item]) -> Reply:
    """Several tasks named: each applied or refused on its own, one line (or two) each."""
    if all(i.reading is not None and i.reading.outcome == Outcome.SHOW for i in items):
        refs = "、".join(i.task.ref for i in items if i.task is not None)
        raise UsageError(f"看到了 {refs}，但没说要更新成什么。", FREE_TEXT_USAGE)
    lines: list[str] = []
    mentions: list[Mention] = []
    asks: list[dict[str, Any]] = []
    unsure = False
    for item in items:
        if item.refusal is not None or item.reading is None or item.task is None:
            lines.append(f"{item.label}：{item.refusal}")
            unsure = True
            continue
        if item.reading.outcome in (Outcome.NO_CHANGE, Outcome.UNKNOWN) and _worried(item):
            reply = _with_risk(ctx, item, _worry_note(ctx, item))
            lines.append(reply.text)
            mentions += reply.mentions
            continue
        if item.reading.outcome in (Outcome.NO_CHANGE, Outcome.UNKNOWN, Outcome.REFUSE, Outcome.SHOW):
            lines.append(_unchanged_line(item) if item.reading.outcome != Outcome.SHOW else task_line(item.task, ctx.today))
            unsure = unsure or item.reading.outcome != Outcome.SHOW
            continue
        try:
            with ctx.session.begin_nested():  # a refused update rolls back alone; the others stay applied
                reply = _with_risk(ctx, item, _act(ctx, item, asks, brief=True))
        except UserError as exc:
            lines.append(f"{item.label}：{exc.message}")
            unsure = True
            continue
        if reply.text:
            lines.append(reply.text)
        mentions += reply.mentions
    if asks:
        lines.append(_question(asks))
        _keep_proposal(ctx, asks)
    elif unsure:
        lines.append(f"用法：{FREE_TEXT_USAGE}")
    return _answer_buttons(ctx, Reply("\n".join(lines), mentions=tuple(dict.fromkeys(mentions))), asked=bool(asks))


def _answer_buttons(ctx: Context, reply: Reply, *, asked: bool) -> Reply:
    """是 / 不是 under a question; 撤销 under updates that changed something (one tap takes them back)."""
    sender = ctx.sender
    if sender is None or ctx.project is None:
        return reply
    return with_buttons(reply, *confirm_buttons(sender.user_id)) if asked else undoable(ctx, reply)


# ---------------------------------------------------------------------------- worries


def _worried(item: _Item) -> bool:
    """Words that change nothing but say the date is in doubt (“原则上周五能完成”, “有点悬”)."""
    typed = item.typed.strip()
    if item.reading is not None and item.reading.why == WHY[Marker.QUESTION]:
        return False  # “#3 会延期吗？” asks, it does not say
    return bool(typed) and len(typed) <= MAX_NOTE and read_worry(typed) is not None


def _says_done(reading: Reading | None) -> bool:
    """A completion (applied or asked) carries no worry about its date."""
    return reading is not None and (reading.status == TaskStatus.DONE or reading.progress == 100)


def _worry_note(ctx: Context, item: _Item) -> Reply:
    """Recorded as written, no field changed."""
    assert item.task is not None
    add_note(ctx, item.task, item.typed.strip())
    return Reply(f"已记录 {item.label} 的备注：{shorten(item.typed.strip(), 40)}（状态没有改动）")


def _with_risk(ctx: Context, item: _Item, reply: Reply) -> Reply:
    """The reply, and the risk proposal to the PM when the words carry a worry."""
    if item.task is None or _says_done(item.reading):
        return reply
    proposal = propose_from_update(ctx, item.task, item.typed)
    if proposal is None:
        return reply
    text = "\n".join(t for t in (reply.text, proposal.text) if t)
    return Reply(text, mentions=tuple(dict.fromkeys((*reply.mentions, *proposal.mentions))))


# ---------------------------------------------------------------------------- applying and asking


def _act(ctx: Context, item: _Item, asks: list[dict[str, Any]], *, brief: bool) -> Reply:
    """Apply, record or ask for one task (asks are collected; the single reply asks at once)."""
    task, reading = item.task, item.reading
    assert task is not None and reading is not None
    if reading.outcome == Outcome.NOTE:
        return add_note(ctx, task, reading.note or "")
    status = reading.status
    reopening = task.status == TaskStatus.DONE and (
        status in (TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED) or (reading.progress is not None and reading.progress < 100)
    )
    if reading.unblock and task.status != TaskStatus.BLOCKED and task.status != TaskStatus.DONE:
        return Reply(f"{item.label} 目前是{TASK_STATUS_LABELS[task.status]}，没有阻塞，没有改动。")
    if reading.outcome == Outcome.ASK or reopening:
        asks.append(proposal_of(task, reading))
        return Reply("" if brief else _question(asks))
    return apply_update(ctx, task, status=status, progress=reading.progress, note=reading.note, brief=brief)


def proposal_of(task: Task, reading: Reading) -> dict[str, Any]:
    return {
        "number": task.number,
        "status": reading.status.value if reading.status else None,
        "progress": reading.progress,
        "note": reading.note,
        "was": task.status.value,
    }


def describe_proposal(update: dict[str, Any]) -> str:
    """“把 #1 标记为已完成”, “把 #2 进度改为 60%”, “把 #3 标记为阻塞（原因：等接口）”."""
    ref = f"#{update['number']}"
    if update["status"] is None:
        return f"把 {ref} 进度改为 {update['progress']}%"
    status = TaskStatus(update["status"])
    text = f"把 {ref} " + ("重新打开，" if update.get("was") == TaskStatus.DONE.value and status != TaskStatus.DONE else "")
    text += f"标记为{TASK_STATUS_LABELS[status]}"
    if update["progress"] is not None:
        text += f" {update['progress']}%"
    if status == TaskStatus.BLOCKED and update["note"]:
        text += f"（原因：{shorten(update['note'], 20)}）"
    return text


def _question(asks: list[dict[str, Any]]) -> str:
    return "是要" + "、".join(describe_proposal(u) for u in asks) + f"吗？{CONFIRM_HINT}"


def _keep_proposal(ctx: Context, asks: list[dict[str, Any]]) -> None:
    project, sender = ctx.require_project(), ctx.require_sender()
    propose_update(ctx.session, project_id=project.id, member_id=sender.id, at=ctx.incoming.sent_at, updates=asks)


def _unchanged_line(item: _Item) -> str:
    reading = item.reading
    typed = shorten(item.typed, 20)
    if reading is None or reading.outcome == Outcome.UNKNOWN:
        return f"看到了 {item.label}，但没看懂“{typed}”要更新成什么，所以没有改动。"
    if reading.outcome == Outcome.REFUSE:
        return f"{item.label}：{reading.why}，所以没有改动。"
    return f"看到了 {item.label}：“{typed}”{reading.why}，所以没有改动。"

