"""What the fake long-connection servers share: the live WebSocket connections (served by the fake's own
uvicorn thread, driven from the test's thread), the acknowledgements received, endpoint failures to
answer next."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket

_ids = itertools.count(1)


@dataclass
class Connection:
    websocket: WebSocket
    loop: asyncio.AbstractEventLoop
    opened_at: float = field(default_factory=time.monotonic)
    id: int = field(default_factory=lambda: next(_ids))
    closed: bool = False

    def run(self, coroutine: Any, timeout: float = 5.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


@dataclass
class Ack:
    key: str  # the id the fake pushed it with (Feishu message_id, DingTalk messageId)
    body: dict[str, Any]
    pushed_at: float
    at: float = field(default_factory=time.monotonic)
    connection: int = 0


class Gateway:
    """Connections and acknowledgements, safe to read from any thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connections: list[Connection] = []
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.acks: list[Ack] = []
            self.pushed: dict[str, float] = {}  # key → when it was pushed
            self.endpoint_failures: deque[Any] = deque()
            self.endpoint_calls = 0
            self.opened = 0  # connections accepted

    # server side

    def _opened(self, connection: Connection) -> None:
        with self.lock:
            self.connections.append(connection)
            self.opened += 1

    def _closed(self, connection: Connection) -> None:
        with self.lock:
            connection.closed = True
            if connection in self.connections:
                self.connections.remove(connection)

    def _acked(self, key: str, body: dict[str, Any], connection: Connection) -> None:
        with self.lock:
            self.acks.append(Ack(key, body, self.pushed.get(key, time.monotonic()), connection=connection.id))

    # test side

    def live(self, timeout: float = 10.0, *, count: int = 1) -> list[Connection]:
        """The live connections, once there are at least `count`."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                live = list(self.connections)
            if len(live) >= count:
                return live
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(live)} live connections, expected {count}")
            time.sleep(0.01)

    def newest(self, timeout: float = 10.0) -> Connection:
        return self.live(timeout)[-1]

    def fail_endpoint(self, *failures: Any) -> None:
        with self.lock:
            self.endpoint_failures.extend(failures)

    def _next_failure(self) -> Any:
        with self.lock:
            self.endpoint_calls += 1
            return self.endpoint_failures.popleft() if self.endpoint_failures else None

    def acks_for(self, key: str) -> list[Ack]:
        with self.lock:
            return [ack for ack in self.acks if ack.key == key]

    def wait_ack(self, key: str, *, timeout: float = 10.0, count: int = 1) -> Ack:
        deadline = time.monotonic() + timeout
        while True:
            acks = self.acks_for(key)
            if len(acks) >= count:
                return acks[count - 1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no acknowledgement for {key} in {timeout}s")
            time.sleep(0.005)

    def close_all(self, code: int = 1000) -> int:
        """Close every live connection from the server side; how many there were."""
        with self.lock:
            live = list(self.connections)
        for connection in live:
            with contextlib.suppress(Exception):  # already gone
                connection.run(connection.websocket.close(code=code))
        return len(live)
