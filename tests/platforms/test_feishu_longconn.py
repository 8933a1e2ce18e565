"""Feishu's long connection, end to end: the app (default mode) against the fake Feishu's endpoint and
protobuf WebSocket (frames built with the SDK's own generated class): events and callbacks recorded,
then acknowledged, answered like the webhook; fragments, duplicates, closes, endpoint errors, silence."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from lark_oapi.ws.pb.pbbp2_pb2 import Frame

from bot.platforms import receiving
from bot.platforms.feishu.inbound import CARD_TOAST
from bot.platforms.receiving import LongConnection
from models import InboundEvent
from tests.fakes.feishu import FeishuFake, encrypt
from tests.platforms.conftest import Tandem, wait_until


def health(tandem: Tandem) -> tuple[int, dict[str, object]]:
    response = tandem.http.get("/healthz")
    return response.status_code, response.json()


def feishu_state(tandem: Tandem) -> object:
    return health(tandem)[1]["platforms"]["feishu"]["state"]  # type: ignore[index]


def test_a_message_over_the_long_connection_is_acked_after_recording_and_answered(tandem: Tandem, feishu: FeishuFake) -> None:
    pm = feishu.add_user("ou_pm", "王经理")
    connection = feishu.ws.newest()
    event = feishu.message_event("oc_ws1", pm, "/项目 创建 长连接项目")
    key = feishu.ws.push(event)
    ack = feishu.ws.wait_ack(key)
    assert ack.body["code"] == 200
    assert "biz_rt" in ack.body["_headers"] and ack.body["_headers"]["message_id"] == key
    seq_id, log_id, service = ack.body["_ids"]
    assert log_id == seq_id + 1000 and service == 33554678  # the same frame, echoed
    assert ack.connection == connection.id
    # recorded before the ack: the inbox row is there as soon as the ack is
    assert tandem.count(InboundEvent, InboundEvent.event_key == event["event"]["message"]["message_id"]) == 1
    posted = feishu.wait_for(1, chat_id="oc_ws1")
    assert len(posted) == 1 and "长连接项目" in posted[0].text
    assert posted[0].reply_to == event["event"]["message"]["message_id"]  # quoted, as over the webhook
    body = feishu.ws.endpoint_bodies[-1]
    assert body == {"AppID": feishu.app_id, "AppSecret": feishu.app_secret}


def test_a_fragmented_event_is_reassembled_and_only_its_last_frame_acked(tandem: Tandem, feishu: FeishuFake) -> None:
    pm = feishu.add_user("ou_pm", "王经理")
    feishu.ws.newest()
    key = feishu.ws.push(feishu.message_event("oc_ws2", pm, "/项目 创建 " + "分片" * 200), fragments=3, gap=0.05)
    ack = feishu.ws.wait_ack(key)
    assert ack.body["code"] == 200 and ack.body["_headers"]["seq"] == "2"
    assert len(feishu.wait_for(1, chat_id="oc_ws2")) == 1
    tandem.settle()
    assert len(feishu.ws.acks_for(key)) == 1


def test_a_card_callback_is_answered_in_the_ack_with_its_outcome_and_runs_its_command(
    tandem: Tandem, feishu: FeishuFake
) -> None:
    pm = feishu.add_user("ou_pm", "王经理")
    feishu.ws.newest()
    feishu.ws.wait_ack(feishu.ws.push(feishu.message_event("oc_ws3", pm, "/项目 创建 卡片项目")))
    feishu.wait_for(1, chat_id="oc_ws3")
    message_id = feishu.posted[0].message_id
    key = feishu.ws.push(feishu.card_event("oc_ws3", pm, message_id, {"command": "/任务 新增 按钮任务"}))
    ack = feishu.ws.wait_ack(key)
    assert ack.body["code"] == 200
    answer = json.loads(base64.b64decode(ack.body["data"]))  # what the command said, as the webhook answers
    assert answer["toast"]["type"] == "success" and "按钮任务" in answer["toast"]["content"], answer
    posted = feishu.wait_for(2, chat_id="oc_ws3")
    assert any("按钮任务" in p.text for p in posted[1:])
    no_command = feishu.ws.wait_ack(feishu.ws.push(feishu.card_event("oc_ws3", pm, message_id, {"other": 1})))
    assert json.loads(base64.b64decode(no_command.body["data"]))["toast"]["type"] == "warning"
    refused = feishu.ws.wait_ack(feishu.ws.push(feishu.card_event("oc_ws3", pm, message_id, {"command": "/任务 #99 完成"})))
    toast = json.loads(base64.b64decode(refused.body["data"]))["toast"]
    assert toast["type"] == "error" and "#99" in toast["content"]


def test_a_late_outcome_over_the_long_connection_gets_the_quick_toast(
    tandem: Tandem, feishu: FeishuFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot import callback_answers

    monkeypatch.setattr(callback_answers, "ANSWER_WITHIN", 0.0)  # nothing is ever ready in no time
    pm = feishu.add_user("ou_pm", "王经理")
    feishu.ws.newest()
    feishu.ws.wait_ack(feishu.ws.push(feishu.message_event("oc_ws4", pm, "/项目 创建 卡片项目")))
    message_id = feishu.wait_for(1, chat_id="oc_ws4")[0].message_id
    ack = feishu.ws.wait_ack(feishu.ws.push(feishu.card_event("oc_ws4", pm, message_id, {"command": "/任务 新增 迟到"})))
    assert json.loads(base64.b64decode(ack.body["data"])) == CARD_TOAST
    assert any("迟到" in p.text for p in feishu.wait_for(2, chat_id="oc_ws4")[1:])  # it still ran


def test_a_re_pushed_event_in_a_new_frame_is_processed_once(tandem: Tandem, feishu: FeishuFake) -> None:
    pm = feishu.add_user("ou_pm", "王经理")
    feishu.ws.newest()
    event = feishu.message_event("oc_ws4", pm, "/项目 创建 去重项目")
    first, second = feishu.ws.push(event), feishu.ws.push(event)  # new frame ids, the same message_id inside
    assert feishu.ws.wait_ack(first).body["code"] == 200
    assert feishu.ws.wait_ack(second).body["code"] == 200
    tandem.settle()
    assert len(feishu.wait_for(1, chat_id="oc_ws4")) == 1
    assert tandem.count(InboundEvent) == 1


def test_frames_with_few_headers_unused_events_and_bad_payloads_are_acknowledged_and_nothing_recorded(
    tandem: Tandem, feishu: FeishuFake
) -> None:
    connection = feishu.ws.newest()
    sparse = Frame(SeqID=1, LogID=1, service=1, method=1, payload=b"{}")
    sparse.headers.add(key="type", value="event")
    sparse.headers.add(key="message_id", value="no-sum")  # no sum, seq or trace_id: a whole frame
    feishu.ws.send_raw(sparse, connection)
    fragment = Frame(SeqID=2, LogID=2, service=1, method=1, payload=b"{")
    fragment.headers.add(key="type", value="event")
    fragment.headers.add(key="sum", value="2")  # a fragment without message_id cannot be put together
    feishu.ws.send_raw(fragment, connection)
    unused = feishu.ws.push(feishu.envelope("im.chat.member.bot.added_v1", {"chat_id": "oc_x"}))
    assert feishu.ws.wait_ack(unused).body["code"] == 200  # acknowledged, nothing recorded
    not_json = feishu.ws.frame(b"not json", message_id="bad-json")
    feishu.ws.send_raw(not_json, connection)
    assert feishu.ws.wait_ack("bad-json").body["code"] == 200  # refused for good: a re-push cannot help
    assert feishu.ws.wait_ack("no-sum").body["code"] == 200  # refused (not an event), acknowledged
    assert feishu.ws.acks_for("") == []
    assert tandem.count(InboundEvent) == 0


def test_pings_carry_the_service_id_at_the_handed_out_interval(make_tandem: Callable[..., Tandem], feishu: FeishuFake) -> None:
    feishu.ws.client_config["PingInterval"] = 1  # handed out by the endpoint; pongs repeat it
    make_tandem()
    feishu.ws.newest()
    wait_until(lambda: len(feishu.ws.pings) >= 3, timeout=6)
    assert all(p["type"] == "ping" and p["service"] == "33554678" for p in feishu.ws.pings)


def test_a_server_close_is_followed_by_a_new_endpoint_call_and_connection(tandem: Tandem, feishu: FeishuFake) -> None:
    pm = feishu.add_user("ou_pm", "王经理")
    first = feishu.ws.newest()
    calls = feishu.ws.endpoint_calls
    assert feishu.ws.close_all() == 1
    wait_until(lambda: feishu.ws.connections and feishu.ws.connections[-1].id != first.id, timeout=10)
    assert feishu.ws.endpoint_calls > calls
    wait_until(lambda: feishu_state(tandem) == "connected")
    key = feishu.ws.push(feishu.message_event("oc_ws5", pm, "/项目 创建 重连项目"))
    assert feishu.ws.wait_ack(key).body["code"] == 200
    assert len(feishu.wait_for(1, chat_id="oc_ws5")) == 1


def test_a_fatal_endpoint_error_shows_as_down_and_recovers(tandem: Tandem, feishu: FeishuFake) -> None:
    feishu.ws.newest()
    feishu.ws.fail_endpoint({"code": 1000040350, "msg": "exceed connection limit"}, 503)
    feishu.ws.close_all()
    wait_until(lambda: feishu_state(tandem) == "down", timeout=10)
    status, body = health(tandem)
    assert status == 200  # down only just now: not yet a minute
    assert "1000040350" in body["platforms"]["feishu"]["error"]  # type: ignore[index]
    wait_until(lambda: feishu_state(tandem) == "connected", timeout=15)  # retried after the fatal code
    assert feishu.ws.endpoint_calls >= 3


def test_healthz_is_503_once_a_receiver_is_down_over_the_limit(
    tandem: Tandem, feishu: FeishuFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    feishu.ws.newest()
    assert health(tandem)[0] == 200
    monkeypatch.setattr(receiving, "DOWN_AFTER", 0.3)
    feishu.ws.fail_endpoint(*[{"code": 10003, "msg": "invalid app_secret"}] * 100)
    feishu.ws.close_all()
    wait_until(lambda: health(tandem)[0] == 503, timeout=10)
    body = health(tandem)[1]
    assert body["status"] == "degraded" and body["platforms"]["feishu"]["state"] == "down"  # type: ignore[index]
    assert body["platforms"]["dingtalk"]["state"] == "connected"  # type: ignore[index]
    feishu.ws.endpoint_failures.clear()
    wait_until(lambda: health(tandem)[0] == 200, timeout=15)


def test_a_silent_connection_is_dropped_by_the_watchdog_and_reopened(
    make_tandem: Callable[..., Tandem], feishu: FeishuFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(LongConnection, "SILENCE", 1.0)
    monkeypatch.setattr(LongConnection, "KEEPALIVE", 60.0)  # no WebSocket pings: nothing is heard at all
    feishu.ws.answer_pings = False
    make_tandem(dingtalk_mode="webhook")
    first = feishu.ws.newest()
    wait_until(lambda: feishu.ws.opened >= 2 and first.closed, timeout=10)


def test_a_receiver_that_died_is_restarted_by_the_watchdog(tandem: Tandem, feishu: FeishuFake) -> None:
    first = feishu.ws.newest()
    supervisor = _feishu_receiver(tandem)._supervisor
    assert supervisor is not None
    supervisor.get_loop().call_soon_threadsafe(supervisor.cancel)  # dies as a crashed client would
    wait_until(lambda: feishu.ws.opened >= 2 and first.closed, timeout=10)
    wait_until(lambda: feishu_state(tandem) == "connected")


def test_webhook_mode_opens_no_connection_and_reports_listening(make_tandem: Callable[..., Tandem], feishu: FeishuFake) -> None:
    tandem = make_tandem(feishu_mode="webhook", dingtalk_mode="webhook")
    assert tandem.feishu_say("oc_ws6", "ou_pm", "/帮助").status_code == 200
    assert health(tandem)[1]["platforms"] == {  # type: ignore[comparison-overlap]
        "feishu": {"mode": "webhook", "state": "listening"},
        "dingtalk": {"mode": "webhook", "state": "listening"},
    }
    assert feishu.ws.endpoint_calls == 0 and feishu.ws.opened == 0


def test_websocket_mode_needs_no_webhook_secrets_and_the_webhook_is_off(
    make_tandem: Callable[..., Tandem], feishu: FeishuFake
) -> None:
    tandem = make_tandem(feishu_verification_token=None, feishu_encrypt_key=None)
    pm = feishu.add_user("ou_pm", "王经理")
    feishu.ws.newest()
    assert feishu.ws.wait_ack(feishu.ws.push(feishu.message_event("oc_ws7", pm, "/帮助"))).body["code"] == 200
    assert len(feishu.wait_for(1, chat_id="oc_ws7")) == 1
    refused = tandem.feishu_say("oc_ws7", pm, "/帮助")
    assert refused.status_code == 404 and "TANDEM_FEISHU_VERIFICATION_TOKEN" in refused.json()["error"]
    assert "long connection" in refused.json()["error"]


def test_stopping_loses_nothing_that_was_acknowledged(make_tandem: Callable[..., Tandem], feishu: FeishuFake) -> None:
    tandem = make_tandem()
    pm = feishu.add_user("ou_pm", "王经理")
    connection = feishu.ws.newest()
    events = [feishu.message_event("oc_ws8", pm, f"/帮助 {i}") for i in range(40)]
    keys = [feishu.ws.push(event, connection=connection) for event in events[:20]]
    feishu.ws.wait_ack(keys[0])
    assert tandem.server is not None
    tandem.server.server.should_exit = True  # SIGTERM's path: uvicorn stops, then the lifespan stops intake first
    for event in events[20:]:
        try:
            keys.append(feishu.ws.push(event, connection=connection))
        except Exception:
            break
    wait_until(lambda: connection.closed, timeout=15)
    acked = {ack.key for ack in feishu.ws.acks if ack.body["code"] == 200}
    by_key = dict(zip(keys, events, strict=False))
    recorded = {event["event"]["message"]["message_id"] for key, event in by_key.items() if key in acked}
    assert recorded, "some events were acknowledged before the stop"
    assert tandem.count(InboundEvent, InboundEvent.event_key.in_(recorded)) == len(recorded)


def _feishu_receiver(tandem: Tandem) -> LongConnection:
    receiver = tandem.platform("feishu").receiver
    assert isinstance(receiver, LongConnection)
    return receiver


def test_an_encrypted_payload_is_decrypted_with_the_encrypt_key_when_one_is_set(tandem: Tandem, feishu: FeishuFake) -> None:
    pm = feishu.add_user("ou_pm", "王经理")
    feishu.ws.newest()
    assert feishu.encrypt_key is not None
    event = feishu.message_event("oc_ws9", pm, "/帮助")
    key = feishu.ws.push({"encrypt": encrypt(json.dumps(event, ensure_ascii=False), feishu.encrypt_key)})
    assert feishu.ws.wait_ack(key).body["code"] == 200
    assert len(feishu.wait_for(1, chat_id="oc_ws9")) == 1
