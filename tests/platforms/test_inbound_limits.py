"""Every platform string is made to fit where it is stored, at the adapter, the same on every backend:
ids too long for their column or carrying control characters are refused (400), names and texts lose
control characters, and a text over the message limit is stored cut, with its real length."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.messages import CHAT_ID_MAX, EVENT_KEY_MAX, MAX_MESSAGE, NAME_MAX, REPLY_TO_MAX, USER_ID_MAX, Incoming, Mention
from bot.platforms import Refused, incoming
from models import InboundEvent, InboundStatus, Member, OutboundMessage
from tests.platforms.conftest import Tandem, wait_until

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def build(**overrides: object) -> Incoming:
    values: dict[str, object] = {
        "platform": "dingtalk",
        "event_key": "msg1",
        "chat_id": "cidG1==",
        "sender_id": "staff_li",
        "sender_name": "李四",
        "text": "/帮助",
        "sent_at": NOW,
    }
    values.update(overrides)
    return incoming(**values)  # type: ignore[arg-type]


def test_the_limits_are_the_columns_widths() -> None:
    columns = InboundEvent.__table__.c
    assert (columns.event_key.type.length, columns.chat_id.type.length) == (EVENT_KEY_MAX, CHAT_ID_MAX)
    assert OutboundMessage.__table__.c.reply_to.type.length == REPLY_TO_MAX
    assert (Member.__table__.c.user_id.type.length, Member.__table__.c.name.type.length) == (USER_ID_MAX, NAME_MAX)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("event_key", "m" * (EVENT_KEY_MAX + 1)),
        ("chat_id", "c" * (CHAT_ID_MAX + 1)),
        ("sender_id", "s" * (USER_ID_MAX + 1)),
        ("reply_to", "https://oapi.dingtalk.com/robot/sendBySession?session=" + "x" * REPLY_TO_MAX),
        ("event_key", "msg\x001"),
        ("chat_id", "cid\n1"),
        ("sender_id", "staff\x00li"),
        ("reply_to", "https://oapi.dingtalk.com/robot/sendBySession?session=a\x00b"),
    ],
)
def test_ids_that_cannot_be_stored_as_sent_are_refused(field: str, value: str) -> None:
    with pytest.raises(Refused) as refused:
        build(**{field: value})
    assert refused.value.status == 400


def test_mentioned_ids_are_checked_and_names_cleaned() -> None:
    with pytest.raises(Refused):
        build(text="<@" + "u" * 129 + ">", mentions=(Mention("u" * 129, "张三"),))
    with pytest.raises(Refused):
        build(text="<@u\x00>", mentions=(Mention("u\x00", "张三"),))
    event = build(text="找 <@u1>", mentions=(Mention("u1", "张\x00三\x1b"),), sender_name="李\x00四" + "长" * 200)
    assert event.mentions == (Mention("u1", "张三"),)
    assert event.sender_name == "李四" + "长" * (NAME_MAX - 2)


def test_text_loses_control_characters_but_keeps_lines_and_tabs() -> None:
    event = build(text="#1\x00 完成\r\n说明\t一\x07下")
    assert event.text == "#1 完成\n说明\t一下" and event.text_length is None


def test_a_text_over_the_limit_is_stored_cut_with_its_real_length() -> None:
    whole = build(text="a" * (MAX_MESSAGE + 1))
    assert (len(whole.text), whole.text_length) == (MAX_MESSAGE + 1, None)  # still whole: refused by its own length
    cut = build(text="<@u1> " + "a" * 200_000 + " <@u2>", mentions=(Mention("u1", "一"), Mention("u2", "二")))
    assert len(cut.text) == MAX_MESSAGE + 1 and cut.text_length == 200_012
    assert cut.mentions == (Mention("u1", "一"),)  # only what the kept text still names
    assert Incoming.from_payload(cut.to_payload()) == cut


# --- end to end, the same answers on SQLite and PostgreSQL ---------------------------------------


def recorded(tandem: Tandem) -> int:
    return tandem.count(InboundEvent)


def test_dingtalk_ids_longer_than_their_columns_are_refused(tandem: Tandem) -> None:
    d = tandem.dingtalk
    pm = d.add_user("staff_pm", "王经理")
    long_chat = d.message("c" * 200, pm, "/帮助")
    long_msg = d.message("cidG1==", pm, "/帮助", msg_id="m" * 300)
    long_session = d.message("cidG1==", pm, "/帮助")
    long_session["sessionWebhook"] += "&pad=" + "x" * 1100
    long_sender = d.message("cidG1==", "s" * 129, "/帮助")
    for payload in (long_chat, long_msg, long_session, long_sender):
        response = tandem.post_dingtalk(payload)
        assert response.status_code == 400, response.text
    assert recorded(tandem) == 0
    assert tandem.dingtalk_say("cidG1==", pm, "/帮助").status_code == 200  # the queue is fine
    assert d.wait_for(1) and recorded(tandem) == 1


def test_feishu_ids_longer_than_their_columns_are_refused(tandem: Tandem) -> None:
    f = tandem.feishu
    li = f.add_user("ou_li", "李四")
    for payload in (
        f.message_event("oc_" + "c" * 200, li, "/帮助"),
        f.message_event("oc_g1", li, "/帮助", message_id="om_" + "m" * 300),
    ):
        assert tandem.post_feishu(payload).status_code == 400
    assert recorded(tandem) == 0


def test_nul_in_dingtalk_sender_id_name_and_text(tandem: Tandem) -> None:
    d = tandem.dingtalk
    pm = d.add_user("staff_pm", "王\x00经理")
    assert tandem.dingtalk_say("cidG1==", "staff\x00pm", "/帮助").status_code == 400
    assert recorded(tandem) == 0
    assert tandem.dingtalk_say("cidG1==", pm, "/项目 创建 发\x00布会").status_code == 200
    sent = d.wait_for(1)
    assert "已创建项目“发布会”，PM：王经理" in sent[0].text
    tandem.settle()
    with tandem.runtime.session_factory() as session:
        assert [m.name for m in session.scalars(select(Member))] == ["王经理"]
        assert session.scalars(select(InboundEvent.status)).all() == [InboundStatus.DONE]


def test_nul_in_feishu_sender_id_name_and_text(tandem: Tandem) -> None:
    f = tandem.feishu
    pm = f.add_user("ou_pm", "王\x00经理")  # the name comes from the contact API
    assert tandem.feishu_say("oc_g1", "ou_p\x00m", "/帮助").status_code == 400
    assert recorded(tandem) == 0
    assert tandem.feishu_say("oc_g1", pm, "/项目 创建 发\x00布会").status_code == 200
    posted = f.wait_for(1)
    assert "已创建项目“发布会”，PM：王经理" in posted[0].text
    tandem.settle()
    with tandem.runtime.session_factory() as session:
        assert [m.name for m in session.scalars(select(Member))] == ["王经理"]
        assert session.scalars(select(InboundEvent.status)).all() == [InboundStatus.DONE]


def test_an_oversized_message_is_refused_with_its_count_and_not_kept(tandem: Tandem) -> None:
    d, f = tandem.dingtalk, tandem.feishu
    pm, li = d.add_user("staff_pm", "王经理"), f.add_user("ou_li", "李四")
    assert tandem.dingtalk_say("cidG1==", pm, "a" * 200_000).status_code == 200
    assert tandem.feishu_say("oc_g1", li, "b" * 200_000).status_code == 200
    wait_until(lambda: len(d.sent) == 1 and len(f.posted) == 1)
    assert "消息太长（200000 字）" in d.sent[0].text
    assert "消息太长（200000 字）" in f.posted[0].text
    with tandem.runtime.session_factory() as session:
        payloads = session.scalars(select(InboundEvent.payload)).all()
    assert len(payloads) == 2
    for payload in payloads:
        assert len(json.dumps(payload, ensure_ascii=False)) < MAX_MESSAGE + 1000
        assert payload["text_length"] == 200_000
