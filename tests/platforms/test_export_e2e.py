"""/导出 end to end: the workbook is uploaded to the fake Feishu / DingTalk and posted as a file message."""

from __future__ import annotations

import io
import json

import openpyxl

from tests.platforms.conftest import Tandem

PLAN = [
    "/项目 创建 新品发布会 截止:2026-12-30",
    "/任务 新增 订场地 开始:2026-11-24 截止:2026-12-10",
    "/任务 新增 写发布稿 截止:2026-12-15 依赖:#1",
]


def _titles(data: bytes) -> list[str]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [row[1] for row in list(book["任务分工表"].iter_rows(values_only=True))[1:]]


def test_feishu_export_is_an_uploaded_file_then_a_file_message(tandem: Tandem) -> None:
    f = tandem.feishu
    pm = f.add_user("ou_pm", "王经理")
    for i, text in enumerate(PLAN, 1):
        tandem.feishu_say("oc_g1", pm, text)
        f.wait_for(i, chat_id="oc_g1")
    tandem.feishu_say("oc_g1", pm, "/导出")
    posted = f.wait_for(len(PLAN) + 2, chat_id="oc_g1")
    reply, file = posted[len(PLAN)], posted[len(PLAN) + 1]
    assert "已导出项目台账" in reply.text
    assert file.msg_type == "file"
    name, data = f.files[file.content["file_key"]]
    upload = f.uploads[-1]
    assert upload["file_type"] == "xls" and upload["file_name"] == name and name.endswith(".xlsx")
    assert _titles(data) == ["订场地", "写发布稿"]


def test_dingtalk_export_is_a_media_upload_then_a_file_message(tandem: Tandem) -> None:
    d = tandem.dingtalk
    pm = d.add_user("staff_pm", "王经理")
    for i, text in enumerate(PLAN, 1):
        tandem.dingtalk_say("cidG1==", pm, text)
        d.wait_for(i, conversation_id="cidG1==")
    tandem.dingtalk_say("cidG1==", pm, "/导出")
    sent = d.wait_for(len(PLAN) + 2, conversation_id="cidG1==")
    reply, file = sent[len(PLAN)], sent[len(PLAN) + 1]
    assert "已导出项目台账" in reply.text
    assert file.via == "group" and file.msgtype == "sampleFile"
    assert d.uploads[-1]["type"] == "file"
    request = [r for r in d.requests if r["via"] == "group"][-1]["body"]
    param = json.loads(request["msgParam"])
    assert param["fileType"] == "xlsx" and param["fileName"].endswith(".xlsx")
    assert _titles(d.media[param["mediaId"]]) == ["订场地", "写发布稿"]
