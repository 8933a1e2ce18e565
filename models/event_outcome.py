"""What became of one inbox event: processed yet, and the reply it wrote (a card callback is answered
with it while the platform still waits, bot/callback_answers.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.delivery import InboundEvent, OutboundMessage
from models.enums import InboundStatus


def event_reply(session: Session, *, platform: str, event_key: str) -> tuple[bool, dict[str, Any] | None]:
    """(processed, the serialised Reply it wrote or None); (False, None) while it is pending."""
    row = session.execute(
        select(InboundEvent.id, InboundEvent.status).where(
            InboundEvent.platform == platform, InboundEvent.event_key == event_key
        )
    ).first()
    if row is None or row.status == InboundStatus.PENDING:
        return False, None
    body = session.scalar(
        select(OutboundMessage.body).where(OutboundMessage.origin == f"event:{row.id}").order_by(OutboundMessage.id).limit(1)
    )
    return True, body
