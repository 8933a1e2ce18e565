"""The outbox sender on its own: two senders never double-send, throttles hold a chat back until the
platform's time, a lease left by a dead process runs out, and a hopeless message ends up failed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import main
from bot.db import make_session_factory
from bot.delivery import OutboxSender
from bot.messages import Mention, Reply
from bot.outbox import enqueue
from bot.outbox_leases import claim_due
from bot.platforms.dingtalk import DingTalkApi
from bot.platforms.feishu import FeishuApi
from bot.writes import Writes
from models import OutboundMessage, OutboundStatus
from tests.fakes.dingtalk import DingTalkFake
from tests.fakes.feishu import FeishuFake
from tests.platforms.conftest import wait_until


class MovableClock:
    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def dingtalk_api(fake: DingTalkFake, clock: MovableClock | None = None) -> DingTalkApi:
    return DingTalkApi(
        client_id=fake.client_id, client_secret=fake.client_secret, base_url=fake.base_url, clock=clock or MovableClock()
    )


def add(factory: sessionmaker[Session], platform: str, chat: str, text: str, **kw: Any) -> int:
    reply = kw.pop("reply", None) or Reply(text)
    with factory.begin() as session:
        return enqueue(session, platform=platform, chat_id=chat, reply=reply, origin="test", now=datetime.now(UTC), **kw)


def statuses(factory: sessionmaker[Session]) -> list[OutboundStatus]:
    with factory() as session:
        return list(session.scalars(select(OutboundMessage.status).order_by(OutboundMessage.id)))


def due_rows(factory: sessionmaker[Session], now: datetime) -> int:
    """Pending rows due by `now` (a sender would claim them on its next pass)."""
    with factory() as session:
        times = session.scalars(
            select(OutboundMessage.next_attempt_at).where(OutboundMessage.status == OutboundStatus.PENDING)
        ).all()
    return sum(1 for t in times if t.replace(tzinfo=t.tzinfo or UTC) <= now)


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    await asyncio.to_thread(wait_until, condition, timeout=timeout)


async def test_two_senders_never_send_a_message_twice(engine: Engine, dingtalk: DingTalkFake) -> None:
    factory = make_session_factory(engine)
    texts = [f"第 {i} 条 ({chat})" for chat in ("cidA", "cidB", "cidC", "cidD") for i in range(15)]
    for text in texts:
        add(factory, "dingtalk", text.split("(")[1].rstrip(")"), text)
    senders = [OutboxSender(Writes(factory), {"dingtalk": dingtalk_api(dingtalk)}, poll_seconds=0.05, batch=8) for _ in range(2)]
    for sender in senders:
        sender.start()
    try:
        # Every row sent and nothing held: no send can come after this (sent rows are never claimed).
        await until(lambda: set(statuses(factory)) == {OutboundStatus.SENT} and all(s.idle() for s in senders))
    finally:
        for sender in senders:
            await sender.stop()
    assert sorted(s.text for s in dingtalk.sent) == sorted(texts)  # every one, exactly once
    assert set(statuses(factory)) == {OutboundStatus.SENT}


async def test_one_sender_keeps_each_chats_order(engine: Engine, dingtalk: DingTalkFake) -> None:
    factory = make_session_factory(engine)
    texts = [f"第 {i} 条 ({chat})" for i in range(10) for chat in ("cidA", "cidB")]
    for text in texts:
        add(factory, "dingtalk", text.split("(")[1].rstrip(")"), text)
    dingtalk.fail_next("500", "qps")
    sender = OutboxSender(Writes(factory), {"dingtalk": dingtalk_api(dingtalk)}, poll_seconds=0.05, batch=6)
    sender.start()
    try:
        await until(lambda: len(dingtalk.sent) >= len(texts))
    finally:
        await sender.stop()
    for chat in ("cidA", "cidB"):
        assert [s.text for s in dingtalk.sent if s.conversation_id == chat] == [t for t in texts if chat in t]


async def test_a_throttled_chat_waits_for_the_platform_and_keeps_its_order(engine: Engine, dingtalk: DingTalkFake) -> None:
    factory = make_session_factory(engine)
    clock = MovableClock()
    dingtalk.add_user("staff_li", "李四")
    payload = dingtalk.message("cidA", "staff_li", "hi")
    expires = datetime.fromtimestamp(payload["sessionWebhookExpiredTime"] / 1000, UTC)
    for text in ("一", "二"):
        add(factory, "dingtalk", "cidA", text, reply_to=payload["sessionWebhook"], reply_to_expires_at=expires)
    add(factory, "dingtalk", "cidB", "别的群")
    dingtalk.fail_next("130101")  # custom-robot style throttle on the session: 20/min exceeded
    sender = OutboxSender(Writes(factory), {"dingtalk": dingtalk_api(dingtalk, clock)}, clock=clock, poll_seconds=0.05)
    sender.start()
    try:
        await until(lambda: [s.text for s in dingtalk.sent] == ["别的群"])
        # cidA's rows handed back, due in a minute (the sender's clock): nothing more can go before it moves.
        await until(lambda: sender.idle() and not due_rows(factory, clock()))
        assert [s.text for s in dingtalk.sent] == ["别的群"]  # cidA holds for a minute, cidB is not held
        clock.offset = timedelta(seconds=70)
        await until(lambda: len(dingtalk.sent) == 3)
    finally:
        await sender.stop()
    assert [s.text for s in dingtalk.sent] == ["别的群", "一", "二"]


async def test_a_lease_left_by_a_dead_process_runs_out(engine: Engine, dingtalk: DingTalkFake) -> None:
    factory = make_session_factory(engine)
    add(factory, "dingtalk", "cidA", "被遗弃的消息")
    with factory.begin() as session:  # a process claims it and dies (kill -9) before sending
        now = datetime.now(UTC)
        lease_until = now + timedelta(seconds=1)
        assert claim_due(session, platforms={"dingtalk": now}, holder="dead", now=now, lease_until=lease_until, limit=10)
    sender = OutboxSender(Writes(factory), {"dingtalk": dingtalk_api(dingtalk)}, poll_seconds=0.05)
    sender.start()
    try:
        await until(lambda: len(dingtalk.sent) == 1, timeout=5)
    finally:
        await sender.stop()
    with factory() as session:
        sent_at = session.scalars(select(OutboundMessage.sent_at)).one()
    assert sent_at is not None and sent_at.replace(tzinfo=UTC) >= lease_until  # not while the lease held


async def test_hopeless_messages_end_up_failed_and_listed(engine: Engine, dingtalk: DingTalkFake, feishu: FeishuFake) -> None:
    factory = make_session_factory(engine)
    add(factory, "dingtalk", "cidA", "总是 500")
    dingtalk.fail_next(*["500"] * 5)
    add(factory, "feishu", "oc_gone", "机器人不在群里")
    feishu.fail_next("230002")
    feishu_api = FeishuApi(app_id=feishu.app_id, app_secret=feishu.app_secret, base_url=feishu.url)
    sender = OutboxSender(
        Writes(factory), {"dingtalk": dingtalk_api(dingtalk), "feishu": feishu_api}, poll_seconds=0.05, max_attempts=3
    )
    sender.start()
    try:
        await until(lambda: statuses(factory) == [OutboundStatus.FAILED, OutboundStatus.FAILED])
    finally:
        await sender.stop()
    with factory() as session:
        rows = session.scalars(select(OutboundMessage).order_by(OutboundMessage.id)).all()
        assert rows[0].attempts == 3 and "500" in (rows[0].last_error or "")
        assert rows[1].attempts == 1 and "230002" in (rows[1].last_error or "")
    assert feishu.posted == [] and dingtalk.sent == []


def test_outbox_cli_lists_failures_and_queues_them_again(
    engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    factory = make_session_factory(engine)
    sent = add(factory, "feishu", "oc_a", "已送达")
    failed = add(factory, "feishu", "oc_b", "送不出去的周报", reply=Reply("送不出去的周报", mentions=(Mention("ou_li", "李四"),)))
    with factory.begin() as session:
        rows = {r.id: r for r in session.scalars(select(OutboundMessage))}
        rows[sent].status = OutboundStatus.SENT
        rows[failed].status = OutboundStatus.FAILED
        rows[failed].attempts = 12
        rows[failed].last_error = "feishu create message: HTTP 400 code 230002 The bot is not in the chat."
    monkeypatch.setenv("TANDEM_DATABASE_URL", database_url)
    from bot.config import get_settings

    get_settings.cache_clear()
    runner = CliRunner()
    try:
        listing = runner.invoke(main, ["outbox", "list", "--status", "failed"])
        assert listing.exit_code == 0, listing.output
        assert f"#{failed} failed" in listing.output and "230002" in listing.output and "送不出去的周报" in listing.output
        assert f"#{sent} " not in listing.output
        again = runner.invoke(main, ["outbox", "retry", str(failed), str(sent)])
        assert f"#{failed}: queued again" in again.output
    finally:
        get_settings.cache_clear()
    with factory() as session:
        row = session.get(OutboundMessage, failed)
        assert row is not None and row.status == OutboundStatus.PENDING and row.attempts == 0


async def test_console_messages_are_written_out_by_the_sender(engine: Engine) -> None:
    from bot.platforms.console import ConsoleSender

    factory = make_session_factory(engine)
    add(factory, "console", "console", "每日进度提醒", to_user_id=None)
    lines: list[str] = []
    sender = OutboxSender(Writes(factory), {"console": ConsoleSender(lines.append)}, poll_seconds=0.05)
    sender.start()
    try:
        await until(lambda: lines == ["[console] 每日进度提醒"])
    finally:
        await sender.stop()
    assert statuses(factory) == [OutboundStatus.SENT]


class SlowSender:
    """Takes a while over every message, as a platform under load does; counts what it was given."""

    platform = "dingtalk"
    limits = None

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.sent: list[int] = []

    async def send(self, message: Any) -> str | None:
        await asyncio.sleep(self.seconds)
        self.sent.append(message.id)
        return f"msg-{message.id}"

    async def aclose(self) -> None:
        return None


async def test_a_renewal_in_flight_never_makes_a_sent_message_due_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Renewals that take a while (a busy database) overlap with sends finishing: each outcome is still
    written against the lease held at that moment, so no sent row stays pending to be sent again."""
    import bot.delivery

    renew = bot.delivery.renew_leases

    def slow_renewal(*args: Any, **kwargs: Any) -> set[int]:
        time.sleep(0.04)
        return renew(*args, **kwargs)

    monkeypatch.setattr(bot.delivery, "renew_leases", slow_renewal)
    factory = make_session_factory(engine)
    ids = [add(factory, "dingtalk", f"cid{i}", f"第 {i} 条") for i in range(12)]
    platform = SlowSender(0.13)
    sender = OutboxSender(Writes(factory), {"dingtalk": platform}, lease=timedelta(seconds=0.15), poll_seconds=0.02)  # type: ignore[dict-item]
    sender.start()
    try:
        # Every row sent and nothing held: a row left pending would have been sent again before this.
        await until(lambda: set(statuses(factory)) == {OutboundStatus.SENT} and sender.idle(), timeout=10)
    finally:
        await sender.stop()
    assert sorted(platform.sent) == ids
