"""Leave and handover as Chinese text: the stand-ins proposed to the PM, and who covers what."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy.orm import Session

from bot.messages import Mention, Reply
from models import ActionItem, Handover, Leave, Member, Risk, Task
from reports.format import day, mention, person, shorten

ITEM_MODELS: dict[str, type[Task] | type[Risk] | type[ActionItem]] = {"task": Task, "risk": Risk, "action": ActionItem}
CONFIRM_USAGE = "/交接 确认 #12|R3|A4|全部 [@代理人]"
RETURN_USAGE = "/交接 交还 #12|R3|A4|全部"


def leave_span(leave: Leave, today: date) -> str:
    first, last = day(leave.first_day, today=today), day(leave.last_day, today=today)
    return first if leave.first_day == leave.last_day else f"{first} 至 {last}"


def handover_item(session: Session, handover: Handover) -> Task | Risk | ActionItem | None:
    row = session.get(ITEM_MODELS[handover.kind], handover.item_id)
    return row if isinstance(row, Task | Risk | ActionItem) else None


def item_label(session: Session, handover: Handover) -> str:
    """`#12 写接口（截止 12-03(周四)）`, `R3 设计稿可能延期`, `A4 联系外包`."""
    row = handover_item(session, handover)
    if isinstance(row, Task):
        return f"{row.ref} {shorten(row.title, 20)}（截止 {day(row.due_date)}）"
    if isinstance(row, Risk):
        return f"{row.ref} {shorten(row.description, 20)}"
    if isinstance(row, ActionItem):
        return f"{row.ref} {shorten(row.content, 20)}（截止 {day(row.due_date)}）"
    return handover.ref


def handover_proposal(
    session: Session, leave: Leave, handovers: Sequence[Handover], *, managers: Sequence[Member], today: date
) -> Reply:
    """What the PM is asked to confirm before the leave starts."""
    who = person(leave.member)
    head = " ".join(mention(m) for m in managers if m.id != leave.member_id) or "PM"
    if not handovers:
        return Reply(f"{who} {leave_span(leave, today)} 请假，期间没有到期的任务、风险或行动项需要交接。")
    lines = [f"{head} {who} {leave_span(leave, today)} 请假，建议这些事项由以下同事代为负责："]
    for h in handovers:
        lines.append(f"  {item_label(session, h)} → {person(h.stand_in) if h.stand_in else '（没有合适的人，请指定）'}")
    lines.append(f"确认：{CONFIRM_USAGE}（写 @某人 换成别人）")
    pms = [Mention(m.user_id, m.name) for m in managers if m.id != leave.member_id]
    return Reply("\n".join(lines), mentions=tuple(pms))


def hand_back_proposal(
    session: Session, leave: Leave, handovers: Sequence[Handover], *, managers: Sequence[Member], today: date
) -> Reply:
    """After the leave: what stand-ins still cover for the person, and how the PM hands it back."""
    pms = [m for m in managers if m.id != leave.member_id]
    lines = [
        f"{mention(leave.member)} 欢迎回来（{leave_span(leave, today)} 请假已结束）。请假期间由同事代为负责的事项：",
        *(f"  {item_label(session, h)} · {person(h.stand_in)}" for h in handovers),
        f"{' '.join(mention(m) for m in pms) or 'PM'} 交还给 {leave.member.name}：{RETURN_USAGE}"
        "（继续由代理人负责就不用操作）",
    ]
    people = [leave.member, *pms]
    return Reply("\n".join(lines), mentions=tuple(dict.fromkeys(Mention(m.user_id, m.name) for m in people)))
