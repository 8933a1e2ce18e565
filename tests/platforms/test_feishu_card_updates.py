"""The daily prompt card updated in place (issue 11): a click is answered with the toast and the card
as it now is (from the database, for everyone), or, when the answer cannot wait, the card is updated
just after with PATCH; a typed change to a task on today's prompt card refreshes it too. Against the
fake Feishu, which validates every card and implements the PATCH as Feishu does."""

from __future__ import annotations

import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot import callback_answers
from bot.messages import CardChange, Incoming
from bot.platforms.feishu import cards
from bot.platforms.feishu.inbound import CARD_TOAST
from models import OutboundMessage, OutboundStatus, TaskStatus
from tests.fakes.feishu import Posted, card_problem
from tests.platforms.conftest import Tandem
from tests.platforms.test_dingtalk_pings import next_prompt_time
from tests.platforms.test_feishu_card_clicks import button, click, status


def prompt_card(tandem: Tandem) -> tuple[Posted, datetime]:
    """A project with 李四's two tasks and 张三's one; the next 17:00 prompt, as a card."""
    f = tandem.feishu
    pm = f.add_user("ou_pm", "王经理")
    f.add_user("ou_li", "李四")
    f.add_user("ou_zhang", "张三")
    f.add_user("ou_wu", "吴六")
    commands = ("/项目 创建 发布会", "/任务 新增 写发布稿 @李四", "/任务 新增 订场地 @李四", "/任务 新增 做海报 @张三")
    for i, text in enumerate(commands, 1):
        assert tandem.feishu_say("oc_g1", pm, text).status_code == 200
        f.wait_for(i, chat_id="oc_g1")
    at = next_prompt_time()
    assert tandem.runtime.job_runner().run(["daily-prompt"], at).count("posted", "daily-prompt") == 1
    card = f.wait_for(5, chat_id="oc_g1")[4]
    assert card.msg_type == "interactive" and card_problem(card.content) is None
    tandem.settle()
    return card, at


def card_text(card: dict[str, Any]) -> str:
    return json.dumps(card, ensure_ascii=False)


def line_of(card: dict[str, Any], ref: str) -> str:
    """The markdown line that shows task `ref` on the card."""
    for element in _walk(card.get("body", {}).get("elements", [])):
        for line in str(element.get("content", "")).splitlines():
            if line.strip().startswith(ref + " "):
                return line
    raise AssertionError(f"{ref} is not on the card")


def _walk(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, list):
        return [e for v in value for e in _walk(v)]
    if isinstance(value, dict):
        return [value, *_walk([v for k, v in value.items() if k != "tag"])]
    return []


def commands_on(card: dict[str, Any]) -> list[str]:
    return [v["command"] for v in cards.button_values(card)]


def test_pressing_done_answers_with_the_toast_and_the_card_as_it_now_is(tandem: Tandem) -> None:
    card, _ = prompt_card(tandem)
    answer = click(tandem, card, "ou_li", button(card, "/任务 #1 完成"))
    assert answer["toast"]["type"] == "success" and "#1" in answer["toast"]["content"]
    shown = answer["card"]
    assert answer["card"]["type"] == "raw" and card_problem(shown["data"]) is None
    data = shown["data"]
    # #1 stays on the day's card, shown as done and without buttons; the others keep theirs
    assert "已完成" in line_of(data, "#1") and "/任务 #1 完成" not in commands_on(data)
    assert {"/任务 #2 完成", "/任务 #3 完成", "/任务 #2 开始"} <= set(commands_on(data))
    assert data["header"] == card.content["header"] and data["config"]["update_multi"] is True
    assert status(tandem, 1) == TaskStatus.DONE
    # the second tap: nothing changes twice, and the card still shows it done
    again = click(tandem, card, "ou_li", button(card, "/任务 #1 完成"))
    assert "没有变化" in again["toast"]["content"] and "已完成" in line_of(again["card"]["data"], "#1")
    tandem.settle()
    # the first answer's card made its update row unneeded; the second tap came within the window of
    # the first, so its update row still goes (answers may land in any order): one PATCH, the last state
    updates = tandem.feishu.updates
    assert len(updates) == 1 and "已完成" in line_of(updates[0][1], "#1")
    with tandem.runtime.session_factory() as session:
        rows = session.scalars(select(OutboundMessage).where(OutboundMessage.updates_message_id.is_not(None))).all()
        assert [r.last_error is not None for r in rows] == [True, False]
        assert all(r.status == OutboundStatus.SENT for r in rows)


