"""SIGTERM in the middle of a stream of events: `tandem serve` (a real subprocess, file SQLite) drains
what it took on and exits 0 within seconds, with every acknowledged event recorded (test_kill9 shows
that recorded events are processed after a restart, and answered once)."""

from __future__ import annotations

import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.fakes.feishu import FeishuFake
from tests.platforms.test_kill9 import Server

CHATS = [f"oc_s{i}" for i in range(4)]
PER_CHAT = 15


@pytest.fixture
def server(tmp_path: Path, feishu: FeishuFake) -> object:
    server = Server(tmp_path, feishu)
    yield server
    server.stop()


def test_sigterm_mid_stream_drains_and_exits_0(server: Server, feishu: FeishuFake) -> None:
    pm = feishu.add_user("ou_pm", "王经理")
    server.start()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for chat in CHATS:
            body, headers = feishu.request(feishu.message_event(chat, pm, f"/项目 创建 项目{chat}"))
            assert client.post("/webhook/feishu", content=body, headers=headers).status_code == 200
    assert len(feishu.wait_for(len(CHATS), timeout=20)) == len(CHATS)

    targets = [(chat, f"om_{chat}_{i}") for i in range(PER_CHAT) for chat in CHATS]
    ids = [message_id for _, message_id in targets]
    events = [
        feishu.request(feishu.message_event(chat, pm, f"/任务 新增 任务{message_id}", message_id=message_id))
        for chat, message_id in targets
    ]
    acked: set[int] = set()
    lock = threading.Lock()
    signalled: list[float] = []
    assert server.process is not None
    process = server.process

    def deliver(index: int) -> None:
        body, headers = events[index]
        try:
            response = httpx.post(f"{server.url}/webhook/feishu", content=body, headers=headers, timeout=5)
        except httpx.HTTPError:
            return  # refused once the server stopped listening: the platform retries it later
        if response.status_code == 200:
            with lock:
                acked.add(index)
                if len(acked) >= len(events) // 3 and not signalled:
                    signalled.append(time.monotonic())
                    process.terminate()  # SIGTERM while requests are still arriving

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(deliver, range(len(events))))
    assert signalled
    try:
        code = process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("tandem serve did not exit within 20 s of SIGTERM")
    took = time.monotonic() - signalled[0]
    log = (server.tmp / "serve.log").read_text()
    assert code == 0, log[-3000:]
    # Normally a second or two; the outbox sender gets at most 10 s to finish its sends (bot/app.py).
    assert took < 14, f"took {took:.1f}s to shut down"
    assert "Traceback" not in log, log[-3000:]

    # Everything acknowledged is recorded; every processed event has its reply (one transaction each).
    recorded = {key for (key,) in server.query("SELECT event_key FROM inbound_event")}
    acked_keys = {ids[i] for i in acked}
    assert acked_keys <= recorded
    done_without_reply = server.query(
        "SELECT count(*) FROM inbound_event e WHERE e.status = 'done' AND NOT EXISTS "
        "(SELECT 1 FROM outbound_message m WHERE m.origin = 'event:' || e.id)"
    )[0][0]
    assert done_without_reply == 0
