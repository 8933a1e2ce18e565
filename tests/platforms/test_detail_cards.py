"""Detail cards kept up to date (issue 11): `/任务 #N`, `/风险 RN` and `/行动 AN` sent as cards carry a
view of the item they show, so after a press (or a typed change to that item) the card is shown again
as the item now is, with the buttons valid for it: after 完成 no 完成, after 关闭 a 重开. On the fake
Feishu (the answer's card, or PATCH) and the fake DingTalk (PUT /v1.0/card/instances), pressed as the
owner and as a stranger, the database checked."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, func, select

from models import ActionItem, ActionStatus, OutboundMessage, Risk, RiskStatus, TaskStatus
from tests.fakes.dingtalk import Card, card_data_problem
from tests.fakes.feishu import Posted, card_problem
from tests.platforms.conftest import Tandem
from tests.platforms.test_dingtalk_cards import GROUP, card_updates, kickoff, notice, status, stream_click
from tests.platforms.test_feishu_card_updates import card_text, commands_on, press, project_with_task, say_and_get

CHAT = "oc_g3"


def sent_card(tandem: Tandem, sender: str, text: str) -> Posted:
    """A reply posted as a card, once its row has recorded the card's message id."""
    posted = say_and_get(tandem, CHAT, sender, text)
    tandem.settle()
    return posted


def one(tandem: Tandem, model: Any, number: int) -> Any:
    with tandem.runtime.session_factory() as session:
        return session.scalars(select(model).where(model.number == number)).one()


# ---------------------------------------------------------------------------- Feishu


def test_a_task_card_pressed_done_shows_it_done_without_the_done_button(tandem: Tandem) -> None:
    project_with_task(tandem, CHAT)
    detail = sent_card(tandem, "ou_li", "/任务 #1")
    assert card_problem(detail.content) is None and "/任务 #1 完成" in commands_on(detail.content)
    refused = press(tandem, CHAT, detail, "ou_wu", "/任务 #1 完成")  # a stranger
    assert refused["toast"]["type"] == "error" and "只有负责人或 PM" in refused["toast"]["content"]
    assert "/任务 #1 完成" in commands_on(refused["card"]["data"])  # shown as it is: unchanged
    answer = press(tandem, CHAT, detail, "ou_li", "/任务 #1 完成")
    assert answer["toast"]["type"] == "success"
    shown = answer["card"]["data"]
    assert card_problem(shown) is None and "状态：已完成" in card_text(shown)
    assert not [c for c in commands_on(shown) if c.startswith("/任务 #1 ")]  # no status buttons once done
    assert "记录：" in card_text(shown) and "李四" in card_text(shown)  # the history, with the change
    tandem.settle()
    assert status(tandem, 1) == TaskStatus.DONE
    again = sent_card(tandem, "ou_li", "/任务 #1")  # nothing to press now, still a card kept up to date
    assert commands_on(again.content) == []
    say_and_get(tandem, CHAT, "ou_pm", "/任务 #1 开始")  # reopened: both of today's #1 cards offer its buttons
    tandem.settle()
    for card in (detail, again):
        shown = tandem.feishu.message(card.message_id)
        assert shown is not None and card_problem(shown.content) is None
        assert "/任务 #1 完成" in commands_on(shown.content) and "进行中" in card_text(shown.content)


def test_a_risk_card_after_close_offers_reopen_and_after_reopen_close(tandem: Tandem) -> None:
    project_with_task(tandem, CHAT)
    say_and_get(tandem, CHAT, "ou_pm", "/风险 新增 场地可能延期 等级:高 @李四")
    card = sent_card(tandem, "ou_pm", "/风险 R1")
    closed = press(tandem, CHAT, card, "ou_li", "/风险 关闭 R1")
    assert closed["toast"]["type"] == "success"
    shown = closed["card"]["data"]
    assert commands_on(shown) == ["/风险 重开 R1"] and "已关闭" in card_text(shown)
    tandem.settle()
    assert one(tandem, Risk, 1).status == RiskStatus.CLOSED
    value = {"command": "/风险 重开 R1"}  # the button the card now shows
    payload = tandem.feishu.card_event(CHAT, "ou_pm", card.message_id, value)
    reopened = tandem.post_feishu(payload, path="/webhook/feishu/card").json()
    assert {"/风险 更新 R1", "/风险 关闭 R1"} <= set(commands_on(reopened["card"]["data"]))
    tandem.settle()
    assert one(tandem, Risk, 1).status != RiskStatus.CLOSED


