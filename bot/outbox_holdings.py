"""What one outbox sender holds, in memory: the rows it has leased, the lanes (chats) they queue in,
which of them have been attempted and which outcomes are being written.

The database is the truth (`bot.outbox_leases`); this is the sender's own view of it, read and
changed on the event loop only, so it needs no lock. `bot.delivery.OutboxSender` drives it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from bot.outbox_leases import Lane, lane_of
from bot.platforms import OutgoingMessage

log = logging.getLogger("bot.delivery")  # the outbox sender's lines, under one name for operators


@dataclass
class LaneWork:
    """One chat's queue in this process, and the task sending it."""

    key: Lane
    queue: deque[OutgoingMessage] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None
    current: OutgoingMessage | None = None  # being sent, or its outcome being written

    def live(self) -> bool:
        return self.task is not None and not self.task.done()

    def ids(self) -> list[int]:
        return [m.id for m in self.queue] + ([self.current.id] if self.current is not None else [])


class Holdings:
    def __init__(self) -> None:
        self.lanes: dict[Lane, LaneWork] = {}
        self.leases: dict[int, datetime] = {}  # rows this process holds → the end of its lease on them
        self._attempted: set[int] = set()  # held rows whose send has begun (never handed back unsent)
        self._settling: set[int] = set()  # held rows whose outcome is being written

    def __len__(self) -> int:
        return len(self.leases)

    def holds(self, message_id: int) -> bool:
        return message_id in self.leases

    def take(self, message: OutgoingMessage, until: datetime) -> LaneWork:
        """A claimed row: leased until `until`, queued in its chat's lane (returned, to be started)."""
        self.leases[message.id] = until
        key = lane_of(message)
        lane = self.lanes.get(key)
        if lane is None:
            lane = self.lanes[key] = LaneWork(key)
        lane.queue.append(message)
        return lane

    def let_go(self, message_ids: Iterable[int]) -> None:
        for message_id in message_ids:
            self.leases.pop(message_id, None)

    def attempting(self, message_id: int) -> None:
        self._attempted.add(message_id)

    def settling(self, message_id: int) -> None:
        self._settling.add(message_id)

    def settled(self, message_id: int) -> None:
        """Its outcome is written (or given up): the row is no longer ours."""
        self._settling.discard(message_id)
        self._attempted.discard(message_id)
        self.leases.pop(message_id, None)

    def unattempted(self) -> list[int]:
        return [i for i in self.leases if i not in self._attempted]

    def working_lanes(self) -> list[Lane]:
        return [key for key, lane in self.lanes.items() if lane.ids()]

    def live_tasks(self) -> set[asyncio.Task[None]]:
        return {lane.task for lane in self.lanes.values() if lane.task is not None and lane.live()}

    def unfinished_chats(self) -> set[tuple[str, str]]:
        """Chats with a send that did not finish: their lanes stay closed after we sign off."""
        return {(lane.key[0], lane.key[1]) for lane in self.lanes.values() if lane.current is not None}

    def full_chats(self, per_lane: dict[str, int], default: int) -> dict[str, set[str]]:
        """Chats that already have their share queued here: the next claim leaves them out."""
        full: dict[str, set[str]] = {}
        for (platform, chat, _), lane in self.lanes.items():
            if len(lane.ids()) >= per_lane.get(platform, default):
                full.setdefault(platform, set()).add(chat)
        return full

    def finish_lane(self, lane: LaneWork) -> None:
        if self.lanes.get(lane.key) is lane and not lane.queue and lane.current is None:
            del self.lanes[lane.key]

    def drop_lane(self, lane: LaneWork) -> None:
        """A lane that failed: its rows are claimed again (by anyone) when their leases run out."""
        self.let_go(lane.ids())
        lane.queue.clear()
        lane.current = None

    def rescue_orphans(self) -> None:
        """Rows held by no live lane (its task died): let them go; their leases run out, they are due again."""
        for key, lane in list(self.lanes.items()):
            if not lane.live() and self.lanes.get(key) is lane:
                del self.lanes[key]
        live = {i for lane in self.lanes.values() for i in lane.ids()}
        orphans = [i for i in self.leases if i not in live and i not in self._settling]
        self.let_go(orphans)
        if orphans:
            log.warning("outbox: %d held messages had no live lane; claimed again when their leases run out", len(orphans))

    def renewed(
        self, rows: Iterable[int], renewed: Collection[int], lanes: Iterable[Lane], kept: Collection[Lane], until: datetime
    ) -> None:
        """Apply a renewal's answer: leases it extended run to `until`; rows and lanes it did not keep
        belong to another sender now."""
        for message_id in rows:
            if message_id in self._settling or message_id not in self.leases:
                continue  # its outcome is being written (or was): the renewal's answer says nothing
            if message_id in renewed:
                self.leases[message_id] = max(self.leases[message_id], until)
            else:
                log.warning("outbox message %s: lease lost, leaving it to its new holder", message_id)
                del self.leases[message_id]
        for key in set(lanes) - set(kept):
            log.warning("outbox lane %s: taken over by another sender; its queued messages are given up", key)
            lane = self.lanes.get(key)
            self.let_go(m.id for m in (lane.queue if lane is not None else ()))
