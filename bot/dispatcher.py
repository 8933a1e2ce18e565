"""The dispatcher owns the transactions: accept an event into the inbox, then process it.

Processing runs the handler and writes its reply to the outbox in one transaction, together with
the event's `done` mark, so a change and the message that reports it are committed together and a
redelivered event changes nothing.

`process` never raises: one event's failure must never stop the events behind it. A failure is
recorded on the event (attempts, error; after MAX_ATTEMPTS `failed` and the group told); when even
that cannot be written (the failure reply cannot be stored either), the event is marked failed
without a reply in a minimal transaction of its own, and processing goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, case, literal, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, utcnow
from bot.inbox import Inbox, pending_event_ids
from bot.messages import CardUpdate, Incoming, Reply
from bot.outbox import enqueue
from bot.platforms import SignatureUse
from models import InboundEvent, InboundStatus, Project, claim_webhook_signature, set_message_ref
from models.card_views import supersede_updates

if TYPE_CHECKING:
    from bot.metrics import EventObserver

log = logging.getLogger(__name__)

MessageHandler = Callable[[Session, Incoming], "tuple[Reply | None, int | None]"]
# After a message is handled: the cards sent earlier that now show something out of date (rebuilt).
CardRefresher = Callable[[Session, Incoming, "int | None"], Sequence[CardUpdate]]
MAX_ATTEMPTS = 3
# On a platform whose callback answer shows the card (Feishu), the update of a pressed card waits this
# long: the callback's own answer (bot/callback_answers.py, which waits up to 2 s) carries the card
# when it is in time and cancels the update; when it is not, the card is updated just after.
PRESSED_CARD_UPDATE_AFTER = timedelta(seconds=2.5)
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
# The same, storing what the platform filled in after the acknowledgement (`process(payload=…)`).
_EVENT_DONE_COMPLETED = _EVENT_DONE.values(payload=bindparam("payload", type_=InboundEvent.__table__.c.payload.type))
_EVENTS = InboundEvent.__table__
_LAST_ATTEMPT = _EVENTS.c.attempts + 1 >= bindparam("max_attempts")
# The last resort when even the failure could not be recorded with its reply: the row alone, by key.
_EVENT_FAILED_BARE = (
    update(_EVENTS)
    .where(_EVENTS.c.id == bindparam("event_id"), _EVENTS.c.status == InboundStatus.PENDING)
    .values(
        attempts=_EVENTS.c.attempts + 1,
        status=case((_LAST_ATTEMPT, literal(InboundStatus.FAILED, _EVENTS.c.status.type)), else_=_EVENTS.c.status),
        processed_at=case((_LAST_ATTEMPT, bindparam("now", type_=_EVENTS.c.processed_at.type)), else_=None),
        error=bindparam("error"),
    )
)
FAILURE_REPLY = "抱歉，处理这条消息时出错了，已记录。请稍后再试，或联系管理员（编号 {ref}）。"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What processing a card callback wrote, handed in-process to the callback waiting to answer it
    (bot.callback_answers): the reply, and the update of the pressed card with the outbox row writing it."""

    reply: Reply | None
    card: Reply | None = None
    card_update_id: int | None = None


