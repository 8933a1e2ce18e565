"""`tandem serve` in its default modes as a real process: kill -9 right after acknowledgements over the
long connection and restart (what was acknowledged is processed, re-pushes change nothing), and two
replicas on one PostgreSQL database, each event answered once whichever connection it reaches."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from bot.db import is_sqlite
from models import Task
from tests.fakes.dingtalk import DingTalkFake
from tests.fakes.feishu import FeishuFake
from tests.fakes.server import ServerThread
from tests.platforms.conftest import wait_until
from tests.platforms.serve_process import ServeProcess, free_port

EVENTS = 30


def settings_for(database_url: str, feishu: FeishuFake, dingtalk: DingTalkFake) -> dict[str, str]:
    """Only the app credentials: no Verification Token, Encrypt Key or public URL."""
    return {
        "TANDEM_DATABASE_URL": database_url,
        "TANDEM_FEISHU_APP_ID": feishu.app_id,
        "TANDEM_FEISHU_APP_SECRET": feishu.app_secret,
        "TANDEM_FEISHU_BASE_URL": feishu.url,
        "TANDEM_DINGTALK_CLIENT_ID": dingtalk.client_id,
        "TANDEM_DINGTALK_CLIENT_SECRET": dingtalk.client_secret,
        "TANDEM_DINGTALK_BASE_URL": dingtalk.base_url,
    }


def test_kill_9_after_acks_then_restart_processes_every_acked_event_once(
    tmp_path: Path, feishu: FeishuFake, dingtalk: DingTalkFake
) -> None:
    db = tmp_path / "tandem.db"
    server = ServeProcess(tmp_path, settings_for(f"sqlite:///{db}", feishu, dingtalk))
    try:
        pm = feishu.add_user("ou_pm", "王经理")
        server.start()
        connection = feishu.ws.newest(timeout=20)
        feishu.ws.wait_ack(feishu.ws.push(feishu.message_event("oc_k9", pm, "/项目 创建 断电项目"), connection=connection))
        feishu.wait_for(1, chat_id="oc_k9", timeout=20)

        events = [feishu.message_event("oc_k9", pm, f"/任务 新增 断电任务{i}") for i in range(EVENTS)]
        keys: dict[int, str] = {}
        killed = threading.Event()

        def kill_after_some_acks() -> None:
            wait_until(lambda: sum(1 for k in keys.values() if feishu.ws.acks_for(k)) >= EVENTS // 3, timeout=20)
            server.kill()  # kill -9 just after acknowledgements, with more frames on the wire
            killed.set()

        killer = threading.Thread(target=kill_after_some_acks)
        killer.start()
        for index, event in enumerate(events):
            try:
                keys[index] = feishu.ws.push(event, connection=connection)
            except Exception:
                break  # the connection is gone
        killer.join(timeout=30)
        assert killed.is_set()
        acked = {i for i, k in keys.items() if any(a.body["code"] == 200 for a in feishu.ws.acks_for(k))}
        assert acked, "some events were acknowledged before the kill"
        with sqlite3.connect(db) as check:  # everything acknowledged was durably recorded before its ack
            recorded = {row[0] for row in check.execute("SELECT event_key FROM inbound_event")}
        assert {events[i]["event"]["message"]["message_id"] for i in acked} <= recorded

        server.start()
        again = feishu.ws.newest(timeout=20)
        wait_until(lambda: not connection.closed or again.id != connection.id)
        for index, event in enumerate(events):  # Feishu re-pushes the unacknowledged, and some acknowledged ones
            if index not in acked or index % 5 == 0:
                assert feishu.ws.wait_ack(feishu.ws.push(event, connection=again)).body["code"] == 200
        wait_until(lambda: len(feishu.posted) >= EVENTS + 1, timeout=40)
        time.sleep(0.5)  # the replies that would be duplicates would have been posted by now (same lane)
        with sqlite3.connect(db) as check:
            titles = [row[0] for row in check.execute("SELECT title FROM task")]
            unfinished = check.execute("SELECT count(*) FROM inbound_event WHERE status != 'done'").fetchone()[0]
        assert sorted(titles) == sorted(f"断电任务{i}" for i in range(EVENTS))
        assert unfinished == 0
        assert Counter(p.reply_to for p in feishu.posted).most_common(1)[0][1] == 1  # one answer per message
        assert len(feishu.posted) == EVENTS + 1
    finally:
        server.stop()


def test_two_replicas_answer_each_event_once_whichever_connection_gets_it(
    database_url: str, engine: Engine, tmp_path: Path, feishu: FeishuFake, dingtalk: DingTalkFake
) -> None:
    if is_sqlite(database_url):
        pytest.skip("several replicas share a PostgreSQL database (SQLite serves one process)")
    replicas = [ServeProcess(tmp_path, settings_for(database_url, feishu, dingtalk), name=f"replica{i}") for i in range(2)]
    try:
        for replica in replicas:
            replica.start(wait=False)
        for replica in replicas:
            replica.wait_ready(timeout=90)  # two starting at once on a shared 2-core machine
        feishu_links = feishu.ws.live(count=2, timeout=20)
        dingtalk_links = dingtalk.stream.live(count=2, timeout=20)
        pm = feishu.add_user("ou_pm", "王经理")
        events: list[dict[str, Any]] = [feishu.message_event("oc_rep", pm, "/项目 创建 双副本")]
        events += [feishu.message_event("oc_rep", pm, f"/任务 新增 副本任务{i}") for i in range(10)]
        for index, event in enumerate(events):
            # The platform pushes each event to one connection, and pushes it again to the other.
            first, second = feishu_links[index % 2], feishu_links[(index + 1) % 2]
            feishu.ws.wait_ack(feishu.ws.push(event, connection=first))
            feishu.ws.wait_ack(feishu.ws.push(event, connection=second))
            if index == 0:
                feishu.wait_for(1, chat_id="oc_rep", timeout=20)
        messages = [dingtalk.message("cid_rep", "staff_pm", f"/帮助 {i}") for i in range(6)]
        for index, message in enumerate(messages):
            for link in (dingtalk_links[index % 2], dingtalk_links[(index + 1) % 2]):
                assert dingtalk.stream.wait_ack(dingtalk.stream.push(message, connection=link)).body["code"] == 200
        wait_until(lambda: len(feishu.posted) >= len(events) and len(dingtalk.sent) >= len(messages), timeout=40)
        time.sleep(1.0)  # time for a second answer, if one were coming
        assert Counter(p.reply_to for p in feishu.posted).most_common(1)[0][1] == 1
        assert len(feishu.posted) == len(events) and len(dingtalk.sent) == len(messages)
        with engine.connect() as connection:
            assert connection.scalar(select(func.count()).select_from(Task)) == len(events) - 1
    finally:
        for replica in replicas:
            replica.stop()


def test_a_restart_of_the_platform_side_is_survived_on_both(tmp_path: Path) -> None:
    """The fake platforms themselves stop (every connection dropped, connection refused meanwhile) and
    come back on the same port: `tandem serve` reconnects to both and answers again."""
    feishu, dingtalk = FeishuFake(), DingTalkFake()
    feishu_port, dingtalk_port = free_port(), free_port()
    servers = [ServerThread(feishu.app, port=feishu_port, lifespan="off").start(),
               ServerThread(dingtalk.app, port=dingtalk_port, lifespan="off").start()]
    feishu.url, dingtalk.base_url = servers[0].url, servers[1].url
    server = ServeProcess(tmp_path, settings_for(f"sqlite:///{tmp_path / 'tandem.db'}", feishu, dingtalk))
    try:
        server.start()
        feishu.ws.newest(timeout=20)
        dingtalk.stream.newest(timeout=20)
        for running in servers:
            running.stop()
        wait_until(lambda: not feishu.ws.connections and not dingtalk.stream.connections, timeout=20)
        time.sleep(2.0)  # down for a while: attempts meet a refused connection
        servers = [ServerThread(feishu.app, port=feishu_port, lifespan="off").start(),
                   ServerThread(dingtalk.app, port=dingtalk_port, lifespan="off").start()]
        link, stream = feishu.ws.newest(timeout=30), dingtalk.stream.newest(timeout=30)
        pm = feishu.add_user("ou_pm", "王经理")
        pushed = feishu.ws.push(feishu.message_event("oc_back", pm, "/帮助"), connection=link)
        assert feishu.ws.wait_ack(pushed).body["code"] == 200
        streamed = dingtalk.stream.push(dingtalk.message("cid_back", "staff_pm", "/帮助"), connection=stream)
        assert dingtalk.stream.wait_ack(streamed).body["code"] == 200
        assert len(feishu.wait_for(1, chat_id="oc_back", timeout=20)) == 1
        assert len(dingtalk.wait_for(1, conversation_id="cid_back", timeout=20)) == 1
        health = httpx.get(f"{server.url}/healthz", timeout=5).json()
        assert {p["state"] for p in health["platforms"].values()} == {"connected"}
    finally:
        server.stop()
        for running in servers:
            running.stop()
