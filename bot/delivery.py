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
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from anyio import to_thread
from sqlalchemy.orm import Session

from bot.clock import Clock, utcnow
from bot.outbox_attempts import Attempts
from bot.outbox_holdings import Holdings, LaneWork
from bot.outbox_leases import (
    FAIR_SHARE,
    Lane,
    claim_due,
    heartbeat,
    hold_lane,
    prune_lanes,
    release,
    renew_leases,
    sign_off,
)
from bot.outbox_limits import SendLimits
from bot.outbox_retry import MAX_ATTEMPTS
from bot.outbox_writes import OutcomeWriter, log_write_failure
from bot.platforms import OutgoingMessage, PlatformSender
from bot.writes import Writes

if TYPE_CHECKING:
    from bot.metrics import DeliveryObserver

log = logging.getLogger(__name__)

CLAIM_INTERVAL = 0.05  # seconds between claims when lanes ask for more at once
HEARTBEAT_SECONDS = 1.0  # renewals and heartbeats at least this often
LANE_REOPEN = timedelta(seconds=1)  # a lane given back stays closed for the per-chat window its last sends filled
DRAIN_SECONDS = 5.0  # on stop, how long the sends in flight may take to finish

@dataclass(frozen=True)
class _ClaimTerms:
    """What one claim may take, read from the sender's state on the event loop."""

    now: datetime
    cutoffs: dict[str, datetime]
    room: int
    skip_chats: dict[str, set[str]]
    exclude: list[int]


