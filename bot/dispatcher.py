"""The dispatcher owns the transactions: accept an event into the inbox, then process it.

Processing runs the handler and writes its reply to the outbox in one transaction, together with
the event's `done` mark, so a change and the message that reports it are committed together and a
redelivered event changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, utcnow
from bot.inbox import pending_event_ids, record_incoming
from bot.messages import Incoming, Reply
from bot.outbox import enqueue
from models import InboundEvent, InboundStatus

if TYPE_CHECKING:
    from bot.metrics import EventObserver

log = logging.getLogger(__name__)

MessageHandler = Callable[[Session, Incoming], "tuple[Reply | None, int | None]"]
MAX_ATTEMPTS = 3
# Session.get(..., with_for_update=True) rebuilds its query every call; this is built once.
_EVENT_FOR_UPDATE = (
    select(InboundEvent)
    .where(InboundEvent.id == bindparam("id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)
_EVENT_DONE = (
    update(InboundEvent.__table__)
    .where(InboundEvent.__table__.c.id == bindparam("event_id"))
    .values(status=InboundStatus.DONE, attempts=InboundEvent.__table__.c.attempts + 1, processed_at=bindparam("now"))
)
FAILURE_REPLY = "抱歉，处理这条消息时出错了，已记录。请稍后再试，或联系管理员（编号 {ref}）。"


class Dispatcher:
    def __init__(
        self, session_factory: sessionmaker[Session], handle: MessageHandler, *, clock: Clock = utcnow
    ) -> None:
        self._session_factory = session_factory
        self._handle = handle
        self._clock = clock
        self.observer: EventObserver | None = None  # metrics, when on (bot.metrics.install)

    def accept(self, incomings: Sequence[Incoming]) -> list[int]:
        """Record events durably (one commit for the batch); returns the ids of the new ones."""
        with self._session_factory.begin() as session:
            return record_incoming(session, incomings, received_at=self._clock())

    def record(self, incomings: Sequence[Incoming]) -> None:
        """`accept` without returning the new ids (cheaper): the webhooks' group commit."""
        with self._session_factory.begin() as session:
            record_incoming(session, incomings, received_at=self._clock(), returning=False)

    def process(self, event_id: int) -> bool:
        """Process one pending event; False when it was already done (or is not ours to do)."""
        try:
            with self._session_factory.begin() as session:
                event = session.scalar(_EVENT_FOR_UPDATE, {"id": event_id})
                if event is None or event.status != InboundStatus.PENDING:
                    return False
                incoming = Incoming.from_payload(event.payload)
                reply, project_id = self._handle(session, incoming)
                outbox_id = None
                if reply is not None:
                    outbox_id = self._enqueue_reply(session, incoming, reply, event_id, project_id)
                # A plain UPDATE rather than setting attributes: no unit-of-work flush at commit.
                session.execute(_EVENT_DONE, {"event_id": event_id, "now": self._clock()})
        except Exception as exc:
            log.exception("processing event %s failed", event_id)
            self._record_failure(event_id, exc)
            return True
        ids = {"platform": incoming.platform, "chat_id": incoming.chat_id, "event_key": incoming.event_key}
        log.info("event processed", extra={**ids, "event_id": event_id, "outbox_id": outbox_id})  # ids, never text
        if self.observer is not None:
            self.observer.event_processed(incoming.platform, outbox_id, event.received_at)
        return True

    def process_pending(self, limit: int = 100) -> int:
        """Process what is waiting, oldest first (after a restart too). Returns how many were done."""
        with self._session_factory() as session:
            ids = pending_event_ids(session, limit=limit)
        return sum(self.process(event_id) for event_id in ids)

    def _enqueue_reply(
        self, session: Session, incoming: Incoming, reply: Reply, event_id: int, project_id: int | None
    ) -> int:
        return enqueue(
            session,
            platform=incoming.platform,
            chat_id=incoming.chat_id,
            reply=reply,
            origin=f"event:{event_id}",
            now=self._clock(),
            project_id=project_id,
            reply_to=incoming.reply_to,
            reply_to_expires_at=incoming.reply_to_expires_at,
        )

    def _record_failure(self, event_id: int, exc: Exception) -> None:
        with self._session_factory.begin() as session:
            event = session.get(InboundEvent, event_id, with_for_update=True)
            if event is None or event.status != InboundStatus.PENDING:
                return
            event.attempts += 1
            event.error = f"{type(exc).__name__}: {exc}"[:2000]
            if event.attempts < MAX_ATTEMPTS:
                return
            event.status = InboundStatus.FAILED
            event.processed_at = self._clock()
            incoming = Incoming.from_payload(event.payload)
            self._enqueue_reply(session, incoming, Reply(FAILURE_REPLY.format(ref=event_id)), event_id, None)
