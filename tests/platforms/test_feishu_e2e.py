"""Feishu end to end over HTTP: signed, encrypted events into the running app; replies into a fake Feishu."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from models import InboundEvent, OutboundMessage, OutboundStatus, Project, Task, TaskStatus
from tests.platforms.conftest import Tandem, wait_until


def people(tandem: Tandem) -> tuple[str, str, str]:
    f = tandem.feishu
    return f.add_user("ou_pm", "王经理"), f.add_user("ou_li", "李四"), f.add_user("ou_zhang", "张三")


def kickoff(tandem: Tandem, chat: str = "oc_g1", name: str = "新品发布会") -> None:
    pm, _, _ = people(tandem)
    before = len(tandem.feishu.texts(chat))
    assert tandem.feishu_say(chat, pm, f"/项目 创建 {name} 截止:2026-12-20").status_code == 200
    tandem.feishu.wait_for(before + 1, chat_id=chat)


def test_project_scenario(tandem: Tandem) -> None:
    f = tandem.feishu
    pm, li, zhang = people(tandem)
    said = []
    for sender, text in [
        (pm, "/项目 创建 新品发布会 截止:2026-12-20"),
        (pm, "/任务 新增 写发布稿 @李四 截止:2026-12-04"),
        (pm, "/任务 新增 订场地 @张三"),
        (li, "#1 进度 60% 初稿好了"),
        (zhang, "#2 卡住了，等报价"),
        (li, "/完成 #1"),
        (pm, "/任务 列表"),
    ]:
        response = tandem.feishu_say("oc_g1", sender, text)
        assert response.status_code == 200 and response.json() == {}
        said.append(response)
        f.wait_for(len(said), chat_id="oc_g1")  # one at a time, like people taking turns
    posted = f.wait_for(7, chat_id="oc_g1")
    texts = [p.text for p in posted]
    assert "已创建项目“新品发布会”" in texts[0]
    assert texts[1].startswith("已新增 #1 写发布稿") and posted[1].at_user_ids == ["ou_li"]  # a post's at node
    assert "进行中 60%" in texts[3]
    assert "阻塞" in texts[4] and "已完成" in texts[5]
    assert "#2" in texts[6]
    # every answer quotes the message it answers, and carries its outbox row's uuid
    assert all(p.reply_to and p.reply_to.startswith("om_") for p in posted)
    assert len({p.uuid for p in posted}) == 7
    with tandem.runtime.session_factory() as session:
        tasks = {t.number: t for t in session.scalars(select(Task))}
        assert tasks[1].status == TaskStatus.DONE and tasks[2].status == TaskStatus.BLOCKED
        project = session.scalars(select(Project)).one()
        assert (project.platform, project.chat_id) == ("feishu", "oc_g1")
    # Feishu events carry no sender name: it is fetched from the contact API before processing
    assert "PM：王经理" in texts[0]


def test_url_verification_plain_and_encrypted(tandem: Tandem) -> None:
    f = tandem.feishu
    started = time.perf_counter()
    response = tandem.post_feishu(f.challenge("challenge-one"))
    assert response.status_code == 200 and response.json() == {"challenge": "challenge-one"}
    assert time.perf_counter() - started < 1.0
    assert response.headers["content-type"].startswith("application/json")
    plain = tandem.http.post("/webhook/feishu", json=f.challenge("challenge-two"))
    assert plain.status_code == 200 and plain.json() == {"challenge": "challenge-two"}
    wrong = tandem.http.post("/webhook/feishu", json=dict(f.challenge("x"), token="guessed"))
    assert wrong.status_code == 401
    assert tandem.count(InboundEvent) == 0


def test_duplicates_and_redeliveries_change_nothing(tandem: Tandem) -> None:
    f = tandem.feishu
    kickoff(tandem)
    pm, _li, _ = people(tandem)
    payload = f.message_event("oc_g1", pm, "/任务 新增 写发布稿 @李四")
    body, headers = f.request(payload)
    for _ in range(3):  # the same delivery, retried
        assert tandem.http.post("/webhook/feishu", content=body, headers=headers).status_code == 200
    redelivery = dict(payload, header=dict(payload["header"], event_id="a-new-event-id"))
    assert tandem.post_feishu(redelivery).status_code == 200  # a new push of the same message
    # and a burst of identical deliveries at once
    barrier = threading.Barrier(8)

    def post() -> None:
        barrier.wait()
        tandem.http.post("/webhook/feishu", content=body, headers=headers)

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tandem.settle()  # every event processed, every reply delivered
    assert tandem.count(Task) == 1
    assert len(f.texts("oc_g1")) == 2  # the kickoff and one answer
    assert tandem.count(InboundEvent) == 2


def test_forged_stale_malformed_and_replayed_requests_leave_no_trace(tandem: Tandem) -> None:
    f = tandem.feishu
    pm, _, _ = people(tandem)
    payload = f.message_event("oc_g1", pm, "/项目 创建 偷偷建的项目")
    body, headers = f.request(payload)
    forged = dict(headers, **{"X-Lark-Signature": "f" * 64})
    assert tandem.http.post("/webhook/feishu", content=body, headers=forged).status_code == 401
    stale = int((datetime.now(UTC) - timedelta(hours=3)).timestamp())
    assert tandem.post_feishu(payload, timestamp=stale).status_code == 401
    assert tandem.http.post("/webhook/feishu", content=b'{"encrypt": "', headers=headers).status_code == 400
    assert tandem.http.post("/webhook/feishu", content=b"\xff\xfe", headers=headers).status_code == 400
    unsigned = {k: v for k, v in headers.items() if not k.startswith("X-Lark")}
    assert tandem.http.post("/webhook/feishu", content=body, headers=unsigned).status_code == 401
    plain = tandem.http.post("/webhook/feishu", content=json.dumps(payload).encode())
    assert plain.status_code == 400
    tampered = dict(payload)
    tampered["header"] = dict(payload["header"], token="guessed")
    assert tandem.post_feishu(tampered).status_code == 401
    # a signature replayed with another body
    other_body, _ = f.request(f.message_event("oc_g1", pm, "/项目 创建 另一个"))
    assert tandem.http.post("/webhook/feishu", content=other_body, headers=headers).status_code == 401
    tandem.settle()  # nothing recorded, so nothing can be processed or sent later
    assert tandem.count(InboundEvent) == 0 and tandem.count(Project) == 0 and tandem.count(OutboundMessage) == 0
    assert f.posted == []
    # the genuine request, replayed later with its original headers, is processed once
    assert tandem.http.post("/webhook/feishu", content=body, headers=headers).status_code == 200
    assert tandem.http.post("/webhook/feishu", content=body, headers=headers).status_code == 200
    tandem.settle()
    assert tandem.count(Project) == 1 and len(f.wait_for(1)) == 1


def test_private_chat_gets_help_and_non_text_gets_a_hint(tandem: Tandem) -> None:
    f = tandem.feishu
    pm, _, _ = people(tandem)
    tandem.feishu_say("oc_p2p_pm", pm, "/项目 创建 私聊项目", at_bot=False, chat_type="p2p")
    tandem.post_feishu(f.message_event("oc_g1", pm, "", message_type="image", content={"image_key": "img_1"}))
    posted = f.wait_for(2)
    by_chat = {p.chat_id: p for p in posted}
    assert "项目在群里管理" in by_chat["oc_p2p_pm"].text and by_chat["oc_p2p_pm"].msg_type == "interactive"
    assert "只看得懂文字" in by_chat["oc_g1"].text
    assert tandem.count(Project) == 0


def test_card_callbacks_are_verified_deduplicated_and_routed(tandem: Tandem) -> None:
    f = tandem.feishu
    kickoff(tandem)
    pm, li, _ = people(tandem)
    tandem.feishu_say("oc_g1", pm, "/任务 新增 写发布稿 @李四")
    card_message = f.wait_for(2, chat_id="oc_g1")[-1].message_id
    payload = f.card_event("oc_g1", li, card_message, {"command": "/完成 #1"})
    started = time.perf_counter()
    response = tandem.post_feishu(payload, path="/webhook/feishu/card")
    # answered with what the command did (issue 11), within Feishu's 3 s
    assert response.status_code == 200 and response.json()["toast"]["type"] == "success"
    assert "已完成" in response.json()["toast"]["content"]
    assert time.perf_counter() - started < 3
    assert tandem.post_feishu(payload, path="/webhook/feishu").status_code == 200  # duplicate
    forged_body, forged_headers = f.request(payload)
    forged_headers["X-Lark-Signature"] = "0" * 64
    assert tandem.http.post("/webhook/feishu/card", content=forged_body, headers=forged_headers).status_code == 401
    posted = f.wait_for(3, chat_id="oc_g1")
    tandem.settle()
    assert len(f.texts("oc_g1")) == 3 and "已完成" in posted[2].text and posted[2].reply_to == card_message
    with tandem.runtime.session_factory() as session:
        assert session.scalars(select(Task)).one().status == TaskStatus.DONE
    no_command = tandem.post_feishu(f.card_event("oc_g1", li, card_message, {"x": 1}))
    assert no_command.status_code == 200 and no_command.json()["toast"]["type"] == "warning"


def test_throttling_is_retried_after_the_reset(tandem: Tandem) -> None:
    f = tandem.feishu
    pm, _, _ = people(tandem)
    f.fail_next("429")
    started = time.perf_counter()
    tandem.feishu_say("oc_g1", pm, "/帮助")
    assert len(f.wait_for(1, timeout=10)) == 1
    assert time.perf_counter() - started >= 1.0  # x-ogw-ratelimit-reset: 1
    f.reset_seconds = 0.2  # (Feishu sends whole seconds; shorter here to keep the test quick)
    f.fail_next("400-99991400", "230020")
    started = time.perf_counter()
    tandem.feishu_say("oc_g1", pm, "/帮助")
    assert len(f.wait_for(2, timeout=10)) == 2
    assert time.perf_counter() - started >= 0.2
    assert [r["status"] for r in f.requests] == [429, 200, 400, 400, 200]
    assert len({r["body"]["uuid"] for r in f.requests}) == 2


def test_server_errors_and_lost_answers_never_double_post(tandem: Tandem) -> None:
    f = tandem.feishu
    pm, _, _ = people(tandem)
    f.fail_next("500", "502", "lost")
    tandem.feishu_say("oc_g1", pm, "/帮助")
    wait_until(lambda: len(f.requests) >= 4, timeout=20)
    tandem.settle(timeout=20)
    assert len(f.posted) == 1  # the "lost" attempt posted; the retry with the same uuid did not post again
    assert f.requests[-1].get("deduplicated") is True
    with tandem.runtime.session_factory() as session:
        message = session.scalars(select(OutboundMessage)).one()
        assert message.status == OutboundStatus.SENT and message.attempts == 4


def test_an_invalid_token_is_refetched_once(tandem: Tandem) -> None:
    f = tandem.feishu
    pm, _, _ = people(tandem)
    tandem.feishu_say("oc_g1", pm, "/帮助")
    f.wait_for(1)
    tokens_before = f.token_requests
    f.fail_next("token")
    tandem.feishu_say("oc_g1", pm, "/帮助")
    f.wait_for(2, timeout=5)
    assert f.token_requests == tokens_before + 1
    assert [r["status"] for r in f.requests[-2:]] == [400, 200]


def test_a_message_that_keeps_failing_is_kept_as_failed(tandem: Tandem) -> None:
    f = tandem.feishu
    pm, _, _ = people(tandem)
    f.fail_next("230002", "230002")  # the reply, then the fallback post in the chat
    tandem.feishu_say("oc_g1", pm, "/帮助")
    tandem.settle()
    with tandem.runtime.session_factory() as session:
        message = session.scalars(select(OutboundMessage)).one()
    assert message.status == OutboundStatus.FAILED and "230002" in (message.last_error or "")
    assert f.posted == []


def test_replies_respect_the_per_chat_rate_limit(tandem: Tandem) -> None:
    f = tandem.feishu
    pm, _, _ = people(tandem)
    for i in range(12):
        assert tandem.feishu_say("oc_g1", pm, f"/帮助 {i}").status_code == 200
    posted = f.wait_for(12, timeout=15)
    assert len(posted) == 12 and f.rate_violations == 0
    times = [p.at for p in posted]
    assert max(sum(1 for t in times if s <= t < s + 1.0) for s in times) <= 5


def test_a_recalled_message_is_answered_in_the_chat(tandem: Tandem) -> None:
    f = tandem.feishu
    pm, _, _ = people(tandem)
    payload = f.message_event("oc_g1", pm, "/帮助")
    f.recalled.add(payload["event"]["message"]["message_id"])
    tandem.post_feishu(payload)
    posted = f.wait_for(1)
    assert posted[0].reply_to is None and posted[0].chat_id == "oc_g1"


def test_groups_do_not_see_each_others_projects(tandem: Tandem) -> None:
    f = tandem.feishu
    kickoff(tandem, "oc_a", "项目甲")
    kickoff(tandem, "oc_b", "项目乙")
    pm, _, _ = people(tandem)
    tandem.feishu_say("oc_a", pm, "/任务 新增 甲的任务")
    f.wait_for(2, chat_id="oc_a")
    tandem.feishu_say("oc_b", pm, "/任务 列表")
    listing = f.wait_for(2, chat_id="oc_b")[-1].text
    assert "甲的任务" not in listing
    assert all(p.chat_id in ("oc_a", "oc_b") for p in f.posted)


def test_feishu_off_answers_404(make_tandem: Callable[..., Tandem]) -> None:
    tandem = make_tandem(feishu_app_id=None)
    response = tandem.post_feishu(tandem.feishu.challenge())
    assert response.status_code == 404 and "TANDEM_FEISHU_APP_ID" in response.json()["error"]


def test_the_senders_name_fetched_after_the_answer_is_kept_with_the_processed_event(tandem: Tandem) -> None:
    """Feishu events carry no name: it is looked up after the 200, filled in before processing, and
    stored with the event in its processing transaction (the reply and the member both have it)."""
    f = tandem.feishu
    pm = f.add_user("ou_pm", "王经理")
    assert tandem.feishu_say("oc_g1", pm, "/项目 创建 年会").status_code == 200
    assert tandem.feishu_say("oc_g1", pm, "/成员 列表").status_code == 200
    listed = f.wait_for(2, chat_id="oc_g1")[1]
    tandem.settle()
    assert "王经理" in listed.text
    with tandem.runtime.session_factory() as session:
        events = session.scalars(select(InboundEvent).order_by(InboundEvent.id)).all()
        assert [e.status.value for e in events] == ["done", "done"]
        assert [e.payload["sender_name"] for e in events] == ["王经理", "王经理"]