def _sender_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class OutboxSender:
    """Claims due outbox rows and delivers them; one per process, started in `tandem serve`'s lifespan."""

    def __init__(
        self,
        writes: Writes,
        senders: Mapping[str, PlatformSender],
        *,
        clock: Clock = utcnow,
        lease: timedelta = timedelta(seconds=8),
        poll_seconds: float = 1.0,
        batch: int = 64,
        concurrency: int = 16,
        max_attempts: int = MAX_ATTEMPTS,
        due_delay: Mapping[str, timedelta] | None = None,
        drain_seconds: float = DRAIN_SECONDS,
        name: str | None = None,
        observer: DeliveryObserver | None = None,
    ) -> None:
        self.name = name or _sender_name()  # `leased_by` / `holder` in the database
        self._db = writes
        self._senders = dict(senders)
        self._clock = clock
        self._lease = lease
        self._poll_seconds = poll_seconds
        self._batch = batch
        self._due_delay = dict(due_delay or {})
        self._drain_seconds = drain_seconds
        self._wake = asyncio.Event()
        self._renewed = asyncio.Event()  # replaced after every renewal; lanes waiting on a fresh lease watch it
        self._tasks: list[asyncio.Task[None]] = []
        self._held = Holdings()
        self._next_due: datetime | None = None
        self._stopping = False
        self._claiming = False  # a claim is under way: rows it leases are not in `_held` yet
        self._drain_deadline = 0.0
        self._last_claim = 0.0
        self._new_rows = False  # wake() since the last claim began
        self._started_at = clock()
        self._per_lane: dict[str, int] = {}
        self._limits = SendLimits(self._senders)
        self._outcomes = OutcomeWriter(writes, give_up_at=lambda: self._drain_deadline if self._stopping else None)
        self._attempts = Attempts(
            holder=self.name,
            senders=self._senders,
            held=self._held,
            limits=self._limits,
            outcomes=self._outcomes,
            clock=clock,
            concurrency=concurrency,
            max_attempts=max_attempts,
            stopping=lambda: self._stopping,
            due_at=self._note_due,
        )
        self.observer = observer
        for platform, sender in self._senders.items():
            limits = getattr(sender, "limits", None)
            per_chat = limits.per_chat if limits is not None else None
            # About a second of the chat's rate per claim: enough to keep it busy until the next claim.
            self._per_lane[platform] = per_chat.count if per_chat is not None else FAIR_SHARE

    @property
    def observer(self) -> DeliveryObserver | None:
        """Metrics, when on: told every attempt's outcome once it is written."""
        return self._attempts.observer

    @observer.setter
    def observer(self, observer: DeliveryObserver | None) -> None:
        self._attempts.observer = observer

    @property
    def platforms(self) -> list[str]:
        return list(self._senders)

    def idle(self) -> bool:
        """Nothing claimed here is waiting, being sent, or having its outcome written."""
        return not self._claiming and len(self._held) == 0 and not self._held.lanes

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
        working = self._held.live_tasks()
        if claimer is not None:
            working.add(claimer)
        if working:
            _, late = await asyncio.wait(working, timeout=self._drain_seconds)
            if late:
                log.warning("outbox: sends still in flight after %.1fs are left to their leases", self._drain_seconds)
                for task in late:
                    task.cancel()
                await asyncio.wait(late, timeout=1.0)
        unattempted = self._held.unattempted()
        now = self._clock()
        keep = {(key[0], key[1]) for key in self._limits.held if len(key) == 2 and self._limits.held[key] > now}
        keep |= self._held.unfinished_chats()
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
        with self._db.begin() as session:
            release(session, message_ids, holder=self.name, at=now)
            sign_off(session, sender=self.name, keep=keep, reopen_at=now + LANE_REOPEN)
        self._held.let_go(message_ids)

    # claiming

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            self._new_rows = False
            claimed: list[OutgoingMessage] = []
            room = self._batch - len(self._held)
            if room > 0:
                self._last_claim = asyncio.get_running_loop().time()
                self._claiming = True
                try:
                    claimed, lease_until = await to_thread.run_sync(self._claim, self._claim_terms(room))
                except Exception as exc:
                    log_write_failure("outbox claim failed", exc)
                finally:
                    self._claiming = False
                for message in claimed:  # on the loop, with no await in between: the renewal sees them as live
                    lane = self._held.take(message, lease_until)
                    if not self._stopping and not lane.live():  # on stop: queued, to be handed back
                        lane.task = asyncio.create_task(self._run_lane(lane), name=f"outbox-lane-{message.platform}")
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
        for platform, chats in self._held.full_chats(self._per_lane, FAIR_SHARE).items():
            skip.setdefault(platform, set()).update(chats)  # its rate is spoken for until the next claim
        return _ClaimTerms(now, cutoffs, room, skip, list(self._held.leases))

    def _claim(self, terms: _ClaimTerms) -> tuple[list[OutgoingMessage], datetime]:
        lease_until = terms.now + self._lease
        if not terms.cutoffs:
            return [], lease_until
        with self._db.begin() as session:
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
                log_write_failure("outbox lease renewal failed", exc)
            passes += 1
            renewed, self._renewed = self._renewed, asyncio.Event()
            renewed.set()
            await asyncio.sleep(min(HEARTBEAT_SECONDS, self._lease.total_seconds() / 3))

    async def _renew(self, *, prune: bool) -> None:
        if not self._stopping:
            self._held.rescue_orphans()
        rows = list(self._held.leases)
        lanes = self._held.working_lanes()
        now = self._clock()
        until = now + self._lease
        renewed, kept, live_senders = await to_thread.run_sync(self._renew_once, rows, lanes, now, until, prune)
        self._held.renewed(rows, renewed, lanes, kept, until)
        self._limits.share_app(live_senders)

    def _renew_once(
        self, rows: list[int], lanes: list[Lane], now: datetime, until: datetime, prune: bool
    ) -> tuple[set[int], set[Lane], int]:
        with self._db.begin() as session:
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
            until = self._held.leases.get(message.id)
            if until is None or self._stopping:
                return False
            if until - self._clock() > margin:
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._renewed.wait(), timeout=self._lease.total_seconds())

    # sending

    async def _run_lane(self, lane: LaneWork) -> None:
        try:
            while lane.queue and not self._stopping:
                message = lane.queue[0]
                if not self._held.holds(message.id):
                    lane.queue.popleft()  # lease lost to another process
                    continue
                hold = self._limits.hold_time(message, self._clock())
                if hold is not None:  # the chat (or platform) is held back: its queue goes back, due then
                    await self._release_queue(lane, hold)
                    break
                if not await self._lease_holds(message):
                    continue
                lane.current = lane.queue.popleft()
                outcome = await self._attempts.deliver(message)
                lane.current = None
                if not outcome.attempted:
                    lane.queue.appendleft(message)  # stopping: not attempted, handed back
                elif outcome.retry_at is not None:
                    # The chat's later messages go back with it, due no earlier than its retry: the hold
                    # may be over before we get here (a short throttle), and they must not overtake it.
                    await self._release_queue(lane, outcome.retry_at)
                    break
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("outbox lane %s failed; its messages are claimed again when their leases run out", lane.key)
            self._held.drop_lane(lane)
        finally:
            self._held.finish_lane(lane)
            self._wake.set()  # room for more of this chat, and of others

    async def _release_queue(self, lane: LaneWork, at: datetime) -> None:
        messages = list(lane.queue)
        lane.queue.clear()
        ids = [m.id for m in messages if self._held.holds(m.id)]

        def write(session: Session) -> None:
            release(session, ids, holder=self.name, at=at)
            hold_lane(session, lane.key, holder=self.name, until=at)

        try:
            await self._outcomes.write(write)
        finally:
            self._held.let_go(ids)
        self._note_due(at)

    def _note_due(self, at: datetime) -> None:
        if self._next_due is None or at < self._next_due:
            self._next_due = at
            self._wake.set()
