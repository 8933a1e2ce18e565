"""The outbox: every reply and post is a row, written in the same transaction as the change it reports."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from bot.messages import Reply
from models import OutboundMessage, OutboundStatus
from models.card_views import view_key


def outbox_row(
    *,
    platform: str,
    chat_id: str,
    reply: Reply,
    origin: str,
    now: datetime,
    project_id: int | None = None,
    reply_to: str | None = None,
    reply_to_expires_at: datetime | None = None,
    to_user_id: str | None = None,
    updates_message_id: str | None = None,
    due: datetime | None = None,
) -> dict[str, Any]:
    """The column values of one outbound message: the one place that knows an outbox row's shape."""
    return {
        "platform": platform,
        "chat_id": chat_id,
        "project_id": project_id,
        "reply_to": reply_to,
        "reply_to_expires_at": reply_to_expires_at,
        "to_user_id": to_user_id,
        "updates_message_id": updates_message_id,
        # an update row is not itself a card found by the item it shows (the card it updates is)
        "view_key": view_key(reply.view) if updates_message_id is None else None,
        "body": reply.to_payload(),
        "idempotency_key": uuid.uuid4().hex,
        "origin": origin,
        "status": OutboundStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": due or now,
        "created_at": now,
    }


def enqueue(session: Session, /, **fields: Any) -> int:
    """Write one outbound message in the caller's transaction; returns its id.

    A plain INSERT (no ORM object): the dispatcher writes one per message and never reads it back,
    and a unit-of-work flush costs several times the statement (see bench/commands.py).
    """
    return session.execute(_INSERT_RETURNING_ID, outbox_row(**fields)).scalar_one()


def enqueue_many(session: Session, /, rows: Sequence[dict[str, Any]]) -> None:
    """Write many rows made by `outbox_row` with one executemany (scheduler fan-out)."""
    if rows:
        session.execute(_INSERT, list(rows))


def live_reply_routes(
    session: Session, /, *, platform: str, chat_ids: Collection[str], valid_after: datetime
) -> dict[str, tuple[str, datetime]]:
    """Each chat's reply route that stays valid longest past `valid_after` (a DingTalk sessionWebhook from
    the group's latest messages, as their replies recorded it), for posts that must @ people."""
    routes: dict[str, tuple[str, datetime]] = {}
    wanted = sorted(set(chat_ids))
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(OutboundMessage.chat_id, OutboundMessage.reply_to, OutboundMessage.reply_to_expires_at).where(
                OutboundMessage.platform == platform,
                OutboundMessage.chat_id.in_(wanted[start : start + 500]),
                OutboundMessage.reply_to_expires_at > valid_after,
                OutboundMessage.reply_to.is_not(None),
                OutboundMessage.to_user_id.is_(None),
            )
        )
        for chat_id, reply_to, expires in rows:
            if reply_to and expires and (chat_id not in routes or expires > routes[chat_id][1]):
                routes[chat_id] = (reply_to, expires)
    return routes


_INSERT = insert(OutboundMessage.__table__)
_INSERT_RETURNING_ID = _INSERT.returning(OutboundMessage.__table__.c.id)


# --- for operators (`tandem outbox list|retry`) ---------------------------------------------------


def list_messages(session: Session, /, *, status: OutboundStatus | None, limit: int) -> list[OutboundMessage]:
    query = select(OutboundMessage).order_by(OutboundMessage.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboundMessage.status == status)
    return list(session.scalars(query))


def count_by_status(session: Session, /) -> dict[str, int]:
    rows = session.execute(select(OutboundMessage.status, func.count()).group_by(OutboundMessage.status))
    return {str(status): count for status, count in rows}


def retry_message(session: Session, /, message_id: int, *, now: datetime) -> bool:
    """Put a failed (or pending) message back in the queue, due now, with a fresh attempt budget."""
    row = session.get(OutboundMessage, message_id)
    if row is None or row.status == OutboundStatus.SENT:
        return False
    row.status = OutboundStatus.PENDING
    row.attempts = 0
    row.next_attempt_at = now
    row.leased_by = None
    return True
