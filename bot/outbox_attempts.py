"""One send attempt of a held outbox row: within the platform's limits, its outcome written at once.

`bot.delivery.OutboxSender` claims rows and runs each chat's lane; every message a lane sends goes
through `Attempts.deliver`: a place among the sends in flight, the per-chat and per-app rate limits,
the platform call, and the outcome (sent, retry later, failed) written while the row is still ours.
A reply whose pictures are still drawings (`reports.drawings`) is drawn first, in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from anyio import CapacityLimiter, to_thread
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.messages import Reply
from bot.outbox_holdings import Holdings
from bot.outbox_leases import hold_lane, lane_of, record_failure, record_sent
from bot.outbox_limits import SendLimits
from bot.outbox_retry import judge, log_failure, log_ids
from bot.outbox_writes import OutcomeWriter
from bot.platforms import DeliveryError, OutgoingMessage, PlatformSender, Throttled, TransientError
from reports.drawings import draw_reply

if TYPE_CHECKING:
    from bot.metrics import DeliveryObserver

log = logging.getLogger("bot.delivery")  # the outbox sender's lines, under one name for operators
DRAWN_KEPT = 8  # messages whose drawn pictures are kept for a retry


@dataclass(frozen=True)
class Outcome:
    attempted: bool  # False: stopping, the message was not tried (it is handed back)
    retry_at: datetime | None = None  # a failure to be tried again then: the chat's later messages wait for it


class Attempts:
    def __init__(
        self,
        *,
        holder: str,
        senders: Mapping[str, PlatformSender],
        held: Holdings,
        limits: SendLimits,
        outcomes: OutcomeWriter,
        clock: Clock,
        concurrency: int,
        max_attempts: int,
        stopping: Callable[[], bool],
        due_at: Callable[[datetime], None],
        draw: Callable[[Reply], Reply] = draw_reply,
    ) -> None:
        """`stopping`: no new attempt begins once it is true; `due_at`: a row will be due again then;
        `draw`: the reply with its pictures drawn (`reports.drawings.draw_reply`)."""
        self.observer: DeliveryObserver | None = None
        self._holder = holder
        self._senders = senders
        self._held = held
        self._limits = limits
        self._outcomes = outcomes
        self._clock = clock
        self._semaphore = asyncio.Semaphore(concurrency)  # sends in flight, each until its outcome is written
        self._max_attempts = max_attempts
        self._stopping = stopping
        self._due_at = due_at
        self._draw = draw
        self._drawing = CapacityLimiter(1)  # one drawing at a time: they are CPU-bound and share the GIL
        self._pictures: OrderedDict[int, Reply] = OrderedDict()  # drawn, not sent yet (by message id)

    async def deliver(self, message: OutgoingMessage) -> Outcome:
        """Draw the message's pictures if it has any, then send it and write its outcome, as one send in
        flight (a message waiting for its pictures holds no place among the sends)."""
        sender = self._senders[message.platform]
        drawn = await self._drawn(message) if message.reply.undrawn else message
        if drawn is not message and not self._held.holds(message.id):  # lost while drawing: another sender has it
            return Outcome(attempted=False)
        async with self._semaphore:
            if isinstance(drawn, DeliveryError):  # the pictures could not be drawn: a failed attempt
                if self._stopping():
                    return Outcome(attempted=False)
                self._held.attempting(message.id)
                return Outcome(attempted=True, retry_at=await self._failed(message, drawn, 0.0))
            await self._limits.acquire(message)
            if self._stopping():
                return Outcome(attempted=False)
            self._held.attempting(message.id)
            started = time.perf_counter()
            answer = await self._send(sender, drawn)
            seconds = time.perf_counter() - started
            if isinstance(answer, DeliveryError):
                return Outcome(attempted=True, retry_at=await self._failed(message, answer, seconds))
            self._pictures.pop(message.id, None)
            await self._sent(message, answer, seconds)
        return Outcome(attempted=True)

    async def _drawn(self, message: OutgoingMessage) -> OutgoingMessage | DeliveryError:
        """The message with its pictures drawn: in a worker thread, one drawing at a time (the event loop
        and the database are free meanwhile; the rows were stored when the reply was written). A retry in
        this process sends the same bytes again; another process draws the same picture from the rows."""
        reply = self._pictures.get(message.id)
        if reply is None:
            try:
                # abandon_on_cancel: stopping never waits for a drawing (its thread finishes on its own)
                reply = await to_thread.run_sync(self._draw, message.reply, limiter=self._drawing, abandon_on_cancel=True)
            except Exception as exc:
                log.exception("outbox message %s: its pictures could not be drawn", message.id)
                return TransientError(f"drawing failed: {type(exc).__name__}: {exc}", code="drawing")
            self._pictures[message.id] = reply
            while len(self._pictures) > DRAWN_KEPT:
                self._pictures.popitem(last=False)
        return replace(message, reply=reply)

    async def _send(self, sender: PlatformSender, message: OutgoingMessage) -> str | DeliveryError | None:
        """The platform's message id, or the error."""
        try:
            return await sender.send(message)
        except DeliveryError as exc:
            return exc
        except Exception as exc:  # a bug or an unexpected library error: keep it, try again later
            log.exception("outbox message %s: unexpected error", message.id)
            return TransientError(f"{type(exc).__name__}: {exc}")

    async def _sent(self, message: OutgoingMessage, platform_message_id: str | None, seconds: float) -> None:
        recorded = await self._settle(record_sent, message, now=self._clock(), platform_message_id=platform_message_id)
        if recorded is False:  # another process holds the row now (our lease ran out): it may send it again
            log.warning("outbox message %s sent, but its lease was lost to another sender", message.id)
        log.info("outbox message sent", extra={**log_ids(message), "outcome": "sent"})
        if self.observer is not None:
            self.observer.delivered(message, "sent", seconds, None)

    async def _failed(self, message: OutgoingMessage, error: DeliveryError, seconds: float) -> datetime | None:
        """Write the failure; returns when the message is tried again (None: never)."""
        now = self._clock()
        verdict = judge(message, error, now, max_attempts=self._max_attempts)
        retry_at = None if verdict.failed else verdict.retry_at
        if retry_at is not None:
            # The chat's later messages wait behind this one; a throttled app holds every chat.
            self._limits.hold((message.platform, message.chat_id), retry_at)
            if isinstance(error, Throttled) and error.scope == "app":
                self._limits.hold((message.platform,), retry_at)
        log_failure(message, error, verdict, now)
        await self._settle(
            record_failure,
            message,
            hold_lane_until=retry_at,
            error=str(error),
            retry_at=verdict.retry_at,
            max_attempts=self._max_attempts,
        )
        if retry_at is not None:
            self._due_at(retry_at)
        if self.observer is not None:
            self.observer.delivered(message, "failed" if verdict.failed else "retry", seconds, error)
        return retry_at

    async def _settle(
        self, fn: Callable[..., bool], message: OutgoingMessage, *, hold_lane_until: datetime | None = None, **kwargs: Any
    ) -> bool | None:
        """Write a held row's outcome with `fn` as soon as it is known, and let the row go.

        The write is conditional on the row still being ours (`leased_by`), not on the end of the lease:
        a renewal running at the same moment only moves the end, so it can never leave the outcome
        written against a lease it just replaced (once that left a sent row pending, to be sent again
        when the new lease ran out). Outcomes are independent short transactions, none queued behind
        another's. Returns `fn`'s answer (False: another sender has the row now), or None when the
        database could not be reached before the drain on stop ran out.
        """

        def write(session: Session) -> bool:
            done = bool(fn(session, message.id, holder=self._holder, **kwargs))
            if done and hold_lane_until is not None:
                hold_lane(session, lane_of(message), holder=self._holder, until=hold_lane_until)
            return done

        self._held.settling(message.id)
        try:
            return await self._outcomes.write(write)
        finally:
            self._held.settled(message.id)
