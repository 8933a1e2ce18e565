"""The inbox insert: one event and a batch, new and duplicate, on either database."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.inbox import Inbox
from bot.messages import Incoming
from bot.runtime import Runtime
from models import InboundEvent, InboundStatus, OutboundMessage, OutboundStatus

AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def incoming(key: str) -> Incoming:
    return Incoming("console", key, "g1", "u1", "王五", "/帮助", AT)


def test_single_and_batch_inserts_skip_duplicates(runtime: Runtime) -> None:
    inbox = Inbox(runtime.session_factory, clock=lambda: AT)
    first = inbox.record([incoming("a")])
    again = inbox.record([incoming("a")])
    batch = inbox.record([incoming("a"), incoming("b"), incoming("c")])
    assert len(first) == 1 and again == [] and len(batch) == 2
    with runtime.session_factory() as session:
        events = session.scalars(select(InboundEvent).order_by(InboundEvent.id)).all()
        assert [e.event_key for e in events] == ["a", "b", "c"]
        assert events[0].status == InboundStatus.PENDING and events[0].received_at == AT
        assert Incoming.from_payload(events[0].payload) == incoming("a")


def test_console_delivery_marks_replies_sent(runtime: Runtime) -> None:
    from tests.chat import ConsoleChat, FixedClock

    chat = ConsoleChat(runtime, FixedClock(AT), chat_id="g9")
    chat.say("/帮助")
    chat.say("/项目 创建 发布会")
    with runtime.session_factory() as session:
        rows = session.execute(select(OutboundMessage.status, OutboundMessage.attempts, OutboundMessage.sent_at)).all()
    assert [tuple(r) for r in rows] == [(OutboundStatus.SENT, 1, AT), (OutboundStatus.SENT, 1, AT)]
