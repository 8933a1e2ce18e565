"""The outbox sender: delivers outbox rows through the platform senders, within the platforms' limits.

Claiming: due rows are selected `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite serialises writers) and
leased in the same transaction by moving `next_attempt_at` to the end of the lease. Another process
does not see a leased row as due, so two senders never send the same row at once; every result is
written only if the lease is still ours (`next_attempt_at` unchanged). A process that dies holding a
lease leaves the row due again when it runs out, and the platform idempotency key (Feishu `uuid`)
keeps that resend from posting twice.

Sending: one lane per chat keeps a chat's messages in order; lanes run concurrently. Rate limits per
chat and per app come from each sender's `limits` (aiolimiter leaky buckets of capacity one, so no
window of the limit's length ever holds more than the limit allows). Throttling holds back the chat or
the whole platform until the time the platform gave (`x-ogw-ratelimit-reset`) or a back-off;
server errors and timeouts back off exponentially with jitter; a message that fails permanently, or
too often, is kept as `failed` with its last error for `tandem outbox list`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from aiolimiter import AsyncLimiter
from anyio import to_thread
from sqlalchemy import CursorResult, Update, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, utcnow
from bot.ingest import WriteGate
from bot.messages import Reply
from bot.platforms import (
    DeliveryError,
    OutgoingMessage,
    PermanentError,
    PlatformSender,
    RateLimit,
    Throttled,
    TransientError,
)
from models import OutboundMessage, OutboundStatus

if TYPE_CHECKING:
    from bot.metrics import DeliveryObserver

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
BACKOFF_BASE = 1.0  # seconds; doubles per attempt
BACKOFF_CAP = 600.0


def backoff(attempt: int, *, base: float | None = None, cap: float = BACKOFF_CAP) -> float:
    """Exponential back-off with jitter ("equal jitter": between half and all of the step)."""
    step = min(cap, (BACKOFF_BASE if base is None else base) * 2 ** max(0, attempt - 1))
    return random.uniform(step / 2, step)


# --- the outbox table, for senders and operators ---------------------------------------------------


def snapshot(row: OutboundMessage) -> OutgoingMessage:
    return OutgoingMessage(
        id=row.id,
        platform=row.platform,
        chat_id=row.chat_id,
        reply=Reply.from_payload(row.body),
        idempotency_key=row.idempotency_key,
        attempts=row.attempts,
        reply_to=row.reply_to,
        reply_to_expires_at=row.reply_to_expires_at,
        to_user_id=row.to_user_id,
    )


def claim_due(
    session: Session,
    /,
    *,
    platforms: Mapping[str, datetime],
    lease_until: datetime,
    limit: int,
    exclude: Sequence[int] = (),
    held_chats: Mapping[str, Sequence[str]] | None = None,
) -> list[OutgoingMessage]:
    """Lease up to `limit` due rows, oldest first; `platforms` maps each platform to its due cutoff.

    Rows of `held_chats` (per platform) are left alone: an earlier message of theirs is waiting to be
    retried, and the chat's messages go out in order.
    """
    if not platforms:
        return []
    rows: list[OutboundMessage] = []
    for platform, cutoff in platforms.items():
        query = (
            select(OutboundMessage)
            .where(
                OutboundMessage.platform == platform,
                OutboundMessage.status == OutboundStatus.PENDING,
                OutboundMessage.next_attempt_at <= cutoff,
            )
            .order_by(OutboundMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if exclude:
            query = query.where(OutboundMessage.id.not_in(exclude))
        held = (held_chats or {}).get(platform)
        if held:
            query = query.where(OutboundMessage.chat_id.not_in(held))
        rows.extend(session.scalars(query))
    rows.sort(key=lambda r: r.id)
    rows = rows[:limit]
    if rows:
        session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id.in_([r.id for r in rows]))
            .values(next_attempt_at=lease_until)
            .execution_options(synchronize_session=False)
        )
    return [snapshot(r) for r in rows]


def _leased(message_id: int, lease: datetime) -> Update:
    return update(OutboundMessage).where(
        OutboundMessage.id == message_id,
        OutboundMessage.status == OutboundStatus.PENDING,
        OutboundMessage.next_attempt_at == lease,
    )


def record_sent(session: Session, /, message_id: int, *, lease: datetime, now: datetime, platform_message_id: str | None) -> bool:
    result = session.execute(
        _leased(message_id, lease).values(
            status=OutboundStatus.SENT,
            attempts=OutboundMessage.attempts + 1,
            sent_at=now,
            platform_message_id=platform_message_id,
            last_error=None,
        )
    )
    return bool(cast(CursorResult[Any], result).rowcount)


def record_failure(
    session: Session, /, message_id: int, *, lease: datetime, error: str, retry_at: datetime | None, max_attempts: int
) -> bool:
    """One failed attempt: try again at `retry_at`, or mark failed (permanent error, or too many attempts)."""
    row = session.get(OutboundMessage, message_id)
    if row is None or row.status != OutboundStatus.PENDING or row.next_attempt_at != lease:
        return False
    row.attempts += 1
    row.last_error = error[:2000]
    if retry_at is None or row.attempts >= max_attempts:
        row.status = OutboundStatus.FAILED
    else:
        row.next_attempt_at = retry_at
    return True


def release(session: Session, /, message_id: int, *, lease: datetime, at: datetime) -> bool:
    """Give a leased row back unsent, due again at `at` (its chat or platform is held back)."""
    result = session.execute(_leased(message_id, lease).values(next_attempt_at=at))
    return bool(cast(CursorResult[Any], result).rowcount)


def renew_leases(session: Session, /, leases: Mapping[int, datetime], *, lease_until: datetime) -> set[int]:
    """Extend the leases we still hold; returns the ids that were renewed (the others are lost)."""
    by_lease: dict[datetime, list[int]] = {}
    for message_id, lease in leases.items():
        by_lease.setdefault(lease, []).append(message_id)
    renewed: set[int] = set()
    for lease, ids in by_lease.items():
        statement = (
            update(OutboundMessage)
            .where(
                OutboundMessage.id.in_(ids),
                OutboundMessage.status == OutboundStatus.PENDING,
                OutboundMessage.next_attempt_at == lease,
            )
            .values(next_attempt_at=lease_until)
            .returning(OutboundMessage.id)
            .execution_options(synchronize_session=False)
        )
        renewed.update(session.scalars(statement))
    return renewed


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
    return True


# --- the sender loop ------------------------------------------------------------------------------


@dataclass
class _Lane:
    queue: deque[OutgoingMessage] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


def _limiter(limit: RateLimit) -> AsyncLimiter:
    # Capacity one, refilled at the limit's rate: at most count + 1 in any closed window of `seconds`,
    # so limits are configured one under the platform's figure.
    return AsyncLimiter(1, limit.seconds / limit.count)


class OutboxSender:
    """Claims due outbox rows and delivers them; one per process, started in `tandem serve`'s lifespan."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        senders: Mapping[str, PlatformSender],
        *,
        clock: Clock = utcnow,
        lease: timedelta = timedelta(seconds=8),
        poll_seconds: float = 1.0,
        batch: int = 64,
        concurrency: int = 16,
        max_attempts: int = MAX_ATTEMPTS,
        due_delay: Mapping[str, timedelta] | None = None,
        gate: WriteGate | None = None,
        observer: DeliveryObserver | None = None,
    ) -> None:
        self.observer = observer  # metrics, when on: told every attempt's outcome
        self._session_factory = session_factory
        self._gate = gate or WriteGate(enabled=False)
        self._senders = dict(senders)
        self._clock = clock
        self._lease = lease
        self._poll_seconds = poll_seconds
        self._batch = batch
        self._max_attempts = max_attempts
        self._due_delay = dict(due_delay or {})
        self._semaphore = asyncio.Semaphore(concurrency)
        self._db = asyncio.Semaphore(1)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._lanes: dict[tuple[str, str, str], _Lane] = {}
        self._leases: dict[int, datetime] = {}  # rows this process holds, and the lease it holds them by
        self._held: dict[tuple[str, ...], datetime] = {}  # platform or (platform, chat) → held back until
        self._next_due: datetime | None = None
        self._chat_limiters: dict[tuple[str, str], AsyncLimiter] = {}
        self._app_limiters: dict[str, AsyncLimiter] = {}
        for platform, sender in self._senders.items():
            limits = getattr(sender, "limits", None)
            if limits is not None and limits.per_app is not None:
                self._app_limiters[platform] = _limiter(limits.per_app)

    @property
    def platforms(self) -> list[str]:
        return list(self._senders)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name="outbox-sender"),
            asyncio.create_task(self._renew(), name="outbox-lease-renewal"),
        ]

    async def stop(self) -> None:
        tasks = [*self._tasks, *(lane.task for lane in self._lanes.values() if lane.task is not None)]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # Hand back what was claimed but not attempted, so it does not wait for the lease to run out.
        unsent = [m for lane in self._lanes.values() for m in lane.queue]
        with contextlib.suppress(Exception):
            await to_thread.run_sync(self._release_all, unsent)
        for sender in self._senders.values():
            with contextlib.suppress(Exception):
                await sender.aclose()

    def _release_all(self, messages: list[OutgoingMessage]) -> None:
        now = self._clock()
        with self._gate.background(), self._session_factory.begin() as session:
            for message in messages:
                lease = self._leases.pop(message.id, None)
                if lease is not None:
                    release(session, message.id, lease=lease, at=now)

    # claiming

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            claimed: list[OutgoingMessage] = []
            try:
                async with self._db:
                    claimed = await to_thread.run_sync(self._claim)
            except Exception:
                log.exception("outbox claim failed")
            for message in claimed:
                self._enqueue(message)
            if len(claimed) >= self._batch:
                continue
            await self._sleep()

    async def _sleep(self) -> None:
        now = self._clock()
        if self._next_due is not None and self._next_due <= now:
            self._next_due = None
        timeout = self._poll_seconds
        upcoming = [t for t in (self._next_due, *self._held.values()) if t is not None and t > now]
        if upcoming:
            timeout = min(timeout, max(0.005, (min(upcoming) - now).total_seconds()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=timeout)

    def _claim(self) -> list[OutgoingMessage]:
        now = self._clock()
        cutoffs = {
            platform: now - self._due_delay.get(platform, timedelta(0))
            for platform in self._senders
            if not self._held_until((platform,), now)
        }
        room = self._batch - len(self._leases)
        if room <= 0 or not cutoffs:
            return []
        lease_until = now + self._lease
        held_chats: dict[str, list[str]] = {}
        for key in list(self._held):
            if len(key) == 2 and self._held_until(key, now):
                held_chats.setdefault(key[0], []).append(key[1])
        with self._gate.background(), self._session_factory.begin() as session:
            messages = claim_due(
                session,
                platforms=cutoffs,
                lease_until=lease_until,
                limit=room,
                exclude=list(self._leases),
                held_chats=held_chats,
            )
        for message in messages:
            self._leases[message.id] = lease_until
        return messages

    async def _renew(self) -> None:
        """Keep our leases alive while we hold rows; a lost lease means another process has the row."""
        while True:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            if not self._leases:
                continue
            # Under the same semaphore as every settling write (`_settle`): a row's outcome is never
            # written against the lease this renewal is replacing.
            async with self._db:
                held = dict(self._leases)
                lease_until = self._clock() + self._lease
                try:
                    renewed = await to_thread.run_sync(self._renew_once, held, lease_until)
                except Exception:
                    log.exception("outbox lease renewal failed")
                    continue
                for message_id in held:
                    if message_id in renewed:
                        self._leases[message_id] = lease_until
                    else:
                        log.warning("outbox message %s: lease lost, leaving it to its new holder", message_id)
                        self._leases.pop(message_id, None)

    def _renew_once(self, held: dict[int, datetime], lease_until: datetime) -> set[int]:
        with self._gate.background(), self._session_factory.begin() as session:
            return renew_leases(session, held, lease_until=lease_until)

    # sending

    def _enqueue(self, message: OutgoingMessage) -> None:
        key = (message.platform, message.chat_id, message.to_user_id or "")
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane()
        lane.queue.append(message)
        if lane.task is None or lane.task.done():
            lane.task = asyncio.create_task(self._run_lane(key, lane), name=f"outbox-lane-{message.platform}")

    def _hold(self, key: tuple[str, ...], until: datetime) -> None:
        self._held[key] = max(until, self._held.get(key, until))

    def _held_until(self, key: tuple[str, ...], now: datetime) -> datetime | None:
        until = self._held.get(key)
        if until is None:
            return None
        if until <= now:
            del self._held[key]
            return None
        return until

    def _hold_time(self, message: OutgoingMessage) -> datetime | None:
        now = self._clock()
        times = [
            t
            for t in (self._held_until((message.platform,), now), self._held_until((message.platform, message.chat_id), now))
            if t is not None
        ]
        return max(times) if times else None

    async def _run_lane(self, key: tuple[str, str, str], lane: _Lane) -> None:
        hold: datetime | None = None
        try:
            while lane.queue:
                message = lane.queue.popleft()
                if message.id not in self._leases:
                    continue  # lease lost to another process
                hold = hold or self._hold_time(message)
                if hold is not None:
                    await self._settle(release, message.id, at=hold)
                    self._note_due(hold)
                    continue
                retry_at = await self._deliver(message)
                if retry_at is not None:
                    hold = retry_at  # the chat's later messages wait behind it, in order
        except asyncio.CancelledError:
            raise  # stop() hands back what is still queued
        except Exception:
            log.exception("outbox lane %s failed", key)
            unsent = list(lane.queue)
            lane.queue.clear()
            await to_thread.run_sync(self._release_all, unsent)
        if self._lanes.get(key) is lane and not lane.queue:
            del self._lanes[key]

    async def _deliver(self, message: OutgoingMessage) -> datetime | None:
        """Send one message and record the outcome; returns the retry time when it will be retried."""
        sender = self._senders[message.platform]
        error: DeliveryError | None = None
        platform_message_id: str | None = None
        async with self._semaphore:
            await self._acquire(message, sender)
            started = time.perf_counter()
            try:
                platform_message_id = await sender.send(message)
            except DeliveryError as exc:
                error = exc
            except Exception as exc:  # a bug or an unexpected library error: keep it, try again later
                log.exception("outbox message %s: unexpected error", message.id)
                error = TransientError(f"{type(exc).__name__}: {exc}")
        seconds, now = time.perf_counter() - started, self._clock()
        ids = {"outbox_id": message.id, "platform": message.platform, "chat_id": message.chat_id, "attempt": message.attempts + 1}
        if error is None:
            log.info("outbox message sent", extra={**ids, "outcome": "sent"})
            if self.observer is not None:
                self.observer.delivered(message, "sent", seconds, None)
            recorded = await self._settle(record_sent, message.id, now=now, platform_message_id=platform_message_id)
            if not recorded:  # another process holds the row now (our lease ran out): it may send it again
                log.warning("outbox message %s sent, but its lease was lost to another sender", message.id)
            return None
        retry_at = self._retry_time(message, error, now)
        will_fail = retry_at is None or message.attempts + 1 >= self._max_attempts
        if retry_at is not None and not will_fail:
            # The chat's later messages wait behind this one; a throttled app holds every chat.
            self._hold((message.platform, message.chat_id), retry_at)
            if isinstance(error, Throttled) and error.scope == "app":
                self._hold((message.platform,), retry_at)
        outcome = (
            "giving up (see `tandem outbox list --status failed`)"
            if will_fail or retry_at is None
            else f"retry in {(retry_at - now).total_seconds():.1f}s"
        )
        log.log(
            logging.ERROR if will_fail else logging.WARNING,
            "outbox message %s (%s → %s) attempt %d: %s; %s",
            message.id,
            message.platform,
            message.chat_id,
            message.attempts + 1,
            error,
            outcome,
            extra={**ids, "outcome": "failed" if will_fail else "retry", "code": error.code},
        )
        if self.observer is not None:
            self.observer.delivered(message, "failed" if will_fail else "retry", seconds, error)
        await self._settle(record_failure, message.id, error=str(error), retry_at=retry_at, max_attempts=self._max_attempts)
        if retry_at is not None and not will_fail:
            self._note_due(retry_at)
        return None if will_fail else retry_at

    def _retry_time(self, message: OutgoingMessage, error: DeliveryError, now: datetime) -> datetime | None:
        if isinstance(error, PermanentError) or not error.retry:
            return None
        if error.retry_after is None:
            return now + timedelta(seconds=backoff(message.attempts + 1))
        # What the platform asked for, plus a little jitter so that many senders do not return at once.
        return now + timedelta(seconds=error.retry_after + random.uniform(0.0, 0.1 + error.retry_after / 10))

    async def _acquire(self, message: OutgoingMessage, sender: PlatformSender) -> None:
        limits = getattr(sender, "limits", None)
        if limits is not None and limits.per_chat is not None:
            key = (message.platform, message.to_user_id or message.chat_id)
            chat = self._chat_limiters.get(key)
            if chat is None:
                if len(self._chat_limiters) > 10_000:
                    self._chat_limiters.clear()
                chat = self._chat_limiters[key] = _limiter(limits.per_chat)
            await chat.acquire()
        app = self._app_limiters.get(message.platform)
        if app is not None:
            await app.acquire()

    def _note_due(self, at: datetime) -> None:
        if self._next_due is None or at < self._next_due:
            self._next_due = at
            self._wake.set()

    async def _settle(self, fn: Callable[..., bool], message_id: int, **kwargs: Any) -> bool | None:
        """Write a held row's outcome with `fn`, conditional on the lease we hold for it *now*, and let it go.

        Returns `fn`'s answer, or None when the lease was already lost. Lease renewals run under the
        same semaphore, so a renewal in flight can never leave us writing against the lease it replaced
        (the row would stay pending, and be sent again once the new lease ran out).
        """

        def run(lease: datetime) -> bool:
            with self._gate.background(), self._session_factory.begin() as session:
                return bool(fn(session, message_id, lease=lease, **kwargs))

        async with self._db:  # one outbox write at a time: no pile of threads waiting on the database
            lease = self._leases.get(message_id)
            if lease is None:
                return None
            try:
                return await to_thread.run_sync(run, lease)
            finally:
                self._leases.pop(message_id, None)
