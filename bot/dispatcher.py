"""The dispatcher owns the transactions: accept an event into the inbox, then process it.

Processing runs the handler and writes its reply to the outbox in one transaction, together with
the event's `done` mark, so a change and the message that reports it are committed together and a
redelivered event changes nothing.

`process_events` processes a pass of pending events in order; consecutive events of one chat form a
run whose card refresh is done once, after its last event (twenty clicks on one card: one rebuild).

`process` never raises: one event's failure must never stop the events behind it. A failure is
recorded on the event (attempts, error; after MAX_ATTEMPTS `failed` and the group told); when even
that cannot be written (the failure reply cannot be stored either), the event is marked failed
without a reply in a minimal transaction of its own, and processing goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import bindparam, case, literal, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, utcnow
from bot.inbox import Inbox, pending_events
from bot.messages import CardChange, CardUpdate, Incoming, Reply
from bot.outbox import enqueue
from bot.platforms import SignatureUse
from models import InboundEvent, InboundStatus, Project, claim_webhook_signature, set_message_ref
from models.card_views import supersede_updates

if TYPE_CHECKING:
    from bot.metrics import EventObserver

log = logging.getLogger(__name__)

MessageHandler = Callable[[Session, Incoming], "tuple[Reply | None, int | None]"]
# Completes a stored event's payload with what the platform left out (`InboxProcessor`), or None.
Completer = Callable[[dict[str, Any]], "dict[str, Any] | None"]


class CardRefresher(Protocol):
    """The cards sent earlier that a message left showing something out of date (handlers.card_refresh)."""

    def changes(self, session: Session, incoming: Incoming, project_id: int | None) -> CardChange | None:
        """What the message just handled (in this session) may have left out of date; None: nothing."""
        ...

    def updates(self, session: Session, changes: Sequence[CardChange]) -> Sequence[CardUpdate]:
        """Those cards, rebuilt from the database as it is now: each once, however many changes name it."""
        ...


MAX_ATTEMPTS = 3
# A run of consecutive events of one chat shares one refresh of its cards, after its last event; its
# first callback waits for that, so a run is cut after this many seconds (20 clicks take ~0.3 s).
RUN_FOR = 0.25
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


@dataclass
class _Run:
    """Consecutive events of one chat, processed; their cards are refreshed together after the last."""

    started: float = field(default_factory=time.monotonic)
    changes: list[CardChange] = field(default_factory=list)
    last_event_id: int = 0
    callbacks: list[tuple[Incoming, Reply | None]] = field(default_factory=list)  # answered after the refresh

    def add(self, event_id: int, change: CardChange, reply: Reply | None) -> None:
        self.changes.append(change)
        self.last_event_id = event_id
        if change.incoming.card_message_id:
            self.callbacks.append((change.incoming, reply))


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
        # Outcome None: processed, and its outcome follows once its run's cards are written.
        self.on_processed: Callable[[str, str, Outcome | None], None] | None = None

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
        return self._process(event_id, payload, None)

    def process_events(
        self,
        pending: Sequence[tuple[int, dict[str, Any]]],
        *,
        complete: Completer | None = None,
        turn: Callable[[], AbstractContextManager[object]] = nullcontext,
    ) -> int:
        """Process these pending events (id, stored payload), in order, each in its own transaction
        and write turn (`turn`); `complete` fills in a payload first, outside any transaction. Returns
        how many were done.

        Consecutive events of one chat form a run (cut after RUN_FOR seconds) whose cards are
        refreshed once, after its last event, in a transaction of their own: twenty clicks on one
        prompt card rebuild it once, not twenty times, and each click is answered with the card as
        the run left it. A failed refresh loses the refresh, never the commands."""
        done = 0
        run: _Run | None = None
        for event_id, stored, goes_on in _with_next_of_chat(pending):
            completed = None
            if complete is not None:
                try:
                    completed = complete(stored)
                except Exception:  # the name is a nicety: the event goes on without it
                    log.exception("event %s: could not fill in what the platform left out", event_id)
            if run is None and goes_on:
                run = _Run()
            with turn():
                done += self._process(event_id, completed, run)
            if run is not None and (not goes_on or time.monotonic() - run.started >= RUN_FOR):
                with turn():
                    self._finish_run(run)
                run = None
        return done

    def _process(self, event_id: int, payload: dict[str, Any] | None, run: _Run | None) -> bool:
        """`process`; with `run`, the cards it left out of date wait for the run's refresh."""
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
                change, pressed = None, {}
                if self._refresh is not None and incoming.platform in self._refresh_platforms:
                    change = self._refresh.changes(session, incoming, project_id)
                    if change is not None and run is None:
                        pressed = self._write_card_updates(session, [change], event_id)
                    elif change is not None and incoming.card_message_id and self.on_processed is not None:
                        # Held until the run's cards are written; told before the commit, so no
                        # callback sees the event done in the database without knowing its card follows.
                        self.on_processed(incoming.platform, incoming.event_key, None)
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
        if run is not None and change is not None:
            run.add(event_id, change, reply)  # answered once the run's cards are written
        elif incoming.card_message_id:
            self._tell_processed(incoming, reply, pressed)
        return True

    def _finish_run(self, run: _Run) -> None:
        """The run's cards, refreshed in one transaction; then its callbacks told their outcomes."""
        pressed: dict[str, tuple[Reply, int]] = {}
        if run.changes:
            try:
                with self._session_factory.begin() as session:
                    pressed = self._write_card_updates(session, run.changes, run.last_event_id)
            except Exception:  # the commit failed: no update row was written
                log.exception("events up to %s: could not refresh the cards they changed", run.last_event_id)
        for incoming, reply in run.callbacks:
            self._tell_processed(incoming, reply, pressed)

    def _tell_processed(self, incoming: Incoming, reply: Reply | None, pressed: dict[str, tuple[Reply, int]]) -> None:
        if self.on_processed is None or not incoming.card_message_id:
            return
        card, card_update_id = pressed.get(incoming.card_message_id, (None, None))
        self.on_processed(incoming.platform, incoming.event_key, Outcome(reply, card, card_update_id))

    def process_pending(self, limit: int = 100) -> int:
        """Process what is waiting, oldest first (after a restart too). Returns how many were done."""
        with self._session_factory() as session:
            pending = pending_events(session, limit=limit)
        return self.process_events(pending)

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

    def _write_card_updates(
        self, session: Session, changes: Sequence[CardChange], event_id: int
    ) -> dict[str, tuple[Reply, int]]:
        """The cards these changes left out of date, each as an outbox row updating it (a newer update
        of a card replaces one still waiting; `event_id`: the origin the rows name). A failure here
        loses the refresh, never the command. Returns the pressed cards' updates with their outbox
        rows, by message id, on a platform whose callback answer shows the card."""
        assert self._refresh is not None
        platform = changes[0].incoming.platform  # a run's events all come from one chat
        answered_by_callback = platform in self._answer_card_platforms
        pressed = {c.incoming.card_message_id for c in changes if c.incoming.card_message_id}
        shown: dict[str, tuple[Reply, int]] = {}
        try:
            with session.begin_nested():
                now = self._clock()
                for update in self._refresh.updates(session, changes):
                    supersede_updates(session, platform=platform, message_id=update.message_id)
                    answered = answered_by_callback and update.message_id in pressed
                    outbox_id = enqueue(
                        session,
                        platform=platform,
                        chat_id=update.chat_id,
                        reply=update.reply,
                        origin=f"event:{event_id}",
                        now=now,
                        project_id=update.project_id,
                        updates_message_id=update.message_id,
                        due=now + PRESSED_CARD_UPDATE_AFTER if answered else now,
                    )
                    if answered:
                        shown.setdefault(update.message_id, (update.reply, outbox_id))
        except Exception:
            log.exception("event %s: could not refresh the cards it changed", event_id)
            return {}  # rolled back: no update row
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


def _with_next_of_chat(
    pending: Sequence[tuple[int, dict[str, Any]]],
) -> Iterator[tuple[int, dict[str, Any], bool]]:
    """Each pending event with whether the next one comes from the same chat (its run goes on)."""
    for i, (event_id, stored) in enumerate(pending):
        following = pending[i + 1][1] if i + 1 < len(pending) else None
        goes_on = following is not None and _chat_of(following) == _chat_of(stored)
        yield event_id, stored, goes_on


def _chat_of(stored: dict[str, Any]) -> tuple[Any, Any]:
    return stored.get("platform"), stored.get("chat_id")


def _describe(exc: BaseException) -> str:
    """An exception as stored in `inbound_event.error`: NUL removed (PostgreSQL refuses it), bounded."""
    return f"{type(exc).__name__}: {exc}".replace("\x00", "")[:2000]
