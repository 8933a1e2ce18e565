"""DingTalk end to end over HTTP: signed robot callbacks into the running app; replies into a fake DingTalk."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

from sqlalchemy import select

from models import InboundEvent, OutboundMessage, OutboundStatus, Project, Task, TaskStatus
from tests.platforms.conftest import Tandem


def people(tandem: Tandem) -> tuple[str, str, str]:
    d = tandem.dingtalk
    return d.add_user("staff_pm", "王经理"), d.add_user("staff_li", "李四"), d.add_user("staff_zhang", "张三")


def test_project_scenario(tandem: Tandem) -> None:
    d = tandem.dingtalk
    pm, li, zhang = people(tandem)
    steps = [
        (pm, "/项目 创建 新品发布会 截止:2026-12-20"),
        (pm, "/任务 新增 写发布稿 @李四 截止:2026-12-04"),
        (pm, "/任务 新增 订场地 @张三"),
        (li, "#1 进度 60% 初稿好了"),
        (zhang, "#2 卡住了，等报价"),
        (li, "/完成 #1"),
        (pm, "/任务 列表"),
    ]
    for i, (sender, text) in enumerate(steps, 1):
        response = tandem.dingtalk_say("cidG1==", sender, text)
        assert response.status_code == 200 and response.json() == {}
        d.wait_for(i, conversation_id="cidG1==")
    sent = d.wait_for(7, conversation_id="cidG1==")
    assert all(s.via == "session" for s in sent)
    assert "已创建项目“新品发布会”，PM：王经理" in sent[0].text
    assert sent[1].text.startswith("已新增 #1 写发布稿") and "@staff_li" in sent[1].text
    assert sent[1].at_user_ids == ["staff_li"]
    assert "进行中 60%" in sent[3].text and "阻塞" in sent[4].text and "已完成" in sent[5].text
    with tandem.runtime.session_factory() as session:
        tasks = {t.number: t for t in session.scalars(select(Task))}
        assert tasks[1].status == TaskStatus.DONE and tasks[2].status == TaskStatus.BLOCKED
        owner_ids = {tasks[1].owner.user_id, tasks[2].owner.user_id}
        assert owner_ids == {"staff_li", "staff_zhang"}
        project = session.scalars(select(Project)).one()
        assert (project.platform, project.chat_id) == ("dingtalk", "cidG1==")  # the openConversationId


def test_after_the_session_expires_the_group_api_is_used(tandem: Tandem) -> None:
    d = tandem.dingtalk
    pm, _, _ = people(tandem)
    tandem.dingtalk_say("cidG1==", pm, "/项目 创建 发布会", session_minutes=0.2)  # expires within the margin
    sent = d.wait_for(1)
    assert sent[0].via == "group" and sent[0].conversation_id == "cidG1==" and "已创建项目" in sent[0].text
    request = next(r for r in d.requests if r["via"] == "group")["body"]
    assert request["robotCode"] == d.client_id and request["msgKey"] == "sampleText"
    assert isinstance(request["msgParam"], str) and "已创建项目" in json.loads(request["msgParam"])["content"]


def test_a_refused_session_falls_back_to_the_group_api(tandem: Tandem) -> None:
    d = tandem.dingtalk
    pm, _, _ = people(tandem)
    d.fail_next("expired")
    tandem.dingtalk_say("cidG1==", pm, "/帮助")
    sent = d.wait_for(1)
    assert [s.via for s in sent] == ["group"] and sent[0].msgtype == "sampleMarkdown"


def test_duplicates_and_redeliveries_change_nothing(tandem: Tandem) -> None:
    d = tandem.dingtalk
    pm, _, _ = people(tandem)
    tandem.dingtalk_say("cidG1==", pm, "/项目 创建 发布会")
    d.wait_for(1)
    payload = d.message("cidG1==", pm, "/任务 新增 写发布稿")
    body, headers = d.request(payload)
    barrier = threading.Barrier(6)

    def post() -> None:
        barrier.wait()
        assert tandem.http.post("/webhook/dingtalk", content=body, headers=headers).status_code == 200

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert tandem.post_dingtalk(payload).status_code == 200  # redelivered later, freshly signed
    tandem.settle()  # every event processed, every reply delivered
    assert tandem.count(Task) == 1 and len(d.sent) == 2 and tandem.count(InboundEvent) == 2


def test_forged_stale_and_malformed_requests_leave_no_trace(tandem: Tandem) -> None:
    d = tandem.dingtalk
    pm, _, _ = people(tandem)
    payload = d.message("cidG1==", pm, "/项目 创建 偷偷建的项目")
    body, headers = d.request(payload)
    sign = headers["sign"]
    forged = ("A" if sign[0] != "A" else "B") + sign[1:]  # always differs from the real signature
    assert tandem.http.post("/webhook/dingtalk", content=body, headers=dict(headers, sign=forged)).status_code == 401
    assert tandem.post_dingtalk(payload, secret="a guessed secret").status_code == 401
    stale = int(time.time() * 1000) - 2 * 3_600_000
    assert tandem.post_dingtalk(payload, timestamp=stale).status_code == 401
    assert tandem.http.post("/webhook/dingtalk", content=body).status_code == 401  # no headers at all
    assert tandem.http.post("/webhook/dingtalk", content=b"{'not': json}", headers=headers).status_code == 400
    assert tandem.http.post("/webhook/dingtalk", content=b'"just a string"', headers=headers).status_code == 400
    tandem.settle()  # nothing recorded, so nothing can be processed or sent later
    assert tandem.count(InboundEvent) == 0 and tandem.count(Project) == 0 and d.sent == []


def test_private_chat_gets_help(tandem: Tandem) -> None:
    d = tandem.dingtalk
    pm, _, _ = people(tandem)
    tandem.dingtalk_say("cidP2P==", pm, "/项目 创建 私聊项目", conversation_type="1")
    sent = d.wait_for(1)
    assert "项目在群里管理" in sent[0].text and sent[0].msgtype == "markdown" and sent[0].title
    assert tandem.count(Project) == 0


def test_a_task_update_in_a_private_chat_runs_in_the_senders_project(tandem: Tandem) -> None:
    """One-to-one (`conversationType` "1"): answered through the session webhook, in the project it names."""
    d = tandem.dingtalk
    pm, li, _ = people(tandem)
    for chat, name in (("cidG1==", "新品发布会"), ("cidG2==", "官网改版")):
        tandem.dingtalk_say(chat, pm, f"/项目 创建 {name}")
        tandem.dingtalk_say(chat, pm, "/任务 新增 写稿 @李四")
    d.wait_for(4)
    tandem.dingtalk_say("cidP2P==", li, "#1 完成", conversation_type="1")
    asked = d.wait_for(1, conversation_id="cidP2P==")[0]
    assert asked.via == "session" and "都有" in asked.text and "官网改版#1 完成" in asked.text
    tandem.dingtalk_say("cidP2P==", li, "官网改版#1 完成", conversation_type="1")
    done = d.wait_for(2, conversation_id="cidP2P==")[1]
    assert done.via == "session" and "【官网改版】" in done.text and "已完成" in done.text
    with tandem.runtime.session_factory() as session:
        rows = session.execute(select(Project.name, Task.status).join(Task, Task.project_id == Project.id))
        by_project = {name: task_status for name, task_status in rows}
    assert by_project == {"新品发布会": TaskStatus.TODO, "官网改版": TaskStatus.DONE}


def test_throttling_and_server_errors_are_retried(tandem: Tandem) -> None:
    d = tandem.dingtalk
    pm, _, _ = people(tandem)
    d.fail_next("500")  # the session reply fails with a 500, then goes through
    tandem.dingtalk_say("cidG1==", pm, "/帮助")
    assert len(d.wait_for(1, timeout=5)) == 1
    d.fail_next("expired", "qps", "429", "500", "token")  # then the group API: throttled, failing, token revoked
    tandem.dingtalk_say("cidG1==", pm, "/帮助")
    sent = d.wait_for(2, timeout=10)
    assert len(sent) == 2 and sent[1].via == "group"
    tandem.settle()
    with tandem.runtime.session_factory() as session:
        rows = session.scalars(select(OutboundMessage).order_by(OutboundMessage.id)).all()
    assert [r.status for r in rows] == [OutboundStatus.SENT, OutboundStatus.SENT]
    assert rows[1].attempts == 4  # qps, 429, 500; the revoked token is refetched within the same attempt


def test_dingtalk_off_answers_404(make_tandem: Callable[..., Tandem]) -> None:
    tandem = make_tandem(dingtalk_client_secret=None)
    response = tandem.dingtalk_say("cidG1==", "staff_pm", "/帮助")
    assert response.status_code == 404 and "TANDEM_DINGTALK_CLIENT_ID" in response.json()["error"]
