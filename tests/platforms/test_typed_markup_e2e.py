"""Typed markup through the whole app into the fake Feishu and DingTalk (issue 9): a task titled with
mention tags, bold, a link, a heading and `<@all>` is shown as text in every reply that repeats it, and
only the platform's own mention of 李四 becomes a mention."""

from __future__ import annotations

import re

from bot.markup import markdown_literal
from tests.platforms.conftest import Tandem
from tests.test_markup import MARKUP, strip_ours

TITLE = '<at user_id="all">所有人</at> **粗体** [链接](http://x) # 标题 <@all> <@ou_pm>'
WORDS = ("所有人", "粗体", "链接", "标题")


def test_feishu_shows_typed_markup_as_text(tandem: Tandem) -> None:
    f = tandem.feishu
    pm = f.add_user("ou_pm", "王经理")
    f.add_user("ou_li", "李四")
    steps = [
        (pm, "/项目 创建 发布会"),
        (pm, f"/任务 新增 {TITLE} @李四 截止:2026-12-04"),
        (pm, "/任务 列表"),
        (pm, "/周报"),
    ]
    for i, (sender, text) in enumerate(steps, 1):
        assert tandem.feishu_say("oc_m", sender, text).status_code == 200
        f.wait_for(i, chat_id="oc_m")
    added, listing, weekly = f.wait_for(4, chat_id="oc_m")[1:4]  # then the weekly report's pictures
    assert added.msg_type == "post" and added.at_user_ids == ["ou_li"]  # the real mention; nobody else, never "all"
    shown = "".join(n.get("text", "") for p in added.paragraphs for n in p)
    # in a text node, the typed markers defused on the way in, the markup characters as look-alikes
    assert markdown_literal(TITLE.replace("<@", "＜@")) in shown and not MARKUP.search(shown)
    for card in (listing, weekly):
        assert card.msg_type == "interactive" and "all" not in card.at_user_ids
        elements = card.content["body"]["elements"]
        markdown = "\n".join(e["content"] for e in elements if e["tag"] == "markdown")
        # the weekly table is Feishu's table component: plain-text cells, typed markup as look-alikes
        cells = [v for e in elements if e["tag"] == "table" for row in e["rows"] for v in row.values()]
        assert all(w in markdown + "\n".join(cells) for w in WORDS[:1]), markdown  # titles are shortened in lists
        assert not any(MARKUP.search(c) for c in cells), cells
        text = "\n".join(line for line in strip_ours(markdown).splitlines() if not line.startswith("|"))
        assert not MARKUP.search(re.sub(r"<at id=ou_li></at>", "", text)), markdown
        table = [line for line in markdown.splitlines() if line.startswith("|")]
        assert all(line.count("|") == table[0].count("|") for line in table)  # typed pipes do not add columns


def test_dingtalk_shows_typed_markup_as_text(tandem: Tandem) -> None:
    d = tandem.dingtalk
    pm = d.add_user("staff_pm", "王经理")
    d.add_user("staff_li", "李四")
    steps = [
        (pm, "/项目 创建 发布会"),
        (pm, f"/任务 新增 {TITLE.replace('ou_pm', 'staff_pm')} @李四 截止:2026-12-04"),
        (pm, "/任务 列表"),
        (pm, "/周报"),
    ]
    for i, (sender, text) in enumerate(steps, 1):
        assert tandem.dingtalk_say("cidM==", sender, text).status_code == 200
        d.wait_for(i, conversation_id="cidM==")
    added, listing, weekly = d.wait_for(4, conversation_id="cidM==")[1:4]  # then the weekly report's pictures
    assert added.msgtype == "text" and added.at_user_ids == ["staff_li"]
    assert markdown_literal(TITLE.replace("ou_pm", "staff_pm").replace("<@", "＜@")) in added.text
    bodies = [r["body"] for r in d.requests if r["via"] == "session" and r["body"]["msgtype"] == "markdown"]
    assert [listing.msgtype, weekly.msgtype] == ["markdown", "markdown"] and len(bodies) == 2
    for body in bodies:
        assert "at" not in body or body["at"]["atUserIds"] == [] or "all" not in body["at"]["atUserIds"]
        markdown = body["markdown"]["text"]
        assert all(w in markdown for w in WORDS[:1]) and "|" not in markdown  # no pipe table on DingTalk
        assert not MARKUP.search(strip_ours(markdown.replace("  \n", "\n"))), markdown
