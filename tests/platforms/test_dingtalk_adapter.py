"""DingTalk callback parsing and verification: the reference's signature vectors and constructed callbacks."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.messages import Mention, Reply
from bot.platforms import Ignored, Inbound, Refused
from bot.platforms.dingtalk import api_message, parse_request, session_body, sign, trusted_session_webhook
from tests.fakes.dingtalk import DingTalkFake

BASE = "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("timestamp", "secret", "expected"),
    [
        ("1577262236757", "this is secret", "hmPWwU+7lVdm3ZZz0r9tSfx0L4Q26jWOZr9+Gs6EZQM="),
        ("1577262236757", "this is a secret", "DJrE6qdyVGCQz9z5r2MDuNcNAhwYnuAkyj13cx169CA="),
        ("1690362102194", "SECtestsecret0123456789", "kWwSpb+wmaB7Z/iM8nY70wzVoiWhiEdvg6TAQUelPJI="),
        ("1700000000000", "GT-lsu-taDAxxxsTsxxxx", "gCP5yO1bx/rFA4fabnrKh46rSi7lwfDq6HF9I3ykgl8="),
    ],
)
def test_signature_vectors(timestamp: str, secret: str, expected: str) -> None:
    assert sign(timestamp, secret) == expected


def test_vector_request_verifies_within_the_hour_only() -> None:
    headers = {"timestamp": "1577262236757", "sign": "hmPWwU+7lVdm3ZZz0r9tSfx0L4Q26jWOZr9+Gs6EZQM="}
    body = json.dumps(
        {"msgId": "m1", "conversationId": "cid1", "senderStaffId": "u1", "msgtype": "text", "text": {"content": " 你好"}}
    ).encode()
    at = datetime.fromtimestamp(1577262236.757, UTC)
    result = parse_request(body, headers, now=at + timedelta(minutes=59), app_secret="this is secret", base_url=BASE)
    assert isinstance(result, Inbound) and result.incoming.text == "你好"
    with pytest.raises(Refused) as stale:
        parse_request(body, headers, now=at + timedelta(minutes=61), app_secret="this is secret", base_url=BASE)
    assert stale.value.status == 401 and "stale" in stale.value.reason


def fake() -> DingTalkFake:
    f = DingTalkFake()
    f.base_url = BASE
    f.add_user("staff_li", "李四")
    f.add_user("staff_zhang", "张三")
    return f


def parse(f: DingTalkFake, body: bytes, headers: dict[str, str], **kw: Any) -> Any:
    return parse_request(body, headers, now=kw.pop("now", datetime.now(UTC)), app_secret=f.client_secret, base_url=BASE)


def test_group_message_is_normalised() -> None:
    f = fake()
    payload = f.message("cidG1==", "staff_pm", "/任务 新增 写发布稿 @李四 截止:周五 @张三")
    result = parse(f, *f.request(payload))
    assert isinstance(result, Inbound)
    m = result.incoming
    assert m.platform == "dingtalk" and m.event_key == payload["msgId"] and m.chat_id == "cidG1=="
    assert m.text == "/任务 新增 写发布稿 <@staff_li> 截止:周五 <@staff_zhang>"
    assert m.mentions == (Mention("staff_li", "李四"), Mention("staff_zhang", "张三"))
    assert m.sender_id == "staff_pm" and m.is_group and m.kind == "text"
    assert m.reply_to == payload["sessionWebhook"]
    assert m.reply_to_expires_at is not None
    assert abs(m.reply_to_expires_at.timestamp() * 1000 - payload["sessionWebhookExpiredTime"]) < 1


def test_bot_mention_still_in_text_is_dropped() -> None:
    f = fake()
    payload = f.message("cidG1==", "staff_pm", "@李四 #1 完成")
    payload["text"]["content"] = "@Tandem @李四 #1 完成"  # atUsers = [bot, 李四]
    result = parse(f, *f.request(payload))
    assert isinstance(result, Inbound) and result.incoming.text == "<@staff_li> #1 完成"


def test_typed_nicks_without_at_users_are_kept() -> None:
    f = fake()
    payload = f.message("cidG1==", "staff_pm", "/任务 新增 写稿 @王五 截止:周五")
    result = parse(f, *f.request(payload))
    assert isinstance(result, Inbound) and result.incoming.text == "/任务 新增 写稿 @王五 截止:周五"
    assert result.incoming.mentions == ()


def test_private_chat_and_other_message_types() -> None:
    f = fake()
    p2p = parse(f, *f.request(f.message("cidP2P==", "staff_pm", "/帮助", conversation_type="1")))
    assert isinstance(p2p, Inbound) and p2p.incoming.is_group is False
    picture = parse(f, *f.request(f.message("cidG1==", "staff_pm", "", msgtype="picture")))
    assert isinstance(picture, Inbound) and picture.incoming.kind == "picture"


def test_the_bots_own_message_is_ignored() -> None:
    f = fake()
    payload = f.message("cidG1==", "staff_pm", "hi")
    payload["senderId"] = payload["chatbotUserId"]
    assert isinstance(parse(f, *f.request(payload)), Ignored)


def test_session_webhook_outside_dingtalk_is_not_used() -> None:
    f = fake()
    payload = f.message("cidG1==", "staff_pm", "hi")
    payload["sessionWebhook"] = "http://evil.example/steal"
    result = parse(f, *f.request(payload))
    assert isinstance(result, Inbound) and result.incoming.reply_to is None
    assert trusted_session_webhook("https://oapi.dingtalk.com/robot/sendBySession?session=x", BASE)
    assert not trusted_session_webhook("http://oapi.dingtalk.com/robot/sendBySession", BASE)
    assert not trusted_session_webhook("https://dingtalk.com.evil.example/x", BASE)
    assert trusted_session_webhook("http://localhost:8123/robot/sendBySession?session=x", BASE)
    assert not trusted_session_webhook("http://localhost:8123/x", "https://api.dingtalk.com")


def refused(f: DingTalkFake, body: bytes, headers: dict[str, str]) -> Refused:
    with pytest.raises(Refused) as info:
        parse(f, body, headers)
    return info.value


def test_forged_stale_and_malformed_requests_are_refused() -> None:
    f = fake()
    payload = f.message("cidG1==", "staff_pm", "/项目 信息")
    body, headers = f.request(payload)
    assert refused(f, body, dict(headers, sign="AAAA" + headers["sign"][4:])).status == 401
    assert refused(f, *f.request(payload, secret="not the secret")).status == 401
    assert refused(f, body, {"timestamp": headers["timestamp"]}).status == 401
    assert refused(f, body, dict(headers, timestamp="soon")).status == 401
    now_ms = int(time.time() * 1000)
    assert "stale" in refused(f, *f.request(payload, timestamp=now_ms - 3_700_000)).reason
    assert "stale" in refused(f, *f.request(payload, timestamp=now_ms + 3_700_000)).reason
    assert refused(f, b"{oops", f.request(payload)[1]).status == 400
    no_id = dict(payload)
    del no_id["msgId"]
    assert refused(f, *f.request(no_id)).status == 400


def test_rendering_for_session_and_api() -> None:
    reply = Reply("已创建任务 #1，负责人 <@staff_li>", mentions=(Mention("staff_li", "李四"),))
    assert session_body(reply) == {
        "msgtype": "text",
        "text": {"content": "已创建任务 #1，负责人 @staff_li"},
        "at": {"atUserIds": ["staff_li"], "isAtAll": False},
    }
    key, param = api_message(reply)
    assert key == "sampleText" and json.loads(param) == {"content": "已创建任务 #1，负责人 @李四"}
    report = Reply("第一行\n第二行", title="周报", style="report")
    body = session_body(report)
    assert body["msgtype"] == "markdown" and body["markdown"]["title"] == "周报"
    assert body["markdown"]["text"] == "#### 周报\n\n第一行  \n第二行"
    key, param = api_message(report)
    assert key == "sampleMarkdown" and isinstance(param, str) and json.loads(param)["title"] == "周报"
