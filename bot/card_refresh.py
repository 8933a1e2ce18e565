"""After a button on a card was pressed: the card re-rendered from the database, as an outbox row.

The clicked card's message is found by the outbox key it was sent with (`Incoming.card_of`); its reply
is rebuilt by `reports.prompt_refresh` (each task's line and buttons as the task is now, for the day
the card was sent) and written for the platform to update the card in place (`Incoming.card_route`
as the row's `reply_to`: DingTalk `PUT /v1.0/card/instances`). In the click's own transaction, so a
click that changed nothing (a refusal rolled back) still refreshes nothing wrongly: the card shows
the database."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.messages import Incoming, Reply
from bot.outbox import enqueue
from models import OutboundMessage, Project
from reports.prompt_refresh import refreshed
from reports.rules import local_time


def enqueue_card_refresh(session: Session, incoming: Incoming, *, origin: str, now: datetime) -> int | None:
    """The outbox row that re-renders the clicked card, or None (not a card we sent to this chat)."""
    if not incoming.card_of or not incoming.card_route:
        return None
    sent = session.execute(
        select(OutboundMessage.chat_id, OutboundMessage.project_id, OutboundMessage.body, OutboundMessage.created_at)
        .where(OutboundMessage.platform == incoming.platform, OutboundMessage.idempotency_key == incoming.card_of)
    ).first()
    if sent is None or sent.chat_id != incoming.chat_id or sent.project_id is None:
        return None
    project = session.get(Project, sent.project_id)
    if project is None:
        return None
    created = sent.created_at if sent.created_at.tzinfo else sent.created_at.replace(tzinfo=UTC)
    fresh = refreshed(session, project.id, Reply.from_payload(sent.body), local_time(project, created).date())
    return enqueue(
        session, platform=incoming.platform, chat_id=incoming.chat_id, reply=fresh, origin=origin, now=now,
        project_id=project.id, reply_to=incoming.card_route,
    )
