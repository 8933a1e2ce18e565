"""GET /metrics: off by default, behind a bearer token when one is set, and the families move with real
traffic through the fake platforms and the console (pending up then down, throttling counted,
failures by the platform's code, latencies observed, slots by outcome)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session

from bot.db import make_engine, make_session_factory
from bot.dispatcher import Dispatcher
from bot.messages import Incoming, Reply
from bot.metrics import Metrics
from bot.platforms.console import console_incoming, deliver_console
from bot.runtime import Runtime
from bot.writes import Writes
from scheduler.jobs import JobRunner
from tests.chat import ConsoleChat, FixedClock
from tests.platforms.conftest import Tandem, wait_until
from tests.scheduling import sh

Samples = dict[str, dict[frozenset[tuple[str, str]], float]]

FAMILIES = (
    "tandem_inbox_events",
    "tandem_inbox_oldest_pending_seconds",
    "tandem_outbox_messages",
    "tandem_outbox_oldest_pending_seconds",
    "tandem_outbox_attempts",
    "tandem_outbox_errors",
    "tandem_event_reply_seconds",
    "tandem_send_seconds",
    "tandem_throttle_holds",
    "tandem_scheduler_slots",
    "tandem_receiver_up",
    "tandem_database_up",
)


def parse(text: str) -> tuple[set[str], Samples]:
    names: set[str] = set()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        for sample in family.samples:
            samples.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return names, samples


def scrape(tandem: Tandem, **headers: str) -> Samples:
    response = tandem.http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return parse(response.text)[1]


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[name][frozenset(labels.items())]


def scrape_until(tandem: Tandem, condition: Callable[[Samples], bool], timeout: float = 10.0) -> Samples:
    found: list[Samples] = []

    def check() -> bool:
        found[:] = [scrape(tandem)]
        return condition(found[0])

    wait_until(check, timeout=timeout, interval=0.02)
    return found[0]


def metrics_on(make_tandem: Callable[..., Tandem], **overrides: Any) -> Tandem:
    return make_tandem(metrics_enabled=True, **overrides)


def test_metrics_are_off_by_default(tandem: Tandem) -> None:
    response = tandem.http.get("/metrics")
    assert response.status_code == 404
    assert "TANDEM_METRICS_ENABLED" in response.json()["error"]


def test_a_token_is_required_when_set(make_tandem: Callable[..., Tandem]) -> None:
    tandem = metrics_on(make_tandem, metrics_token="scrape-token-1")
    refused = ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic scrape-token-1"}, {"Authorization": "Bearer"})
    for headers in refused:
        response = tandem.http.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"
        assert "tandem_" not in response.text
    samples = scrape(tandem, Authorization="Bearer scrape-token-1")
    assert value(samples, "tandem_database_up") == 1


def test_without_a_token_anyone_on_the_network_path_may_scrape(make_tandem: Callable[..., Tandem]) -> None:
    tandem = metrics_on(make_tandem)
    names, _ = parse(tandem.http.get("/metrics").text)
    assert set(FAMILIES) <= names
    assert {"process_resident_memory_bytes", "python_info"} <= names


def test_traffic_moves_the_families(make_tandem: Callable[..., Tandem]) -> None:
    tandem = metrics_on(make_tandem)
    f = tandem.feishu
    pm = f.add_user("ou_pm", "王经理")
    before = scrape(tandem)
    assert value(before, "tandem_receiver_up", platform="feishu", mode="webhook") == 1
    assert value(before, "tandem_receiver_up", platform="dingtalk", mode="webhook") == 1
    assert value(before, "tandem_outbox_attempts_total", platform="feishu", outcome="sent") == 0
    assert value(before, "tandem_throttle_holds_total", platform="feishu", scope="app") == 0

    # A throttled reply: held back until the platform's reset time (1 s), then sent.
    f.fail_next("429")
    assert tandem.feishu_say("oc_g1", pm, "/项目 创建 新品发布会").status_code == 200
    held = scrape_until(tandem, lambda s: value(s, "tandem_throttle_holds_total", platform="feishu", scope="app") == 1)
    assert value(held, "tandem_outbox_messages", platform="feishu", status="pending") == 1
    assert value(held, "tandem_outbox_errors_total", platform="feishu", code="99991400", outcome="retry") == 1
    assert value(held, "tandem_outbox_attempts_total", platform="feishu", outcome="retry") == 1
    assert value(held, "tandem_inbox_events", status="pending") == 0
    assert value(held, "tandem_event_reply_seconds_count", platform="feishu") == 0

    f.wait_for(1, chat_id="oc_g1")
    sent = scrape_until(  # the counter moves when the platform answers, the row once its outcome is written
        tandem,
        lambda s: value(s, "tandem_outbox_attempts_total", platform="feishu", outcome="sent") == 1
        and value(s, "tandem_outbox_messages", platform="feishu", status="pending") == 0,
    )
    assert value(sent, "tandem_outbox_oldest_pending_seconds", platform="feishu") == 0
    assert value(sent, "tandem_send_seconds_count", platform="feishu") == 2  # the throttled attempt and the send
    assert value(sent, "tandem_event_reply_seconds_count", platform="feishu") == 1
    assert value(sent, "tandem_event_reply_seconds_sum", platform="feishu") >= 1.0  # it waited out the hold

    # A permanent refusal (the bot left the chat): the quoted reply and the post in the chat both refused.
    f.fail_next("230002", "230002")
    assert tandem.feishu_say("oc_g1", pm, "/帮助").status_code == 200
    failed = scrape_until(tandem, lambda s: value(s, "tandem_outbox_attempts_total", platform="feishu", outcome="failed") == 1)
    assert value(failed, "tandem_outbox_messages", platform="feishu", status="failed") == 1
    assert value(failed, "tandem_outbox_errors_total", platform="feishu", code="230002", outcome="failed") == 1
    assert value(failed, "tandem_event_reply_seconds_count", platform="feishu") == 1  # not a reply that arrived


def test_dingtalk_session_throttle_holds_the_chat(make_tandem: Callable[..., Tandem]) -> None:
    tandem = metrics_on(make_tandem)
    tandem.dingtalk.fail_next("130101")
    assert tandem.dingtalk_say("cidG1", "staff_pm", "/帮助").status_code == 200
    held = scrape_until(tandem, lambda s: value(s, "tandem_throttle_holds_total", platform="dingtalk", scope="chat") == 1)
    assert value(held, "tandem_outbox_errors_total", platform="dingtalk", code="130101", outcome="retry") == 1
    assert value(held, "tandem_outbox_messages", platform="dingtalk", status="pending") == 1  # held for 60 s


def test_database_gauges_follow_console_traffic(runtime: Runtime, chat: ConsoleChat, clock: FixedClock) -> None:
    metrics = Metrics(runtime.writes, platforms=["console"], clock=clock)

    def gauges() -> Samples:
        return parse(metrics.render().decode())[1]

    incoming = console_incoming("/项目 创建 发布会", chat_id="g1", user_id="王经理", name="王经理", at=clock())
    [event_id] = runtime.dispatcher.accept([incoming])
    clock.advance(seconds=30)
    waiting = gauges()
    assert value(waiting, "tandem_inbox_events", status="pending") == 1
    assert value(waiting, "tandem_inbox_oldest_pending_seconds") == 30
    assert value(waiting, "tandem_outbox_messages", platform="console", status="pending") == 0

    runtime.dispatcher.process(event_id)
    processed = gauges()
    assert value(processed, "tandem_inbox_events", status="pending") == 0
    assert value(processed, "tandem_outbox_messages", platform="console", status="pending") == 1
    deliver_console(runtime.session_factory, lambda _: None, chat_id="g1", clock=clock)
    assert value(gauges(), "tandem_outbox_messages", platform="console", status="pending") == 0

    # An event that fails three times is given up; the group is told (a pending reply).
    def broken(session: Session, incoming: Incoming) -> tuple[Reply | None, int | None]:
        raise RuntimeError("a bug")

    failing = Dispatcher(runtime.session_factory, broken, clock=clock)
    [bad] = failing.accept([console_incoming("/帮助", chat_id="g1", user_id="李四", name="李四", at=clock())])
    for _ in range(3):
        failing.process(bad)
    given_up = gauges()
    assert value(given_up, "tandem_inbox_events", status="failed") == 1
    assert value(given_up, "tandem_outbox_messages", platform="console", status="pending") == 1

    # Scheduler slots by job and outcome: a prompt posted on time, the next day's missed past the grace period.
    chat.say("/任务 新增 写发布稿 @李四 截止:2026-12-31")
    runner = JobRunner(runtime.session_factory, clock=clock)
    runner.run(["daily-prompt"], sh("2026-11-23 17:00"))
    runner.run(["daily-prompt"], sh("2026-11-24 19:30"))
    slots = gauges()
    assert value(slots, "tandem_scheduler_slots", job="daily-prompt", outcome="posted") == 1
    assert value(slots, "tandem_scheduler_slots", job="daily-prompt", outcome="skipped") == 1


def test_an_unreachable_database_is_reported_not_raised() -> None:
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    try:
        metrics = Metrics(Writes(make_session_factory(engine)), platforms=["feishu"])
        _, samples = parse(metrics.render().decode())
        assert value(samples, "tandem_database_up") == 0
        assert "tandem_inbox_events" not in samples
        assert value(samples, "tandem_outbox_attempts_total", platform="feishu", outcome="sent") == 0
    finally:
        engine.dispose()


def test_the_scrape_answers_over_http_with_the_text_format(make_tandem: Callable[..., Tandem]) -> None:
    tandem = metrics_on(make_tandem, metrics_token="t0ken-value")
    with httpx.Client(base_url=tandem.url) as client:
        response = client.get("/metrics", headers={"Authorization": "bearer t0ken-value"})  # the scheme ignores case
    assert response.status_code == 200
    assert "# TYPE tandem_event_reply_seconds histogram" in response.text
    assert "# TYPE tandem_throttle_holds_total counter" in response.text
