"""One send attempt of a held outbox row: within the platform's limits, its outcome written at once.

`bot.delivery.OutboxSender` claims rows and runs each chat's lane; every message a lane sends goes
through `Attempts.deliver`: a place among the sends in flight, the per-chat and per-app rate limits,
the platform call, and the outcome (sent, retry later, failed) written while the row is still ours.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.outbox_holdings import Holdings
from bot.outbox_leases import hold_lane, lane_of, record_failure, record_sent
from bot.outbox_limits import SendLimits
from bot.outbox_retry import judge, log_failure, log_ids
from bot.outbox_writes import OutcomeWriter
from bot.platforms import DeliveryError, OutgoingMessage, PlatformSender, Throttled, TransientError

if TYPE_CHECKING:
    from bot.metrics import DeliveryObserver

log = logging.getLogger("bot.delivery")  # the outbox sender's lines, under one name for operators


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
    ) -> None:
        """`stopping`: no new attempt begins once it is true; `due_at`: a row will be due again then."""
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

    async def deliver(self, message: OutgoingMessage) -> bool:
        """Send one message and write its outcome, as one send in flight; False if not attempted (stopping)."""
        sender = self._senders[message.platform]
        async with self._semaphore:
            await self._limits.acquire(message)
            if self._stopping():
                return False
            self._held.attempting(message.id)
            started = time.perf_counter()
            outcome = await self._send(sender, message)
            seconds = time.perf_counter() - started
            if isinstance(outcome, DeliveryError):
                await self._failed(message, outcome, seconds)
            else:
                await self._sent(message, outcome, seconds)
        return True

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

    async def _failed(self, message: OutgoingMessage, error: DeliveryError, seconds: float) -> None:
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
