"""The outbox sender: delivers outbox rows through the platform senders, within the platforms' limits,
with any number of senders (processes) on one database.

Holding: a sender claims due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises
writers) and leases them in the same transaction: `leased_by` names the sender and `next_attempt_at`
moves to the end of the lease, so no other sender sees them as due. Each chat's lane (a group, or a
private chat with one user) is held the same way, by a row in `outbox_lane` taken with its messages:
only the lane's holder claims its messages, so a chat's messages go out in order, from one process,
under one per-chat rate limit, whatever the number of senders. Leases are renewed while the work is
live (queued in a lane that runs, or being sent); a sender that dies, or a lane that fails, just
stops renewing, and its rows and lanes are free again when the leases run out. Every outcome is
written only if the row is still ours (`leased_by`), as soon as it is known.

Fairness: a claim takes at most a few rows per lane (about a second of its per-chat rate) and leaves
out chats that are held back or already have that many queued here, so a busy group's backlog never
fills the batch while a quiet group waits.

Sending: lanes run concurrently, at most `concurrency` sends in flight (a send is in flight until its
outcome is written, so a crash repeats at most that many). Rate limits per chat and per app come from
each sender's `limits` (aiolimiter leaky buckets of capacity one, so no window of the limit's length
ever holds more than the limit allows); the app limit is shared by the live senders, each taking
its share (they count each other through `outbox_heartbeat`). Throttling holds back the chat or the
whole platform until the time the platform gave (`x-ogw-ratelimit-reset`) or a back-off; server
errors and timeouts back off exponentially with jitter; a message that fails permanently, or too
often, is kept as `failed` with its last error for `tandem outbox list`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from anyio import to_thread
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, utcnow
from bot.ingest import WriteGate
from bot.outbox_leases import (
    FAIR_SHARE,
    Lane,
    claim_due,
    heartbeat,
    hold_lane,
    lane_of,
    prune_lanes,
    record_failure,
    record_sent,
    release,
    renew_leases,
    sign_off,
)
from bot.outbox_limits import SendLimits
from bot.outbox_writes import OutcomeWriter, database_unavailable
from bot.platforms import (
    DeliveryError,
    OutgoingMessage,
    PermanentError,
    PlatformSender,
    Throttled,
    TransientError,
)

if TYPE_CHECKING:
    from bot.metrics import DeliveryObserver

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
BACKOFF_BASE = 1.0  # seconds; doubles per attempt
BACKOFF_CAP = 600.0
CLAIM_INTERVAL = 0.05  # seconds between claims when lanes ask for more at once
HEARTBEAT_SECONDS = 1.0  # renewals and heartbeats at least this often
LANE_REOPEN = timedelta(seconds=1)  # a lane given back stays closed for the per-chat window its last sends filled
DRAIN_SECONDS = 5.0  # on stop, how long the sends in flight may take to finish

T = TypeVar("T")


def backoff(attempt: int, *, base: float | None = None, cap: float = BACKOFF_CAP) -> float:
    """Exponential back-off with jitter ("equal jitter": between half and all of the step)."""
    step = min(cap, (BACKOFF_BASE if base is None else base) * 2 ** max(0, attempt - 1))
    return random.uniform(step / 2, step)


# --- the sender loop ------------------------------------------------------------------------------


@dataclass
class _Lane:
    key: Lane
    queue: deque[OutgoingMessage] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None
    current: OutgoingMessage | None = None  # being sent, or its outcome being written

    def live(self) -> bool:
        return self.task is not None and not self.task.done()

    def ids(self) -> list[int]:
        return [m.id for m in self.queue] + ([self.current.id] if self.current is not None else [])


@dataclass(frozen=True)
class _ClaimTerms:
    """What one claim may take, read from the sender's state on the event loop."""

    now: datetime
    cutoffs: dict[str, datetime]
    room: int
    skip_chats: dict[str, set[str]]
    exclude: list[int]


@dataclass
class _Sent:
    platform_message_id: str | None


def _log_failure(what: str, exc: Exception) -> None:
    if database_unavailable(exc):  # an outage: say so once a pass, without a traceback each time
        log.warning("%s: database unavailable (%s)", what, getattr(exc, "orig", exc))
    else:
        log.exception(what)


