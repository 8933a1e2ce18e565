"""Group commit and the write gate."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine, select

from bot.db import make_session_factory
from bot.inbox import Inbox
from bot.ingest import IngestBatcher
from bot.messages import Incoming, Mention
from bot.writes import WriteGate
from models import InboundEvent, InboundStatus


def event(key: str, text: str = "#1 完成") -> Incoming:
    return Incoming(
        platform="feishu",
        event_key=key,
        chat_id="oc_g1",
        sender_id="ou_li",
        sender_name="李四",
        text=text,
        sent_at=datetime(2026, 11, 23, 2, 0, tzinfo=UTC),
        mentions=(Mention("ou_zhang", "张三"),),
        reply_to=key,
    )


async def test_concurrent_requests_share_one_commit() -> None:
    batches: list[int] = []

    def accept(items: Sequence[Incoming]) -> None:
        time.sleep(0.02)  # a commit
        batches.append(len(items))

    batcher = IngestBatcher(accept)
    batcher.start()
    try:
        await asyncio.gather(*(batcher.submit(event(f"om_{i}")) for i in range(60)))
    finally:
        await batcher.stop()
    assert sum(batches) == 60 and len(batches) <= 3  # the first alone, then everyone who queued meanwhile


async def test_a_poisoned_batch_is_recorded_one_by_one() -> None:
    recorded: list[str] = []

    def accept(items: Sequence[Incoming]) -> None:
        if any(i.event_key == "om_bad" for i in items):
            raise ValueError("cannot store this one")
        recorded.extend(i.event_key for i in items)

    batcher = IngestBatcher(accept)
    batcher.start()
    try:
        results = await asyncio.gather(
            *(batcher.submit(event(key)) for key in ("om_1", "om_bad", "om_2")), return_exceptions=True
        )
    finally:
        await batcher.stop()
    assert isinstance(results[1], ValueError) and results[0] is None and results[2] is None
    assert sorted(recorded) == ["om_1", "om_2"]


def test_the_inbox_stores_rows_as_the_orm_does(engine: Engine) -> None:
    """On SQLite the inbox writes on the raw connection; what it stores must read back as an ORM row."""
    factory = make_session_factory(engine)
    now = datetime(2026, 11, 23, 2, 0, 1, 123456, tzinfo=UTC)
    inbox = Inbox(factory, clock=lambda: now)
    assert len(inbox.record([event("om_a", "带 <@ou_zhang> 的中文"), event("om_b")])) == 2
    assert inbox.record([event("om_a", "a redelivery changes nothing")]) == []
    with factory.begin() as session:  # the same kind of event, written through the ORM
        session.add(
            InboundEvent(
                platform="feishu", event_key="om_c", chat_id="oc_1", received_at=now,
                payload=event("om_c").to_payload(), status=InboundStatus.PENDING, attempts=0,
            )
        )
    with factory() as session:
        rows = {r.event_key: r for r in session.scalars(select(InboundEvent))}
    assert set(rows) == {"om_a", "om_b", "om_c"}
    assert Incoming.from_payload(rows["om_a"].payload) == event("om_a", "带 <@ou_zhang> 的中文")
    for key in ("om_a", "om_b"):
        assert rows[key].received_at == rows["om_c"].received_at == now
        assert (rows[key].status, rows[key].attempts) == (rows["om_c"].status, rows["om_c"].attempts)


def test_webhook_commits_go_before_background_writes() -> None:
    gate = WriteGate()
    order: list[str] = []
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with gate.background():
            holding.set()
            release.wait()

    def background() -> None:
        with gate.background():
            order.append("background")

    def urgent() -> None:
        with gate.urgent():
            order.append("urgent")

    threads = [threading.Thread(target=hold)]
    threads[0].start()
    holding.wait()
    for target in (background, urgent):
        threads.append(threading.Thread(target=target))
        threads[-1].start()
        time.sleep(0.05)
    release.set()
    for t in threads:
        t.join(timeout=5)
    assert order == ["urgent", "background"]


def test_background_writes_take_turns_while_the_webhook_is_busy() -> None:
    gate = WriteGate(background_interval=0.3)
    busy = True
    gate.intake_busy = lambda: busy
    with gate.background():
        pass
    started = time.monotonic()
    with gate.background():  # busy: waits for its turn
        pass
    assert time.monotonic() - started >= 0.25

    def quiet_soon() -> None:
        nonlocal busy
        time.sleep(0.05)
        busy = False
        gate.intake_idle()

    threading.Thread(target=quiet_soon).start()
    started = time.monotonic()
    with gate.background():  # lets go as soon as the webhook is quiet
        pass
    assert time.monotonic() - started < 0.2
