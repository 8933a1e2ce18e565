"""Signatures that cover only a timestamp (DingTalk's HTTP callbacks): each is good for one event only.

A DingTalk `sign` is an HMAC of the request's timestamp, not of its body, so a captured pair would let
anyone post anything for the hour it is valid. Recording which event first came with a pair (before
the 200, shared by every replica on the database) lets a redelivery of that event through and refuses
the pair for any other. Rows are needed for the signature tolerance only; `prune_webhook_signatures`
drops older ones.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Index, String, bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base


class WebhookSignature(Base):
    __tablename__ = "webhook_signature"
    __table_args__ = (Index("ix_webhook_signature_signed_at", "signed_at"),)

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    sign: Mapped[str] = mapped_column(String(64), primary_key=True)  # base64 HmacSHA256: 44 characters
    event_key: Mapped[str] = mapped_column(String(200))  # the event that first came with this pair
    signed_at: Mapped[datetime]  # the pair's own timestamp: valid until signed_at + the tolerance


_OWNER = select(WebhookSignature.event_key).where(
    WebhookSignature.platform == bindparam("platform"), WebhookSignature.sign == bindparam("sign")
)


def claim_webhook_signature(
    session: Session, /, *, platform: str, sign: str, event_key: str, signed_at: datetime
) -> str:
    """Record that this signature carried `event_key` unless it is already recorded; returns the event
    key the signature belongs to (`event_key` itself for a first use or a redelivery)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    values = {"platform": platform, "sign": sign, "event_key": event_key, "signed_at": signed_at}
    statement = insert(WebhookSignature).values(values).on_conflict_do_nothing().returning(WebhookSignature.event_key)
    inserted = session.scalar(statement)
    if inserted is not None:
        return inserted
    owner = session.scalar(_OWNER, {"platform": platform, "sign": sign})
    return owner if owner is not None else event_key  # pruned in between: nobody else holds it


def prune_webhook_signatures(session: Session, /, before: datetime) -> int:
    """Delete signatures whose timestamp is older than `before` (give now - the signature tolerance:
    a pair that old is refused as stale anyway). Returns how many rows went."""
    result = session.execute(delete(WebhookSignature).where(WebhookSignature.signed_at < before))
    return int(cast(CursorResult[Any], result).rowcount or 0)
