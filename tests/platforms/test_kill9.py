"""kill -9 in the middle of a stream of events: `tandem serve` (a real subprocess, file SQLite) is killed
while requests are arriving; after a restart, every event that was acknowledged is processed, the
platform's retries of the others are processed, and nothing is lost, duplicated or posted twice."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.fakes.feishu import FeishuFake
from tests.platforms.conftest import wait_until
from tests.platforms.serve_process import ServeProcess

CHATS = [f"oc_k{i}" for i in range(10)]
PER_CHAT = 10


class Server(ServeProcess):
    """`tandem serve` (scheduler on) on a file SQLite database, with Feishu pointed at the fake."""

    def __init__(self, tmp: Path, feishu: FeishuFake) -> None:
        self.tmp = tmp
        self.db = tmp / "tandem.db"
        settings = {
            "TANDEM_DATABASE_URL": f"sqlite:///{self.db}",
            "TANDEM_FEISHU_APP_ID": feishu.app_id,
            "TANDEM_FEISHU_APP_SECRET": feishu.app_secret,
            "TANDEM_FEISHU_VERIFICATION_TOKEN": feishu.verification_token,
            "TANDEM_FEISHU_ENCRYPT_KEY": feishu.encrypt_key or "",
            "TANDEM_FEISHU_BASE_URL": feishu.url,
        }
        super().__init__(tmp, settings, scheduler=True)

    def query(self, sql: str) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.db) as connection:
            return list(connection.execute(sql))


@pytest.fixture
def server(tmp_path: Path, feishu: FeishuFake) -> object:
    server = Server(tmp_path, feishu)
    yield server
    server.stop()


def test_kill_9_mid_stream_loses_and_duplicates_nothing(server: Server, feishu: FeishuFake) -> None:
    pm = feishu.add_user("ou_pm", "王经理")
    server.start()
    client = httpx.Client(base_url=server.url, timeout=10)
    for chat in CHATS:
        body, headers = feishu.request(feishu.message_event(chat, pm, f"/项目 创建 项目{chat}"))
        assert client.post("/webhook/feishu", content=body, headers=headers).status_code == 200
    assert len(feishu.wait_for(len(CHATS), timeout=20)) == len(CHATS)

    events = [
        feishu.request(feishu.message_event(chat, pm, f"/任务 新增 {chat}-任务{i}")) for i in range(PER_CHAT) for chat in CHATS
    ]
    acked: set[int] = set()
    lock = threading.Lock()
    killed = threading.Event()

    def deliver(index: int) -> None:
        body, headers = events[index]
        try:
            response = httpx.post(f"{server.url}/webhook/feishu", content=body, headers=headers, timeout=5)
        except httpx.HTTPError:
            return  # the platform will retry this one
        if response.status_code == 200:
            with lock:
                acked.add(index)
                if len(acked) >= len(events) // 2 and not killed.is_set():
                    killed.set()
                    server.kill()  # kill -9 while the rest are still arriving

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(deliver, range(len(events))))
    assert killed.is_set()
    pending_events = server.query("SELECT count(*) FROM inbound_event WHERE status = 'pending'")[0][0]
    unsent = server.query("SELECT count(*) FROM outbound_message WHERE status = 'pending'")[0][0]
    print(
        f"acknowledged {len(acked)} of {len(events)}; at the kill: {pending_events} events unprocessed, {unsent} replies unsent"
    )

    restart = time.monotonic()
    server.start()  # after a restart: the backlog first, then the platform's retries of what was not acknowledged
    for index in range(len(events)):
        if index not in acked or index % 7 == 0:  # retries, and some redeliveries of acknowledged ones
            body, headers = events[index]
            assert client.post("/webhook/feishu", content=body, headers=headers).status_code == 200

    expected = len(CHATS) + len(events)
    # One statement, so one snapshot: every event processed and every reply it wrote sent. (Two separate
    # waits raced: replies were all sent while the last retried events were still being processed.)
    unfinished = (
        "SELECT (SELECT count(*) FROM inbound_event WHERE status != 'done')"
        " + (SELECT count(*) FROM outbound_message WHERE status != 'sent')"
    )
    wait_until(lambda: server.query(unfinished)[0][0] == 0, timeout=60)
    posted = feishu.posted
    print(f"restart took {time.monotonic() - restart:.1f}s until everything was delivered")
    assert len(posted) == expected, f"{len(posted)} posted, expected {expected}"
    assert Counter(p.reply_to for p in posted).most_common(1)[0][1] == 1  # one answer per message
    tasks = server.query("SELECT p.chat_id, t.number, t.title FROM task t JOIN project p ON p.id = t.project_id")
    assert len(tasks) == len(events) and len({title for _, _, title in tasks}) == len(events)
    for chat in CHATS:  # per-project numbers without gaps or repeats; every title in its own group
        numbers = sorted(n for c, n, _ in tasks if c == chat)
        assert numbers == list(range(1, PER_CHAT + 1))
        assert all(title.startswith(chat) for c, _, title in tasks if c == chat)
    assert server.query("SELECT count(*) FROM outbound_message")[0][0] == expected
    client.close()
