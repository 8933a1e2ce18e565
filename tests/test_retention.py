"""Retention: finished inbox events and outbox messages go after their periods, scheduler slots only once
they cannot matter for exactly-once, history stays; in small pages, in `tandem serve` and by hand."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, event, func, select

from bot.config import Settings
from bot.retention import Pruner, RetentionService, prune_steps
from bot.runtime import Runtime
from models import (
    Change,
    InboundEvent,
    InboundStatus,
    JobRun,
    OutboundMessage,
    OutboundStatus,
    Project,
    Task,
    WebhookSignature,
    claim_webhook_signature,
)
from scheduler.jobs import JobRunner
from tests.chat import ConsoleChat, FixedClock
from tests.scheduling import posts, project_id, sh

NOW = sh("2026-11-23 10:00")


def settings_for(database_url: str, **overrides: Any) -> Settings:
    return Settings(_env_file=None, database_url=database_url, **overrides)  # type: ignore[call-arg]


def add_event(session: Any, key: str, *, received: datetime, status: InboundStatus) -> None:
    session.add(
        InboundEvent(
            platform="feishu", event_key=key, chat_id="oc_1", received_at=received, payload={"text": "x" * 1000},
            status=status, attempts=1, processed_at=received if status != InboundStatus.PENDING else None,
        )
    )


def add_message(session: Any, key: str, *, created: datetime, status: OutboundStatus) -> None:
    session.add(
        OutboundMessage(
            platform="feishu", chat_id="oc_1", body={"text": key}, idempotency_key=key, origin=f"event:{key}",
            status=status, attempts=1, next_attempt_at=created, created_at=created,
            sent_at=created if status == OutboundStatus.SENT else None,
        )
    )


def keys(runtime: Runtime, model: Any, column: Any) -> set[str]:
    with runtime.session_factory() as session:
        return set(session.scalars(select(column)))


def pruner(runtime: Runtime, database_url: str, *, now: datetime = NOW, batch: int = 500, **overrides: Any) -> Pruner:
    steps = prune_steps(settings_for(database_url, **overrides))
    return Pruner(runtime.writes, steps, clock=lambda: now, batch=batch)


def test_finished_inbox_events_go_after_the_redelivery_window_and_pending_ones_stay(
    runtime: Runtime, database_url: str
) -> None:
    with runtime.session_factory.begin() as session:
        add_event(session, "old-done", received=NOW - timedelta(hours=73), status=InboundStatus.DONE)
        add_event(session, "old-failed", received=NOW - timedelta(hours=100), status=InboundStatus.FAILED)
        add_event(session, "old-pending", received=NOW - timedelta(hours=200), status=InboundStatus.PENDING)
        add_event(session, "recent-done", received=NOW - timedelta(hours=71), status=InboundStatus.DONE)
    deleted = pruner(runtime, database_url).run()
    assert deleted["inbox"] == 2
    assert keys(runtime, InboundEvent, InboundEvent.event_key) == {"old-pending", "recent-done"}


def test_the_inbox_period_cannot_be_shorter_than_feishus_redelivery(database_url: str) -> None:
    with pytest.raises(ValueError, match="retention_inbox_hours"):
        settings_for(database_url, retention_inbox_hours=6)  # Feishu redelivers for about 7.1 hours


def test_sent_and_failed_messages_go_after_their_period_and_pending_ones_stay(
    runtime: Runtime, database_url: str
) -> None:
    with runtime.session_factory.begin() as session:
        add_message(session, "old-sent", created=NOW - timedelta(days=31), status=OutboundStatus.SENT)
        add_message(session, "old-failed", created=NOW - timedelta(days=40), status=OutboundStatus.FAILED)
        add_message(session, "old-pending", created=NOW - timedelta(days=60), status=OutboundStatus.PENDING)
        add_message(session, "recent-sent", created=NOW - timedelta(days=29), status=OutboundStatus.SENT)
        add_message(session, "recent-failed", created=NOW - timedelta(days=5), status=OutboundStatus.FAILED)
    deleted = pruner(runtime, database_url, retention_outbox_days=30).run()
    assert deleted["outbox"] == 2
    assert keys(runtime, OutboundMessage, OutboundMessage.idempotency_key) == {"old-pending", "recent-sent", "recent-failed"}


def test_pruning_goes_in_small_transactions(runtime: Runtime, database_url: str, engine: Engine) -> None:
    """Never one large DELETE holding SQLite's write lock: pages of `batch` rows, each committed."""
    with runtime.session_factory.begin() as session:
        for n in range(23):
            add_event(session, f"e{n}", received=NOW - timedelta(days=5, minutes=n), status=InboundStatus.DONE)
        add_event(session, "kept", received=NOW, status=InboundStatus.DONE)
    deletes: list[int] = []
    commits: list[int] = []

    def after_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            deletes.append(cursor.rowcount)

    event.listen(engine, "after_cursor_execute", after_execute)
    event.listen(engine, "commit", lambda conn: commits.append(1))
    try:
        deleted = pruner(runtime, database_url, batch=5).run()
    finally:
        event.remove(engine, "after_cursor_execute", after_execute)
    assert deleted["inbox"] == 23
    assert max(deletes) <= 5 and sum(deletes) == 23 and len(commits) >= 5
    assert keys(runtime, InboundEvent, InboundEvent.event_key) == {"kept"}


