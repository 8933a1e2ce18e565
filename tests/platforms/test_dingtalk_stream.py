"""DingTalk Stream mode, end to end: the app (default mode) against the fake DingTalk's gateway
(`connections/open`, one-use tickets) and JSON WebSocket: robot messages and card callbacks recorded,
then acknowledged; pings echoed; disconnects, closes and refused opens followed by a new ticket."""

from __future__ import annotations

import json
from collections.abc import Callable

from models import InboundEvent
from tests.fakes.dingtalk import DingTalkFake
from tests.fakes.dingtalk_stream import CARD_TOPIC
from tests.platforms.conftest import Tandem, wait_until


def dingtalk_state(tandem: Tandem) -> object:
    return tandem.http.get("/healthz").json()["platforms"]["dingtalk"]["state"]


def card_callback(dingtalk: DingTalkFake, conversation: str, user: str, params: dict[str, str]) -> dict[str, object]:
    content = {"cardPrivateData": {"actionIds": ["btn_1"], "params": params}}
    return {
        "type": "actionCallback", "outTrackId": "track-1", "corpId": dingtalk.corp_id, "userId": user,
        "spaceType": "IM_GROUP", "spaceId": conversation, "userIdType": 1, "extension": "{}", "content": json.dumps(content),
    }


def test_open_subscribes_to_robot_messages_and_card_callbacks(tandem: Tandem, dingtalk: DingTalkFake) -> None:
    dingtalk.stream.newest()
    body = dingtalk.stream.open_bodies[-1]
    assert body["clientId"] == dingtalk.client_id and body["clientSecret"] == dingtalk.client_secret
    topics = {(s["type"], s["topic"]) for s in body["subscriptions"]}
    assert topics == {("CALLBACK", "/v1.0/im/bot/messages/get"), ("CALLBACK", CARD_TOPIC)}
    assert dingtalk_state(tandem) == "connected"


def test_a_robot_message_is_acked_after_recording_and_answered(tandem: Tandem, dingtalk: DingTalkFake) -> None:
    dingtalk.add_user("staff_pm", "王经理")
    dingtalk.stream.newest()
    message = dingtalk.message("cid_s1", "staff_pm", "/项目 创建 流模式项目")
    key = dingtalk.stream.push(message)
    ack = dingtalk.stream.wait_ack(key)
    assert ack.body["code"] == 200 and ack.body["headers"]["messageId"] == key
    assert json.loads(ack.body["data"]) == {"response": None}
    assert tandem.count(InboundEvent, InboundEvent.event_key == message["msgId"]) == 1
    sent = dingtalk.wait_for(1, conversation_id="cid_s1")
    assert len(sent) == 1 and "流模式项目" in sent[0].text


def test_a_re_push_of_the_same_msgid_in_a_new_frame_is_processed_once(tandem: Tandem, dingtalk: DingTalkFake) -> None:
    dingtalk.stream.newest()
    message = dingtalk.message("cid_s2", "staff_pm", "/项目 创建 去重")
    first, second = dingtalk.stream.push(message), dingtalk.stream.push(message)
    assert dingtalk.stream.wait_ack(first).body["code"] == 200
    assert dingtalk.stream.wait_ack(second).body["code"] == 200
    tandem.settle()
    assert len(dingtalk.wait_for(1, conversation_id="cid_s2")) == 1
    assert tandem.count(InboundEvent) == 1


def test_a_card_callback_runs_its_command_and_is_answered_in_the_ack(tandem: Tandem, dingtalk: DingTalkFake) -> None:
    dingtalk.stream.newest()
    dingtalk.stream.wait_ack(dingtalk.stream.push(dingtalk.message("cid_s3", "staff_pm", "/项目 创建 卡片")))
    dingtalk.wait_for(1, conversation_id="cid_s3")
    press = card_callback(dingtalk, "cid_s3", "staff_pm", {"command": "/任务 新增 卡片任务"})
    key = dingtalk.stream.push(press, topic=CARD_TOPIC)
    ack = dingtalk.stream.wait_ack(key)
    assert ack.body["code"] == 200 and "response" in json.loads(ack.body["data"])
    sent = dingtalk.wait_for(2, conversation_id="cid_s3")
    assert any("卡片任务" in s.text for s in sent[1:])
    again = dingtalk.stream.push(card_callback(dingtalk, "cid_s3", "staff_pm", {"command": "/任务 新增 卡片任务"}),
                                 topic=CARD_TOPIC, message_id=key)  # the same callback pushed again
    dingtalk.stream.wait_ack(again, count=2)
    tandem.settle()
    assert len(dingtalk.wait_for(3, conversation_id="cid_s3", timeout=1)) == 2
    no_command = dingtalk.stream.push(card_callback(dingtalk, "cid_s3", "staff_pm", {"op": "x"}), topic=CARD_TOPIC)
    assert dingtalk.stream.wait_ack(no_command).body["code"] == 200


def test_system_pings_are_echoed_and_events_acknowledged(tandem: Tandem, dingtalk: DingTalkFake) -> None:
    dingtalk.stream.newest()
    key = dingtalk.stream.ping()
    ack = dingtalk.stream.wait_ack(key)
    assert ack.body["code"] == 200 and json.loads(ack.body["data"]).keys() == {"opaque"}
    event = dingtalk.stream.push({"a": 1}, topic="chat_update_title", kind="EVENT")
    assert json.loads(dingtalk.stream.wait_ack(event).body["data"])["status"] == "SUCCESS"


def test_a_disconnect_frame_leads_to_a_new_ticket_and_connection(tandem: Tandem, dingtalk: DingTalkFake) -> None:
    first = dingtalk.stream.newest()
    dingtalk.stream.disconnect(first)
    wait_until(lambda: first.closed and dingtalk.stream.opened >= 2, timeout=10)
    assert len(dingtalk.stream.open_bodies) >= 2 and dingtalk.stream.refused_tickets == 0
    key = dingtalk.stream.push(dingtalk.message("cid_s4", "staff_pm", "/帮助"))
    assert dingtalk.stream.wait_ack(key).body["code"] == 200


def test_a_server_close_and_refused_opens_are_retried_until_connected(tandem: Tandem, dingtalk: DingTalkFake) -> None:
    dingtalk.stream.newest()
    dingtalk.stream.fail_endpoint(503, 500)
    dingtalk.stream.close_all(code=1011)
    wait_until(lambda: dingtalk.stream.opened >= 2 and dingtalk_state(tandem) == "connected", timeout=15)
    assert dingtalk.stream.endpoint_calls >= 3


def test_wrong_credentials_show_as_down(make_tandem: Callable[..., Tandem], dingtalk: DingTalkFake) -> None:
    tandem = make_tandem(dingtalk_client_secret="wrong-secret")
    wait_until(lambda: dingtalk_state(tandem) == "down", timeout=10)
    health = tandem.http.get("/healthz").json()["platforms"]["dingtalk"]
    assert "401" in health["error"] and dingtalk.stream.opened == 0


def test_the_webhook_keeps_working_in_stream_mode(tandem: Tandem, dingtalk: DingTalkFake) -> None:
    dingtalk.stream.newest()
    assert tandem.dingtalk_say("cid_s5", "staff_pm", "/帮助").status_code == 200
    assert len(dingtalk.wait_for(1, conversation_id="cid_s5")) == 1
