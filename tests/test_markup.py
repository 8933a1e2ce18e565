"""Nothing typed becomes markup or a mention (issue 9): the neutral rules and each renderer's output."""

from __future__ import annotations

import json
import re

import pytest

from bot.markup import defuse_markers, markdown_literal
from bot.messages import Mention, Reply, Section, Table
from bot.platforms import dingtalk, feishu
from bot.platforms.console import console_incoming
from tests.fakes.feishu import _valid_post

TYPED = [
    '<at user_id="all">所有人</at>',
    "**粗体**",
    "[链接](http://x)",
    "# 标题",
    "<@all>",
    "<@ou_boss>",
    "![图](http://x/a.png)",
    "<font color=red>红</font>",
    "- 列表",
    "> 引用",
    "a | b",
    "`代码`",
    "~~删~~",
]
MARKUP = re.compile(r"\*\*|\[[^\]]*\]\(|<at\b|<font|<@|^\s*#+ |^\s*[->] |`|~~|\|", re.MULTILINE)


def reply_with(typed: str, *, rich: bool) -> Reply:
    """A reply repeating stored text next to a real mention of 李四, as prompts and lists do."""
    return Reply(
        f"#3 {typed} · <@ou_li>",
        mentions=(Mention("ou_li", "李四"),),
        title="今日进度更新 · 发布会" if rich else None,
        style="report" if rich else "text",
        sections=(Section(f"分组 {typed}", lines=(f"#4 {typed}",), table=Table(("任务", "备注"), ((f"#5 {typed}", typed),))),)
        if rich
        else (),
    )


@pytest.mark.parametrize("typed", TYPED)
def test_markdown_literal_leaves_no_markup(typed: str) -> None:
    shown = markdown_literal(typed)
    assert not MARKUP.search(shown), shown
    assert re.sub(r"\W", "", shown.translate(str.maketrans("＊＿～｀［］＜＞｜＃－＋＝．", "*_~`[]<>|#-+=."))) == re.sub(
        r"\W", "", typed
    )  # the same words, only the markup characters swapped for look-alikes


def test_own_refs_at_the_start_of_a_line_stay_as_they_are() -> None:
    assert markdown_literal("#12 写发布稿\n  #3 订场地 · 截止12-04") == "#12 写发布稿\n  #3 订场地 · 截止12-04"


def test_typed_markers_are_defused_before_platform_mentions_become_markers() -> None:
    assert defuse_markers("请 <@all> 看 <@ou_x>") == "请 ＜@all> 看 ＜@ou_x>"
    incoming = console_incoming("/任务 新增 <@all> 写稿 @all @李四", chat_id="c", user_id="pm", name="PM", at=_now())
    assert incoming.mentions == (Mention("李四", "李四", typed=True),)  # a console @ is typed (names, never vouches)
    assert "<@all>" not in incoming.text and "<@李四>" in incoming.text


def test_a_marker_mentions_only_people_the_reply_lists_and_never_everyone() -> None:
    reply = Reply("<@ou_li> <@ou_boss> <@all>", mentions=(Mention("ou_li", "李四"), Mention("all", "所有人")))
    assert reply.mentioned_ids() == ["ou_li"]
    assert reply.plain_text() == "@李四 <@ou_boss> <@all>"


@pytest.mark.parametrize("typed", TYPED)
def test_feishu_post_shows_typed_text_in_text_nodes_without_markup(typed: str) -> None:
    kind, content = feishu.render(reply_with(typed, rich=False))
    post = json.loads(content)
    assert kind == "post" and _valid_post(post)
    nodes = [n for p in post["zh_cn"]["content"] for n in p]
    assert [n["user_id"] for n in nodes if n["tag"] == "at"] == ["ou_li"]
    assert {n["tag"] for n in nodes} == {"text", "at"}
    shown = "".join(n.get("text", "") for n in nodes)
    assert shown == markdown_literal(f"#3 {defuse_markers(typed)} · ") and not MARKUP.search(shown)


@pytest.mark.parametrize("typed", TYPED)
def test_feishu_card_markdown_has_no_markup_but_ours(typed: str) -> None:
    kind, content = feishu.render(reply_with(typed, rich=True))
    card = json.loads(content)
    elements = card["body"]["elements"]
    markdown = "\n".join(e["content"] for e in elements if e["tag"] == "markdown")
    assert kind == "interactive" and re.findall(r"<at id=([^>]+)></at>", markdown) == ["ou_li"]
    ours = strip_ours(markdown.replace("<at id=ou_li></at>", ""))
    assert not MARKUP.search(ours), markdown
    # the section's table is Feishu's table component: plain-text cells, typed text as look-alikes
    (table,) = [e for e in elements if e["tag"] == "table"]
    assert [c["display_name"] for c in table["columns"]] == ["任务", "备注"]
    assert all(c["data_type"] == "text" for c in table["columns"])
    assert not MARKUP.search(" ".join(table["rows"][0].values())), table["rows"]
    assert card["header"]["title"] == {"tag": "plain_text", "content": "今日进度更新 · 发布会"}


@pytest.mark.parametrize("typed", TYPED)
def test_dingtalk_bodies_have_no_markup_but_ours(typed: str) -> None:
    text_body = dingtalk.session_body(reply_with(typed, rich=False))
    assert text_body["msgtype"] == "text" and text_body["at"]["atUserIds"] == ["ou_li"]
    assert not MARKUP.search(text_body["text"]["content"].replace("@ou_li", ""))
    body = dingtalk.session_body(reply_with(typed, rich=True))
    markdown = body["markdown"]["text"]
    assert body["at"]["atUserIds"] == ["ou_li"] and body["markdown"]["title"] == "今日进度更新 · 发布会"
    assert not MARKUP.search(strip_ours(markdown)), markdown
    assert "|" not in markdown  # DingTalk renders no tables: rows are list items
    _, param = dingtalk.api_message(reply_with(typed, rich=True))
    assert not MARKUP.search(strip_ours(json.loads(param)["text"]))


def strip_ours(markdown: str) -> str:
    """The markdown without the markup our renderers add: the title heading, bold section headings and
    the list items a table becomes (what remains must hold no markup at all)."""
    text = re.sub(r"^#### ", "", markdown)
    text = re.sub(r"^\*\*(.*)\*\*( *)$", r"\1", text, flags=re.MULTILINE)
    return re.sub(r"^- ", "", text, flags=re.MULTILINE)


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime(2026, 12, 1, 9, tzinfo=UTC)


def test_underscores_and_backslashes_inside_words_stay_as_typed() -> None:
    assert markdown_literal("oc_fan000 v2_final.docx C:\\dir\\x") == "oc_fan000 v2_final.docx C:\\dir\\x"
    assert markdown_literal("_斜体_ __粗__ a\\*b") == "＿斜体＿ ＿＿粗＿＿ a＼＊b"
