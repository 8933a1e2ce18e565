"""Run an ASGI app with uvicorn in a background thread on 127.0.0.1 (a real HTTP server for tests)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


class ServerThread:
    def __init__(self, app: Any, *, port: int = 0, lifespan: str = "on") -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan, access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-test", daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.005)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@contextmanager
def serve(app: Any, *, lifespan: str = "on") -> Iterator[ServerThread]:
    server = ServerThread(app, lifespan=lifespan).start()
    try:
        yield server
    finally:
        server.stop()
