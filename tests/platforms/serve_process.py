"""`tandem serve` as a real subprocess (for kill -9 and several-replica tests), and outbox rows written
straight into its database, as a scheduler fan-out would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bot.messages import Reply
from bot.outbox import enqueue_many, outbox_row
from models import OutboundMessage, OutboundStatus


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServeProcess:
    """One `tandem serve` on 127.0.0.1 with the given TANDEM_ settings (`--no-scheduler` unless `scheduler`)."""

    def __init__(self, workdir: Path, settings: dict[str, str], *, name: str = "serve", scheduler: bool = False) -> None:
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("TANDEM_")}, **settings}
        self.scheduler = scheduler
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, wait: bool = True) -> ServeProcess:
        tandem = Path(sys.executable).with_name("tandem")
        log = open(self.log_path, "ab")  # noqa: SIM115 (kept open for the child)
        options = [] if self.scheduler else ["--no-scheduler"]
        self.process = subprocess.Popen(
            [str(tandem), "serve", *options, "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=self.workdir,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:  # a fresh database migrates slowly on a busy machine
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(self.log_path.read_text())
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("tandem serve did not come up")

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def insert_outbox(engine: Engine, platform: str, messages: list[tuple[str, str]]) -> None:
    """Outbox rows (chat, text) in this order, due now."""
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        rows = [outbox_row(platform=platform, chat_id=chat, reply=Reply(text), origin="test", now=now) for chat, text in messages]
        enqueue_many(session, rows)


def count_outbox(engine: Engine, *statuses: OutboundStatus) -> int:
    with engine.connect() as connection:
        query = select(func.count()).select_from(OutboundMessage).where(OutboundMessage.status.in_(statuses))
        return int(connection.scalar(query) or 0)


def sent_texts(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        bodies = connection.scalars(select(OutboundMessage.body).where(OutboundMessage.status == OutboundStatus.SENT))
        return {Reply.from_payload(body).text for body in bodies}
