"""Write transactions in this process, taken in the order that keeps the webhooks fast.

Every background component (the inbox processor, the outbox sender, retention, the metrics scrape)
opens its transactions here, never from a bare session factory: `Writes.begin()` is a transaction,
and on SQLite it first waits its turn for the database's one write lock (`WriteGate`), after any
webhook commit that requests are waiting on. On PostgreSQL the gate is off and `begin()` just begins.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

from sqlalchemy.orm import Session, sessionmaker


class WriteGate:
    """One writer at a time, in this process, with the webhook's commits first.

    SQLite has a single write lock, and a writer that finds it taken sleeps and polls (1, 2, 5, 10…
    ms). Inside one process we queue writers here instead, so the lock passes on at once, and an
    inbox commit that has webhook requests waiting on it goes before background writes (processing
    events, outbox bookkeeping).

    Acknowledgements come first under load, too: while the webhook is busy (`intake_busy`: requests
    are waiting for their commit, or one was answered a moment ago), background writes take turns at
    most every `background_interval`; `intake_idle()` lets them go as soon as it is quiet again. In a burst
    the platforms get their 200s in time (late ones are redelivered, which only adds load) and the
    recorded backlog is worked off at a reduced pace, then at full speed once the burst is over.

    Why 200 ms: a background write holds SQLite's lock for a whole event (~3 ms alone, 6–7 ms while
    it shares the GIL with the webhook), and every webhook request waits behind it. At 50 ms that
    stalled the intake an eighth of the time in a saturating burst; at 200 ms a thirtieth. Load
    short of saturation leaves quiet gaps of `IngestBatcher.QUIET`, and background writes use those.
    """

    def __init__(self, *, enabled: bool = True, background_interval: float = 0.2) -> None:
        self.enabled = enabled
        self.intake_busy: Callable[[], bool] = lambda: False
        self._background_interval = background_interval
        self._condition = threading.Condition()
        self._busy = False
        self._urgent_waiting = 0
        self._next_background = 0.0

    @contextlib.contextmanager
    def urgent(self) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        with self._condition:
            self._urgent_waiting += 1
            while self._busy:
                self._condition.wait()
            self._urgent_waiting -= 1
            self._busy = True
        try:
            yield
        finally:
            self._release()

    @contextlib.contextmanager
    def background(self) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        with self._condition:
            while True:
                if self._busy or self._urgent_waiting:
                    self._condition.wait()
                    continue
                wait = self._next_background - time.monotonic()
                if wait > 0 and self.intake_busy():
                    # Sleep until our turn (no short polling: every wake-up takes the GIL from the loop).
                    self._condition.wait(timeout=wait)
                    continue
                break
            self._busy = True
            self._next_background = time.monotonic() + self._background_interval
        try:
            yield
        finally:
            self._release()

    def intake_idle(self) -> None:
        """The webhook has gone quiet: background writers need not wait for their turn."""
        with self._condition:
            self._condition.notify_all()

    def _release(self) -> None:
        with self._condition:
            self._busy = False
            self._condition.notify_all()


class Writes:
    """The session factory and, on SQLite (`ordered`), the write gate in front of it."""

    def __init__(self, session_factory: sessionmaker[Session], *, ordered: bool = False) -> None:
        self.session_factory = session_factory
        self._gate = WriteGate(enabled=ordered)

    @property
    def ordered(self) -> bool:
        return self._gate.enabled

    @contextlib.contextmanager
    def begin(self) -> Iterator[Session]:
        """A background write transaction, after its turn for the write lock."""
        with self._gate.background(), self.session_factory.begin() as session:
            yield session

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads that must not stall the webhook (on SQLite a read transaction can take
        the write lock's place), after its turn."""
        with self._gate.background(), self.session_factory() as session:
            yield session

    def turn(self) -> contextlib.AbstractContextManager[None]:
        """A background turn for work that opens its own transactions (processing one event)."""
        return self._gate.background()

    def first(self) -> contextlib.AbstractContextManager[None]:
        """The webhook's inbox commit: goes before every background write that waits."""
        return self._gate.urgent()

    def watch_intake(self, busy: Callable[[], bool]) -> None:
        """While `busy()` (the webhook has requests waiting), background writes take turns at a reduced pace."""
        self._gate.intake_busy = busy

    def intake_idle(self) -> None:
        self._gate.intake_idle()
