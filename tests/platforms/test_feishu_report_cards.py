"""Reports as Feishu cards with sections (issue 11): the agenda, the PM digest, the weekly table, the
minutes and the risk register, built from a real database, each a valid JSON 2.0 card (the fake's own
check) with a coloured header, a block per section, figures side by side, the table component; a huge
report cut to fit, and a reply no card can hold sent as a post. Text renderers show the same lines."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.markup import markdown_literal
from bot.messages import Reply, Section
from bot.platforms.dingtalk.outbound import session_body
from bot.platforms.feishu import cards
from bot.platforms.feishu.outbound import render
from bot.platforms.feishu.report_card import FOLD_LINES
from models import OutboundMessage, Project, RiskLevel, Task, TaskStatus
from models.task_create import NewTask, create_tasks
from reports.builders import build_digest, build_minutes, build_weekly_agenda, build_weekly_digest
from tests.chat import ConsoleChat
from tests.fakes.feishu import _valid_post, card_problem
from tests.scheduling import add_action, add_decision, add_risk, member, project_id, sh

PM = "王经理"
AGENDA_AT, DIGEST_AT, WEEKLY_AT = sh("2026-11-27 17:00"), sh("2026-11-23 18:00"), sh("2026-11-27 18:00")
MINUTES_AT, MEETING = sh("2026-11-30 11:00"), date(2026, 11, 30)


@pytest.fixture
def project(chat: ConsoleChat) -> int:
    """发布会: 李四 #1 overdue, #2 due 11-24; 王五 #3 blocked, #4 slipping; a high risk, an overdue action."""
    say = chat.say
    say("/项目 创建 发布会", at=sh("2026-11-16 10:00"))
    for who in ("李四", "王五"):
        say("大家好", name=who, at=sh("2026-11-16 10:01"))
    say("/任务 新增 写发布稿 @李四 截止:2026-11-20", at=sh("2026-11-16 10:02"))
    say("/任务 新增 订场地 @李四 截止:2026-11-24", at=sh("2026-11-16 10:03"))
    say("/任务 新增 联调接口 @王五 开始:2026-11-16 截止:2026-11-26", at=sh("2026-11-16 10:04"))
    say("/任务 新增 设计海报 @王五 开始:2026-11-16 截止:2026-11-30", at=sh("2026-11-16 10:05"))
    say("#3 阻塞 等第三方接口", name="王五", at=sh("2026-11-20 15:00"))
    say("#4 阻塞 设计师请假", name="王五", at=sh("2026-11-23 09:30"))
    pid = project_id(chat.runtime.session_factory)
    add_risk(chat.runtime.session_factory, project=pid, description="供应商延期", at=sh("2026-11-23 14:00"), owner=PM)
    add_action(chat.runtime.session_factory, project=pid, content="确认预算", owner="李四", due=date(2026, 11, 25),
               at=sh("2026-11-23 10:00"))
    return pid


def built(chat: ConsoleChat, pid: int, kind: str) -> Reply:
    with chat.runtime.session_factory() as session:
        p = session.get(Project, pid)
        assert p is not None
        reply = {
            "agenda": lambda: build_weekly_agenda(session, p, AGENDA_AT),
            "digest": lambda: build_digest(session, p, DIGEST_AT),
            "weekly": lambda: build_weekly_digest(session, p, WEEKLY_AT),
            "minutes": lambda: build_minutes(session, p, MINUTES_AT, meeting_day=MEETING),
        }[kind]()
    assert reply is not None
    return reply


def card_of(reply: Reply) -> dict[str, Any]:
    msg_type, content = render(reply)
    assert msg_type == "interactive"
    card = json.loads(content)
    assert card_problem(card) is None, card_problem(card)
    assert len(content.encode()) <= cards.MAX_CARD_BYTES and cards.count_elements(card["body"]["elements"]) <= 200
    return card


