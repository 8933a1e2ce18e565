"""Structured replies: what they carry survives the outbox, and every renderer shows all of it."""

from __future__ import annotations

import json

from bot.messages import Attachment, Button, Field, Mention, Reply, Section, Table
from bot.platforms import dingtalk, feishu
from bot.platforms.feishu import cards as feishu_cards

PNG = b"\x89PNG\r\n\x1a\n fake"

REPLY = Reply(
    "请 <@ou_li> 更新：",
    title="今日进度更新",
    mentions=(Mention("ou_li", "李四"), Mention("ou_wang", "王五")),
    sections=(
        Section("李四（2 项）", lines=("#1 写发布稿", "#2 订场地"), buttons=(Button("完成", "/完成 #1", ("ou_li",), "primary"),)),
        Section("概况", fields=(Field("负责人", "<@ou_wang>"), Field("截止", "12-04(周五)"))),
        Section(table=Table(("任务", "状态"), (("#1", "进行中"), ("#2", "待开始")))),
    ),
    buttons=(Button("查看列表", "/任务 列表"),),
    attachments=(Attachment("image", "gantt.png", "image/png", PNG),),
)


def test_a_structured_reply_survives_the_outbox_payload() -> None:
    payload = json.loads(json.dumps(REPLY.to_payload()))  # the outbox stores JSON
    assert Reply.from_payload(payload) == REPLY


def test_a_picture_still_to_draw_travels_as_its_drawing_not_as_bytes() -> None:
    drawing = {"kind": "progress", "rows": {"project_name": "发布会", "days": ["2026-11-23"]}}
    reply = Reply("周报", attachments=(Attachment("image", "progress.png", "image/png", drawing=drawing), *REPLY.attachments))
    assert reply.undrawn and not REPLY.undrawn
    payload = json.loads(json.dumps(reply.to_payload()))
    assert [sorted(a) for a in payload["attachments"]] == [
        ["drawing", "kind", "media_type", "name"], ["data", "kind", "media_type", "name"]
    ]
    assert Reply.from_payload(payload) == reply


def test_a_reply_stored_before_structure_existed_still_reads() -> None:
    old = {"text": "已新增 #1", "title": None, "mentions": [], "style": "text", "extra": {}}
    assert Reply.from_payload(old) == Reply("已新增 #1")


def test_the_plain_text_shows_sections_fields_tables_buttons_and_attachments() -> None:
    assert REPLY.plain_text().splitlines() == [
        "【今日进度更新】",
        "请 @李四 更新：",
        "李四（2 项）",
        "#1 写发布稿",
        "#2 订场地",
        "可以回复：/完成 #1（完成）",
        "概况",
        "负责人：@王五",
        "截止：12-04(周五)",
        "| 任务 | 状态 |",
        "| #1 | 进行中 |",
        "| #2 | 待开始 |",
        "可以回复：/任务 列表（查看列表）",
        "[图片：gantt.png]",
    ]
    assert REPLY.mentioned_ids() == ["ou_li", "ou_wang"]


def test_an_unstructured_reply_renders_exactly_as_before() -> None:
    reply = Reply("#1 写发布稿 → 已完成\n可以开始：#2（<@ou_li>）", mentions=(Mention("ou_li", "李四"),))
    assert not reply.rich
    kind, content = feishu.render(reply)
    assert kind == "post"  # issue 9: a text message would read markup out of typed text
    assert json.loads(content)["zh_cn"]["content"] == [
        [{"tag": "text", "text": "#1 写发布稿 → 已完成"}],
        [{"tag": "text", "text": "可以开始：#2（"}, {"tag": "at", "user_id": "ou_li"}, {"tag": "text", "text": "）"}],
    ]
    assert dingtalk.session_body(reply)["text"]["content"] == "#1 写发布稿 → 已完成\n可以开始：#2（@ou_li）"


def test_feishu_and_dingtalk_render_every_section() -> None:
    kind, content = feishu.render(REPLY)
    card = json.loads(content)
    assert kind == "interactive" and card["header"]["title"]["content"] == "今日进度更新"
    markdown = "\n".join(e["content"] for e in card["body"]["elements"] if e["tag"] == "markdown")
    for piece in ("**李四（2 项）**", "#2 订场地", "负责人：<at id=ou_wang></at>", "| #2 | 待开始 |"):
        assert piece in markdown
    # buttons are real buttons since issue 11, carrying the command they run
    assert any(v["command"] == "/完成 #1" for v in feishu_cards.button_values(card)) and "/完成 #1" not in markdown
    body = dingtalk.session_body(REPLY)
    assert body["msgtype"] == "markdown" and body["at"]["atUserIds"] == ["ou_li", "ou_wang"]
    assert "**概况**" in body["markdown"]["text"] and "负责人：@ou_wang" in body["markdown"]["text"]
    key, param = dingtalk.api_message(REPLY)
    assert key == "sampleMarkdown" and "负责人：@王五" in json.loads(param)["text"]