def test_scheduler_slots_go_only_once_they_cannot_matter(runtime: Runtime, database_url: str) -> None:
    """Dated slots go after the period; an escalation stays while its incident lasts, so pruning never
    makes the scheduler post again (checked by running it after the prune); history is kept."""
    clock = FixedClock(sh("2026-09-14 10:00"))
    chat = ConsoleChat(runtime, clock, chat_id="g1")
    chat.say("/项目 创建 发布会", at=clock())
    chat.say("/任务 新增 写发布稿 @李四 截止:2026-12-31", at=clock())  # #1: blocked for good
    chat.say("/任务 新增 订场地 @王五 截止:2026-12-31", at=clock())  # #2: blocked, then unblocked
    chat.say("/风险 新增 场地可能取消 等级:高", at=clock())  # R1: open and high, unchanged
    chat.say("#1 阻塞 等法务", name="李四", at=sh("2026-09-15 10:00"))
    chat.say("#2 阻塞 等报价", name="王五", at=sh("2026-09-15 10:00"))
    runner = JobRunner(runtime.session_factory, clock=clock)
    for moment in ("2026-09-17 11:00", "2026-09-17 17:00"):
        clock.set(sh(moment))
        runner.run(["reminders", "daily-prompt"], clock())
    chat.say("#2 开始", name="王五", at=sh("2026-09-18 10:00"))
    pid = project_id(runtime.session_factory)
    with runtime.session_factory() as session:
        blocked, unblocked = (session.scalar(select(Task.id).where(Task.number == n)) for n in (1, 2))
    with runtime.session_factory.begin() as session:  # claimed long ago for a date still to come
        session.add(JobRun(project_id=pid, job="daily-prompt", slot="2027-03-01", claimed_at=sh("2026-09-17 17:00")))

    def slots() -> set[tuple[str, str]]:
        with runtime.session_factory() as session:
            return {(j, s.split(":")[0]) for j, s in session.execute(select(JobRun.job, JobRun.slot))}

    before = slots()
    assert {("daily-prompt", "2026-09-17"), ("escalate-blocked", str(blocked)), ("escalate-blocked", str(unblocked))} <= before
    assert any(job == "escalate-risk" for job, _ in before)
    history = keys(runtime, Change, Change.id)

    now = sh("2026-12-18 10:00")  # 92 days on: past the period and the date in the key (a day of margin)
    deleted = pruner(runtime, database_url, now=now, retention_job_run_days=90).run()
    after = slots()
    assert after == {
        ("escalate-blocked", str(blocked)),  # still blocked: its claim stops a second escalation
        ("escalate-risk", next(s for j, s in before if j == "escalate-risk")),  # still open, high and unchanged
        ("daily-prompt", "2027-03-01"),
    }
    assert deleted["job_run"] == len(before) - 3
    assert keys(runtime, Change, Change.id) == history  # history is never pruned

    escalations = len([p for p in posts(runtime.session_factory, "reminders") if "升级提醒" in p.text])
    clock.set(now)
    runner.run(["reminders"], now)
    assert len([p for p in posts(runtime.session_factory, "reminders") if "升级提醒" in p.text]) == escalations


def test_serve_prunes_periodically(runtime: Runtime, database_url: str) -> None:
    with runtime.session_factory.begin() as session:
        add_event(session, "old", received=NOW - timedelta(days=5), status=InboundStatus.DONE)

    async def scenario() -> None:
        service = RetentionService(pruner(runtime, database_url), interval=0.05, first_delay=0.0)
        service.start()
        deadline = time.monotonic() + 5
        while keys(runtime, InboundEvent, InboundEvent.event_key) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await service.stop()

    import asyncio

    asyncio.run(scenario())
    assert keys(runtime, InboundEvent, InboundEvent.event_key) == set()


def test_tandem_db_prune(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import main
    from bot.config import get_settings
    from bot.db import make_engine, make_session_factory, upgrade_database

    url = f"sqlite:///{tmp_path / 'tandem.db'}"
    monkeypatch.setenv("TANDEM_DATABASE_URL", url)
    monkeypatch.setenv("TANDEM_RETENTION_INBOX_HOURS", "24")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    upgrade_database(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    old = datetime.now().astimezone() - timedelta(hours=30)
    with factory.begin() as session:
        add_event(session, "old", received=old, status=InboundStatus.DONE)
        add_event(session, "young", received=old + timedelta(hours=10), status=InboundStatus.DONE)
    try:
        result = CliRunner().invoke(main, ["db", "prune"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert "inbox：删除 1 行（保留 1 天 内的）" in result.stdout
        with factory() as session:
            assert list(session.scalars(select(InboundEvent.event_key))) == ["young"]
            assert session.scalar(select(func.count()).select_from(Project)) == 0
    finally:
        engine.dispose()
        get_settings.cache_clear()


def test_used_dingtalk_signatures_go_once_their_hour_is_over(runtime: Runtime, database_url: str) -> None:
    with runtime.session_factory.begin() as session:
        for sign, age in (("old", timedelta(minutes=61)), ("recent", timedelta(minutes=59))):
            claim_webhook_signature(session, platform="dingtalk", sign=sign, event_key=f"msg-{sign}", signed_at=NOW - age)
    deleted = pruner(runtime, database_url).run()
    assert deleted["webhook_signature"] == 1
    assert keys(runtime, WebhookSignature, WebhookSignature.sign) == {"recent"}
