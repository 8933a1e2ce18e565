"""The inbox insert: one event (cached text statement) and a batch (one multi-row statement) agree."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.inbox import record_incoming
from bot.messages import Incoming
from bot.runtime import Runtime
from models import InboundEvent, InboundStatus

AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def incoming(key: str) -> Incoming:
    return Incoming("console", key, "g1", "u1", "王五", "/帮助", AT)


def test_single_and_batch_inserts_skip_duplicates(runtime: Runtime) -> None:
    with runtime.session_factory.begin() as session:
        first = record_incoming(session, [incoming("a")], received_at=AT)
        again = record_incoming(session, [incoming("a")], received_at=AT)
        batch = record_incoming(session, [incoming("a"), incoming("b"), incoming("c")], received_at=AT)
    assert len(first) == 1 and again == [] and len(batch) == 2
    with runtime.session_factory() as session:
        events = session.scalars(select(InboundEvent).order_by(InboundEvent.id)).all()
        assert [e.event_key for e in events] == ["a", "b", "c"]
        assert events[0].status == InboundStatus.PENDING and events[0].received_at == AT
        assert Incoming.from_payload(events[0].payload) == incoming("a")
