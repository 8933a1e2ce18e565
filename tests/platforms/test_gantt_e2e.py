"""/甘特图 end to end: the PNG is uploaded to the fake Feishu / DingTalk as multipart and then posted as an
image message (after the reply's text)."""

from __future__ import annotations

import asyncio
import io
import json
import uuid as uuidlib
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.db import make_session_factory
from bot.delivery import OutboxSender
from bot.messages import Attachment, Reply
from bot.outbox import enqueue
from bot.platforms import OutgoingMessage, PermanentError
from bot.platforms.dingtalk.outbound import DingTalkApi
from bot.platforms.feishu.outbound import FeishuApi
from bot.writes import Writes
from models import OutboundMessage, OutboundStatus
from reports import drawings
from tests.fakes.dingtalk import DingTalkFake
from tests.fakes.feishu import FeishuFake
from tests.platforms.conftest import Tandem, wait_until

PLAN = [
    "/项目 创建 新品发布会 截止:2026-12-30",
    "/任务 新增 订场地 开始:2026-11-20 截止:2026-12-10",
    "/任务 新增 写发布稿 截止:2026-12-15 依赖:#1",
    "/任务 新增 审稿 截止:2026-12-16 父:#2",
]


def _valid_png(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(data))
    image.verify()
    return image.size


def test_feishu_gantt_is_an_uploaded_png_then_an_image_message(tandem: Tandem) -> None:
    f = tandem.feishu
    pm = f.add_user("ou_pm", "王经理")
    for i, text in enumerate(PLAN, 1):
        tandem.feishu_say("oc_g1", pm, text)
        f.wait_for(i, chat_id="oc_g1")
    tandem.feishu_say("oc_g1", pm, "/甘特图")
    posted = f.wait_for(len(PLAN) + 2, chat_id="oc_g1")
    reply, image = posted[len(PLAN)], posted[len(PLAN) + 1]
    assert "甘特图" in reply.text and "共 3 个任务" in reply.text
    assert image.msg_type == "image" and image.reply_to == reply.reply_to  # quotes the same message
    key = image.content["image_key"]
    assert key in f.images
    upload = f.uploads[-1]
    assert upload["image_type"] == "message" and upload["fields"] == ["image", "image_type"]
    assert upload["filename"] == "gantt.png" and upload["content_type"] == "image/png"
    width, height = _valid_png(f.images[key])
    assert width >= 1200 and height > 200


def test_dingtalk_gantt_is_a_media_upload_then_an_image_message(tandem: Tandem) -> None:
    d = tandem.dingtalk
    pm = d.add_user("staff_pm", "王经理")
    for i, text in enumerate(PLAN, 1):
        tandem.dingtalk_say("cidG1==", pm, text)
        d.wait_for(i, conversation_id="cidG1==")
    tandem.dingtalk_say("cidG1==", pm, "/甘特图")
    sent = d.wait_for(len(PLAN) + 2, conversation_id="cidG1==")
    reply, image = sent[len(PLAN)], sent[len(PLAN) + 1]
    assert reply.via == "session" and "甘特图" in reply.text
    assert image.via == "group" and image.msgtype == "sampleImageMsg"
    upload = d.uploads[-1]
    assert upload["type"] == "image" and upload["fields"] == ["media", "type"] and upload["filename"] == "gantt.png"
    request = [r for r in d.requests if r["via"] == "group"][-1]["body"]
    media_id = json.loads(request["msgParam"])["photoURL"]
    assert media_id == image.text and media_id in d.media
    _valid_png(d.media[media_id])