def test_one_click_answered_in_time_needs_no_patch(tandem: Tandem) -> None:
    card, _ = prompt_card(tandem)
    answer = click(tandem, card, "ou_zhang", button(card, "/任务 #3 完成"))
    assert "已完成" in line_of(answer["card"]["data"], "#3")
    tandem.settle()
    assert tandem.feishu.updates == []  # answered with the card in time: no PATCH repeats it


def test_a_stranger_gets_an_error_and_the_card_unchanged_a_pm_changes_it_for_everyone(tandem: Tandem) -> None:
    card, _ = prompt_card(tandem)
    refused = click(tandem, card, "ou_wu", button(card, "/任务 #3 开始"))
    assert refused["toast"]["type"] == "error" and "只有负责人或 PM 可以更新" in refused["toast"]["content"]
    assert "待开始" in line_of(refused["card"]["data"], "#3") and "/任务 #3 开始" in commands_on(refused["card"]["data"])
    assert status(tandem, 3) == TaskStatus.TODO
    started = click(tandem, card, "ou_pm", button(card, "/任务 #3 开始"))
    assert started["toast"]["type"] == "success"
    data = started["card"]["data"]
    assert "进行中" in line_of(data, "#3") and "/任务 #3 开始" not in commands_on(data)
    assert "/任务 #3 完成" in commands_on(data) and "待开始" in line_of(data, "#1")
    assert status(tandem, 3) == TaskStatus.IN_PROGRESS


def test_a_form_click_shows_the_reason_on_the_card(tandem: Tandem) -> None:
    card, _ = prompt_card(tandem)
    answer = click(tandem, card, "ou_li", button(card, "/任务 #2 阻塞"), {"arg": "等场地报价"})
    assert answer["toast"]["type"] == "success"
    line = line_of(answer["card"]["data"], "#2")
    assert "阻塞" in line and "等场地报价" in line
    progress = click(tandem, card, "ou_li", button(card, "/任务 #1 进度"), {"arg": "60%"})
    assert "60%" in line_of(progress["card"]["data"], "#1") and "阻塞" in line_of(progress["card"]["data"], "#2")


def test_when_the_answer_cannot_wait_the_card_is_updated_just_after(
    tandem: Tandem, monkeypatch: pytest.MonkeyPatch
) -> None:
    card, _ = prompt_card(tandem)
    monkeypatch.setattr(callback_answers, "ANSWER_WITHIN", 0.0)  # the work never finishes within the wait
    answer = click(tandem, card, "ou_li", button(card, "/任务 #1 完成"))
    assert answer == CARD_TOAST  # the toast now
    updated = tandem.feishu.wait_for_updates(1, message_id=card.message_id)  # and the card just after
    assert len(updated) == 1 and "已完成" in line_of(updated[0], "#1")
    shown = tandem.feishu.message(card.message_id)
    assert shown is not None and "已完成" in line_of(shown.content, "#1")
    tandem.settle()
    assert len(tandem.feishu.updates) == 1 and status(tandem, 1) == TaskStatus.DONE


def typed_at(tandem: Tandem, sender: str, text: str, at: datetime) -> None:
    event = tandem.feishu.message_event("oc_g1", sender, text)
    event["event"]["message"]["create_time"] = str(int(at.timestamp() * 1000))
    assert tandem.post_feishu(event).status_code == 200


def test_a_typed_change_to_a_task_on_todays_card_refreshes_it(tandem: Tandem) -> None:
    card, at = prompt_card(tandem)
    posted = len(tandem.feishu.posted)
    typed_at(tandem, "ou_zhang", "#3 完成了", at + timedelta(minutes=30))
    updated = tandem.feishu.wait_for_updates(1, message_id=card.message_id)
    assert len(updated) == 1 and "已完成" in line_of(updated[0], "#3") and "待开始" in line_of(updated[0], "#1")
    assert card_problem(updated[0]) is None
    tandem.settle()
    # a task not on the card, and a change on another day, leave the card alone
    typed_at(tandem, "ou_pm", "/任务 新增 订酒店 @张三", at + timedelta(minutes=31))
    typed_at(tandem, "ou_zhang", "#4 完成了", at + timedelta(minutes=32))
    typed_at(tandem, "ou_li", "#1 进度 30%", at + timedelta(days=1))
    tandem.feishu.wait_for(posted + 4, chat_id="oc_g1")
    tandem.settle()
    assert len(tandem.feishu.updates) == 1
    assert "已完成" in line_of(tandem.feishu.message(card.message_id).content, "#3")  # type: ignore[union-attr]


