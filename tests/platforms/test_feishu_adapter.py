"""Feishu request parsing and verification: official test vectors and constructed requests (no I/O)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.messages import Mention, Reply
from bot.platforms import Challenge, Ignored, Inbound, Refused
from bot.platforms.feishu import WebhookConfig, decrypt, parse_request, render, signature
from tests.fakes.feishu import FeishuFake, encrypt

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
KEYED = WebhookConfig(verification_token="feishu-verification-token", encrypt_key="feishu encrypt key")


def fake() -> FeishuFake:
    f = FeishuFake()
    f.add_user("ou_li", "李四")
    f.add_user("ou_zhang", "张三")
    return f


def parse(body: bytes, headers: dict[str, str], *, config: WebhookConfig = KEYED, **kw: Any) -> Any:
    kw.setdefault("bot_open_id", "ou_tandem_bot")
    return parse_request(body, headers, now=kw.pop("now", datetime.now(UTC)), config=config, **kw)


# --- official vectors (shared/reference/feishu.md §2.2, §2.3, §3.2) ------------------------------------


def test_official_decrypt_vector() -> None:
    assert decrypt("P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=", "test key") == "hello world"


def test_encrypt_side_reproduces_the_official_vector() -> None:
    iv = bytes.fromhex("3f7ef0f9564898d80f10ed5106127a46")
    assert encrypt("hello world", "test key", iv) == "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="


def test_encrypted_challenge_vector_is_answered() -> None:
    body = (
        b'{"encrypt":"AAECAwQFBgcICQoLDA0ODw9mLTIAZS9jAmGTQ1wAhHp7T0KSqa6xlIO2zHinxKSs1K4/7o0J6jqt9tlbOFlHae7/'
        b'cvXLvNi4ZpCEt5KzcrL1tjJXRzgeOikjXBgef8ne"}'
    )
    result = parse(body, {}, config=WebhookConfig(verification_token="xxxxxx", encrypt_key="test key"))
    assert result == Challenge({"challenge": "ajls384kdjxxxx"})


def test_signature_vectors() -> None:
    body1 = b'{"encrypt":"P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="}'
    assert signature("1700000000", "abc123", "test key", body1) == (
        "69c61fa99760d59824d588297c0036194769fb54331682c9cbcd93e85b9a8aad"
    )
    body2 = (
        b'{"encrypt":"AAECAwQFBgcICQoLDA0ODw9mLTIAZS9jAmGTQ1wAhHp7T0KSqa6xlIO2zHinxKSs1K4/7o0J6jqt9tlbOFlHae7/'
        b'cvXLvNi4ZpCEt5KzcrL1tjJXRzgeOikjXBgef8ne"}'
    )
    assert signature("1700000000", "abc123", "test key", body2) == (
        "f6bb43150047f6c0754f5c3aa6e34b43b305d43a6431eccd09df292e700cb13a"
    )


def test_signed_vector_request_verifies_at_its_time() -> None:
    """Vector 1 is signed but decrypts to "hello world", which is not an event: refused as not JSON."""
    body = b'{"encrypt":"P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="}'
    headers = {
        "X-Lark-Request-Timestamp": "1700000000",
        "X-Lark-Request-Nonce": "abc123",
        "X-Lark-Signature": "69c61fa99760d59824d588297c0036194769fb54331682c9cbcd93e85b9a8aad",
    }
    config = WebhookConfig(verification_token=None, encrypt_key="test key")
    with pytest.raises(Refused) as refused:
        parse(body, headers, config=config, now=datetime.fromtimestamp(1700000000 + 30, UTC))
    assert refused.value.status == 400 and "not JSON" in refused.value.reason
    with pytest.raises(Refused) as stale:
        parse(body, headers, config=config, now=datetime.fromtimestamp(1700000000 + 2 * 3600, UTC))
    assert stale.value.status == 401 and "stale" in stale.value.reason


# --- handshake ---------------------------------------------------------------------------------------------


def test_plain_challenge_checks_the_token() -> None:
    f = fake()
    plain = json.dumps(f.challenge("c1")).encode()
    assert parse(plain, {}, config=WebhookConfig("feishu-verification-token", None)) == Challenge({"challenge": "c1"})
    with pytest.raises(Refused) as refused:
        parse(plain, {}, config=WebhookConfig("another-token", None))
    assert refused.value.status == 401


def test_encrypted_challenge_needs_no_signature() -> None:
    f = fake()
    body, headers = f.request(f.challenge("c2"))
    assert "X-Lark-Signature" not in headers
    assert parse(body, headers) == Challenge({"challenge": "c2"})


# --- messages -----------------------------------------------------------------------------------------------


def test_group_message_with_mentions() -> None:
    f = fake()
    payload = f.message_event("oc_g1", "ou_pm", "/任务 新增 写发布稿 @李四 截止:周五 抄送 @张三")
    body, headers = f.request(payload)
    result = parse(body, headers)
    assert isinstance(result, Inbound)
    m = result.incoming
    assert m.platform == "feishu" and m.chat_id == "oc_g1" and m.sender_id == "ou_pm" and m.is_group
    assert m.text == "/任务 新增 写发布稿 <@ou_li> 截止:周五 抄送 <@ou_zhang>"
    assert m.mentions == (Mention("ou_li", "李四"), Mention("ou_zhang", "张三"))
    assert m.event_key == payload["event"]["message"]["message_id"] == m.reply_to
    assert abs((m.sent_at - datetime.now(UTC)).total_seconds()) < 5


def test_bot_mention_recognised_before_its_identity_is_known() -> None:
    f = fake()
    body, headers = f.request(f.message_event("oc_g1", "ou_pm", "@李四 的任务 #1 完成"))
    result = parse(body, headers, bot_open_id=None)
    assert isinstance(result, Inbound)
    assert result.incoming.text == "<@ou_li> 的任务 #1 完成"


def test_redelivery_keeps_the_message_id_as_key() -> None:
    f = fake()
    payload = f.message_event("oc_g1", "ou_pm", "#1 完成")
    again = dict(payload, header=dict(payload["header"], event_id="another-event-id"))
    keys = {parse(*f.request(p)).incoming.event_key for p in (payload, again)}
    assert keys == {payload["event"]["message"]["message_id"]}


def test_p2p_and_non_text() -> None:
    f = fake()
    p2p = parse(*f.request(f.message_event("oc_p2p", "ou_pm", "/帮助", at_bot=False, chat_type="p2p")))
    assert isinstance(p2p, Inbound) and p2p.incoming.is_group is False and p2p.incoming.text == "/帮助"
    image = f.message_event("oc_g1", "ou_pm", "", message_type="image", content={"image_key": "img_v2_1"})
    result = parse(*f.request(image))
    assert isinstance(result, Inbound) and result.incoming.kind == "image" and result.incoming.text == ""


def test_the_bots_own_and_app_messages_are_ignored() -> None:
    f = fake()
    own = f.message_event("oc_g1", "ou_tandem_bot", "hello", at_bot=False)
    assert isinstance(parse(*f.request(own)), Ignored)
    app = f.message_event("oc_g1", "ou_pm", "hi")
    app["event"]["sender"]["sender_type"] = "app"
    assert isinstance(parse(*f.request(app)), Ignored)


def test_other_event_types_are_acknowledged_and_ignored() -> None:
    f = fake()
    result = parse(*f.request(f.envelope("im.chat.member.bot.added_v1", {"chat_id": "oc_g1"})))
    assert isinstance(result, Ignored) and result.answer == {}


def test_card_action_with_a_command_is_routed_and_toasted() -> None:
    f = fake()
    payload = f.card_event("oc_g1", "ou_li", "om_card", {"command": "/完成 #3"})
    result = parse(*f.request(payload))
    assert isinstance(result, Inbound)
    assert result.incoming.text == "/完成 #3" and result.incoming.sender_id == "ou_li"
    assert result.incoming.event_key == payload["header"]["event_id"] and result.incoming.reply_to == "om_card"
    assert "toast" in result.answer
    nothing = parse(*f.request(f.card_event("oc_g1", "ou_li", "om_card", {"foo": "bar"})))
    assert isinstance(nothing, Ignored) and nothing.answer["toast"]["type"] == "warning"


# --- refusals ------------------------------------------------------------------------------------------------


def refused(body: bytes, headers: dict[str, str], **kw: Any) -> Refused:
    with pytest.raises(Refused) as info:
        parse(body, headers, **kw)
    return info.value


def test_forged_and_tampered_requests_are_refused() -> None:
    f = fake()
    body, headers = f.request(f.message_event("oc_g1", "ou_pm", "/项目 信息"))
    forged = dict(headers, **{"X-Lark-Signature": "0" * 64})
    assert refused(body, forged).status == 401
    other_key = FeishuFake(encrypt_key="someone else's key")
    assert refused(*other_key.request(other_key.message_event("oc_g1", "ou_pm", "x"))).status == 401
    tampered = body.replace(b'"}', b'A"}')
    assert refused(tampered, headers).status == 401
    unsigned = {k: v for k, v in headers.items() if not k.startswith("X-Lark")}
    assert refused(body, unsigned).status == 401


def test_stale_and_future_timestamps_are_refused() -> None:
    f = fake()
    payload = f.message_event("oc_g1", "ou_pm", "/项目 信息")
    now = datetime.now(UTC)
    old = int((now - timedelta(hours=2)).timestamp())
    assert "stale" in refused(*f.request(payload, timestamp=old)).reason
    future = int((now + timedelta(hours=2)).timestamp())
    assert refused(*f.request(payload, timestamp=future)).status == 401


def test_wrong_verification_token_is_refused() -> None:
    f = fake()
    payload = f.message_event("oc_g1", "ou_pm", "hi")
    payload["header"]["token"] = "not-the-token"
    assert refused(*f.request(payload)).status == 401


def test_malformed_bodies_are_refused() -> None:
    f = fake()
    assert refused(b"{not json", {}).status == 400
    assert refused(b"[1, 2]", {}).status == 400
    assert refused(b'{"encrypt": "%%%not-base64%%%"}', {}).status == 400
    junk = json.dumps({"encrypt": encrypt("hello world", "feishu encrypt key")}).encode()
    _body, headers = f.request(f.message_event("oc_g1", "ou_pm", "hi"))
    assert refused(junk, {}).status in (400, 401)
    plain = json.dumps(f.message_event("oc_g1", "ou_pm", "hi")).encode()
    assert refused(plain, headers).status == 400  # an Encrypt Key is set: plaintext events are not accepted
    no_message = f.message_event("oc_g1", "ou_pm", "hi")
    del no_message["event"]["message"]["message_id"]
    assert refused(*f.request(no_message)).status == 400


def test_v1_events_are_refused_clearly() -> None:
    f = fake()
    v1 = {
        "ts": "1502199207.7171419",
        "uuid": "bc447199585340d1f3728d26b1c0297a",
        "token": f.verification_token,
        "type": "event_callback",
        "event": {"type": "message", "text": "hi"},
    }
    error = refused(*f.request(v1))
    assert error.status == 400 and "v1" in error.reason and "2.0" in error.reason


def test_without_encrypt_key_plain_events_are_checked_by_token() -> None:
    f = FeishuFake(encrypt_key=None)
    config = WebhookConfig(verification_token=f.verification_token, encrypt_key=None)
    body, headers = f.request(f.message_event("oc_g1", "ou_pm", "hi"))
    assert isinstance(parse(body, headers, config=config), Inbound)
    forged = json.loads(body)
    forged["header"]["token"] = "guess"
    with pytest.raises(Refused):
        parse(json.dumps(forged).encode(), headers, config=config)
    encrypted = json.dumps({"encrypt": encrypt("{}", "k")}).encode()
    assert refused(encrypted, {}, config=config).status == 400


# --- rendering ----------------------------------------------------------------------------------------------


def test_render_text_with_mentions_and_card_for_reports() -> None:
    msg_type, content = render(Reply("已创建任务 #1，负责人 <@ou_li>", mentions=(Mention("ou_li", "李四"),)))
    assert msg_type == "post"
    assert json.loads(content) == {
        "zh_cn": {"content": [[{"tag": "text", "text": "已创建任务 #1，负责人 "}, {"tag": "at", "user_id": "ou_li"}]]}
    }
    # issue 9: a marker is a mention only when the reply lists the person (see test_markup.py)
    msg_type, content = render(Reply("第一行\n<@ou_li> 逾期", title="周报", style="report", mentions=(Mention("ou_li", "李四"),)))
    card = json.loads(content)
    assert msg_type == "interactive" and card["schema"] == "2.0"
    assert card["header"]["title"]["content"] == "周报"
    assert card["body"]["elements"][0]["content"] == "第一行\n<at id=ou_li></at> 逾期"


def test_unsigned_bodies_cannot_be_used_as_a_padding_oracle() -> None:
    f = fake()
    body, _ = f.request(f.message_event("oc_g1", "ou_pm", "hi"))
    ciphertext = json.loads(body)["encrypt"]
    raw = bytearray(base64.b64decode(ciphertext))
    raw[-17] ^= 0x01  # breaks the padding of the last block
    bad_padding = json.dumps({"encrypt": base64.b64encode(bytes(raw)).decode()}).encode()
    not_json = json.dumps({"encrypt": encrypt("hello world", "feishu encrypt key")}).encode()
    answers = {(refused(b, {}).status, refused(b, {}).reason) for b in (bad_padding, not_json)}
    assert len(answers) == 1
