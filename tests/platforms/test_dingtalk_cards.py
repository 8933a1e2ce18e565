"""The daily prompt as a DingTalk advanced card (issue 11), against the fake DingTalk: delivered with
createAndDeliver into the group (checked against the shipped template and DingTalk's 1 KB per variable),
pressed over Stream and over a signed HTTP callback as the owner, a PM and a stranger; the answer in
time, the card then updated with PUT /v1.0/card/instances from the database; double clicks harmless."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.messages import Incoming, Reply
from bot.outbox import enqueue
from models import ActionItem, ActionStatus, Change, InboundEvent, OutboundMessage, Task, TaskStatus
from tests.fakes.dingtalk import Card, card_data_problem
from tests.fakes.dingtalk_stream import CARD_TOPIC
from tests.platforms.conftest import Tandem
from tests.platforms.test_dingtalk_pings import next_prompt_time

GROUP = "cidCARD=="
ROUTE_KEY, ROUTE_SECRET = "tandem-cards", "card-callback-secret-42"


@pytest.fixture
def carded_http(make_tandem: Callable[..., Tandem]) -> Tandem:
    tandem = make_tandem(
        dingtalk_card_template_id="tandem-prompt.schema", dingtalk_mode="webhook",
        dingtalk_card_callback_route_key=ROUTE_KEY, dingtalk_card_callback_secret=ROUTE_SECRET,
    )
    tandem.dingtalk.card_routes[ROUTE_KEY] = (f"{tandem.server.url}/webhook/dingtalk/card", ROUTE_SECRET)
    return tandem


def kickoff(tandem: Tandem, *tasks: str) -> None:
    d = tandem.dingtalk
    for staff, nick in (("staff_pm", "王经理"), ("staff_li", "李四"), ("staff_zhang", "张三")):
        d.add_user(staff, nick)
    texts = ("/项目 创建 发布会", *(tasks or ("/任务 新增 写发布稿 @李四", "/任务 新增 订场地 @李四")))
    for i, text in enumerate(texts, 1):
        assert tandem.dingtalk_say(GROUP, "staff_pm", text).status_code == 200
        d.wait_for(i, conversation_id=GROUP)


def prompt_cards(tandem: Tandem, expected: int = 1) -> list[Card]:
    report = tandem.runtime.job_runner().run(["daily-prompt"], next_prompt_time())
    assert report.count("posted", "daily-prompt") == 1
    found = tandem.dingtalk.wait_for_card(expected, conversation_id=GROUP)
    assert len(found) >= expected
    for card in found:
        assert card_data_problem(card.params) is None and card.template_id == "tandem-prompt.schema"
    tandem.settle()  # the prompt's row has recorded its cards (what a click or a change finds it by)
    return found


def action(card: Card, command: str) -> dict[str, str]:
    found = next(a for a in card.actions() if a["command"] == command)
    return {"command": found["command"], "needs": found["needs"]}


def status(tandem: Tandem, number: int) -> TaskStatus:
    with tandem.runtime.session_factory() as session:
        return session.scalars(select(Task).where(Task.number == number)).one().status


def stream_click(tandem: Tandem, card: Card, user: str, params: dict[str, str]) -> dict[str, Any]:
    stream = tandem.dingtalk.stream
    key = stream.push(tandem.dingtalk.card_callback(card, user, params), topic=CARD_TOPIC)
    ack = stream.wait_ack(key)
    assert ack.body["code"] == 200
    return dict(json.loads(ack.body["data"])["response"])


def notice(answer: dict[str, Any]) -> tuple[str, str]:
    private = answer["userPrivateData"]["cardParamMap"]
    return private["notice_type"], private["notice"]


def card_line(card: Card, number: int) -> dict[str, Any]:
    return next(i for i in card.items() if f"#{number} " in i["text"])


def test_the_prompt_is_a_card_in_the_group_with_the_tasks_buttons(carded: Tandem) -> None:
    kickoff(carded)
    card = prompt_cards(carded)[0]
    assert card.callback_type == "STREAM" and card.at_user_ids == {"staff_li": "李四"}
    assert "今日进度更新" in card.params["title"] and "下班前" in card.params["intro"]
    first = card_line(card, 1)
    assert "@李四" in first["text"] and "写发布稿" in first["text"]
    assert [a["label"] for a in first["actions"]] == ["开始", "完成", "阻塞", "进度"]
    assert {a["needs"] for a in first["actions"] if a["label"] == "阻塞"} == {"原因"}
    # no markdown copy of the prompt: the card is the message
    assert not [s for s in carded.dingtalk.sent if "今日进度更新" in (s.title or "")]


def test_the_owner_presses_done_the_card_shows_it_and_a_double_click_changes_nothing(carded: Tandem) -> None:
    kickoff(carded)
    card = prompt_cards(carded)[0]
    done = action(card, "/任务 #1 完成")
    started = time.monotonic()
    kind, text = notice(stream_click(carded, card, "staff_li", done))
    assert time.monotonic() - started < 2.0
    assert kind == "success" and "#1" in text and "已完成" in text
    kind, text = notice(stream_click(carded, card, "staff_li", done))  # the second tap: nothing twice
    assert kind == "success" and "没有变化" in text
    carded.settle()
    assert status(carded, 1) == TaskStatus.DONE and status(carded, 2) == TaskStatus.TODO
    with carded.runtime.session_factory() as session:
        rows = session.scalars(select(Change).where(Change.field == "status")).all()
        assert [(r.old_value, r.new_value) for r in rows] == [("todo", "done")]
    updated = carded.dingtalk.wait_for_card(1, conversation_id=GROUP, updates=2)[0]
    assert updated.updates and card_data_problem(updated.updates[-1]) is None
    line = card_line(updated, 1)  # still on the card, shown as done, without buttons
    assert "已完成" in line["text"] and line["actions"] == []
    assert [a["label"] for a in card_line(updated, 2)["actions"]] == ["开始", "完成", "阻塞", "进度"]


def test_a_stranger_changes_nothing_and_a_pm_may(carded: Tandem) -> None:
    kickoff(carded)
    card = prompt_cards(carded)[0]
    start = action(card, "/任务 #2 开始")
    kind, text = notice(stream_click(carded, card, "staff_zhang", start))
    assert kind == "error" and "只有负责人或 PM 可以更新" in text
    carded.settle()
    assert status(carded, 2) == TaskStatus.TODO
    refused = carded.dingtalk.wait_for_card(1, conversation_id=GROUP, updates=1)[0]  # shown as it is: unchanged
    assert "待开始" in card_line(refused, 2)["text"] and action(refused, "/任务 #2 开始") == start
    kind, _ = notice(stream_click(carded, card, "staff_pm", start))
    assert kind == "success"
    carded.settle()
    assert status(carded, 2) == TaskStatus.IN_PROGRESS
    updated = carded.dingtalk.wait_for_card(1, conversation_id=GROUP, updates=2)[0]
    assert len(updated.updates) == 2
    assert "进行中" in card_line(updated, 2)["text"]
    assert [a["label"] for a in card_line(updated, 2)["actions"]] == ["完成", "阻塞", "进度"]


def test_blocked_takes_its_reason_from_the_cards_input_and_an_empty_one_is_asked_for(carded: Tandem) -> None:
    kickoff(carded)
    card = prompt_cards(carded)[0]
    blocked = action(card, "/任务 #1 阻塞")
    kind, text = notice(stream_click(carded, card, "staff_li", blocked))
    assert kind == "warning" and "请先填写原因" in text
    kind, _ = notice(stream_click(carded, card, "staff_li", {**blocked, "arg": "等法务审核"}))
    assert kind == "success"
    carded.settle()
    with carded.runtime.session_factory() as session:
        task = session.scalars(select(Task).where(Task.number == 1)).one()
        assert task.status == TaskStatus.BLOCKED and task.blocked_reason == "等法务审核"
    assert carded.count(InboundEvent) == 4  # three typed messages and the one click with a reason


def test_a_long_prompt_is_split_into_cards_of_at_most_1kb_per_variable(carded: Tandem) -> None:
    titles = [f"/任务 新增 第{i}项准备工作：联系供应商确认物料清单与交付时间 @李四" for i in range(1, 9)]
    kickoff(carded, *titles)
    prompt_cards(carded, expected=2)
    cards_sent = carded.dingtalk.wait_for_card(99, conversation_id=GROUP, timeout=1)
    assert len(cards_sent) >= 2 and all(card_data_problem(c.params) is None for c in cards_sent)
    numbers = [n for c in cards_sent for n in range(1, 9) if any(f"#{n} " in i["text"] for i in c.items())]
    assert sorted(numbers) == list(range(1, 9))  # every task on exactly one card
    index = next(i for i, c in enumerate(cards_sent) if any("#8 " in item["text"] for item in c.items()))
    kind, _ = notice(stream_click(carded, cards_sent[index], "staff_li", action(cards_sent[index], "/任务 #8 完成")))
    assert kind == "success"
    before = {c.out_track_id: dict(c.params) for c in cards_sent}
    # the prompt's cards are one message: each is shown again with its own sections, the pressed one changed
    carded.dingtalk.wait_for_card(len(cards_sent), conversation_id=GROUP, updates=len(cards_sent))
    updated = [c for c in carded.dingtalk.wait_for_card(1, conversation_id=GROUP) if c.out_track_id in before]
    assert all(len(c.updates) == 1 and card_data_problem(c.updates[0]) is None for c in updated)
    assert "已完成" in card_line(updated[index], 8)["text"] and card_line(updated[index], 8)["actions"] == []
    assert card_line(updated[index], 7)["actions"]
    assert all(c.params == before[c.out_track_id] for i, c in enumerate(updated) if i != index)


def test_a_prompt_too_long_for_six_cards_goes_as_markdown_with_every_task(carded: Tandem) -> None:
    carded.dingtalk.add_user("staff_wang", "王五")
    owners = ("李四", "王五", "张三")
    kickoff(carded, *(f"/任务 新增 准备工作{i} @{owners[i % 3]}" for i in range(1, 61)))
    assert carded.runtime.job_runner().run(["daily-prompt"], next_prompt_time()).count("posted", "daily-prompt") == 1
    prompt = carded.dingtalk.wait_for(62, conversation_id=GROUP)[61]
    assert prompt.msgtype == "markdown" and "今日进度更新" in (prompt.title or "")
    assert "#1 准备工作1" in prompt.text and "另有 10 项" in prompt.text and "直接回复即可更新" in prompt.text
    assert carded.dingtalk.cards == {}


def test_without_a_template_the_prompt_stays_markdown_with_the_commands_to_type(tandem: Tandem) -> None:
    kickoff(tandem)
    tandem.runtime.job_runner().run(["daily-prompt"], next_prompt_time())
    prompt = tandem.dingtalk.wait_for(4, conversation_id=GROUP)[3]
    assert prompt.msgtype == "markdown" and "#1 写发布稿" in prompt.text and "直接回复即可更新：#12 完成" in prompt.text
    assert tandem.dingtalk.cards == {}


def http_click(tandem: Tandem, card: Card, user: str, params: dict[str, str], **kw: Any) -> Any:
    body, headers = tandem.dingtalk.card_request(card, tandem.dingtalk.card_callback(card, user, params), **kw)
    return tandem.http.post("/webhook/dingtalk/card", content=body, headers=headers)


def test_http_callbacks_are_verified_then_run_as_the_clicker(carded_http: Tandem) -> None:
    tandem = carded_http
    kickoff(tandem)
    card = prompt_cards(tandem)[0]
    assert card.callback_type == "HTTP" and card.route_key == ROUTE_KEY
    done = action(card, "/任务 #1 完成")
    forged = http_click(tandem, card, "staff_li", done, secret="not-the-secret")
    stale = http_click(tandem, card, "staff_li", done, timestamp=str(int(time.time() * 1000) - 2 * 3600 * 1000))
    body, headers = tandem.dingtalk.card_request(card, tandem.dingtalk.card_callback(card, "staff_li", done))
    unsigned = tandem.http.post("/webhook/dingtalk/card", content=body,
                                headers={k: v for k, v in headers.items() if k != "x-ddpaas-signature-timestamp"})
    assert [r.status_code for r in (forged, stale, unsigned)] == [401, 401, 401]
    tandem.settle()
    assert status(tandem, 1) == TaskStatus.TODO and tandem.count(InboundEvent) == 3  # nothing recorded
    answer = tandem.http.post("/webhook/dingtalk/card", content=body, headers=headers)
    assert answer.status_code == 200 and notice(answer.json()) == ("success", notice(answer.json())[1])
    assert "已完成" in notice(answer.json())[1]
    replay = tandem.http.post("/webhook/dingtalk/card", content=body, headers=headers)  # the same request again
    assert replay.status_code == 200
    stranger = http_click(tandem, card, "staff_zhang", action(card, "/任务 #2 开始"))
    assert notice(stranger.json())[0] == "error"
    tandem.settle()
    assert status(tandem, 1) == TaskStatus.DONE and status(tandem, 2) == TaskStatus.TODO
    assert tandem.count(InboundEvent) == 5  # the replay was the same event
    # the card is shown again after each click (the replay was the same event): #1 done, #2 untouched
    updated = tandem.dingtalk.wait_for_card(1, conversation_id=GROUP, updates=2)[0]
    assert "已完成" in card_line(updated, 1)["text"] and len(updated.updates) == 2
    assert "待开始" in card_line(updated, 2)["text"] and card_line(updated, 2)["actions"]


def test_twenty_concurrent_clicks_are_answered_in_time(carded: Tandem) -> None:
    tasks = [f"/任务 新增 任务{i} @李四" for i in range(1, 21)]
    kickoff(carded, *tasks)
    card = prompt_cards(carded, expected=1)[0]
    numbers = list(range(1, 21))  # 10 are on the cards (the rest are counted): the same command either way

    def press(number: int) -> tuple[float, str]:
        started = time.monotonic()
        answer = stream_click(carded, card, "staff_li", {"command": f"/任务 #{number} 完成", "needs": ""})
        return time.monotonic() - started, notice(answer)[0]

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(press, numbers))
    latencies = sorted(r[0] for r in results)
    p50, p99 = statistics.median(latencies), latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"dingtalk card callback → answer, {len(numbers)} concurrent: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    assert p99 < 2.0
    assert all(kind in ("success", "info") for _, kind in results)
    carded.settle()
    assert all(status(carded, n) == TaskStatus.DONE for n in numbers)


def typed_at(tandem: Tandem, sender: str, text: str, at: datetime) -> None:
    payload = tandem.dingtalk.message(GROUP, sender, text)
    payload["createAt"] = int(at.timestamp() * 1000)  # the message's own time: the prompt's day
    assert tandem.post_dingtalk(payload).status_code == 200


def card_updates(tandem: Tandem, track: str) -> list[dict[str, Any]]:
    return [r["body"] for r in tandem.dingtalk.requests if r["via"] == "card_update" and r["body"]["outTrackId"] == track]


def test_a_typed_change_to_a_task_on_todays_prompt_puts_its_card(carded: Tandem) -> None:
    kickoff(carded)
    card = prompt_cards(carded)[0]
    at = next_prompt_time()
    typed_at(carded, "staff_li", "#2 完成", at + timedelta(minutes=20))
    carded.settle()
    assert status(carded, 2) == TaskStatus.DONE
    puts = card_updates(carded, card.out_track_id)
    assert len(puts) == 1 and card_data_problem(puts[0]["cardData"]["cardParamMap"]) is None
    shown = carded.dingtalk.cards[card.out_track_id]
    assert "已完成" in card_line(shown, 2)["text"] and card_line(shown, 2)["actions"] == []  # kept, as done
    assert [a["label"] for a in card_line(shown, 1)["actions"]] == ["开始", "完成", "阻塞", "进度"]
    # a task not on the card, a change on another day: the card is left alone
    typed_at(carded, "staff_pm", "/任务 新增 订酒店 @李四", at + timedelta(minutes=21))
    typed_at(carded, "staff_li", "#3 完成", at + timedelta(minutes=22))
    typed_at(carded, "staff_li", "#1 进度 30%", at + timedelta(days=1))
    carded.settle()
    assert len(card_updates(carded, card.out_track_id)) == 1
    with carded.runtime.session_factory() as session:
        task = session.scalars(select(Task).where(Task.number == 1)).one()
        assert task.progress == 30  # the change itself happened; only the card of another day is not touched


def test_a_card_and_a_row_from_before_card_sets_are_still_updated(carded: Tandem) -> None:
    """A card sent as `<key>-c<i>-<start>-<end>` (its row naming its first card) and an update row of
    then (`reply_to = dtcard:<outTrackId>`), and an inbox payload of then (`card_route`)."""
    kickoff(carded)
    card = prompt_cards(carded)[0]
    carded.settle()  # the row records its cards once they are sent
    with carded.runtime.session_factory() as session:
        set_id = card.out_track_id.rsplit("_", 1)[0]
        row = session.scalars(select(OutboundMessage).where(OutboundMessage.platform_message_id == set_id)).one()
        old = f"{row.idempotency_key}-c0-0-{len(row.body['sections'])}"
        legacy = Card(old, card.template_id, GROUP, dict(card.params), card.callback_type, None, {})
    carded.dingtalk.cards[old] = legacy
    with carded.runtime.session_factory.begin() as session:
        enqueue(session, platform="dingtalk", chat_id=GROUP, reply=Reply.from_payload(row.body), origin="test",
                now=datetime.now(UTC), project_id=row.project_id, reply_to=f"dtcard:{old}")
    carded.settle()
    assert len(legacy.updates) == 1 and card_data_problem(legacy.updates[0]) is None
    payload = Incoming(platform="dingtalk", event_key="card:x", chat_id=GROUP, sender_id="staff_li", sender_name="",
                       text="/任务 #1 完成", sent_at=datetime.now(UTC)).to_payload()
    restored = Incoming.from_payload({**payload, "card_of": row.idempotency_key, "card_route": f"dtcard:{old}"})
    assert restored.card_message_id == old  # the card it was pressed on, as a message id now


def test_an_action_item_card_pressed_over_http_is_put_without_its_done_button(carded_http: Tandem) -> None:
    tandem = carded_http
    kickoff(tandem)
    assert tandem.dingtalk_say(GROUP, "staff_pm", "/行动 新增 确认报价 @李四 截止:明天").status_code == 200
    tandem.settle()
    before = set(tandem.dingtalk.cards)
    assert tandem.dingtalk_say(GROUP, "staff_pm", "/行动 A1").status_code == 200
    tandem.settle()
    card = next(c for t, c in tandem.dingtalk.cards.items() if t not in before)
    done = action(card, "/行动 完成 A1")
    stranger = http_click(tandem, card, "staff_zhang", done)
    assert stranger.status_code == 200 and notice(stranger.json())[0] == "error"
    tandem.settle()
    answer = http_click(tandem, card, "staff_li", done)
    assert answer.status_code == 200 and notice(answer.json())[0] == "success"
    tandem.settle()
    with tandem.runtime.session_factory() as session:
        assert session.scalars(select(ActionItem).where(ActionItem.number == 1)).one().status == ActionStatus.DONE
    puts = card_updates(tandem, card.out_track_id)
    assert len(puts) == 2 and all(card_data_problem(p["cardData"]["cardParamMap"]) is None for p in puts)
    shown = tandem.dingtalk.cards[card.out_track_id]
    assert shown.actions() == [] and "已完成" in shown.params["intro"]
