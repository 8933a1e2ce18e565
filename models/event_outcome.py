"""What became of one inbox event: processed yet, the reply it wrote, and the update it wrote for the
card that was pressed (a card callback is answered with them while the platform still waits,
bot/callback_answers.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.orm import Session, aliased

from models.delivery import InboundEvent, OutboundMessage
from models.enums import InboundStatus, OutboundStatus

ANSWERED = "answered: the card went with the callback's answer"


@dataclass(frozen=True, slots=True)
class EventOutcome:
    processed: bool
    reply: dict[str, Any] | None = None  # the serialised Reply it wrote
    card_update_id: int | None = None  # its outbox row updating the pressed card
    card: dict[str, Any] | None = None  # the serialised Reply that row shows


def event_outcome(
    session: Session, *, platform: str, event_key: str, card_message_id: str | None = None
) -> EventOutcome:
    """The event's outcome; `processed` False while it is pending."""
    row = session.execute(
        select(InboundEvent.id, InboundEvent.status).where(
            InboundEvent.platform == platform, InboundEvent.event_key == event_key
        )
    ).first()
    if row is None or row.status == InboundStatus.PENDING:
        return EventOutcome(False)
    m = OutboundMessage
    written = session.execute(
        select(m.id, m.body, m.updates_message_id).where(m.origin == f"event:{row.id}").order_by(m.id)
    ).all()
    reply = next((body for _, body, updates in written if updates is None), None)
    pressed = next(
        ((oid, body) for oid, body, updates in written if card_message_id and updates == card_message_id), None
    )
    return EventOutcome(True, reply, pressed[0] if pressed else None, pressed[1] if pressed else None)


_OTHER = aliased(OutboundMessage)
# Built once: a click's answer cancels one row, twenty clicks at once cancel twenty.
_CARD_UPDATE_ROW = select(OutboundMessage.platform, OutboundMessage.updates_message_id, OutboundMessage.created_at).where(
    OutboundMessage.id == bindparam("outbox_id")
)
_CANCEL_UNLESS_CONCURRENT = (
    update(OutboundMessage)
    .where(
        OutboundMessage.id == bindparam("outbox_id"),
        OutboundMessage.status == OutboundStatus.PENDING,
        OutboundMessage.leased_by.is_(None),
        ~exists().where(
            _OTHER.platform == bindparam("card_platform"),
            _OTHER.updates_message_id == bindparam("message_id"),
            _OTHER.id != bindparam("outbox_id"),
            _OTHER.created_at >= bindparam("since", type_=OutboundMessage.created_at.type),
        ),
    )
    .values(status=OutboundStatus.SENT, last_error=ANSWERED)
    .execution_options(synchronize_session=False)
)


def cancel_card_update(session: Session, *, outbox_id: int, window: timedelta) -> bool:
    """The card went with the callback's answer: its update row is not needed — unless it is already
    being sent, or another update of the same card was written within `window` of it (concurrent
    clicks: their answers may reach the platform in any order, so the latest state still goes by
    the update row, which supersedes the earlier ones)."""
    row = session.execute(_CARD_UPDATE_ROW, {"outbox_id": outbox_id}).first()
    if row is None or row.updates_message_id is None:
        return False
    values = {
        "outbox_id": outbox_id,
        "card_platform": row.platform,
        "message_id": row.updates_message_id,
        "since": row.created_at - window,
    }
    return bool(getattr(session.execute(_CANCEL_UNLESS_CONCURRENT, values), "rowcount", 0))
