"""The close-out report and the template preview as Feishu would get them: cards within Feishu's rules
(`tests/fakes/feishu.card_problem`), the preview's 确认 a button that runs the confirmation."""

from __future__ import annotations

import json

from sqlalchemy import select

from bot.messages import Reply
from bot.platforms.feishu.cards import button_values
from bot.platforms.feishu.outbound import render
from models import OutboundMessage
from tests.chat import ConsoleChat
from tests.fakes.feishu import card_problem
from tests.handlers.test_closeout_report import known_project
from tests.handlers.test_templates import source
from tests.scheduling import sh

PM = "王经理"


def last_reply(chat: ConsoleChat) -> Reply:
    with chat.runtime.session_factory() as session:
        row = session.scalars(select(OutboundMessage).order_by(OutboundMessage.id.desc()).limit(1)).one()
        return Reply.from_payload(row.body)


def card_of(reply: Reply) -> dict:
    msg_type, content = render(reply)
    assert msg_type == "interactive"
    card = json.loads(content)
    assert card_problem(card) is None and len(content.encode()) <= 30 * 1024
    return card


def test_the_close_out_report_is_a_card(chat: ConsoleChat) -> None:
    known_project(chat)
    chat.say("/项目 结项 确认", name=PM, at=sh("2026-12-01 22:00"))
    text = json.dumps(card_of(last_reply(chat)), ensure_ascii=False)
    assert "项目总结报告" in text and "按时完成率" in text and "里程碑偏差" in text


def test_the_template_preview_is_a_card_whose_button_confirms(chat: ConsoleChat) -> None:
    chat.say("/项目 创建 新品发布会 部门:研发部,市场部,设计部", name=PM)
    chat.say("/成员 添加 @李四 @赵六 部门:研发部", name=PM)
    chat.say("/成员 添加 @张三 部门:市场部", name=PM)
    source(chat)
    chat.say("/项目 存为模板 发布会模板", name=PM)
    other = ConsoleChat(chat.runtime, chat.clock, chat_id="g2")
    other.say("/项目 创建 秋季发布会 模板:发布会模板 开始:2026-09-29", name="钱主管")
    values = button_values(card_of(last_reply(other)))
    assert [v["command"] for v in values] == ["确认"]
    assert "已按模板“发布会模板”创建项目“秋季发布会”" in other.say(values[0]["command"], name="钱主管")
