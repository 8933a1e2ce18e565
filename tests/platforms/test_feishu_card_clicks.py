"""The daily prompt as a Feishu card, pressed (issue 11): signed callbacks built the way Feishu builds
them, carrying the value the card's button carries, as the owner, a PM and a stranger; double clicks."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from bot.platforms.feishu import cards
from bot.platforms.feishu.inbound import CARD_TOAST
from models import Change, Task, TaskStatus
from tests.fakes.feishu import Posted, card_problem
from tests.platforms.conftest import Tandem
from tests.platforms.test_dingtalk_pings import next_prompt_time


def prompt_card(tandem: Tandem) -> Posted:
    f = tandem.feishu
    pm, li = f.add_user("ou_pm", "王经理"), f.add_user("ou_li", "李四")
    f.add_user("ou_zhang", "张三")
    for i, text in enumerate(("/项目 创建 发布会", "/任务 新增 写发布稿 @李四", "/任务 新增 订场地 @李四"), 1):
        assert tandem.feishu_say("oc_g1", pm, text).status_code == 200
        f.wait_for(i, chat_id="oc_g1")
    del li
    report = tandem.runtime.job_runner().run(["daily-prompt"], next_prompt_time())
    assert report.count("posted", "daily-prompt") == 1
    card = f.wait_for(4, chat_id="oc_g1")[3]
    assert card.msg_type == "interactive" and card_problem(card.content) is None
    return card


def button(card: Posted, command: str) -> dict:
    return next(v for v in cards.button_values(card.content) if v["command"] == command)


def status(tandem: Tandem, number: int) -> TaskStatus:
    with tandem.runtime.session_factory() as session:
        return session.scalars(select(Task).where(Task.number == number)).one().status


def click(tandem: Tandem, card: Posted, who: str, value: dict, form: dict | None = None) -> dict:
    payload = tandem.feishu.card_event("oc_g1", who, card.message_id, value, form)
    response = tandem.post_feishu(payload, path="/webhook/feishu/card")
    assert response.status_code == 200
    return dict(response.json())


def test_the_owner_presses_done_and_a_double_click_changes_nothing_twice(tandem: Tandem) -> None:
    card = prompt_card(tandem)
    done = button(card, "/任务 #1 完成")
    first = click(tandem, card, "ou_li", done)["toast"]
    assert first["type"] == "success" and "#1" in first["content"] and "已完成" in first["content"]
    again = click(tandem, card, "ou_li", done)["toast"]  # the second tap: a new event id, nothing changes
    assert again["type"] == "success" and "#1" in again["content"] and "没有变化" in again["content"]
    tandem.feishu.wait_for(6, chat_id="oc_g1")
    tandem.settle()
    assert status(tandem, 1) == TaskStatus.DONE and status(tandem, 2) == TaskStatus.TODO
    with tandem.runtime.session_factory() as session:
        status_rows = session.scalars(select(Change).where(Change.field == "status")).all()
        assert [(r.old_value, r.new_value) for r in status_rows] == [("todo", "done")]


def test_a_stranger_changes_nothing_and_a_pm_may(tandem: Tandem) -> None:
    card = prompt_card(tandem)
    start = button(card, "/任务 #2 开始")
    toast = click(tandem, card, "ou_zhang", start)["toast"]
    assert toast["type"] == "error" and "只有负责人或 PM 可以更新" in toast["content"]
    refused = tandem.feishu.wait_for(5, chat_id="oc_g1")[4]
    tandem.settle()
    assert status(tandem, 2) == TaskStatus.TODO and "只有负责人或 PM 可以更新" in refused.text
    assert click(tandem, card, "ou_pm", start)["toast"]["type"] == "success"
    tandem.feishu.wait_for(6, chat_id="oc_g1")
    tandem.settle()
    assert status(tandem, 2) == TaskStatus.IN_PROGRESS


def test_blocked_takes_its_reason_from_the_cards_form(tandem: Tandem) -> None:
    card = prompt_card(tandem)
    blocked = button(card, "/任务 #1 阻塞")
    empty = click(tandem, card, "ou_li", blocked, {"arg": ""})
    assert empty["toast"] == {"type": "warning", "content": "请先填写原因"}
    assert click(tandem, card, "ou_li", blocked, {"arg": "等法务审批"})["toast"]["type"] == "success"
    tandem.feishu.wait_for(5, chat_id="oc_g1")
    tandem.settle()
    with tandem.runtime.session_factory() as session:
        task = session.scalars(select(Task).where(Task.number == 1)).one()
        assert task.status == TaskStatus.BLOCKED and task.blocked_reason == "等法务审批"
    progress = button(card, "/任务 #2 进度")
    click(tandem, card, "ou_li", progress, {"arg": "60%"})
    tandem.feishu.wait_for(6, chat_id="oc_g1")
    tandem.settle()
    with tandem.runtime.session_factory() as session:
        assert session.scalars(select(Task).where(Task.number == 2)).one().progress == 60


def test_twenty_concurrent_clicks_are_each_answered_with_their_own_toast_in_time(tandem: Tandem) -> None:
    f = tandem.feishu
    pm = f.add_user("ou_pm", "王经理")
    owners = [f.add_user(f"ou_u{i}", f"同事{i}") for i in range(20)]
    assert tandem.feishu_say("oc_g1", pm, "/项目 创建 发布会").status_code == 200
    f.wait_for(1, chat_id="oc_g1")
    for i in range(20):
        tandem.feishu_say("oc_g1", pm, f"/任务 新增 任务{i + 1} @同事{i}")
    f.wait_for(21, chat_id="oc_g1", timeout=30)

    def press(i: int) -> tuple[float, dict]:
        payload = f.card_event("oc_g1", owners[i], "om_prompt", {"command": f"/任务 #{i + 1} 完成"})
        started = time.perf_counter()
        response = tandem.post_feishu(payload, path="/webhook/feishu/card")
        return time.perf_counter() - started, response.json()

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(press, range(20)))
    latencies = sorted(seconds for seconds, _ in results)
    p50, p99 = statistics.median(latencies), latencies[-1]
    print(f"20 concurrent clicks: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    assert p99 < 3.0  # Feishu's limit (the measured p99 is reported in the branch's note)
    # Each click gets its own outcome when it is ready within the wait, else the in-time fallback
    # (the change still happens, and its reply is posted); a loaded machine may need the fallback.
    own = 0
    for i, (_, answer) in enumerate(results):
        if answer == CARD_TOAST:
            continue
        assert answer["toast"]["type"] == "success" and f"#{i + 1}" in answer["toast"]["content"]
        own += 1
    assert own > 0
    tandem.settle()
    with tandem.runtime.session_factory() as session:
        assert {t.status for t in session.scalars(select(Task))} == {TaskStatus.DONE}