def texts(card: dict[str, Any]) -> list[str]:
    """Every markdown text on the card, in order (panels' titles and bodies, columns' figures)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("tag") == "markdown":
                found.append(value["content"])
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(card["body"]["elements"])
    return found


def tags(card: dict[str, Any]) -> list[str]:
    return [e["tag"] for e in card["body"]["elements"]]


def same_lines(reply: Reply, card: dict[str, Any]) -> None:
    """The card shows the lines text renderers show (headings bold, mentions as <at>), in the same order."""
    shown = "\n".join(texts(card)).replace("**", "")
    shown = re.sub(r"<at id=([^>]+)></at>", lambda m: f"@{m.group(1)}", shown)
    card_lines = [line.strip() for line in shown.splitlines() if line.strip()]
    bare = replace(reply, sections=tuple(replace(s, fields=()) for s in reply.sections))  # figures: columns
    rendered = bare.render(lambda m: f"@{m.user_id}", escape=markdown_literal)  # typed markup as on the card
    plain = [line.strip() for line in rendered.splitlines() if line.strip()]
    plain = [line for line in plain if not line.startswith("|")]  # the table is the table component
    positions = [card_lines.index(line) for line in plain]
    assert positions == sorted(positions)


def test_the_agenda_is_a_red_card_with_a_block_per_section(chat: ConsoleChat, project: int) -> None:
    reply = built(chat, project, "agenda")
    card = card_of(reply)
    assert card["header"]["template"] == "red"  # blocked tasks and a high risk
    assert card["header"]["title"]["content"] == "周会议程 · 发布会"
    shown = texts(card)
    assert any(t.startswith("**三、阻塞（2）**\n  #3 联调接口（王五）已阻塞5个工作日：等第三方接口") for t in shown)
    assert any(t.startswith("**四、高风险（1）**\n  R1（高）供应商延期") for t in shown)
    assert any(t.startswith("**五、逾期行动项（1）**\n  A1 确认预算（李四）") for t in shown)
    # an empty section is one line, run together with its neighbours, not a block of its own
    assert any("八、会议议题：无" in t and not t.startswith("**") for t in shown)
    assert tags(card).count("hr") == tags(card).count("markdown") - 1  # hr between blocks
    same_lines(reply, card)


def test_the_digest_card_shows_its_figures_side_by_side(chat: ConsoleChat, project: int) -> None:
    chat.say("#2 进度 50%", name="李四", at=sh("2026-11-23 11:00"))
    reply = built(chat, project, "digest")
    card = card_of(reply)
    assert card["header"]["template"] == "red"  # a new blocker today
    figures = card["body"]["elements"][0]
    assert figures["tag"] == "column_set"
    assert [c["elements"][0]["content"] for c in figures["columns"]] == [
        "**已更新（2）**\n李四、王五", "**未更新（0）**\n无", "**未完成**\n4 项",
    ]
    shown = texts(card)
    assert any(t.startswith("**新增阻塞（1）**\n  #4 设计海报（王五）：设计师请假") for t in shown)
    assert any(t.startswith("**逾期（1）**\n  #1 写发布稿") for t in shown)
    assert any("今日完成：无" in t and "截止日期变更：无" not in t for t in shown)  # 无 lines, each in its run
    same_lines(reply, card)
    # the console shows the same text as before the sections: the figures as `label：value` lines
    # DingTalk markdown keeps the headings, bold, one hard break per line; the figures as lines
    markdown = session_body(reply)["markdown"]["text"]
    assert "**新增阻塞（1）**  \n  #4 设计海报（王五）：设计师请假" in markdown and "已更新（2）：李四、王五  \n" in markdown
    assert reply.plain_text().startswith(
        "【每日汇总 · 发布会 · 11-23(周一)】\n已更新（2）：李四、王五\n未更新（0）：无\n未完成：4 项\n今日完成：无\n"
    )


def test_the_weekly_table_is_the_table_component(chat: ConsoleChat, project: int) -> None:
    chat.say("#2 完成", name="李四", at=sh("2026-11-24 10:00"))
    reply = built(chat, project, "weekly")
    card = card_of(reply)
    assert card["header"]["template"] == "red"  # 风险 rows
    (table,) = [e for e in card["body"]["elements"] if e["tag"] == "table"]
    assert [c["display_name"] for c in table["columns"]] == ["任务", "负责人", "计划", "实际", "状态"]
    first = [row[table["columns"][0]["name"]] for row in table["rows"]]
    assert len(first) == 4 and all(f.startswith("#") for f in first)
    statuses = {row[table["columns"][0]["name"]].split()[0]: row[table["columns"][4]["name"]] for row in table["rows"]}
    assert statuses["#2"] == "正常" and statuses["#4"] == "风险"
    assert "本周完成 1 项" in texts(card)[0]
    assert "| 任务 | 负责人 | 计划 | 实际 | 状态 |" in reply.plain_text()  # text renderers keep the pipe rows
    same_lines(reply, card)


def test_the_minutes_card_mentions_the_owners(chat: ConsoleChat, project: int) -> None:
    factory = chat.runtime.session_factory
    add_decision(factory, project=project, content="发布会延期一周", by=PM, at=sh("2026-11-30 09:20"))
    add_action(factory, project=project, content="通知嘉宾", owner="李四", due=date(2026, 12, 2), at=sh("2026-11-30 10:10"))
    reply = built(chat, project, "minutes")
    card = card_of(reply)
    shown = texts(card)
    assert any(t.startswith("**决议（1）**\n  D1 发布会延期一周（王经理）") for t in shown)
    assert any(t.startswith("**行动项（1）**\n  A2 通知嘉宾 · <at id=李四></at>") for t in shown)
    same_lines(reply, card)


def test_the_risk_register_is_a_card_with_a_block_per_level(chat: ConsoleChat, project: int) -> None:
    for words in ("印刷延期 等级:低", "场地冲突 等级:中", "嘉宾行程变动 等级:中", "物料运输 等级:低"):
        chat.say(f"/风险 新增 {words}", name="李四")
    text = chat.say("/风险 列表")
    assert text.splitlines()[1:] == [  # the console shows the list as before
        "R1🔴高 供应商延期 · 王经理", "R3🟠中 场地冲突 · 李四", "R4🟠中 嘉宾行程变动 · 李四",
        "R2🟢低 印刷延期 · 李四", "R5🟢低 物料运输 · 李四",
    ]
    with chat.runtime.session_factory() as session:
        row = session.scalars(select(OutboundMessage).order_by(OutboundMessage.id.desc()).limit(1)).one()
    reply = Reply.from_payload(row.body)
    card = card_of(reply)
    assert card["header"]["template"] == "red"  # an open high risk
    # the one high risk is a line of its own, run together with nothing else; each level after it a block
    assert tags(card) == ["markdown", "hr", "markdown", "hr", "markdown"]
    assert [[line.split(" ")[0] for line in t.splitlines()] for t in texts(card)] == [
        ["R1🔴高"], ["R3🟠中", "R4🟠中"], ["R2🟢低", "R5🟢低"],
    ]


def test_a_long_section_is_folded(chat: ConsoleChat, project: int) -> None:
    factory = chat.runtime.session_factory
    for n in range(FOLD_LINES + 2):
        add_decision(factory, project=project, content=f"决议{n}", by=PM, at=sh("2026-11-30 09:20"))
    card = card_of(built(chat, project, "minutes"))
    (panel,) = [e for e in card["body"]["elements"] if e["tag"] == "collapsible_panel"]
    assert panel["expanded"] is False and panel["header"]["title"]["content"] == f"**决议（{FOLD_LINES + 2}）**"
    assert panel["elements"][0]["content"].count("\n") == FOLD_LINES + 1


def test_a_huge_project_fits_or_is_cut_to_fit(chat: ConsoleChat, project: int) -> None:
    """300 tasks (a third overdue, a tenth blocked), 100 risks, 50 long decisions: every report is a valid
    card; the minutes, past 30 KB, keep their first lines and say where the rest is."""
    factory = chat.runtime.session_factory
    with factory.begin() as session:
        p = session.get(Project, project)
        assert p is not None
        owners = [member(session, project, who).id for who in ("李四", "王五")]
        specs = [
            NewTask(f"批量任务{n} 需要跨部门协调的事项", owner_id=owners[n % 2], start=date(2026, 11, 16),
                    due=date(2026, 11, 16) + timedelta(days=n % 30))
            for n in range(300)
        ]
        made = create_tasks(session, p, specs, actor=None, at=sh("2026-11-16 11:00"))
        blocked = [t.id for t in made[::10]]
        session.execute(update(Task).where(Task.id.in_(blocked)).values(
            status=TaskStatus.BLOCKED, blocked_reason="等待外部供应商确认排期", status_changed_at=sh("2026-11-18 10:00")))
    for n in range(100):
        add_risk(factory, project=project, description=f"风险{n} 供应商可能无法按期交付关键物料", at=sh("2026-11-23 14:00"),
                 level=RiskLevel.HIGH if n % 3 == 0 else RiskLevel.MEDIUM, owner="李四")
    for n in range(50):
        add_decision(factory, project=project, content=f"决议{n}：" + "按新的排期推进并同步各部门负责人" * 12, by=PM,
                     at=sh("2026-11-30 09:20"))
    for kind in ("agenda", "digest", "weekly"):
        reply = built(chat, project, kind)
        card = card_of(reply)
        assert card["header"]["template"] == "red"
        same_lines(reply, card)
    minutes = built(chat, project, "minutes")
    assert minutes.plain_text().count("\n  D") == 50  # text renderers list all of them
    card = card_of(minutes)
    shown = "\n".join(texts(card))
    assert re.search(r"…另有 \d+ 行，发送 /决议 列表 查看", shown) and "D1 " in shown
    listed = chat.say("/风险 列表").splitlines()
    assert len([line for line in listed if line.startswith("R")]) == 50 and listed[-1] == "…另有 51 个未列出。"
    with factory() as session:
        row = session.scalars(select(OutboundMessage).order_by(OutboundMessage.id.desc()).limit(1)).one()
    card_of(Reply.from_payload(row.body))


def test_too_many_sections_are_one_block_and_a_reply_no_card_can_hold_goes_as_a_post() -> None:
    # 150 headed sections: past 200 components as blocks, so one markdown block with every heading
    many = Reply("", title="很多部分", style="report",
                 sections=tuple(Section(title=f"第{n}部分", lines=("一行", "两行")) for n in range(150)))
    card = card_of(many)
    assert tags(card) == ["markdown"] and texts(card)[0].count("**第") == 150
    # a text no card can hold (the intro is never cut): a post
    huge = Reply("很长的说明" * 3000, title="太长", style="report", sections=(Section(title="一", lines=("a",)),))
    assert cards.card(huge) is None
    msg_type, content = render(huge)
    assert msg_type == "post" and _valid_post(json.loads(content))
