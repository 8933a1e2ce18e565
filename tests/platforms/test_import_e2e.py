"""/导入 end to end: a spreadsheet sent as a file message to the fake Feishu, downloaded by the bot (tenant
token, the message's resource) when a PM replies `@Tandem /导入` to it, previewed, confirmed, written."""

from __future__ import annotations

from sqlalchemy import select

from models import Task
from tests.handlers.test_sheet_import import xlsx
from tests.platforms.conftest import Tandem

PLAN = xlsx(("分工表", [
    ["新品发布会 跨部门任务分工表"],
    ["序号", "任务", "责任人", "配合部门", "起止时间", "交付物", "前置任务"],
    ["1", "订场地", "王经理", "研发部", "12/1-12/10", "场地合同", None],
    ["2", "写发布稿", "王经理", "研发部、市场部", "12/5-12/15", "发布稿", "订场地"],
    ["3", "彩排", "陌生人", "市场部", "12/18-12/19", None, "2"],
]))


def setup(tandem: Tandem) -> str:
    f = tandem.feishu
    pm = f.add_user("ou_pm", "王经理")
    for i, text in enumerate(["/项目 创建 新品发布会 截止:2026-12-30 部门:研发部,市场部"], 1):
        tandem.feishu_say("oc_g1", pm, text)
        f.wait_for(i, chat_id="oc_g1")
    return pm


def test_a_reply_to_a_file_message_imports_it(tandem: Tandem) -> None:
    f = tandem.feishu
    pm = setup(tandem)
    file_message = f.file_event("oc_g1", pm, "分工表.xlsx", PLAN)
    message_id = file_message["event"]["message"]["message_id"]
    # In a group Feishu delivers only what @-mentions the bot: the PM replies to the file message.
    assert tandem.feishu_say("oc_g1", pm, "/导入", parent_id=message_id).status_code == 200
    preview = f.wait_for(2, chat_id="oc_g1")[1].text
    assert "导入预览：分工表.xlsx" in preview and "新增 2 个，更新 0 个，不变 0 个；有问题 1 行。" in preview
    assert "第 5 行 责任人“陌生人”" in preview
    assert [(d["message_id"], d["type"], d["status"]) for d in f.downloads] == [(message_id, "file", 200)]
    tandem.feishu_say("oc_g1", pm, "/导入 确认")
    done = f.wait_for(3, chat_id="oc_g1")[2].text
    assert "新增 2 个任务（#1–#2）" in done
    with tandem.runtime.session_factory() as session:
        tasks = {t.title: t for t in session.scalars(select(Task))}
        assert set(tasks) == {"订场地", "写发布稿"}
        assert [p.title for p in tasks["写发布稿"].predecessors] == ["订场地"]
        assert [d.name for d in tasks["写发布稿"].departments] == ["研发部", "市场部"]


def test_a_file_message_on_its_own_and_other_replies(tandem: Tandem) -> None:
    f = tandem.feishu
    pm = setup(tandem)
    # Delivered only with the group-message permission: a spreadsheet on its own is previewed.
    tandem.post_feishu(f.file_event("oc_g1", pm, "分工表.xlsx", PLAN))
    assert "新增 2 个" in f.wait_for(2, chat_id="oc_g1")[1].text
    # A PDF on its own is not fetched (the usual answer to a non-text message).
    other = f.file_event("oc_g1", pm, "方案.pdf", b"%PDF-1.4")
    other_id = other["event"]["message"]["message_id"]
    tandem.post_feishu(other)
    assert "只看得懂文字消息" in f.wait_for(3, chat_id="oc_g1")[2].text
    # A reply about something else does not fetch the file it replies to.
    tandem.feishu_say("oc_g1", pm, "/任务 列表", parent_id=other_id)
    f.wait_for(4, chat_id="oc_g1")
    assert [d["message_id"] for d in f.downloads if d["message_id"] == other_id] == []
    # /导入 on a non-spreadsheet: a clear answer.
    tandem.feishu_say("oc_g1", pm, "/导入", parent_id=other_id)
    assert "只能导入 .xlsx 或 .csv 表格" in f.wait_for(5, chat_id="oc_g1")[4].text
    # /导入 replying to a message that is no file.
    text_id = f.wait_for(5, chat_id="oc_g1")[0].reply_to
    assert text_id is not None
    tandem.feishu_say("oc_g1", pm, "/导入", parent_id=text_id)
    assert "回复的那条消息不是文件" in f.wait_for(6, chat_id="oc_g1")[5].text


def test_a_file_over_the_limit_is_refused_before_it_is_read(tandem: Tandem) -> None:
    f = tandem.feishu
    pm = setup(tandem)
    big = f.file_event("oc_g1", pm, "大表.xlsx", b"PK\x03\x04" + b"0" * (6 * 1024 * 1024))
    tandem.feishu_say("oc_g1", pm, "/导入", parent_id=big["event"]["message"]["message_id"])
    text = f.wait_for(2, chat_id="oc_g1")[1].text
    assert "大表.xlsx" in text and "导入最多 5 MB" in text


def test_dingtalk_a_file_sent_to_the_robot_and_a_quoting_reply(tandem: Tandem) -> None:
    d = tandem.dingtalk
    pm = d.add_user("staff_pm", "王经理")
    tandem.dingtalk_say("cidG1==", pm, "/项目 创建 新品发布会 截止:2026-12-30 部门:研发部,市场部")
    d.wait_for(1, conversation_id="cidG1==")
    file = d.file_message("cidG1==", pm, "分工表.xlsx", PLAN)
    assert tandem.post_dingtalk(file).status_code == 200
    preview = d.wait_for(2, conversation_id="cidG1==")[1].text
    assert "导入预览：分工表.xlsx" in preview and "新增 2 个，更新 0 个，不变 0 个；有问题 1 行。" in preview
    assert [(x["step"], x["status"]) for x in d.downloads] == [("api", 200), ("url", 200)]
    # `@Tandem /导入` quoting the file message: the quoted file is downloaded again.
    tandem.post_dingtalk(d.quoting(d.message("cidG1==", pm, "/导入"), file))
    assert "导入预览：分工表.xlsx" in d.wait_for(3, conversation_id="cidG1==")[2].text
    tandem.dingtalk_say("cidG1==", pm, "/导入 确认")
    assert "新增 2 个任务（#1–#2）" in d.wait_for(4, conversation_id="cidG1==")[3].text
    assert tandem.count(Task) == 2
