"""Consecutive events of one chat form a run whose cards are refreshed once, after its last event
(`Dispatcher.process_events`): each card named by the run is written once, as the run left it, and
each click of the run is told it is held, then handed that card; other chats, a run past RUN_FOR
and a refresh that fails are handled without losing a command."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot import dispatcher as dispatcher_module
from bot.db import make_session_factory
from bot.dispatcher import Dispatcher, Outcome
from bot.messages import CardChange, CardUpdate, Incoming, Reply
from models import InboundEvent, InboundStatus, OutboundMessage

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def click(key: str, chat: str, card: str | None = "om_card") -> Incoming:
    return Incoming(
        platform="feishu", event_key=key, chat_id=chat, sender_id=f"ou_{key}", sender_name=key,
        text=f"/任务 #{key} 完成", sent_at=NOW, card_message_id=card,
    )


def handler(session: Session, incoming: Incoming) -> tuple[Reply | None, int | None]:
    return Reply(f"{incoming.event_key} 已完成"), None


class Refresher:
    """A card per pressed message, showing which events' changes it was rebuilt from."""

    def __init__(self, *, broken: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.broken = broken

    def changes(self, session: Session, incoming: Incoming, project_id: int | None) -> CardChange | None:
        if incoming.card_message_id is None:
            return None
        return CardChange(incoming, 1, {"task": frozenset()})

    def updates(self, session: Session, changes: Sequence[CardChange]) -> Sequence[CardUpdate]:
        keys = [c.incoming.event_key for c in changes]
        self.calls.append(keys)
        if self.broken:
            raise RuntimeError("the card could not be built")
        cards = dict.fromkeys(c.incoming.card_message_id for c in changes if c.incoming.card_message_id)
        chat = changes[-1].incoming.chat_id
        return [CardUpdate(card, chat, Reply("卡片：" + ",".join(keys))) for card in cards if card]


def dispatcher_with(engine: Engine, refresher: Refresher) -> tuple[Dispatcher, list[tuple[str, Outcome | None]]]:
    told: list[tuple[str, Outcome | None]] = []
    dispatcher = Dispatcher(
        make_session_factory(engine), handler, clock=lambda: NOW, refresh=refresher,
        refresh_platforms=["feishu"], answer_card_platforms=["feishu"],
    )
    dispatcher.on_processed = lambda platform, key, outcome: told.append((key, outcome))
    return dispatcher, told


def card_rows(engine: Engine) -> list[tuple[str, str | None, str]]:
    with make_session_factory(engine)() as session:
        rows = session.execute(
            select(OutboundMessage.origin, OutboundMessage.updates_message_id, OutboundMessage.body)
            .where(OutboundMessage.updates_message_id.is_not(None))
            .order_by(OutboundMessage.id)
        )
        return [(origin, updates, body["text"]) for origin, updates, body in rows]


def test_a_run_of_clicks_on_one_card_rebuilds_it_once_and_hands_every_click_that_card(engine: Engine) -> None:
    refresher = Refresher()
    dispatcher, told = dispatcher_with(engine, refresher)
    dispatcher.accept([click(f"a{i}", "oc_a") for i in range(5)] + [click("b0", "oc_b", card="om_other")])
    assert dispatcher.process_pending() == 6
    assert refresher.calls == [["a0", "a1", "a2", "a3", "a4"], ["b0"]]  # oc_b's lone event: in its own transaction
    rows = card_rows(engine)
    assert rows == [("event:5", "om_card", "卡片：a0,a1,a2,a3,a4"), ("event:6", "om_other", "卡片：b0")]
    held = [key for key, outcome in told if outcome is None]
    assert held == ["a0", "a1", "a2", "a3", "a4"]
    finals = {key: outcome for key, outcome in told if outcome is not None}
    assert len(finals) == 6
    with make_session_factory(engine)() as session:
        row_ids = list(session.scalars(select(OutboundMessage.id).where(OutboundMessage.updates_message_id == "om_card")))
        assert all(e.status == InboundStatus.DONE for e in session.scalars(select(InboundEvent)))
    for i in range(5):
        outcome = finals[f"a{i}"]
        assert outcome.reply is not None and outcome.reply.text == f"a{i} 已完成"  # its own toast
        assert outcome.card is not None and outcome.card.text == "卡片：a0,a1,a2,a3,a4"  # the card as the run left it
        assert outcome.card_update_id == row_ids[0]
    order = [key for key, _ in told]
    assert order.index("a4") < order.index("a0", order.index("a4"))  # every hold before any of the run's answers


def test_a_run_is_cut_after_run_for(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatcher_module, "RUN_FOR", 0.0)
    refresher = Refresher()
    dispatcher, told = dispatcher_with(engine, refresher)
    dispatcher.accept([click(f"a{i}", "oc_a") for i in range(3)])
    assert dispatcher.process_pending() == 3
    assert refresher.calls == [["a0"], ["a1"], ["a2"]]
    assert [text for _, _, text in card_rows(engine)] == ["卡片：a0", "卡片：a1", "卡片：a2"]
    assert all(o.card is not None for _, o in told if o is not None)


def test_typed_events_of_a_chat_share_the_run_with_its_clicks(engine: Engine) -> None:
    refresher = Refresher()
    dispatcher, told = dispatcher_with(engine, refresher)
    dispatcher.accept([click("t0", "oc_a", card=None), click("a1", "oc_a"), click("t2", "oc_a", card=None)])
    assert dispatcher.process_pending() == 3
    assert refresher.calls == [["a1"]]  # the typed ones changed no card (this refresher's rule)
    assert [key for key, outcome in told if outcome is not None] == ["a1"]  # only callbacks are told


def test_a_refresh_that_fails_loses_the_cards_never_the_commands(engine: Engine) -> None:
    refresher = Refresher(broken=True)
    dispatcher, told = dispatcher_with(engine, refresher)
    dispatcher.accept([click(f"a{i}", "oc_a") for i in range(3)])
    assert dispatcher.process_pending() == 3
    assert card_rows(engine) == []
    finals = [o for _, o in told if o is not None]
    assert len(finals) == 3 and all(o.card is None and o.reply is not None for o in finals)
    with make_session_factory(engine)() as session:
        replies = session.scalars(select(OutboundMessage.body).where(OutboundMessage.updates_message_id.is_(None))).all()
        assert sorted(body["text"] for body in replies) == ["a0 已完成", "a1 已完成", "a2 已完成"]


def test_an_event_processed_alone_still_writes_its_card_in_its_own_transaction(engine: Engine) -> None:
    refresher = Refresher()
    dispatcher, told = dispatcher_with(engine, refresher)
    dispatcher.accept([click("a0", "oc_a")])
    assert dispatcher.process(1) is True
    assert told[0][1] is not None and told[0][1].card is not None  # no hold: told once, with its card
    assert card_rows(engine) == [("event:1", "om_card", "卡片：a0")]
    with make_session_factory(engine)() as session:
        card_row = select(OutboundMessage.next_attempt_at).where(OutboundMessage.updates_message_id == "om_card")
        due = session.scalars(card_row).one()
    # The pressed card's row waits for the answer, which carries the card and cancels it.
    assert due.replace(tzinfo=UTC) - NOW == dispatcher_module.PRESSED_CARD_UPDATE_AFTER