def test_a_typed_change_to_an_item_refreshes_its_card_from_today(tandem: Tandem) -> None:
    project_with_task(tandem, CHAT)
    say_and_get(tandem, CHAT, "ou_pm", "/行动 新增 确认报价 @李四 截止:明天")
    say_and_get(tandem, CHAT, "ou_pm", "/行动 新增 订车 @李四 截止:明天")
    card = sent_card(tandem, "ou_li", "/行动 A1")
    assert commands_on(card.content) == ["/行动 完成 A1"]
    say_and_get(tandem, CHAT, "ou_li", "/行动 完成 A2")  # another item: this card is left alone
    tandem.settle()
    assert tandem.feishu.updates == [] and one(tandem, ActionItem, 2).status == ActionStatus.DONE
    say_and_get(tandem, CHAT, "ou_li", "/行动 完成 A1")
    updated = tandem.feishu.wait_for_updates(1, message_id=card.message_id)
    assert len(updated) == 1 and card_problem(updated[0]) is None
    assert commands_on(updated[0]) == [] and "已完成" in card_text(updated[0])
    assert one(tandem, ActionItem, 1).status == ActionStatus.DONE


def test_finding_the_cards_a_change_left_out_of_date_is_one_statement(tandem: Tandem) -> None:
    project_with_task(tandem, CHAT)
    sent_card(tandem, "ou_li", "/任务 #1")
    tandem.settle()
    looked: list[str] = []

    def lookup(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if "FROM outbound_message" in statement and "view_key IN" in statement:
            looked.append(statement)

    event.listen(tandem.runtime.engine, "before_cursor_execute", lookup)
    try:
        say_and_get(tandem, CHAT, "ou_li", "#1 进度 40%")
        assert "40%" in card_text(tandem.feishu.wait_for_updates(1)[0])
    finally:
        event.remove(tandem.runtime.engine, "before_cursor_execute", lookup)
    # the pressed card, today's prompt cards and the item's cards of today: one lookup for the message
    assert len(looked) == 1 and "origin" in looked[0]


# ---------------------------------------------------------------------------- DingTalk


def detail_card(tandem: Tandem, text: str, title: str) -> Card:
    before = set(tandem.dingtalk.cards)
    assert tandem.dingtalk_say(GROUP, "staff_pm", text).status_code == 200
    tandem.settle()
    found = [c for track, c in tandem.dingtalk.cards.items() if track not in before and title in c.params["title"]]
    assert len(found) == 1 and card_data_problem(found[0].params) is None
    return found[0]


def labels(card: Card) -> list[str]:
    return [a["label"] for a in card.actions()]


def test_dingtalk_task_card_pressed_by_the_owner_is_put_showing_done(carded: Tandem) -> None:
    kickoff(carded)
    card = detail_card(carded, "/任务 #1", "#1 写发布稿")
    assert labels(card) == ["开始", "完成", "阻塞", "进度"]
    done = {"command": "/任务 #1 完成", "needs": ""}
    kind, _ = notice(stream_click(carded, card, "staff_zhang", done))  # a stranger
    assert kind == "error"
    carded.settle()
    assert status(carded, 1) == TaskStatus.TODO and labels(carded.dingtalk.cards[card.out_track_id]) == labels(card)
    kind, text = notice(stream_click(carded, card, "staff_li", done))
    assert kind == "success" and "已完成" in text
    carded.settle()
    assert status(carded, 1) == TaskStatus.DONE
    puts = card_updates(carded, card.out_track_id)
    assert len(puts) == 2 and all(card_data_problem(p["cardData"]["cardParamMap"]) is None for p in puts)
    shown = carded.dingtalk.cards[card.out_track_id]
    assert "状态：已完成" in shown.params["intro"] and "记录" in shown.params["intro"]  # the details, as now
    assert labels(shown) == [] and json.loads(puts[-1]["cardData"]["cardParamMap"]["items"]) == []  # no buttons


def test_dingtalk_risk_card_after_a_typed_close_offers_reopen(carded: Tandem) -> None:
    kickoff(carded)
    assert carded.dingtalk_say(GROUP, "staff_pm", "/风险 新增 场地可能延期 等级:高 @李四").status_code == 200
    carded.settle()
    card = detail_card(carded, "/风险 R1", "R1")
    assert labels(card) == ["更新", "关闭"]
    assert carded.dingtalk_say(GROUP, "staff_li", "/风险 关闭 R1 已换场地").status_code == 200
    carded.settle()
    assert one(carded, Risk, 1).status == RiskStatus.CLOSED
    assert len(card_updates(carded, card.out_track_id)) == 1
    assert labels(carded.dingtalk.cards[card.out_track_id]) == ["重开"]


def count_rows(tandem: Tandem, where: Callable[[Any], Any]) -> int:
    with tandem.runtime.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(OutboundMessage).where(where(OutboundMessage))) or 0)


def test_dingtalk_card_rows_name_their_cards_and_the_item_they_show(carded: Tandem) -> None:
    kickoff(carded)
    card = detail_card(carded, "/任务 #2", "#2 订场地")
    with carded.runtime.session_factory() as session:
        row = session.scalars(select(OutboundMessage).where(OutboundMessage.view_key.is_not(None))).one()
        assert row.platform_message_id is not None and card.out_track_id.startswith(row.platform_message_id)
        assert row.view_key == f"task:{row.body['view']['id']}"
    assert count_rows(carded, lambda m: m.updates_message_id.is_not(None)) == 0
