"""How the webhook answers when it cannot take an event: permanent refusals are 400, only what may
pass is 503, never later than about 2 s; and an oversized body is refused without being read."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, OperationalError
from starlette.applications import Starlette

from bot import webhooks
from bot.app import create_app
from bot.db import is_sqlite
from bot.ingest import IngestBatcher
from bot.messages import Incoming
from bot.platforms import Inbound, Parsed
from bot.runtime import build_runtime
from tests.fakes.dingtalk import DingTalkFake
from tests.fakes.feishu import FeishuFake
from tests.fakes.server import ServerThread
from tests.platforms.conftest import Tandem, platform_settings, wait_until

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


class KeyFromBody:
    """A platform that accepts anything: the body is the event key."""

    def webhook_off(self) -> str | None:
        return None

    def parse_webhook(self, body: bytes, headers: Mapping[str, str], *, now: datetime) -> Parsed:
        key = body.decode()
        return Inbound(
            Incoming(platform="feishu", event_key=key, chat_id="oc_g1", sender_id="ou_li", sender_name="", text="", sent_at=now)
        )


async def test_a_value_the_database_refuses_is_permanent_an_outage_is_not() -> None:
    failures: dict[str, Exception] = {
        "refused": DataError("INSERT INTO inbound_event", {}, Exception("value too long for type character varying(128)")),
        "down": OperationalError("INSERT INTO inbound_event", {}, Exception("connection refused")),
        "locked": sqlite3.OperationalError("database is locked"),
    }

    def accept(items: Sequence[Incoming]) -> None:
        for item in items:
            if item.event_key in failures:
                raise failures[item.event_key]

    batcher = IngestBatcher(accept)
    batcher.start()
    app = Starlette(routes=webhooks.routes)
    app.state.platforms = SimpleNamespace(get={"feishu": KeyFromBody()}.get, clock=lambda: NOW, batcher=batcher)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tandem") as client:
            answers = {
                key: (await client.post("/webhook/feishu", content=key)).status_code
                for key in ("refused", "down", "locked", "fine")
            }
    finally:
        await batcher.stop()
    assert answers == {"refused": 400, "down": 503, "locked": 503, "fine": 200}


async def test_a_stuck_commit_is_answered_503_at_the_deadline() -> None:
    release = asyncio.Event()
    loop = asyncio.get_running_loop()

    def accept(items: Sequence[Incoming]) -> None:
        asyncio.run_coroutine_threadsafe(release.wait(), loop).result(timeout=10)

    batcher = IngestBatcher(accept, deadline=0.2)
    batcher.start()
    try:
        started = time.monotonic()
        with pytest.raises(RuntimeError):
            await batcher.submit(KeyFromBody().parse_webhook(b"om_1", {}, now=NOW).incoming)  # type: ignore[union-attr]
        assert time.monotonic() - started < 1.0
        release.set()
        await batcher.submit(KeyFromBody().parse_webhook(b"om_2", {}, now=NOW).incoming)  # type: ignore[union-attr]
    finally:
        await batcher.stop()


# --- the body is read as it streams, and no further than the limit --------------------------------


async def _post_endless(app: Any, path: str) -> tuple[int, int]:
    """POST a chunked body (no Content-Length) of up to 32 MiB straight into the ASGI app; returns the
    status and how many bytes the app pulled."""
    chunk = b"x" * 65536
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled >= 32 << 20:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"tandem"), (b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    return next(m["status"] for m in sent if m["type"] == "http.response.start"), pulled


async def test_an_endless_body_is_not_read_past_the_limit(
    database_url: str, engine: Engine, feishu: FeishuFake, dingtalk: DingTalkFake
) -> None:
    settings = platform_settings(database_url, feishu, dingtalk)
    app = create_app(settings, runtime=build_runtime(settings, engine=engine))
    server = ServerThread(app).start()  # runs the lifespan; the requests below go straight to the app
    try:
        for path in ("/webhook/feishu", "/webhook/dingtalk"):
            status, pulled = await _post_endless(app, path)
            assert status == 413
            assert pulled <= webhooks.MAX_BODY + 65536  # the chunk that crossed the limit, nothing after it
    finally:
        server.stop()


# --- a held SQLite write lock ---------------------------------------------------------------------


def test_a_held_sqlite_lock_is_answered_503_within_3_seconds(tandem: Tandem, database_url: str) -> None:
    if not is_sqlite(database_url):
        pytest.skip("SQLite's single write lock")
    f, d = tandem.feishu, tandem.dingtalk
    li, pm = f.add_user("ou_li", "李四"), d.add_user("staff_pm", "王经理")
    message = f.message_event("oc_g1", li, "/帮助")
    holder = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        for post in (lambda: tandem.post_feishu(message), lambda: tandem.dingtalk_say("cidG1==", pm, "/帮助")):
            started = time.monotonic()
            response = post()
            assert response.status_code == 503 and time.monotonic() - started < 3.0
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # Released: the platform's redelivery is answered 200, and the message is answered once.
    wait_until(lambda: tandem.post_feishu(message).status_code == 200, timeout=10)
    assert tandem.feishu_say("oc_g1", li, "/帮助").status_code == 200
    f.wait_for(2, chat_id="oc_g1")
    tandem.settle()
    assert len([p for p in f.posted if p.chat_id == "oc_g1"]) == 2  # the held message answered once