def test_a_card_from_another_group_is_never_rendered_into_this_one(tandem: Tandem) -> None:
    card, _ = prompt_card(tandem)
    f = tandem.feishu
    tandem.feishu_say("oc_g2", "ou_pm", "/项目 创建 别的项目")
    f.wait_for(1, chat_id="oc_g2")
    payload = f.card_event("oc_g2", "ou_pm", card.message_id, {"command": "/任务 #1 完成"})
    answer = tandem.post_feishu(payload, path="/webhook/feishu/card").json()
    assert "card" not in answer and answer["toast"]["type"] == "error"  # no #1 in that group's project
    tandem.settle()
    assert f.updates == [] and status(tandem, 1) == TaskStatus.TODO


# ---------------------------------------------------------------------------- cards where they read better


def project_with_task(tandem: Tandem, chat: str = "oc_g3") -> None:
    f = tandem.feishu
    f.add_user("ou_pm", "王经理")
    f.add_user("ou_li", "李四")
    f.add_user("ou_wu", "吴六")
    for i, text in enumerate(("/项目 创建 发布会", "/任务 新增 写发布稿 @李四"), 1):
        tandem.feishu_say(chat, "ou_pm", text)
        f.wait_for(i, chat_id=chat)


def say_and_get(tandem: Tandem, chat: str, sender: str, text: str) -> Posted:
    tandem.settle()  # the replies to earlier clicks are posted first
    before = len(tandem.feishu.wait_for(0, chat_id=chat))
    assert tandem.feishu_say(chat, sender, text).status_code == 200
    return tandem.feishu.wait_for(before + 1, chat_id=chat)[before]


def press(tandem: Tandem, chat: str, card: Posted, who: str, command: str, form: dict | None = None) -> dict:
    value = next(v for v in cards.button_values(card.content) if v["command"] == command)
    payload = tandem.feishu.card_event(chat, who, card.message_id, value, form)
    response = tandem.post_feishu(payload, path="/webhook/feishu/card")
    assert response.status_code == 200
    return dict(response.json())


def test_task_details_are_a_card_with_the_tasks_buttons(tandem: Tandem) -> None:
    project_with_task(tandem)
    detail = say_and_get(tandem, "oc_g3", "ou_li", "/任务 #1")
    assert detail.msg_type == "interactive" and card_problem(detail.content) is None
    assert {"/任务 #1 开始", "/任务 #1 完成", "/任务 #1 阻塞", "/任务 #1 进度"} <= set(commands_on(detail.content))
    assert press(tandem, "oc_g3", detail, "ou_wu", "/任务 #1 完成")["toast"]["type"] == "error"
    answer = press(tandem, "oc_g3", detail, "ou_li", "/任务 #1 阻塞", {"arg": "等审批"})
    assert answer["toast"]["type"] == "success" and card_problem(answer["card"]["data"]) is None
    shown = answer["card"]["data"]  # the details card, shown again as the task now is
    assert "阻塞原因：等审批" in card_text(shown) and "/任务 #1 开始" not in commands_on(shown)
    assert "/任务 #1 完成" in commands_on(shown)
    tandem.settle()
    assert status(tandem, 1) == TaskStatus.BLOCKED
    done = say_and_get(tandem, "oc_g3", "ou_li", "/任务 #1 完成")
    tandem.settle()
    assert [c.split(" ")[0] for c in commands_on(done.content)] == ["/撤销"]  # one tap takes it back
    closed = say_and_get(tandem, "oc_g3", "ou_li", "/任务 #1")
    assert "/任务 #1 完成" not in commands_on(closed.content)  # a done task offers no status buttons


