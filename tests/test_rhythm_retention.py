"""The new reminder slots (due today, action items) are pruned like the other dated slots."""

from __future__ import annotations

from sqlalchemy import select

from bot.runtime import Runtime
from models import JobRun
from reports.rules import DATED_REMINDERS
from tests.chat import ConsoleChat
from tests.scheduling import project_id, sh
from tests.test_retention import pruner


def test_dated_reminder_slots_go_once_their_date_is_past(chat: ConsoleChat, runtime: Runtime, database_url: str) -> None:
    chat.say("/项目 创建 发布会", at=sh("2026-09-14 10:00"))
    pid = project_id(runtime.session_factory)
    claimed = sh("2026-09-17 10:00")
    with runtime.session_factory.begin() as session:
        for job in DATED_REMINDERS:
            session.add(JobRun(project_id=pid, job=job, slot="7:2026-09-17", claimed_at=claimed))
            session.add(JobRun(project_id=pid, job=job, slot="7:2027-03-01", claimed_at=claimed))  # a date to come
    pruner(runtime, database_url, now=sh("2026-12-18 10:00"), retention_job_run_days=90).run()
    with runtime.session_factory() as session:
        left = set(session.execute(select(JobRun.job, JobRun.slot)).tuples())
    assert left == {(job, "7:2027-03-01") for job in DATED_REMINDERS}
