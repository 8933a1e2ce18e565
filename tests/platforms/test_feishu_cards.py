"""Feishu cards from neutral replies (issue 11): the daily prompt's per-task buttons, forms for the
commands that need words, Feishu's limits (the fake's own check of a 2.0 card), and the callbacks a
form sends."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from bot.messages import Button, Reply, Section
from bot.platforms import Ignored, Inbound
from bot.platforms.feishu import cards
from bot.platforms.feishu.inbound import normalise
from bot.platforms.feishu.outbound import render
from models import Role, TaskStatus
from reports.records import MemberRow, TaskRow
from reports.rows import DailyPrompt, OwnerTasks
from reports.text import daily_prompt
from tests.fakes.feishu import FeishuFake, card_problem

TODAY = date(2026, 11, 23)


def member(n: int) -> MemberRow:
    return MemberRow(id=n, project_id=1, user_id=f"ou_{n}", name=f"同事{n}", role=Role.MEMBER)


def task(number: int, owner: MemberRow, status: TaskStatus = TaskStatus.TODO) -> TaskRow:
    return TaskRow(
        id=number, project_id=1, number=number, title=f"任务{number}", status=status, progress=0,
        due_date=date(2026, 11, 30), owner_id=owner.id, blocked_reason=None, is_open=True,
    )  # fmt: skip


def prompt(owners: int, per_owner: int) -> Reply:
    blocks = []
    for o in range(1, owners + 1):
        who = member(o)
        statuses = [TaskStatus.TODO, TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED]
        tasks = tuple(task(o * 100 + i, who, statuses[i % 3]) for i in range(per_owner))
        blocks.append(OwnerTasks(owner=who, tasks=tasks))
    return daily_prompt(DailyPrompt(today=TODAY, owners=tuple(blocks), unassigned=0), project_name="发布会")


def sent_card(reply: Reply) -> dict:
    msg_type, content = render(reply)
    assert msg_type == "interactive"
    card = json.loads(content)
    assert card_problem(card) is None and len(content.encode()) <= 30 * 1024
    return card


def test_the_daily_prompt_card_has_each_tasks_buttons_carrying_the_typed_commands() -> None:
    card = sent_card(prompt(owners=2, per_owner=3))
    values = cards.button_values(card)
    commands = [v["command"] for v in values]
    # 开始 only while 待开始 (#100 and #200 are todo; the others in progress or blocked)
    assert commands.count("/任务 #100 开始") == 1 and "/任务 #101 开始" not in commands
    for number in (100, 101, 102, 200, 201, 202):
        assert f"/任务 #{number} 完成" in commands
        assert {"command": f"/任务 #{number} 阻塞", "input": "arg", "needs": "原因"} in values
        assert any(v["command"] == f"/任务 #{number} 进度" and v.get("input") == "arg" for v in values)
    text = "\n".join(e.get("content", "") for e in card["body"]["elements"])
    assert "<at id=ou_1></at>" in text and "#100 任务100" in text
    assert card["config"]["update_multi"] is True and "今日进度更新" in card["header"]["title"]["content"]
    # every button that needs words is a form's submit button next to an input
    forms = [e for e in card["body"]["elements"] if e["tag"] == "form"]
    assert len(forms) == 6 and all(f["elements"][0]["tag"] == "input" for f in forms)


def test_text_renderers_keep_the_prompt_as_text_with_one_hint_line() -> None:
    text = prompt(owners=1, per_owner=2).plain_text()
    assert "可以回复" not in text and "#100 任务100" in text and "#12 完成" in text
    assert text.index("@同事1") < text.index("#100") < text.index("#101")


def test_sixty_open_tasks_still_fit_buttons_first_then_text() -> None:
    reply = prompt(owners=6, per_owner=10)
    card = sent_card(reply)
    text = "\n".join(e.get("content", "") for e in card["body"]["elements"])
    for o in range(1, 7):  # every task is on the card, with or without buttons
        assert all(f"#{o * 100 + i} 任务{o * 100 + i}" in text for i in range(10))
    pressable = {v["command"].split()[1] for v in cards.button_values(card)}
    assert "#100" in pressable and 0 < len(pressable) < 60
    assert "其余的请直接回复更新" in text


def test_a_reply_too_big_for_any_card_goes_as_a_post() -> None:
    huge = Reply("长" * 40_000, title="大报告", style="report")
    assert cards.card(huge) is None
    assert render(huge)[0] == "post"


def test_replies_without_buttons_are_blocks_per_section_and_plain_buttons_need_no_form() -> None:
    report = Reply("正文", title="周报", sections=(Section(title="一", lines=("a",)),))
    card = sent_card(report)
    assert [e["tag"] for e in card["body"]["elements"]] == ["markdown", "hr", "markdown"]
    assert card["body"]["elements"][2]["content"] == "**一**\na"
    confirm = Reply("确定结项吗？", buttons=(Button("确认结项", "/项目 结项 确认", style="danger"),))
    card = sent_card(confirm)
    assert [e["tag"] for e in card["body"]["elements"]] == ["markdown", "column_set"]
    assert cards.button_values(card) == [{"command": "/项目 结项 确认"}]


def test_a_form_callback_runs_the_command_with_the_words_typed_and_an_empty_form_is_refused() -> None:
    fake = FeishuFake()
    value = {"command": "/任务 #7 阻塞", "input": "arg", "needs": "原因"}
    now = datetime.now(UTC)
    parsed = normalise(fake.card_event("oc_g", "ou_li", "om_c", value, {"arg": " 等法务审批 "}), now=now)
    assert isinstance(parsed, Inbound) and parsed.incoming.text == "/任务 #7 阻塞 等法务审批"
    assert parsed.incoming.sender_id == "ou_li"
    for form in ({"arg": "  "}, {}):
        empty = normalise(fake.card_event("oc_g", "ou_li", "om_c", value, form), now=now)
        assert isinstance(empty, Ignored) and empty.answer == {"toast": {"type": "warning", "content": "请先填写原因"}}
    plain = normalise(fake.card_event("oc_g", "ou_li", "om_c", {"command": "/任务 #7 完成"}, {"arg": "x"}), now=now)
    assert isinstance(plain, Inbound) and plain.incoming.text == "/任务 #7 完成"  # no input asked: none added


def test_the_card_of_a_runs_answers_is_built_once_for_the_same_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clicks answered together share one card reply (a run, bot.dispatcher): built once; an equal
    but other reply, or one past the last few, is built again."""
    built: list[Reply] = []
    real = cards.card

    def counting(reply: Reply) -> dict[str, Any] | None:
        built.append(reply)
        return real(reply)

    monkeypatch.setattr(cards, "card", counting)
    answered = cards.AnsweredCards()
    shown = Reply("今日进度", sections=(Section(title="张三", lines=("#1 写发布稿 · ✅已完成",)),))
    first = cards.callback_answer(Reply("#1 已完成"), shown, build=answered)
    second = cards.callback_answer(Reply("#2 已完成"), shown, build=answered)
    assert first["card"]["data"] is second["card"]["data"] and len(built) == 1
    assert first["toast"]["content"] != second["toast"]["content"]  # each click its own toast
    same_text = Reply("今日进度", sections=shown.sections)
    assert cards.callback_answer(None, same_text, build=answered)["card"]["data"] == first["card"]["data"]
    assert len(built) == 2
    for n in range(cards.AnsweredCards.KEEP):
        answered(Reply(f"卡片 {n}"))
    cards.callback_answer(None, shown, build=answered)
    assert len(built) == 2 + cards.AnsweredCards.KEEP + 1
