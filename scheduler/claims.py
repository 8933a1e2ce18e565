"""The scheduler's bookkeeping types: what a run posts, what it claims, what it reports, its outbox batch."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.messages import Reply
from bot.outbox import enqueue_many, outbox_row
from reports.rows import Agenda

# JobRun outcomes: posted; empty (nothing to say); skipped (missed by more than the grace period);
# superseded (a nudge not sent because the day's prompt itself only went out late, in the same run);
# folded (a reminder over its person's daily cap: listed in their next prompt, then folded-shown).
POSTED, EMPTY, SKIPPED, SUPERSEDED = "posted", "empty", "skipped", "superseded"


@dataclass(frozen=True, slots=True)
class Post:
    reply: Reply
    private: bool  # to the PM(s) privately where the platform allows


@dataclass(slots=True)
class Claim:
    project_id: int
    job: str
    slot: str
    outcome: str
    posts: list[Post] = field(default_factory=list)
    revive: bool = False  # the slot was recorded as skipped; it is due again for an explicit run at T
    agenda: Agenda | None = None  # a weekly agenda's rows: remembered once posted (its window's end)
    user_id: str | None = None  # a reminder's person (the daily cap counts them) …
    day: date | None = None  # … and the project's local day
    folded_runs: tuple[int, ...] = ()  # a daily prompt's folded reminders: shown once it is posted

    @property
    def key(self) -> tuple[int, str, str]:
        return (self.project_id, self.job, self.slot)


@dataclass
class RunReport:
    """What one run did: outcome counts per job, and one line per message posted or slot skipped."""

    at: datetime
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    lines: list[str] = field(default_factory=list)
    errors: int = 0

    def add(self, job: str, outcome: str, line: str | None = None) -> None:
        self.counts[(job, outcome)] += 1
        if line:
            self.lines.append(line)

    def count(self, outcome: str, job: str | None = None) -> int:
        return sum(n for (j, o), n in self.counts.items() if o == outcome and (job is None or j == job))

    def summary(self) -> str:
        parts = [f"{job} {outcome} {n}" for (job, outcome), n in sorted(self.counts.items())]
        if self.errors:
            parts.append(f"errors {self.errors}")
        return "；".join(parts) or "nothing due"


class OutboxBatch:
    """Outbox rows for one unit of work, written with one executemany instead of one INSERT each."""

    def __init__(self, session: Session, routes: dict[tuple[str, str], tuple[str, datetime]] | None = None) -> None:
        self._session = session
        self._rows: list[dict[str, Any]] = []
        self._routes = routes or {}  # (platform, chat) → a live reply route that can @ people (scheduler.posting)

    def route(self, platform: str, chat_id: str) -> tuple[str, datetime] | None:
        """The group's live reply route, when its platform needs one to @ people and it has one."""
        return self._routes.get((platform, chat_id))

    def add(self, **fields: Any) -> None:
        self._rows.append(outbox_row(**fields))

    def flush(self) -> None:
        enqueue_many(self._session, self._rows)
        self._rows = []
