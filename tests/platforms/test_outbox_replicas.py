"""Two `tandem serve` replicas on one PostgreSQL database sending a 200-group fan-out to (fake) Feishu:
each group's messages arrive in order, no group gets more than 5 a second, the app stays within its
50 a second; one replica is killed (kill -9) half-way and nothing is lost, only sends that were in
flight at the kill are attempted again (Feishu's uuid keeps those from posting twice)."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from bot.db import is_sqlite
from models import OutboundStatus
from models.delivery import OutboxHeartbeat
from tests.fakes.feishu import FeishuFake
from tests.platforms.conftest import wait_until
from tests.platforms.serve_process import ServeProcess, count_outbox, insert_outbox

GROUPS = [f"oc_fan{i:03d}" for i in range(200)]
BUSY = GROUPS[:10]  # these also have a conversation going: 8 more messages each
CONCURRENCY = 16


def most_in_a_second(times: list[float]) -> int:
    times = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def test_two_replicas_share_the_limits_and_survive_a_kill(
    database_url: str, engine: Engine, feishu: FeishuFake, tmp_path: Path
) -> None:
    if is_sqlite(database_url):
        pytest.skip("several replicas share a PostgreSQL database (SQLite serves one process)")
    settings = {
        "TANDEM_OUTBOX_LEASE_SECONDS": "3",  # a dead process's messages and chats free sooner
        "TANDEM_DATABASE_URL": database_url,
        "TANDEM_FEISHU_APP_ID": feishu.app_id,
        "TANDEM_FEISHU_APP_SECRET": feishu.app_secret,
        "TANDEM_FEISHU_VERIFICATION_TOKEN": feishu.verification_token,
        "TANDEM_FEISHU_BASE_URL": feishu.url,
    }
    replicas = [ServeProcess(tmp_path, settings, name=f"replica{i}") for i in range(2)]
    try:
        for replica in replicas:
            replica.start(wait=False)
        for replica in replicas:
            replica.wait_ready()

        def live_senders() -> int:
            with engine.connect() as connection:
                return int(connection.scalar(select(func.count()).select_from(OutboxHeartbeat)) or 0)

        wait_until(lambda: live_senders() == 2, timeout=10)
        time.sleep(1.5)  # one heartbeat: each replica has counted the other before the fan-out
        messages = [(group, f"{group} 日报提醒") for group in GROUPS]
        messages += [(group, f"{group} 第 {i} 条") for i in range(8) for group in BUSY]
        insert_outbox(engine, "feishu", messages)
        began = time.monotonic()
        feishu.wait_for(len(messages) * 2 // 5, timeout=30)
        replicas[0].kill()
        killed = time.monotonic()
        wait_until(lambda: count_outbox(engine, OutboundStatus.PENDING) == 0, timeout=40)
        print(f"fan-out: killed after {killed - began:.1f}s, all sent after {time.monotonic() - began:.1f}s")
    finally:
        for replica in replicas:
            replica.stop()
    posted = feishu.posted
    assert sorted(p.text for p in posted) == sorted(text for _, text in messages)  # nothing lost, nothing twice
    by_group: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for p in posted:
        assert p.chat_id is not None
        by_group[p.chat_id].append((p.at, p.text))
    for group in GROUPS:
        arrived = [text for _, text in sorted(by_group[group])]
        assert arrived == [text for g, text in messages if g == group], group  # in order
        assert most_in_a_second([at for at, _ in by_group[group]]) <= 5, group
    assert most_in_a_second([p.at for p in posted]) <= 50
    assert feishu.rate_violations == 0
    repeats = sum(1 for r in feishu.requests if r.get("deduplicated"))
    print(f"{len(posted)} posted by two replicas, one killed half-way: {repeats} sends repeated (deduplicated by uuid)")
    assert repeats <= CONCURRENCY
