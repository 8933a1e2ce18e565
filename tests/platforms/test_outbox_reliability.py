"""The outbox sender when things go wrong: a database outage mid-send, one busy group beside a quiet
one, slow outcome writes (what a crash would repeat), a lane that fails, and shutting down with sends
in flight."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, exc, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.db import is_sqlite, make_engine, make_session_factory
from bot.delivery import OutboxSender
from bot.messages import Reply
from bot.outbox import enqueue_many, outbox_row
from bot.platforms.feishu import FeishuApi
from bot.writes import Writes
from models import OutboundMessage, OutboundStatus
from tests.fakes.dingtalk import DingTalkFake
from tests.fakes.feishu import FeishuFake
from tests.platforms.test_outbox_sender import add, dingtalk_api, statuses, until


class Outage:
    """Every statement on an engine fails, as when the database server is unreachable, while `down`."""

    def __init__(self, engine: Engine) -> None:
        self.down = False
        event.listen(engine, "before_cursor_execute", self._check)

    def _check(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_args: Any) -> None:
        if self.down:
            raise exc.OperationalError(statement, params, ConnectionError("could not connect to server"))


class CountingSender:
    """A platform that takes `seconds` over every message; counts what it started and finished."""

    platform = "dingtalk"
    limits = None

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started: list[int] = []
        self.sent: list[int] = []

    async def send(self, message: Any) -> str | None:
        self.started.append(message.id)
        await asyncio.sleep(self.seconds)
        self.sent.append(message.id)
        return f"msg-{message.id}"

    async def aclose(self) -> None:
        return None


class SentCounter:
    """Counts sent rows without taking SQLite's write lock (the engines begin IMMEDIATE)."""

    QUERY = "SELECT count(*) FROM outbound_message WHERE status = 'sent'"

    def __init__(self, database_url: str, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = sqlite3.connect(make_url(database_url).database or "") if is_sqlite(database_url) else None

    def __call__(self) -> int:
        if self.sqlite is not None:
            return int(self.sqlite.execute(self.QUERY).fetchone()[0])
        with self.engine.connect() as connection:
            return int(connection.exec_driver_sql(self.QUERY).scalar_one())

    def close(self) -> None:
        if self.sqlite is not None:
            self.sqlite.close()


def rows(factory: sessionmaker[Session]) -> dict[int, OutboundMessage]:
    with factory() as session:
        return {r.id: r for r in session.scalars(select(OutboundMessage))}


@pytest.mark.parametrize("gated", [False, True], ids=["own-transactions", "write-gate"])
async def test_replies_go_out_after_a_database_outage_without_a_restart(
    database_url: str, engine: Engine, dingtalk: DingTalkFake, gated: bool
) -> None:
    """Issue 16.2: a 2.5 s outage while replies are in flight; every reply is delivered once, by the
    same sender, once the database is back (it used to leave most of them pending until a restart).
    With the write gate on (SQLite in `tandem serve`) outcomes share transactions."""
    factory = make_session_factory(engine)
    texts = [f"回复 {i} ({chat})" for i in range(4) for chat in ("cidA", "cidB", "cidC", "cidD", "cidE", "cidF")]
    for text in texts:
        add(factory, "dingtalk", text.split("(")[1].rstrip(")"), text)
    flaky_engine = make_engine(database_url)
    outage = Outage(flaky_engine)
    sender = OutboxSender(
        Writes(make_session_factory(flaky_engine), ordered=gated),
        {"dingtalk": dingtalk_api(dingtalk)},
        lease=timedelta(seconds=1),
        poll_seconds=0.05,
            )
    sender.start()
    try:
        await until(lambda: len(dingtalk.sent) >= 3)
        outage.down = True
        await asyncio.sleep(2.5)
        outage.down = False
        await until(lambda: set(statuses(factory)) == {OutboundStatus.SENT}, timeout=15)
    finally:
        await sender.stop()
        flaky_engine.dispose()
    assert sorted(s.text for s in dingtalk.sent) == sorted(texts)  # every one, and none twice


async def test_a_quiet_group_is_not_kept_waiting_by_a_busy_one(engine: Engine, feishu: FeishuFake) -> None:
    """Issue 16.5: 200 replies pending for one group, then one for another: the other group's reply
    goes out at once (it used to wait 23–27 s behind the busy group's backlog)."""
    factory = make_session_factory(engine)
    now = datetime.now(UTC)
    busy = [f"忙碌的群 第 {i} 条" for i in range(200)]
    with factory.begin() as session:
        enqueue_many(
            session, [outbox_row(platform="feishu", chat_id="oc_busy", reply=Reply(t), origin="test", now=now) for t in busy]
        )
    add(factory, "feishu", "oc_quiet", "安静的群")
    api = FeishuApi(app_id=feishu.app_id, app_secret=feishu.app_secret, base_url=feishu.url)  # the real per-chat limits
    sender = OutboxSender(Writes(factory), {"feishu": api}, poll_seconds=0.2)
    started = time.monotonic()
    sender.start()
    try:
        quiet = await asyncio.to_thread(feishu.wait_for, 1, chat_id="oc_quiet", timeout=5)
    finally:
        await sender.stop()
    assert quiet, "the quiet group's reply never went out"
    assert quiet[0].at - started < 1.0
    sent = feishu.texts("oc_busy")
    assert sent == busy[: len(sent)]  # the busy group's replies still in order
    assert feishu.rate_violations == 0


@pytest.mark.parametrize("gated", [False, True], ids=["own-transactions", "write-gate"])
async def test_at_most_the_sends_in_flight_are_ever_unrecorded(database_url: str, engine: Engine, gated: bool) -> None:
    """Issue 16.7: each outcome is written as soon as it is known. With slow outcome writes, what a crash
    would send again (sent, outcome not yet written) stays within the sends in flight (`concurrency`);
    outcomes used to queue up one at a time behind a shared lock while other lanes kept sending."""
    slow_engine = make_engine(database_url)

    @event.listens_for(slow_engine, "before_cursor_execute")
    def _slow_outcomes(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("UPDATE outbound_message") and "sent_at" in statement:
            time.sleep(0.03)  # a busy database

    factory = make_session_factory(engine)
    ids = [add(factory, "dingtalk", f"cid{i % 30}", f"第 {i} 条") for i in range(60)]
    platform = CountingSender(0.01)
    sender = OutboxSender(
        Writes(make_session_factory(slow_engine), ordered=gated),
        {"dingtalk": platform},  # type: ignore[dict-item]
        poll_seconds=0.05,
        concurrency=4,
            )
    worst = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal worst
        count_sent = SentCounter(database_url, engine)
        while not done.is_set():
            finished = len(platform.sent)  # first the sends, then the outcomes (which only grow)
            worst = max(worst, finished - count_sent())
            time.sleep(0.002)
        count_sent.close()

    sampler = threading.Thread(target=sample)
    sampler.start()
    sender.start()
    try:
        await until(lambda: set(statuses(factory)) == {OutboundStatus.SENT}, timeout=20)
    finally:
        done.set()
        sampler.join()
        await sender.stop()
        slow_engine.dispose()
    assert sorted(platform.sent) == ids
    assert worst <= 4, f"{worst} sends were unrecorded at once"


async def test_a_lane_that_fails_leaves_its_messages_to_be_claimed_again(
    engine: Engine, monkeypatch: Any, dingtalk: DingTalkFake
) -> None:
    """A lane that dies on an unexpected error gives its rows up without a database write: the leases
    run out and the rows are claimed again, by the same sender, without a restart."""
    import bot.outbox_attempts

    record = bot.outbox_attempts.record_sent
    failures = iter([True])

    def failing_once(*args: Any, **kwargs: Any) -> bool:
        if next(failures, False):
            raise RuntimeError("a bug in the outcome write")
        return record(*args, **kwargs)

    monkeypatch.setattr(bot.outbox_attempts, "record_sent", failing_once)
    factory = make_session_factory(engine)
    texts = [f"第 {i} 条" for i in range(5)]
    for text in texts:
        add(factory, "dingtalk", "cidA", text)
    sender = OutboxSender(Writes(factory), {"dingtalk": dingtalk_api(dingtalk)}, lease=timedelta(seconds=0.6), poll_seconds=0.05)
    sender.start()
    try:
        await until(lambda: set(statuses(factory)) == {OutboundStatus.SENT}, timeout=10)
    finally:
        await sender.stop()
    sent = [s.text for s in dingtalk.sent]
    assert sent[1:] == texts  # the first was sent, its outcome lost with the lane: sent again, then the rest in order


async def test_stopping_lets_sends_in_flight_finish_and_hands_back_the_rest(engine: Engine) -> None:
    """Shutdown drains: the sends in flight finish and their outcomes are written; messages claimed but
    not attempted are handed back, due at once (not after the lease runs out)."""
    factory = make_session_factory(engine)
    ids = [add(factory, "dingtalk", f"cid{i % 3}", f"第 {i} 条") for i in range(9)]
    platform = CountingSender(0.4)
    sender = OutboxSender(Writes(factory), {"dingtalk": platform}, poll_seconds=0.05)  # type: ignore[dict-item]
    sender.start()
    await until(lambda: len(platform.started) == 3)
    began = time.monotonic()
    await sender.stop()
    took = time.monotonic() - began
    after = datetime.now(UTC)
    state = rows(factory)
    assert sorted(platform.sent) == sorted(platform.started) and len(platform.sent) == 3
    assert {i for i, r in state.items() if r.status == OutboundStatus.SENT} == set(platform.sent)
    unsent = [state[i] for i in ids if i not in platform.sent]
    assert len(unsent) == 6 and all(r.status == OutboundStatus.PENDING and r.next_attempt_at <= after for r in unsent)
    assert took < 2.0


async def test_stopping_gives_up_on_a_send_that_hangs(engine: Engine) -> None:
    """A send that never returns is given up after the drain time; its row is not handed back (it may
    have reached the platform), so it waits for its lease to run out."""
    factory = make_session_factory(engine)
    hung, queued = add(factory, "dingtalk", "cidA", "卡住的"), add(factory, "dingtalk", "cidA", "排队的")
    platform = CountingSender(3600)
    sender = OutboxSender(Writes(factory), {"dingtalk": platform}, poll_seconds=0.05, drain_seconds=0.3)  # type: ignore[dict-item]
    sender.start()
    await until(lambda: platform.started == [hung])
    began = time.monotonic()
    await sender.stop()
    assert time.monotonic() - began < 1.5
    after = datetime.now(UTC)
    state = rows(factory)
    assert state[hung].status == OutboundStatus.PENDING and state[hung].next_attempt_at > after  # still leased
    assert state[queued].status == OutboundStatus.PENDING and state[queued].next_attempt_at <= after