def test_a_failed_upload_posts_nothing_until_the_retry_succeeds(tandem: Tandem, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[bytes] = []

    def draw(drawing: dict[str, Any]) -> bytes:
        drawn.append(real_draw(drawing))
        return drawn[-1]

    real_draw = drawings.draw
    monkeypatch.setattr(drawings, "draw", draw)
    f = tandem.feishu
    pm = f.add_user("ou_pm", "王经理")
    tandem.feishu_say("oc_g2", pm, PLAN[0])
    tandem.feishu_say("oc_g2", pm, PLAN[1])
    f.wait_for(2, chat_id="oc_g2")
    f.fail_next("500")  # the upload is the first call of the next send
    tandem.feishu_say("oc_g2", pm, "/甘特图")
    posted = f.wait_for(4, chat_id="oc_g2")
    assert [p.msg_type for p in posted[2:]] == ["interactive", "image"]  # once each, after the retry
    tandem.settle()
    assert len(f.texts("oc_g2")) == 4
    assert [u.get("size", 0) > 0 for u in f.uploads] == [False, True]  # refused once (500), then uploaded
    assert len(drawn) == 1  # drawn once, after the commit: the retry uploads the same picture
    assert f.images[posted[3].content["image_key"]] == drawn[0]


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), "white").save(buffer, format="PNG")
    return buffer.getvalue()


def _private(platform: str, user: str) -> OutgoingMessage:
    reply = Reply("周报", title="进度跟踪表", attachments=(Attachment("image", "progress.png", "image/png", _png()),))
    return OutgoingMessage(1, platform, "", reply, uuidlib.uuid4().hex, 0, to_user_id=user)


async def test_private_posts_carry_their_images_too(feishu: FeishuFake, dingtalk: DingTalkFake) -> None:
    """The weekly digest goes privately to the PM: image messages follow it to the same person."""
    feishu_api = FeishuApi(app_id=feishu.app_id, app_secret=feishu.app_secret, base_url=feishu.url)
    try:
        await feishu_api.send(_private("feishu", "ou_pm"))
    finally:
        await feishu_api.aclose()
    kinds = [(p.msg_type, p.receive_id_type, p.receive_id) for p in feishu.posted]
    assert kinds == [("interactive", "open_id", "ou_pm"), ("image", "open_id", "ou_pm")]
    dingtalk.add_user("staff_pm", "王经理")
    ding_api = DingTalkApi(client_id=dingtalk.client_id, client_secret=dingtalk.client_secret, base_url=dingtalk.base_url,
                           oapi_url=dingtalk.base_url)
    try:
        await ding_api.send(_private("dingtalk", "staff_pm"))
    finally:
        await ding_api.aclose()
    assert [(s.via, s.msgtype, s.user_ids) for s in dingtalk.sent] == [
        ("oto", "sampleMarkdown", ["staff_pm"]), ("oto", "sampleImageMsg", ["staff_pm"])
    ]
    assert dingtalk.sent[1].text in dingtalk.media


async def test_an_image_the_platform_refuses_is_a_permanent_failure(feishu: FeishuFake) -> None:
    api = FeishuApi(app_id=feishu.app_id, app_secret=feishu.app_secret, base_url=feishu.url)
    message = _private("feishu", "ou_pm")
    bad = replace(message.reply, attachments=(Attachment("image", "x.png", "image/png", b"not an image"),))
    try:
        with pytest.raises(PermanentError):
            await api.send(replace(message, reply=bad))
    finally:
        await api.aclose()
    assert feishu.posted == []  # nothing was posted before the upload failed


async def test_a_drawing_that_cannot_be_drawn_fails_like_a_send_and_posts_nothing(engine: Engine, feishu: FeishuFake) -> None:
    factory = make_session_factory(engine)
    broken = Attachment("image", "gantt.png", "image/png", drawing={"kind": "gantt-page", "rows": {"page": "x"}})
    with factory.begin() as session:
        enqueue(session, platform="feishu", chat_id="oc_g3", reply=Reply("甘特图：", attachments=(broken,)), origin="test",
                now=datetime.now(UTC))
    api = FeishuApi(app_id=feishu.app_id, app_secret=feishu.app_secret, base_url=feishu.url)
    sender = OutboxSender(Writes(factory), {"feishu": api}, poll_seconds=0.05, max_attempts=2)
    sender.start()
    try:
        await asyncio.to_thread(wait_until, lambda: _row(factory).status == OutboundStatus.FAILED)
    finally:
        await sender.stop()
        await api.aclose()
    row = _row(factory)
    assert row.attempts == 2 and "drawing failed" in (row.last_error or "")
    assert feishu.posted == [] and feishu.uploads == []


def _row(factory: sessionmaker[Session]) -> OutboundMessage:
    with factory() as session:
        return session.scalars(select(OutboundMessage)).one()
