"""One event's failure never stops the queue: `Dispatcher.process` never raises, and a failure that
cannot be recorded with its failure reply is recorded on the event alone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm import Session

from bot import dispatcher as dispatcher_module
from bot.db import is_sqlite, make_engine, make_session_factory
from bot.dispatcher import MAX_ATTEMPTS, Dispatcher
from bot.messages import Incoming, Reply
from models import InboundEvent, InboundStatus, OutboundMessage

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def event(key: str, chat: str, *, reply_to: str | None = None) -> Incoming:
    return Incoming(
        platform="dingtalk",
        event_key=key,
        chat_id=chat,
        sender_id="staff_li",
        sender_name="李四",
        text="/帮助",
        sent_at=NOW,
        reply_to=reply_to,
    )


def handler(session: Session, incoming: Incoming) -> tuple[Reply | None, int | None]:
    if incoming.event_key.startswith("bad"):
        raise RuntimeError("the handler broke")
    return Reply(f"ok {incoming.event_key}"), None


def statuses(engine: Engine) -> dict[str, tuple[InboundStatus, int, str | None]]:
    with make_session_factory(engine)() as session:
        return {e.event_key: (e.status, e.attempts, e.error) for e in session.scalars(select(InboundEvent))}


def test_a_failure_reply_that_cannot_be_stored_does_not_stop_the_queue(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    real_enqueue = dispatcher_module.enqueue

    def enqueue(session: Session, **kw: Any) -> None:
        if kw["origin"] == "event:1":  # whatever goes out for the bad event cannot be stored
            raise DataError("INSERT INTO outbound_message", {}, Exception("value too long for type character varying(1024)"))
        real_enqueue(session, **kw)

    monkeypatch.setattr(dispatcher_module, "enqueue", enqueue)
    dispatcher = Dispatcher(make_session_factory(engine), handler, clock=lambda: NOW)
    dispatcher.accept([event("bad", "cidA"), event("good", "cidB")])
    for _ in range(MAX_ATTEMPTS + 1):
        dispatcher.process_pending()  # never raises
    rows = statuses(engine)
    assert rows["good"][:2] == (InboundStatus.DONE, 1)
    status, attempts, error = rows["bad"]
    assert (status, attempts) == (InboundStatus.FAILED, MAX_ATTEMPTS)
    assert error is not None and "the handler broke" in error and "no failure reply" in error


def test_process_never_raises_when_the_database_is_gone(tmp_path: Path) -> None:
    gone = make_engine(f"sqlite:///{tmp_path / 'no such directory' / 'tandem.db'}")  # every connect fails
    dispatcher = Dispatcher(make_session_factory(gone), handler, clock=lambda: NOW)
    with pytest.raises(OperationalError):
        dispatcher.accept([event("any", "cidA")])
    assert dispatcher.process(1) is False  # nothing could be read or written: it stays for later


def test_an_overlong_session_webhook_recorded_earlier_no_longer_blocks_processing(engine: Engine) -> None:
    """The review's case on PostgreSQL: a reply_to the outbox cannot hold, for the reply and the failure reply."""
    if is_sqlite(str(engine.url)):
        pytest.skip("SQLite stores any length; the adapter's check (tests/platforms) covers it there")
    dispatcher = Dispatcher(make_session_factory(engine), handler, clock=lambda: NOW)
    long_session = "https://oapi.dingtalk.com/robot/sendBySession?session=" + "x" * 1100
    dispatcher.accept([event("long", "cidA", reply_to=long_session), event("next", "cidB")])
    for _ in range(MAX_ATTEMPTS + 1):
        dispatcher.process_pending()
    rows = statuses(engine)
    assert rows["long"][:2] == (InboundStatus.FAILED, MAX_ATTEMPTS) and rows["next"][0] == InboundStatus.DONE
    with make_session_factory(engine)() as session:
        assert session.scalars(select(OutboundMessage.origin)).all() == ["event:2"]