class Dispatcher:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        handle: MessageHandler,
        *,
        clock: Clock = utcnow,
        refresh: CardRefresher | None = None,
        refresh_platforms: Collection[str] = (),
        answer_card_platforms: Collection[str] = (),
    ) -> None:
        """`refresh`: the cards a message left out of date, asked only for `refresh_platforms` (those
        that update cards in place), so the other platforms' messages pay nothing for it;
        `answer_card_platforms`: those whose callback answer shows the pressed card."""
        self._session_factory = session_factory
        self._handle = handle
        self._refresh = refresh
        self._refresh_platforms = frozenset(refresh_platforms)
        self._answer_card_platforms = frozenset(answer_card_platforms)
        self._clock = clock
        self._inbox = Inbox(session_factory, clock=clock)
        self.observer: EventObserver | None = None  # metrics, when on (bot.metrics.install)
        # Told (platform, event key, outcome) once a card callback's outcome is committed: answers the
        # callback waiting in this process (bot.callback_answers.ProcessedEvents; from the worker thread).
        self.on_processed: Callable[[str, str, Outcome], None] | None = None

    def accept(self, incomings: Sequence[Incoming]) -> list[int]:
        """Record events durably in the inbox (one commit for the batch); returns the ids of the new ones."""
        return self._inbox.record(incomings)

    def claim_signature(self, use: SignatureUse) -> str:
        """Record which event a timestamp-only signature carried (one commit); returns the event key
        it belongs to, which is `use.event_key` unless another event came with it first."""
        with self._session_factory.begin() as session:
            return claim_webhook_signature(
                session, platform=use.platform, sign=use.sign, event_key=use.event_key, signed_at=use.signed_at
            )

    def process(self, event_id: int, *, payload: dict[str, Any] | None = None) -> bool:
        """Process one pending event; False when it was already done (or is not ours to do, or nothing
        about it could be written: the database is unavailable). Never raises.

        `payload`: the event as the platform completed it after the acknowledgement (a sender's name,
        a downloaded file: `Platform.prepare`, done before, outside any transaction); it is processed
        and stored with the event's done mark, in the same transaction."""
        try:
            with self._session_factory.begin() as session:
                event = session.scalar(_EVENT_FOR_UPDATE, {"id": event_id})
                if event is None or event.status != InboundStatus.PENDING:
                    return False
                incoming = Incoming.from_payload(payload if payload is not None else event.payload)
                set_message_ref(session, event.event_key)  # every history row it writes names this message
                reply, project_id = self._handle(session, incoming)
                outbox_id = None
                if reply is not None:
                    outbox_id = self._enqueue_reply(session, incoming, reply, event_id, project_id)
                pressed = None
                if self._refresh is not None and incoming.platform in self._refresh_platforms:
                    pressed = self._refresh_cards(session, incoming, event_id, project_id)
                # A plain UPDATE rather than setting attributes: no unit-of-work flush at commit.
                if payload is None:
                    session.execute(_EVENT_DONE, {"event_id": event_id, "now": self._clock()})
                else:
                    session.execute(_EVENT_DONE_COMPLETED, {"event_id": event_id, "now": self._clock(), "payload": payload})
        except Exception as exc:
            log.exception("processing event %s failed", event_id)
            return self._failed(event_id, exc)
        ids = {"platform": incoming.platform, "chat_id": incoming.chat_id, "event_key": incoming.event_key}
        log.info("event processed", extra={**ids, "event_id": event_id, "outbox_id": outbox_id})  # ids, never text
        if self.observer is not None:
            self.observer.event_processed(incoming.platform, outbox_id, event.received_at)
        if self.on_processed is not None and incoming.card_message_id:
            card, card_update_id = pressed if pressed is not None else (None, None)
            self.on_processed(incoming.platform, incoming.event_key, Outcome(reply, card, card_update_id))
        return True

    def process_pending(self, limit: int = 100) -> int:
        """Process what is waiting, oldest first (after a restart too). Returns how many were done."""
        with self._session_factory() as session:
            ids = pending_event_ids(session, limit=limit)
        return sum(self.process(event_id) for event_id in ids)

    def _enqueue_reply(
        self, session: Session, incoming: Incoming, reply: Reply, event_id: int, project_id: int | None
    ) -> int:
        outbox_id = enqueue(
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
        if project_id is not None and (not incoming.is_group or incoming.card_message_id):
            self._tell_the_group(session, incoming, reply, event_id, project_id)
        return outbox_id

    def _tell_the_group(self, session: Session, incoming: Incoming, reply: Reply, event_id: int, project_id: int) -> None:
        """A change made in a private chat whose reply @-mentions others (downstream owners told their
        task may move, “可以开始”): a mention in a private chat reaches nobody, so the group gets it too."""
        if not any(m.user_id != incoming.sender_id for m in reply.mentions):
            return
        group = session.scalar(select(Project.chat_id).where(Project.id == project_id))
        if group is None or group == incoming.chat_id:
            return
        who = f"{incoming.sender_name} " if incoming.sender_name else ""
        enqueue(
            session, platform=incoming.platform, chat_id=group, reply=replace(reply, text=f"（{who}私信更新）{reply.text}"),
            origin=f"event:{event_id}:group", now=self._clock(), project_id=project_id,
        )

    def _refresh_cards(
        self, session: Session, incoming: Incoming, event_id: int, project_id: int | None
    ) -> tuple[Reply, int] | None:
        """The cards this message left out of date, each as an outbox row updating it (a newer update of
        a card replaces one still waiting). A failure here loses the refresh, never the command.
        Returns the pressed card's update and its outbox row, on a platform whose answer shows the card."""
        assert self._refresh is not None
        answered = incoming.platform in self._answer_card_platforms
        shown: tuple[Reply, int] | None = None
        try:
            with session.begin_nested():
                now = self._clock()
                for update in self._refresh(session, incoming, project_id):
                    supersede_updates(session, platform=incoming.platform, message_id=update.message_id)
                    pressed = answered and update.message_id == incoming.card_message_id
                    outbox_id = enqueue(
                        session,
                        platform=incoming.platform,
                        chat_id=update.chat_id,
                        reply=update.reply,
                        origin=f"event:{event_id}",
                        now=now,
                        project_id=project_id,
                        updates_message_id=update.message_id,
                        due=now + PRESSED_CARD_UPDATE_AFTER if pressed else now,
                    )
                    if pressed and shown is None:
                        shown = (update.reply, outbox_id)
        except Exception:
            log.exception("event %s: could not refresh the cards it changed", event_id)
            return None  # rolled back: no update row
        return shown

    def _failed(self, event_id: int, exc: Exception) -> bool:
        error = _describe(exc)
        try:
            self._record_failure(event_id, error)
            return True
        except Exception as second:
            log.error("event %s: could not record its failure with a reply (%s); marking it alone", event_id, second)
            error = f"{error}; no failure reply: {_describe(second)}"[:2000]
        try:
            with self._session_factory.begin() as session:
                values = {"event_id": event_id, "max_attempts": MAX_ATTEMPTS, "now": self._clock(), "error": error}
                session.execute(_EVENT_FAILED_BARE, values)
            return True
        except Exception:
            log.exception("event %s: could not record its failure at all; it stays pending", event_id)
            return False

    def _record_failure(self, event_id: int, error: str) -> None:
        with self._session_factory.begin() as session:
            event = session.get(InboundEvent, event_id, with_for_update=True)
            if event is None or event.status != InboundStatus.PENDING:
                return
            event.attempts += 1
            event.error = error
            if event.attempts < MAX_ATTEMPTS:
                return
            event.status = InboundStatus.FAILED
            event.processed_at = self._clock()
            incoming = Incoming.from_payload(event.payload)
            self._enqueue_reply(session, incoming, Reply(FAILURE_REPLY.format(ref=event_id)), event_id, None)


def _describe(exc: BaseException) -> str:
    """An exception as stored in `inbound_event.error`: NUL removed (PostgreSQL refuses it), bounded."""
    return f"{type(exc).__name__}: {exc}".replace("\x00", "")[:2000]
