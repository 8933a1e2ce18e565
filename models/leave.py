"""Leave (请假) and handover (交接): who is away when, and who covers their items meanwhile.

A `Leave` is a member's absence over whole days (start and end included, the project's dates). While
it lasts the member gets no prompt, nudge or reminder and is not 未更新 (`reports`). A `Handover` is one
item (task, risk or action item) of theirs due during the leave with a proposed stand-in; the PM
confirms it (`/交接 确认 #12`), which makes the stand-in its owner.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import ForeignKey, String, UniqueConstraint, select, tuple_, update
from sqlalchemy.orm import Mapped, Session, joinedload, mapped_column, relationship

from models.base import Base
from models.enums import OPEN_TASK_STATUSES, ActionStatus, RiskStatus, Role, enum_column
from models.meeting import ActionItem
from models.project import Member
from models.risk import Risk
from models.task import Task


class HandoverStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    DROPPED = "dropped"  # the leave was cancelled, or the item changed hands meanwhile
    RETURNED = "returned"  # handed back to the person after the leave (`/交接 交还`)


class Leave(Base):
    __tablename__ = "member_leave"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    first_day: Mapped[date]
    last_day: Mapped[date]
    note: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
    handover_at: Mapped[datetime | None]  # when stand-ins were proposed
    hand_back_at: Mapped[datetime | None]  # when handing their items back was proposed, after the leave

    member: Mapped[Member] = relationship(foreign_keys=[member_id])


class Handover(Base):
    __tablename__ = "handover"
    __table_args__ = (UniqueConstraint("leave_id", "kind", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    leave_id: Mapped[int] = mapped_column(ForeignKey("member_leave.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # task | risk | action
    item_id: Mapped[int]
    ref: Mapped[str] = mapped_column(String(16))  # #12, R3, A4 (as the group reads it)
    stand_in_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    status: Mapped[HandoverStatus] = mapped_column(enum_column(HandoverStatus), default=HandoverStatus.PENDING)
    settled_at: Mapped[datetime | None]
    returned_at: Mapped[datetime | None]

    leave: Mapped[Leave] = relationship()
    stand_in: Mapped[Member | None] = relationship()


def leaves_of(session: Session, /, *, project_id: int, since: date, member_id: int | None = None) -> Sequence[Leave]:
    """Leaves not cancelled that end on or after `since`, earliest first."""
    query = select(Leave).where(
        Leave.project_id == project_id, Leave.cancelled_at.is_(None), Leave.last_day >= since
    )
    if member_id is not None:
        query = query.where(Leave.member_id == member_id)
    return session.scalars(query.order_by(Leave.first_day, Leave.id)).all()


def away_on(session: Session, /, *, project_ids: Sequence[int], day: date) -> dict[int, set[int]]:
    """Per project, the members on leave on `day`."""
    found: dict[int, set[int]] = {}
    if not project_ids:
        return found
    rows = session.execute(
        select(Leave.project_id, Leave.member_id).where(
            Leave.project_id.in_(project_ids), Leave.cancelled_at.is_(None),
            Leave.first_day <= day, Leave.last_day >= day,
        )
    )
    for project_id, member_id in rows:
        found.setdefault(project_id, set()).add(member_id)
    return found


def pending_handovers(session: Session, /, *, project_id: int) -> Sequence[Handover]:
    return session.scalars(
        select(Handover).join(Leave, Leave.id == Handover.leave_id)
        .where(Leave.project_id == project_id, Handover.status == HandoverStatus.PENDING)
        .order_by(Handover.id)
    ).all()


def to_hand_back(session: Session, /, *, project_id: int, today: date) -> Sequence[Handover]:
    """Confirmed handovers of leaves that are over by `today`: their items may go back to the person."""
    return session.scalars(
        select(Handover).join(Leave, Leave.id == Handover.leave_id)
        .where(Leave.project_id == project_id, Leave.cancelled_at.is_(None), Leave.last_day < today,
               Handover.status == HandoverStatus.CONFIRMED)
        .order_by(Leave.id, Handover.id)
    ).all()


def hand_backs_due(session: Session, /, *, project_ids: Sequence[int], today: date) -> dict[Leave, list[Handover]]:
    """Leaves over by `today` (within the last two weeks) whose hand-back has not been proposed yet,
    with their items still confirmed to stand-ins: for all these projects in one statement."""
    found: dict[Leave, list[Handover]] = {}
    if not project_ids:
        return found
    rows = session.scalars(
        select(Handover).join(Leave, Leave.id == Handover.leave_id)
        .where(Leave.project_id.in_(project_ids), Leave.cancelled_at.is_(None), Leave.hand_back_at.is_(None),
               Leave.last_day < today, Leave.last_day >= today - timedelta(days=14),
               Handover.status == HandoverStatus.CONFIRMED)
        .options(joinedload(Handover.leave).joinedload(Leave.member), joinedload(Handover.stand_in))
        .order_by(Leave.project_id, Leave.id, Handover.id)
    )
    for handover in rows:
        found.setdefault(handover.leave, []).append(handover)
    return found


def leaves_to_hand_over(session: Session, /, *, project_id: int, today: date, by: date) -> Sequence[Leave]:
    """Leaves not over by `today` that start by `by` and whose stand-ins have not been proposed yet."""
    return session.scalars(
        select(Leave).where(Leave.project_id == project_id, Leave.cancelled_at.is_(None), Leave.handover_at.is_(None),
                            Leave.first_day <= by, Leave.last_day >= today).order_by(Leave.id)
    ).all()


# ---------------------------------------------------------------------------- proposing stand-ins


def overlapping(session: Session, /, *, project_id: int, first: date, last: date) -> set[int]:
    """Members away at some point between `first` and `last`."""
    return set(session.scalars(
        select(Leave.member_id).where(
            Leave.project_id == project_id, Leave.cancelled_at.is_(None), Leave.first_day <= last, Leave.last_day >= first
        )
    ))


def propose_handovers(session: Session, /, leave: Leave, *, at: datetime) -> list[Handover]:
    """One pending handover per open task, open risk and open action item of the person that is due by
    the leave's last day (risks: every open one they own), each with a stand-in: a colleague of the same
    department first, the least loaded (open tasks), never someone away then; else the PM. Marks the leave."""
    member = leave.member
    items: list[tuple[str, int, str]] = []
    tasks = session.scalars(
        select(Task).where(Task.project_id == leave.project_id, Task.owner_id == member.id,
                           Task.status.in_(OPEN_TASK_STATUSES), Task.due_date.is_not(None),
                           Task.due_date <= leave.last_day).order_by(Task.due_date, Task.number)
    ).all()
    items += [("task", t.id, t.ref) for t in tasks]
    risks = session.scalars(
        select(Risk).where(Risk.project_id == leave.project_id, Risk.owner_id == member.id,
                           Risk.status == RiskStatus.OPEN).order_by(Risk.number)
    ).all()
    items += [("risk", r.id, r.ref) for r in risks]
    actions = session.scalars(
        select(ActionItem).where(ActionItem.project_id == leave.project_id, ActionItem.owner_id == member.id,
                                 ActionItem.status == ActionStatus.OPEN, ActionItem.due_date.is_not(None),
                                 ActionItem.due_date <= leave.last_day).order_by(ActionItem.due_date, ActionItem.number)
    ).all()
    items += [("action", a.id, a.ref) for a in actions]
    leave.handover_at = at
    if not items:
        return []
    away = overlapping(session, project_id=leave.project_id, first=leave.first_day, last=leave.last_day)
    others = [
        m for m in session.scalars(
            select(Member).where(Member.project_id == leave.project_id, Member.removed_at.is_(None)).order_by(Member.id)
        )
        if m.id != member.id and m.id not in away
    ]
    load = dict.fromkeys((m.id for m in others), 0)
    for owner_id in session.scalars(
        select(Task.owner_id).where(Task.project_id == leave.project_id, Task.status.in_(OPEN_TASK_STATUSES))
    ):
        if owner_id in load:
            load[owner_id] += 1
    colleagues = [m for m in others if member.department_id is not None and m.department_id == member.department_id
                  and m.role == Role.MEMBER]
    managers = [m for m in others if m.is_manager]
    handovers = []
    for kind, item_id, ref in items:
        pool = colleagues or [m for m in others if m.role == Role.MEMBER] or managers
        stand_in = min(pool, key=lambda m: (load[m.id], m.id)) if pool else None
        if stand_in is not None and kind == "task":
            load[stand_in.id] += 1  # spread the tasks over the colleagues
        handover = Handover(leave_id=leave.id, kind=kind, item_id=item_id, ref=ref, stand_in=stand_in,
                            status=HandoverStatus.PENDING)
        session.add(handover)
        handovers.append(handover)
    session.flush()
    return handovers


def reopen_settled(session: Session, /, *, items: Sequence[tuple[str, int]], at: datetime) -> None:
    """Handovers of these items (kind, id) settled at that moment go back one step, because the owner
    change that settled them was undone: handed back → confirmed, confirmed → waiting for the PM."""
    if not items:
        return
    chosen = tuple_(Handover.kind, Handover.item_id).in_(items)
    session.execute(
        update(Handover).where(chosen, Handover.status == HandoverStatus.RETURNED, Handover.returned_at == at)
        .values(status=HandoverStatus.CONFIRMED, returned_at=None).execution_options(synchronize_session="fetch")
    )
    session.execute(
        update(Handover).where(chosen, Handover.status == HandoverStatus.CONFIRMED, Handover.settled_at == at)
        .values(status=HandoverStatus.PENDING, settled_at=None).execution_options(synchronize_session="fetch")
    )
