"""A DingTalk (timestamp, sign) pair covers no body: it is good for the one msgId it first came with,
across replicas on one database; the body must name our robot and (when configured) our organisation."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from bot.db import make_session_factory
from models import InboundEvent, Project, ProjectStatus, WebhookSignature, prune_webhook_signatures
from tests.fakes.dingtalk import callback_sign
from tests.platforms.conftest import Tandem


def signed(tandem: Tandem, payload: dict[str, object], timestamp: str) -> tuple[bytes, dict[str, str]]:
    """The body with headers that a captured request carried (the same pair for any body)."""
    headers = {
        "Content-Type": "application/json",
        "timestamp": timestamp,
        "sign": callback_sign(timestamp, tandem.dingtalk.client_secret),
    }
    return json.dumps(payload, ensure_ascii=False).encode(), headers


def test_a_captured_pair_cannot_carry_another_message(make_tandem: Callable[..., Tandem]) -> None:
    tandem = make_tandem()
    d = tandem.dingtalk
    pm, li = d.add_user("staff_pm", "王经理"), d.add_user("staff_li", "李四")
    tandem.dingtalk_say("cidG1==", pm, "/项目 创建 发布会")
    d.wait_for(1)
    timestamp = str(int(time.time() * 1000))
    genuine = d.message("cidG1==", li, "#1 完成")
    body, headers = signed(tandem, genuine, timestamp)
    assert tandem.http.post("/webhook/dingtalk", content=body, headers=headers).status_code == 200
    # The same message redelivered with its own pair is fine (and a duplicate).
    assert tandem.http.post("/webhook/dingtalk", content=body, headers=headers).status_code == 200
    forged = d.message("cidG1==", pm, "/项目 结项")  # claims to be the PM
    body, _ = signed(tandem, forged, timestamp)
    response = tandem.http.post("/webhook/dingtalk", content=body, headers=headers)
    assert response.status_code == 401 and "already used for another message" in response.json()["error"]
    # Another replica on the same database refuses it too.
    other = make_tandem()
    assert other.http.post("/webhook/dingtalk", content=body, headers=headers).status_code == 401
    tandem.settle()
    with tandem.runtime.session_factory() as session:
        keys = set(session.scalars(select(InboundEvent.event_key)))
        assert forged["msgId"] not in keys and genuine["msgId"] in keys and len(keys) == 2
        assert session.scalars(select(Project.status)).one() == ProjectStatus.ACTIVE  # not closed


def test_the_body_must_name_our_robot_and_organisation(make_tandem: Callable[..., Tandem]) -> None:
    tandem = make_tandem(dingtalk_corp_id="dingcorpfake")
    d = tandem.dingtalk
    pm = d.add_user("staff_pm", "王经理")
    other_robot = d.message("cidG1==", pm, "/帮助")
    other_robot["robotCode"] = "dingsomeoneelse"
    other_corp = d.message("cidG1==", pm, "/帮助")
    other_corp["chatbotCorpId"] = "dingothercorp"
    no_corp = d.message("cidG1==", pm, "/帮助")
    del no_corp["chatbotCorpId"]
    for payload in (other_robot, other_corp, no_corp):
        assert tandem.post_dingtalk(payload).status_code == 401
    without_robot_code = d.message("cidG1==", pm, "/帮助")
    del without_robot_code["robotCode"]  # older callbacks do not carry it
    assert tandem.post_dingtalk(without_robot_code).status_code == 200
    assert tandem.count(InboundEvent) == 1


def test_any_organisation_when_none_is_configured(tandem: Tandem) -> None:
    payload = tandem.dingtalk.message("cidG1==", tandem.dingtalk.add_user("staff_pm", "王经理"), "/帮助")
    payload["chatbotCorpId"] = "dingothercorp"
    assert tandem.post_dingtalk(payload).status_code == 200


def test_pruning_drops_pairs_past_the_tolerance_only(engine: Engine) -> None:
    factory = make_session_factory(engine)
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    with factory.begin() as session:
        for minutes in (0, 59, 61, 300):
            session.add(
                WebhookSignature(
                    platform="dingtalk", sign=f"s{minutes}", event_key=f"m{minutes}", signed_at=now - timedelta(minutes=minutes)
                )
            )
    with factory.begin() as session:
        assert prune_webhook_signatures(session, before=now - timedelta(hours=1)) == 2
    with factory() as session:
        assert set(session.scalars(select(WebhookSignature.sign))) == {"s0", "s59"}
