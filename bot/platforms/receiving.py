"""Receiving over a long connection (Feishu's long connection, DingTalk's Stream mode): what both share.

A `LongConnection` is one supervised client: `session()` (the platform's part) fetches the endpoint,
connects and reads frames until the connection ends; the supervisor runs it again after a back-off, for
ever, until `stop()`. A watchdog restarts a supervisor that died and drops a connection that has gone
silent (no frame and no answered keepalive ping for `SILENCE` seconds). Every frame is handled in its
own task, so frames that arrive together share the inbox's group commit; each is acknowledged only
once `record` has returned, exactly like the webhook's 200. `stop()` stops reading, lets the frames
being handled finish (recorded and acknowledged, or not acknowledged at all, so the platform re-pushes
them), then closes the connection.

`ConnectionStatus` is what `/healthz` shows, and logs each change of state once, not every retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, Literal

from bot.messages import Incoming
from bot.platforms import Challenge, Ignored, Inbound, Parsed, Refused

log = logging.getLogger(__name__)

State = Literal["connecting", "connected", "reconnecting", "down"]
Recorded = Literal["recorded", "refused", "retry"]  # stored (or a duplicate) | never storable | try again later
Record = Callable[[Incoming], Awaitable[Recorded]]
# A callback's answer once its command ran (bot.callback_answers, given by the composition root).
AwaitOutcome = Callable[[Inbound], Awaitable[dict[str, Any]]]
DOWN_AFTER = 60.0  # seconds without a connection after which a receiver counts as down (and /healthz says 503)


class ConnectionStatus:
    """A receiver's state for `/healthz`, with the times it shows; changes are logged once each."""

    def __init__(self, platform: str, mode: str) -> None:
        self.platform = platform
        self.mode = mode
        self.state: State = "connecting"
        self.since = time.time()
        self.last_frame_at: float | None = None
        self.detail = ""
        self._unavailable_since: float | None = self.since  # not connected since then

    def connected(self) -> None:
        self._unavailable_since = None
        self._move("connected", "")

    def lost(self, detail: str, *, fatal: bool = False) -> None:
        """Not connected (after a drop, or an attempt that failed); `fatal`: retrying cannot help until
        something is changed (credentials refused, connection limit)."""
        now = time.time()
        if self._unavailable_since is None:
            self._unavailable_since = now
        if fatal or now - self._unavailable_since > DOWN_AFTER:
            self._move("down", detail)
        elif self.state == "connected":
            self._move("reconnecting", detail)
        elif self.state == "connecting" and not self.detail:  # the first attempt failed: say so once
            self.detail = detail
            log.warning("%s %s: not connected yet: %s (retrying)", self.platform, self.mode, detail)
        else:
            self.detail = detail
            log.debug("%s %s: still not connected: %s", self.platform, self.mode, detail)

    def frame(self) -> None:
        self.last_frame_at = time.time()

    def unavailable_for(self) -> float:
        """Seconds since the receiver was last connected (0 while connected)."""
        return 0.0 if self._unavailable_since is None else time.time() - self._unavailable_since

    def snapshot(self) -> dict[str, Any]:
        if self.state != "connected" and self.unavailable_for() > DOWN_AFTER:
            self._move("down", self.detail)
        shown: dict[str, Any] = {"mode": self.mode, "state": self.state, "since": _iso(self.since)}
        shown["last_frame_at"] = _iso(self.last_frame_at) if self.last_frame_at is not None else None
        if self.detail and self.state != "connected":
            shown["error"] = self.detail
        return shown

    def _move(self, state: State, detail: str) -> None:
        self.detail = detail
        if state == self.state:
            return
        self.state, self.since = state, time.time()
        reason = f": {detail}" if detail else ""
        if state == "connected":
            log.info("%s %s: connected", self.platform, self.mode)
        elif state == "down":
            log.error("%s %s: down%s (still retrying)", self.platform, self.mode, reason)
        else:
            log.warning("%s %s: %s%s", self.platform, self.mode, state, reason)


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EndpointError(Exception):
    """The endpoint (or the handshake) refused us; `fatal`: it will until something is changed."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


async def deliver(parsed: Parsed, record: Record, await_outcome: AwaitOutcome | None = None) -> dict[str, Any] | None:
    """Record what a frame carried. The answer to acknowledge it with, or None: acknowledge it as failed
    (not recorded now; the platform re-pushes it). A callback the platform waits on is answered with
    what its command did (`await_outcome`, the webhook's own, bounded by its deadline)."""
    if isinstance(parsed, Challenge | Ignored):
        return parsed.answer if isinstance(parsed, Ignored) else {}
    outcome = await record(parsed.incoming)
    if outcome == "retry":
        return None
    if outcome == "recorded" and parsed.await_outcome and await_outcome is not None:
        return await await_outcome(parsed)
    return parsed.answer


def refused(platform: str, exc: Refused) -> dict[str, Any]:
    """A frame that is not a usable event: acknowledged (a re-push would be refused again) and logged."""
    log.warning("%s: refused a pushed event: %s", platform, exc.reason)
    return {}


class LongConnection:
    """One supervised long-connection client (subclasses write `session`)."""

    SILENCE = 45.0  # seconds without any frame or answered keepalive ping before the link counts as dead
    KEEPALIVE = 15.0  # seconds between our WebSocket pings
    WATCH = 1.0  # seconds between the watchdog's looks
    BACKOFF_BASE = 1.0
    BACKOFF_CAP = 15.0  # seconds: a gateway back after a restart is found again soon
    STOP_GRACE = 5.0  # seconds the frames being handled get to be recorded and acknowledged at stop
    STABLE = 10.0  # seconds a connection must have lasted for its end not to count as a failed attempt

    def __init__(self, status: ConnectionStatus) -> None:
        self.status = status
        self._stopping = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._alive_at = time.monotonic()
        self._abort: Callable[[], None] | None = None  # drops the current connection
        self._connected_at: float | None = None  # when the current session got connected

    # what a subclass writes

    async def session(self) -> None:
        """One connection: endpoint, connect (then `self.status.connected()`), read until it ends."""
        raise NotImplementedError

    def retry_delay(self, failures: int) -> float:
        """Seconds before the next attempt after `failures` failed ones in a row (jittered back-off)."""
        return min(self.BACKOFF_CAP, self.BACKOFF_BASE * 2 ** max(0, failures - 1)) * random.uniform(0.5, 1.0)

    # for the subclass's session

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def connected(self) -> None:
        self._connected_at = time.monotonic()
        self.status.connected()

    def alive(self) -> None:
        """Something came from the server (a frame, a pong)."""
        self._alive_at = time.monotonic()

    def on_abort(self, abort: Callable[[], None] | None) -> None:
        """How the watchdog and `stop` drop the current connection (None: no connection now)."""
        self._abort = abort
        self._alive_at = time.monotonic()

    def handle(self, work: Coroutine[Any, Any, None]) -> None:
        """Handle one frame in its own task (recorded, then acknowledged)."""
        task = asyncio.get_running_loop().create_task(work)
        self._handlers.add(task)
        task.add_done_callback(self._handled)

    async def keepalive(self, ping: Callable[[], Awaitable[Awaitable[float]]]) -> None:
        """WebSocket pings every KEEPALIVE seconds; an answer counts as a sign of life (the watchdog
        drops a link whose pings go unanswered)."""
        while not self.stopping:
            await self.pause(self.KEEPALIVE)
            with contextlib.suppress(Exception):
                pong = await ping()
                await asyncio.wait_for(pong, timeout=self.SILENCE)
                self.alive()

    async def receive(self, recv: Callable[[], Awaitable[Any]]) -> Any:
        """The next frame, or None once `stop()` was called (the frame being read is left unread: it was
        not acknowledged, so the platform pushes it again)."""
        if self.stopping:
            return None
        got = asyncio.ensure_future(recv())
        stop = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({got, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if got.done():
            return got.result()
        got.cancel()
        return None

    async def pause(self, seconds: float) -> None:
        """Sleep, cut short by `stop()`."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=max(0.0, seconds))

    async def drain(self) -> None:
        """Wait for the frames being handled (at stop: bounded by STOP_GRACE)."""
        if self._handlers:
            await asyncio.wait(set(self._handlers), timeout=self.STOP_GRACE)

    # running

    def start(self) -> None:
        self._supervisor = asyncio.create_task(self._supervise(), name=f"{self.status.platform}-{self.status.mode}")
        self._watchdog = asyncio.create_task(self._watch(), name=f"{self.status.platform}-{self.status.mode}-watchdog")

    async def stop(self) -> None:
        """Stop reading; the frames being handled are recorded and acknowledged; then close."""
        self._stopping.set()
        for task in (self._supervisor, self._watchdog):
            if task is None:
                continue
            done, _ = await asyncio.wait({task}, timeout=self.STOP_GRACE + 3.0)  # + the close handshake
            if not done:
                task.cancel()
        if self._abort is not None:
            self._abort()

    async def _supervise(self) -> None:
        failures = 0
        while not self.stopping:
            self._connected_at = None
            try:
                await self.session()
                if not self.stopping:
                    self.status.lost("the server closed the connection")
            except asyncio.CancelledError:
                raise
            except EndpointError as exc:
                self.status.lost(str(exc), fatal=exc.fatal)
            except Exception as exc:
                if not self.stopping:
                    self.status.lost(f"{type(exc).__name__}: {exc}")
            finally:
                self.on_abort(None)
            # A connection that ends soon after opening (refused once open, closed at once) backs off like
            # a failed attempt, so a server that keeps doing it is not hammered.
            lasted = time.monotonic() - self._connected_at if self._connected_at is not None else 0.0
            failures = 0 if lasted >= self.STABLE else failures + 1
            if not self.stopping:
                await self.pause(self.retry_delay(failures) if failures else self.first_retry_delay())

    def first_retry_delay(self) -> float:
        """Seconds before reconnecting after a connection that worked has ended."""
        return random.uniform(0.0, 0.2)

    async def _watch(self) -> None:
        while not self.stopping:
            await self.pause(self.WATCH)
            if self.stopping:
                return
            if self._supervisor is not None and self._supervisor.done():
                # Never expected (the supervisor catches everything), but a receiver must not die quietly.
                error = None if self._supervisor.cancelled() else self._supervisor.exception()
                log.error("%s %s: the receiver stopped (%r); restarting it", self.status.platform, self.status.mode, error)
                self.status.lost(f"the receiver stopped: {error!r}")
                self._supervisor = asyncio.create_task(self._supervise())
            elif self._abort is not None and time.monotonic() - self._alive_at > self.SILENCE:
                log.warning("%s %s: nothing heard for %.0fs; reconnecting", self.status.platform, self.status.mode, self.SILENCE)
                abort, self._abort = self._abort, None
                abort()

    def _handled(self, task: asyncio.Task[None]) -> None:
        self._handlers.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s %s: a frame could not be handled", self.status.platform, self.status.mode, exc_info=task.exception())