def test_a_risk_card_closes_and_reopens_and_an_action_item_completes(tandem: Tandem) -> None:
    project_with_task(tandem)
    say_and_get(tandem, "oc_g3", "ou_pm", "/风险 新增 场地可能延期 等级:高 @李四")
    risk = say_and_get(tandem, "oc_g3", "ou_pm", "/风险 R1")
    assert card_problem(risk.content) is None
    assert {"/风险 更新 R1", "/风险 关闭 R1"} <= set(commands_on(risk.content))
    noted = press(tandem, "oc_g3", risk, "ou_li", "/风险 更新 R1", {"arg": "已联系备选场地"})
    assert noted["toast"]["type"] == "success" and "已联系备选场地" in noted["toast"]["content"]
    assert press(tandem, "oc_g3", risk, "ou_li", "/风险 关闭 R1")["toast"]["type"] == "success"
    tandem.settle()
    reopened = say_and_get(tandem, "oc_g3", "ou_pm", "/风险 R1")
    assert commands_on(reopened.content) == ["/风险 重开 R1"]
    assert press(tandem, "oc_g3", reopened, "ou_pm", "/风险 重开 R1")["toast"]["type"] == "success"
    say_and_get(tandem, "oc_g3", "ou_pm", "/行动 新增 确认报价 @李四 截止:明天")
    action = say_and_get(tandem, "oc_g3", "ou_pm", "/行动 A1")
    assert commands_on(action.content) == ["/行动 完成 A1"]
    assert press(tandem, "oc_g3", action, "ou_wu", "/行动 完成 A1")["toast"]["type"] == "error"
    assert press(tandem, "oc_g3", action, "ou_li", "/行动 完成 A1")["toast"]["type"] == "success"
    again = press(tandem, "oc_g3", action, "ou_li", "/行动 完成 A1")["toast"]  # a double click
    assert "已经完成" in again["content"]
    tandem.settle()
    with tandem.runtime.session_factory() as session:
        from models import ActionItem, ActionStatus, Risk, RiskStatus

        assert session.scalars(select(Risk)).one().status == RiskStatus.OPEN
        assert session.scalars(select(ActionItem)).one().status == ActionStatus.DONE


def test_the_question_has_yes_and_no_buttons_and_only_the_asker_confirms(tandem: Tandem) -> None:
    project_with_task(tandem)
    asked = say_and_get(tandem, "oc_g3", "ou_li", "#1 应该完成了")
    assert "是要把" in asked.text and commands_on(asked.content) == ["是", "不是"]
    other = press(tandem, "oc_g3", asked, "ou_wu", "是")
    assert "没有等你确认的更新" in other["toast"]["content"]
    tandem.settle()
    assert status(tandem, 1) == TaskStatus.TODO
    asked = say_and_get(tandem, "oc_g3", "ou_li", "#1 应该完成了")
    yes = press(tandem, "oc_g3", asked, "ou_li", "是")
    assert yes["toast"]["type"] == "success" and "#1" in yes["toast"]["content"]
    tandem.settle()
    assert status(tandem, 1) == TaskStatus.DONE


def test_an_update_can_be_taken_back_with_one_tap(tandem: Tandem) -> None:
    project_with_task(tandem)
    updated = say_and_get(tandem, "oc_g3", "ou_li", "#1 进度 40%")
    tandem.settle()
    [undo] = commands_on(updated.content)
    assert undo.startswith("/撤销 消息:")  # this message's, not whatever the presser changed last
    say_and_get(tandem, "oc_g3", "ou_li", "#1 备注 已约好摄影")  # a later message, changing nothing undoable
    assert "只有本人或 PM 可以撤销" in press(tandem, "oc_g3", updated, "ou_wu", undo)["toast"]["content"]
    assert "撤销" in press(tandem, "oc_g3", updated, "ou_li", undo)["toast"]["content"]
    tandem.settle()
    with tandem.runtime.session_factory() as session:
        from models import Task

        assert session.scalars(select(Task)).one().progress == 0
    assert "已经撤销过了" in press(tandem, "oc_g3", updated, "ou_li", undo)["toast"]["content"]
    note = say_and_get(tandem, "oc_g3", "ou_li", "#1 备注 已约好摄影")
    assert note.msg_type == "post"  # a note changes nothing /撤销 takes back: no button, a plain post


