"""APScheduler wiring: two ticks with explicit ids and options, started by `tandem serve`'s lifespan."""

from __future__ import annotations

import asyncio
import time as wall
from datetime import timedelta

from apscheduler.triggers.cron import CronTrigger
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from bot.runtime import Runtime
from scheduler.jobs import JobRunner
from scheduler.service import REMINDERS_JOB_ID, TICK_JOB_ID, SchedulerService
from tests.chat import ConsoleChat, FixedClock
from tests.scheduling import posts, sh


async def test_the_ticks_are_registered_with_explicit_ids_and_options(runtime: Runtime, clock: FixedClock) -> None:
    service = SchedulerService(JobRunner(runtime.session_factory, clock=clock), timezone="Asia/Shanghai", clock=clock)
    service.start()
    try:
        jobs = {job.id: job for job in service.scheduler.get_jobs()}
        assert set(jobs) == {TICK_JOB_ID, REMINDERS_JOB_ID}
        for job in jobs.values():
            assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time == 60
            assert isinstance(job.trigger, CronTrigger) and str(job.trigger.timezone) == "Asia/Shanghai"
        assert str(service.scheduler.timezone) == "Asia/Shanghai"
        await asyncio.sleep(0.3)  # both ticks also run once right at start
    finally:
        await service.stop()
    assert not service.scheduler.running


async def test_a_tick_runs_what_is_due_now(chat: ConsoleChat, runtime: Runtime, clock: FixedClock) -> None:
    chat.say("/项目 创建 发布会", at=sh("2026-11-16 10:00"))
    chat.say("/任务 新增 写稿 @李四 截止:2026-11-30", at=sh("2026-11-16 10:00"))
    service = SchedulerService(JobRunner(runtime.session_factory, clock=clock), timezone="Asia/Shanghai", clock=clock)
    clock.set(sh("2026-11-23 17:00"))
    report = await service.tick()
    assert report is not None and report.count("posted", "daily-prompt") == 1
    clock.advance(minutes=1)
    again = await service.tick()
    assert again is not None and again.count("posted") == 0
    clock.set(sh("2026-11-27 10:00"))
    reminders = await service.check_reminders()
    assert reminders is not None and reminders.count("posted", "remind-due") == 1


def test_serve_starts_the_scheduler_in_its_lifespan(
    chat: ConsoleChat, runtime: Runtime, settings: Settings, clock: FixedClock
) -> None:
    chat.say("/项目 创建 发布会", at=sh("2026-11-16 10:00"))
    chat.say("/任务 新增 写稿 @李四 截止:2026-11-30", at=sh("2026-11-16 10:00"))
    clock.set(sh("2026-11-23 17:00") + timedelta(seconds=5))
    app = create_app(settings, runtime=runtime, run_scheduler=True)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        service = app.state.scheduler
        assert service is not None and service.scheduler.running
        deadline = wall.monotonic() + 10
        while not posts(runtime.session_factory, "daily-prompt") and wall.monotonic() < deadline:
            wall.sleep(0.05)  # the first tick runs right at start: a slot missed while down is made up
        assert len(posts(runtime.session_factory, "daily-prompt")) == 1
    assert not service.scheduler.running


def test_no_scheduler_means_none(runtime: Runtime, settings: Settings) -> None:
    app = create_app(settings, runtime=runtime, run_scheduler=False)  # `tandem serve --no-scheduler`
    with TestClient(app):
        assert app.state.scheduler is None