def _log_ids(message: OutgoingMessage) -> dict[str, Any]:
    return {"outbox_id": message.id, "platform": message.platform, "chat_id": message.chat_id, "attempt": message.attempts + 1}


def _sender_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


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
        drain_seconds: float = DRAIN_SECONDS,
        name: str | None = None,
        observer: DeliveryObserver | None = None,
    ) -> None:
        self.name = name or _sender_name()  # `leased_by` / `holder` in the database
        self.observer = observer  # metrics, when on: told every attempt's outcome once it is written
        self._session_factory = session_factory
        self._gate = gate or WriteGate(enabled=False)
        self._senders = dict(senders)
        self._clock = clock
        self._lease = lease
        self._poll_seconds = poll_seconds
        self._batch = batch
        self._max_attempts = max_attempts
        self._due_delay = dict(due_delay or {})
        self._drain_seconds = drain_seconds
        self._semaphore = asyncio.Semaphore(concurrency)  # sends in flight, each until its outcome is written
        self._wake = asyncio.Event()
        self._renewed = asyncio.Event()  # replaced after every renewal; lanes waiting on a fresh lease watch it
        self._tasks: list[asyncio.Task[None]] = []
        self._lanes: dict[Lane, _Lane] = {}
        self._leases: dict[int, datetime] = {}  # rows this process holds → the end of its lease on them
        self._attempted: set[int] = set()  # held rows whose send has begun (never handed back unsent)
        self._settling: set[int] = set()  # held rows whose outcome is being written
        self._next_due: datetime | None = None
        self._stopping = False
        self._drain_deadline = 0.0
        self._last_claim = 0.0
        self._new_rows = False  # wake() since the last claim began
        self._started_at = clock()
        self._per_lane: dict[str, int] = {}
        self._limits = SendLimits(self._senders)
        # SQLite (the write gate on): outcomes waiting for a turn when it comes share its transaction.
        self._writes = OutcomeWriter(
            session_factory, self._gate, give_up_at=lambda: self._drain_deadline if self._stopping else None
        )
        for platform, sender in self._senders.items():
            limits = getattr(sender, "limits", None)
            per_chat = limits.per_chat if limits is not None else None
            # About a second of the chat's rate per claim: enough to keep it busy until the next claim.
            self._per_lane[platform] = per_chat.count if per_chat is not None else FAIR_SHARE

    @property
    def platforms(self) -> list[str]:
        return list(self._senders)

    def wake(self) -> None:
        """New rows were committed (a reply, a post): claim at once."""
        self._new_rows = True
        self._wake.set()

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._keep_alive(), name="outbox-lease-renewal"),
            asyncio.create_task(self._run(), name="outbox-sender"),
        ]

    async def stop(self) -> None:
        """Drain: no more claims; sends in flight finish (up to `drain_seconds`) and their outcomes are
        written; what was claimed but not attempted is handed back, due at once."""
        self._stopping = True
        self._drain_deadline = asyncio.get_running_loop().time() + self._drain_seconds
        self._wake.set()
        renewed, self._renewed = self._renewed, asyncio.Event()
        renewed.set()  # lanes waiting for a renewal see that we are stopping
        keep_alive, claimer = self._tasks or (None, None)
        working = {lane.task for lane in self._lanes.values() if lane.task is not None and lane.live()}
        if claimer is not None:
            working.add(claimer)
        if working:
            _, late = await asyncio.wait(working, timeout=self._drain_seconds)
            if late:
                log.warning("outbox: sends still in flight after %.1fs are left to their leases", self._drain_seconds)
                for task in late:
                    task.cancel()
                await asyncio.wait(late, timeout=1.0)
        unattempted = [i for i in self._leases if i not in self._attempted]
        now = self._clock()
        keep = {(key[0], key[1]) for key in self._limits.held if len(key) == 2 and self._limits.held[key] > now}
        keep |= {(lane.key[0], lane.key[1]) for lane in self._lanes.values() if lane.current is not None}  # did not finish
        try:
            await asyncio.wait_for(to_thread.run_sync(self._hand_back, unattempted, keep, abandon_on_cancel=True), timeout=5.0)
        except Exception:  # the database is unreachable: the leases run out instead
            log.warning("outbox: could not hand back %d unsent messages; due again when their leases run out", len(unattempted))
        if keep_alive is not None:
            keep_alive.cancel()
            await asyncio.wait({keep_alive}, timeout=1.0)
        for sender in self._senders.values():
            with contextlib.suppress(Exception):
                await sender.aclose()

    def _hand_back(self, message_ids: list[int], keep: set[tuple[str, str]]) -> None:
        now = self._clock()
        with self._gate.background(), self._session_factory.begin() as session:
            release(session, message_ids, holder=self.name, at=now)
            sign_off(session, sender=self.name, keep=keep, reopen_at=now + LANE_REOPEN)
        for message_id in message_ids:
            self._leases.pop(message_id, None)

    # claiming

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            self._new_rows = False
            claimed: list[OutgoingMessage] = []
            room = self._batch - len(self._leases)
            if room > 0:
                self._last_claim = asyncio.get_running_loop().time()
                try:
                    claimed, lease_until = await to_thread.run_sync(self._claim, self._claim_terms(room))
                except Exception as exc:
                    _log_failure("outbox claim failed", exc)
                for message in claimed:  # on the loop, with no await in between: the renewal sees them as live
                    self._leases[message.id] = lease_until
                    self._enqueue(message, start=not self._stopping)  # on stop: queued, to be handed back
            if claimed and len(claimed) >= room:
                continue  # a full claim: more may be due
            await self._sleep()

    async def _sleep(self) -> None:
        now = self._clock()
        if self._next_due is not None and self._next_due <= now:
            self._next_due = None
        timeout = self._poll_seconds
        upcoming = [t for t in (self._next_due, *self._limits.held.values()) if t is not None and t > now]
        if upcoming:
            timeout = min(timeout, max(0.005, (min(upcoming) - now).total_seconds()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=timeout)
        if self._new_rows:
            return  # a reply waits for nobody (the pause below is for lanes asking for more)
        # Lanes ask for more as they empty; many at once make one claim, not one each.
        pause = self._last_claim + CLAIM_INTERVAL - asyncio.get_running_loop().time()
        if pause > 0:
            await asyncio.sleep(pause)

    def _claim_terms(self, room: int) -> _ClaimTerms:
        """What the next claim may take, from this process's state (read on the loop, not in the thread)."""
        now = self._clock()
        cutoffs = {
            platform: now - self._due_delay.get(platform, timedelta(0))
            for platform in self._senders
            if not self._limits.held_until((platform,), now)
        }
        skip: dict[str, set[str]] = {}
        for key in list(self._limits.held):
            if len(key) == 2 and self._limits.held_until(key, now):
                skip.setdefault(key[0], set()).add(key[1])
        for (platform, chat, _), lane in self._lanes.items():
            if len(lane.ids()) >= self._per_lane.get(platform, FAIR_SHARE):
                skip.setdefault(platform, set()).add(chat)  # its rate is spoken for until the next claim
        return _ClaimTerms(now, cutoffs, room, skip, list(self._leases))

    def _claim(self, terms: _ClaimTerms) -> tuple[list[OutgoingMessage], datetime]:
        lease_until = terms.now + self._lease
        if not terms.cutoffs:
            return [], lease_until
        with self._gate.background(), self._session_factory.begin() as session:
            messages = claim_due(
                session,
                platforms=terms.cutoffs,
                holder=self.name,
                now=terms.now,
                lease_until=lease_until,
                limit=terms.room,
                per_lane=self._per_lane,
                skip_chats=terms.skip_chats,
                exclude=terms.exclude,
            )
        return messages, lease_until

    # holding

    async def _keep_alive(self) -> None:
        """Renew the leases of live work, let go of rows no live lane holds, and say we are alive."""
        passes = 0
        while True:
            try:
                await self._renew(prune=passes % 60 == 0)
            except Exception as exc:
                _log_failure("outbox lease renewal failed", exc)
            passes += 1
            renewed, self._renewed = self._renewed, asyncio.Event()
            renewed.set()
            await asyncio.sleep(min(HEARTBEAT_SECONDS, self._lease.total_seconds() / 3))

    def _rescue_orphans(self) -> None:
        """Rows held by no live lane (its task died): let them go; their leases run out, they are due again."""
        for key, lane in list(self._lanes.items()):
            if not lane.live() and self._lanes.get(key) is lane:
                del self._lanes[key]
        live = {i for lane in self._lanes.values() for i in lane.ids()}
        orphans = [i for i in self._leases if i not in live and i not in self._settling]
        for message_id in orphans:
            del self._leases[message_id]
        if orphans:
            log.warning("outbox: %d held messages had no live lane; claimed again when their leases run out", len(orphans))

    async def _renew(self, *, prune: bool) -> None:
        if not self._stopping:
            self._rescue_orphans()
        rows = list(self._leases)
        lanes = [key for key, lane in self._lanes.items() if lane.ids()]
        now = self._clock()
        until = now + self._lease
        renewed, kept, live_senders = await to_thread.run_sync(self._renew_once, rows, lanes, now, until, prune)
        for message_id in rows:
            if message_id in self._settling or message_id not in self._leases:
                continue  # its outcome is being written (or was): the renewal's answer says nothing
            if message_id in renewed:
                self._leases[message_id] = max(self._leases[message_id], until)
            else:
                log.warning("outbox message %s: lease lost, leaving it to its new holder", message_id)
                del self._leases[message_id]
        for key in set(lanes) - kept:
            log.warning("outbox lane %s: taken over by another sender; its queued messages are given up", key)
            lane = self._lanes.get(key)
            for message in list(lane.queue) if lane is not None else []:
                self._leases.pop(message.id, None)
        self._limits.share_app(live_senders)

    def _renew_once(
        self, rows: list[int], lanes: list[Lane], now: datetime, until: datetime, prune: bool
    ) -> tuple[set[int], set[Lane], int]:
        with self._gate.background(), self._session_factory.begin() as session:
            renewed, kept = renew_leases(session, rows, lanes, holder=self.name, now=now, until=until)
            live = heartbeat(session, sender=self.name, started_at=self._started_at, now=now)
            if prune:
                prune_lanes(session, before=now - timedelta(hours=1))
        return renewed, kept, live

    async def _lease_holds(self, message: OutgoingMessage) -> bool:
        """Before a send: our lease on the row still has a while to run (renewals may be failing while
        the database is unreachable; past the lease another sender may take the row). Waits for a
        renewal if not; False when the row is no longer ours or we are stopping."""
        margin = self._lease / 4
        while True:
            until = self._leases.get(message.id)
            if until is None or self._stopping:
                return False
            if until - self._clock() > margin:
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._renewed.wait(), timeout=self._lease.total_seconds())

    # sending

    def _enqueue(self, message: OutgoingMessage, *, start: bool = True) -> None:
        key = lane_of(message)
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane(key)
        lane.queue.append(message)
        if start and not lane.live():
            lane.task = asyncio.create_task(self._run_lane(lane), name=f"outbox-lane-{message.platform}")

    async def _run_lane(self, lane: _Lane) -> None:
        try:
            while lane.queue and not self._stopping:
                message = lane.queue[0]
                if message.id not in self._leases:
                    lane.queue.popleft()  # lease lost to another process
                    continue
                hold = self._limits.hold_time(message, self._clock())
                if hold is not None:  # the chat (or platform) is held back: its queue goes back, due then
                    await self._release_queue(lane, hold)
                    break
                if not await self._lease_holds(message):
                    continue
                lane.current = lane.queue.popleft()
                if not await self._deliver(message):
                    lane.queue.appendleft(message)  # stopping: not attempted, handed back
                lane.current = None
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("outbox lane %s failed; its messages are claimed again when their leases run out", lane.key)
            for message_id in lane.ids():
                self._leases.pop(message_id, None)
            lane.queue.clear()
            lane.current = None
        finally:
            if self._lanes.get(lane.key) is lane and not lane.queue and lane.current is None:
                del self._lanes[lane.key]
            self._wake.set()  # room for more of this chat, and of others

    async def _release_queue(self, lane: _Lane, at: datetime) -> None:
        messages = list(lane.queue)
        lane.queue.clear()
        ids = [m.id for m in messages if m.id in self._leases]

        def write(session: Session) -> None:
            release(session, ids, holder=self.name, at=at)
            hold_lane(session, lane.key, holder=self.name, until=at)

        try:
            await self._writes.write(write)
        finally:
            for message_id in ids:
                self._leases.pop(message_id, None)
        self._note_due(at)

    async def _deliver(self, message: OutgoingMessage) -> bool:
        """Send one message and write its outcome, as one send in flight; False if not attempted (stopping)."""
        sender = self._senders[message.platform]
        async with self._semaphore:
            await self._limits.acquire(message)
            if self._stopping:
                return False
            self._attempted.add(message.id)
            started = time.perf_counter()
            outcome = await self._send(sender, message)
            seconds = time.perf_counter() - started
            if isinstance(outcome, _Sent):
                await self._record_sent(message, outcome, seconds)
            else:
                await self._record_failure(message, outcome, seconds)
        return True

    async def _send(self, sender: PlatformSender, message: OutgoingMessage) -> _Sent | DeliveryError:
        try:
            return _Sent(await sender.send(message))
        except DeliveryError as exc:
            return exc
        except Exception as exc:  # a bug or an unexpected library error: keep it, try again later
            log.exception("outbox message %s: unexpected error", message.id)
            return TransientError(f"{type(exc).__name__}: {exc}")

    async def _record_sent(self, message: OutgoingMessage, sent: _Sent, seconds: float) -> None:
        now = self._clock()
        recorded = await self._settle(record_sent, message, now=now, platform_message_id=sent.platform_message_id)
        if recorded is False:  # another process holds the row now (our lease ran out): it may send it again
            log.warning("outbox message %s sent, but its lease was lost to another sender", message.id)
        log.info("outbox message sent", extra={**_log_ids(message), "outcome": "sent"})
        if self.observer is not None:
            self.observer.delivered(message, "sent", seconds, None)

    async def _record_failure(self, message: OutgoingMessage, error: DeliveryError, seconds: float) -> None:
        now = self._clock()
        retry_at = self._retry_time(message, error, now)
        will_fail = retry_at is None or message.attempts + 1 >= self._max_attempts
        if retry_at is not None and not will_fail:
            # The chat's later messages wait behind this one; a throttled app holds every chat.
            self._limits.hold((message.platform, message.chat_id), retry_at)
            if isinstance(error, Throttled) and error.scope == "app":
                self._limits.hold((message.platform,), retry_at)
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
            extra={**_log_ids(message), "outcome": "failed" if will_fail else "retry", "code": error.code},
        )
        await self._settle(
            record_failure,
            message,
            hold_lane_until=None if will_fail else retry_at,
            error=str(error),
            retry_at=retry_at,
            max_attempts=self._max_attempts,
        )
        if retry_at is not None and not will_fail:
            self._note_due(retry_at)
        if self.observer is not None:
            self.observer.delivered(message, "failed" if will_fail else "retry", seconds, error)

    def _retry_time(self, message: OutgoingMessage, error: DeliveryError, now: datetime) -> datetime | None:
        if isinstance(error, PermanentError) or not error.retry:
            return None
        if error.retry_after is None:
            return now + timedelta(seconds=backoff(message.attempts + 1))
        # What the platform asked for, plus a little jitter so that many senders do not return at once.
        return now + timedelta(seconds=error.retry_after + random.uniform(0.0, 0.1 + error.retry_after / 10))

    def _note_due(self, at: datetime) -> None:
        if self._next_due is None or at < self._next_due:
            self._next_due = at
            self._wake.set()

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
            done = bool(fn(session, message.id, holder=self.name, **kwargs))
            if done and hold_lane_until is not None:
                hold_lane(session, lane_of(message), holder=self.name, until=hold_lane_until)
            return done

        self._settling.add(message.id)
        try:
            return await self._writes.write(write)
        finally:
            self._settling.discard(message.id)
            self._attempted.discard(message.id)
            self._leases.pop(message.id, None)