def test_twenty_concurrent_clicks_on_a_sixty_task_card_each_get_their_answer_and_the_card_ends_right(
    tandem: Tandem,
) -> None:
    f = tandem.feishu
    pm = f.add_user("ou_pm", "王经理")
    owners = [f.add_user(f"ou_u{i}", f"同事{i}") for i in range(20)]
    assert tandem.feishu_say("oc_g1", pm, "/项目 创建 发布会").status_code == 200
    f.wait_for(1, chat_id="oc_g1")
    for i in range(60):  # three tasks each
        tandem.feishu_say("oc_g1", pm, f"/任务 新增 任务{i + 1} @同事{i % 20}")
    f.wait_for(61, chat_id="oc_g1", timeout=60)
    assert tandem.runtime.job_runner().run(["daily-prompt"], next_prompt_time()).count("posted", "daily-prompt") == 1
    card = f.wait_for(62, chat_id="oc_g1")[61]
    assert card.msg_type == "interactive" and card_problem(card.content) is None
    assert len(json.dumps(card.content, ensure_ascii=False).encode()) <= 30 * 1024
    tandem.settle()

    def press_done(i: int) -> tuple[float, dict[str, Any]]:
        payload = f.card_event("oc_g1", owners[i], card.message_id, {"command": f"/任务 #{i + 1} 完成"})
        started = time.perf_counter()
        response = tandem.post_feishu(payload, path="/webhook/feishu/card")
        return time.perf_counter() - started, response.json()

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(press_done, range(20)))
    latencies = sorted(seconds for seconds, _ in results)
    print(f"20 concurrent clicks on a 60-task card: p50 {statistics.median(latencies) * 1000:.0f} ms, "
          f"p99 {latencies[-1] * 1000:.0f} ms")
    assert latencies[-1] < 3.0
    for i, (_, answer) in enumerate(results):
        if answer == CARD_TOAST:  # the in-time fallback on a loaded machine: the card comes by PATCH
            continue
        assert answer["toast"]["type"] == "success" and f"#{i + 1}" in answer["toast"]["content"]
        data = answer["card"]["data"]
        assert card_problem(data) is None and len(json.dumps(data, ensure_ascii=False).encode()) <= 30 * 1024
        assert "已完成" in line_of(data, f"#{i + 1}")
    tandem.settle(timeout=30)
    final = f.message(card.message_id)
    assert final is not None and card_problem(final.content) is None
    assert len(f.updates) >= 1  # concurrent clicks: the last update row has the last word
    for i in range(20):
        assert "已完成" in line_of(final.content, f"#{i + 1}")
    assert "待开始" in line_of(final.content, "#21") or "#21" in card_text(final.content)
    with tandem.runtime.session_factory() as session:
        from models import Task

        done = {t.number for t in session.scalars(select(Task)) if t.status == TaskStatus.DONE}
        assert done == set(range(1, 21))


def test_a_run_refreshes_a_days_cards_only_with_that_days_changes(tandem: Tandem) -> None:
    """Events of one chat processed as a run (bot.dispatcher) are grouped by the project's day: a
    change the next day does not redraw today's card, even in the run of one made today."""
    from handlers.card_refresh import CardRefresh
    from models import Project, Task

    card, at = prompt_card(tandem)
    refresh = CardRefresh(platforms=["feishu"], registry=tandem.runtime.registry)

    def change(number: int, sent_at: datetime) -> CardChange:
        with tandem.runtime.session_factory() as session:
            project = session.scalars(select(Project)).one()
            task = session.scalars(select(Task).where(Task.number == number)).one()
            incoming = Incoming(
                platform="feishu", event_key=f"ev-{number}-{sent_at:%d}", chat_id="oc_g1", sender_id="ou_li",
                sender_name="李四", text=f"#{number} 进度 30%", sent_at=sent_at,
            )
            return CardChange(incoming, project.id, {"task": frozenset({task.id}), "risk": frozenset(), "action": frozenset()})

    today, next_day = change(1, at + timedelta(minutes=30)), change(1, at + timedelta(days=1))
    posted = len(tandem.feishu.posted)
    typed_at(tandem, "ou_pm", "/任务 新增 订酒店 @张三", at + timedelta(minutes=31))  # #4: not on the card
    tandem.feishu.wait_for(posted + 1, chat_id="oc_g1")
    tandem.settle()
    not_on_card = change(4, at + timedelta(minutes=32))
    with tandem.runtime.session_factory() as session:
        assert refresh.updates(session, [next_day]) == []
        assert [u.message_id for u in refresh.updates(session, [today])] == [card.message_id]
        assert [u.message_id for u in refresh.updates(session, [next_day, today, next_day])] == [card.message_id]
        assert refresh.updates(session, [not_on_card, next_day]) == []
