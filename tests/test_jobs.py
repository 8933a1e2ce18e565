"""Slot rules and exactly-once posting, over SQLite and PostgreSQL (TANDEM_TEST_DATABASE_URL)."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import Engine, func, select

from bot.db import make_engine, make_session_factory
from bot.platforms.registry import private_platforms
from bot.runtime import Runtime
from models import JobRun, Project
from scheduler.jobs import JobRunner
from tests.chat import ConsoleChat
from tests.scheduling import add_decision, posts, project_id, sh


@pytest.fixture
def runner(runtime: Runtime) -> JobRunner:
    return runtime.job_runner()


def make_project(chat: ConsoleChat, created: str = "2026-09-14 10:00") -> int:
    """发布会 with 李四 (#1 due 12-31, #2 due 10-09) and 王五 (#3 due 12-31); the PM 王经理 has no task."""
    at = sh(created)
    chat.say("/项目 创建 发布会", at=at)
    chat.say("/任务 新增 写发布稿 @李四 截止:2026-12-31", at=at)
    chat.say("/任务 新增 订场地 @李四 截止:2026-10-09", at=at)
    chat.say("/任务 新增 联调接口 @王五 截止:2026-12-31", at=at)
    return project_id(chat.runtime.session_factory)


def prompts(runtime: Runtime) -> list[str]:
    return [p.origin.rsplit(":", 1)[1] for p in posts(runtime.session_factory, "daily-prompt")]


# ---------------------------------------------------------------------------- daily prompt slots


def test_the_daily_prompt_is_posted_once_per_workday(chat: ConsoleChat, runtime: Runtime, runner: JobRunner) -> None:
    make_project(chat)
    assert runner.run(["daily-prompt"], sh("2026-11-23 16:59")).count("posted") == 0
    first = runner.run(["daily-prompt"], sh("2026-11-23 17:00"))
    assert first.count("posted", "daily-prompt") == 1
    again = runner.run(["daily-prompt"], sh("2026-11-23 17:00"))
    assert again.count("posted") == 0 and again.count("already", "daily-prompt") == 1
    runner.run(["daily-prompt"], sh("2026-11-23 17:30"))
    restarted = runtime.job_runner()  # a new process, same database
    restarted.run(["daily-prompt"], sh("2026-11-23 17:59"))
    restarted.run(["daily-prompt"], sh("2026-11-24 17:00"))
    assert prompts(runtime) == ["2026-11-23", "2026-11-24"]
    [post] = posts(runtime.session_factory, "daily-prompt")[:1]
    assert post.chat_id == "g1" and post.to_user_id is None and "@李四" in post.text and "@王五" in post.text


def test_a_missed_slot_is_made_up_within_the_grace_period_then_skipped_and_logged(
    chat: ConsoleChat, runtime: Runtime, runner: JobRunner, caplog: pytest.LogCaptureFixture
) -> None:
    make_project(chat)
    assert runner.run(["daily-prompt"], sh("2026-11-23 17:59")).count("posted") == 1  # made up, 59 min late
    with caplog.at_level(logging.WARNING, logger="scheduler.jobs"):
        late = runner.run(["daily-prompt"], sh("2026-11-24 18:00"))  # the grace period is over
    assert late.count("skipped", "daily-prompt") == 1 and late.count("posted") == 0
    assert any("2026-11-24" in r.getMessage() and "skipped" in r.getMessage() for r in caplog.records)
    assert runner.run(["daily-prompt"], sh("2026-11-24 18:30")).count("skipped") == 0  # logged once
    assert prompts(runtime) == ["2026-11-23"]
    with runtime.session_factory() as session:
        outcome = session.scalar(select(JobRun.outcome).where(JobRun.slot == "2026-11-24"))
    assert outcome == "skipped"
    # An operator re-running the slot at its time (`tandem jobs run --at`) posts it, once.
    assert runner.run(["daily-prompt"], sh("2026-11-24 17:30")).count("posted") == 1
    assert runner.run(["daily-prompt"], sh("2026-11-24 17:40")).count("posted") == 0
    assert prompts(runtime) == ["2026-11-23", "2026-11-24"]


def test_workdays_weekends_national_day_and_its_make_up_days(
    chat: ConsoleChat, runtime: Runtime, runner: JobRunner
) -> None:
    make_project(chat)
    day = date(2026, 9, 19)
    while day <= date(2026, 10, 12):
        runner.run(["daily-prompt"], sh(f"{day.isoformat()} 17:00"))
        day += timedelta(days=1)
    assert prompts(runtime) == [
        "2026-09-20",  # Sunday, a make-up workday
        "2026-09-21", "2026-09-22", "2026-09-23", "2026-09-24",  # 09-25..27 Mid-Autumn
        "2026-09-28", "2026-09-29", "2026-09-30",  # 10-01..07 National Day
        "2026-10-08", "2026-10-09",
        "2026-10-10",  # Saturday, a make-up workday
        "2026-10-12",
    ]


def test_new_year_2027_is_estimated_and_the_pm_is_told_once(
    chat: ConsoleChat, runtime: Runtime, runner: JobRunner
) -> None:
    make_project(chat, created="2026-12-28 10:00")
    assert runner.run(["daily-prompt"], sh("2026-12-31 17:00")).count("posted", "daily-prompt") == 1
    new_year = runner.run(["daily-prompt"], sh("2027-01-01 17:00"))
    assert new_year.count("posted", "daily-prompt") == 0
    runner.run(["daily-prompt"], sh("2027-01-04 17:00"))
    runner.run(["reminders"], sh("2027-01-04 10:00"))
    runner.run(["digest"], sh("2027-01-04 18:00"))
    assert prompts(runtime) == ["2026-12-31", "2027-01-04"]
    [notice] = posts(runtime.session_factory, "calendar-estimate")
    assert notice.to_user_id == "王经理"  # privately to the PM (the console prints "[→ 王经理]")
    assert "2027 年" in notice.text and "估算" in notice.text and "chinesecalendar" in notice.text


# ---------------------------------------------------------------------------- settings, pause, overrides


def test_settings_changed_in_chat_apply_without_a_restart(chat: ConsoleChat, runtime: Runtime, runner: JobRunner) -> None:
    make_project(chat)
    chat.say("/项目 设置 日报 16:00", at=sh("2026-11-23 10:00"))
    assert runner.run(["daily-prompt"], sh("2026-11-23 16:00")).count("posted") == 1
    chat.say("/项目 设置 日报 17:00", at=sh("2026-11-23 16:30"))
    assert runner.run(["daily-prompt"], sh("2026-11-23 17:00")).count("posted") == 0  # one per day
    refused = chat.say("/项目 设置 日报 18:00", name="李四", at=sh("2026-11-23 16:40"))
    assert "只有项目经理" in refused
    with runtime.session_factory() as session:
        assert session.scalar(select(Project.daily_prompt_time)) == time(17, 0)


def test_pause_resume_and_project_days(chat: ConsoleChat, runtime: Runtime, runner: JobRunner) -> None:
    make_project(chat)
    chat.say("/项目 暂停", at=sh("2026-11-23 10:00"))
    runner.run(["daily-prompt", "digest", "reminders"], sh("2026-11-23 17:00"))
    chat.say("/项目 恢复", at=sh("2026-11-23 17:05"))
    runner.run(["daily-prompt"], sh("2026-11-23 17:06"))  # back within the grace period
    assert "已把 11-25(周三) 设为本项目的休息日" in chat.say("/项目 休息日 2026-11-25 团建", at=sh("2026-11-23 17:10"))
    chat.say("/项目 补班 2026-11-28", at=sh("2026-11-23 17:10"))
    for day in ("2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27", "2026-11-28", "2026-11-29"):
        runner.run(["daily-prompt"], sh(f"{day} 17:00"))
    assert prompts(runtime) == ["2026-11-23", "2026-11-24", "2026-11-26", "2026-11-27", "2026-11-28"]
    settings = chat.say("/项目 设置", at=sh("2026-11-23 17:20"))
    assert "项目休息日：11-25(周三) 团建" in settings and "项目补班日：11-28(周六)" in settings


def test_the_nudge_goes_once_to_those_who_have_not_updated(chat: ConsoleChat, runtime: Runtime, runner: JobRunner) -> None:
    make_project(chat)
    chat.say("/项目 设置 催办 17:30", at=sh("2026-11-23 10:00"))
    runner.run(["daily-prompt"], sh("2026-11-23 17:00"))
    chat.say("#1 进度 30%", name="李四", at=sh("2026-11-23 17:10"))
    runner.run(["daily-prompt"], sh("2026-11-23 17:30"))
    runner.run(["daily-prompt"], sh("2026-11-23 17:45"))
    [nudge] = posts(runtime.session_factory, "nudge")
    assert [m.name for m in nudge.reply.mentions] == ["王五"] and "#3" in nudge.text
    # Down from 16:50 to 17:40: the late prompt is made up, the nudge is not piled on top of it.
    late = runner.run(["daily-prompt"], sh("2026-11-24 17:40"))
    assert late.count("posted", "daily-prompt") == 1 and late.count("posted", "nudge") == 0
    assert late.count("superseded", "nudge") == 1
    assert len(posts(runtime.session_factory, "nudge")) == 1


# ---------------------------------------------------------------------------- weekly meeting, digests


def test_the_agenda_goes_the_workday_before_the_meeting(chat: ConsoleChat, runtime: Runtime, runner: JobRunner) -> None:
    make_project(chat)
    for day in ("2026-09-30", "2026-10-08", "2026-10-09", "2026-10-10", "2026-11-26", "2026-11-27"):
        runner.run(["weekly-agenda"], sh(f"{day} 17:00"))
    agendas = posts(runtime.session_factory, "weekly-agenda")
    # Monday 10-05 is a holiday (no meeting that week); Monday 10-12's workday before is Saturday 10-10.
    assert [p.origin.rsplit(":", 1)[1] for p in agendas] == ["2026-10-12", "2026-11-30"]
    assert "周会时间：10-12(周一) 09:00" in agendas[0].text
    assert runner.run(["weekly-agenda"], sh("2026-11-27 17:30")).count("posted") == 0


def test_minutes_after_the_meeting_window(chat: ConsoleChat, runtime: Runtime, runner: JobRunner) -> None:
    pid = make_project(chat)
    add_decision(runtime.session_factory, project=pid, content="发布会延期一周", by="王经理", at=sh("2026-11-30 09:30"))
    assert runner.run(["weekly-agenda"], sh("2026-11-30 10:59")).count("posted") == 0
    assert runner.run(["weekly-agenda"], sh("2026-11-30 11:00")).count("posted", "minutes") == 1
    assert runner.run(["weekly-agenda"], sh("2026-11-30 11:05")).count("posted") == 0
    [minutes] = posts(runtime.session_factory, "minutes")
    assert "D1 发布会延期一周" in minutes.text and minutes.to_user_id is None


def test_digests_go_to_the_pm_privately(chat: ConsoleChat, runtime: Runtime, runner: JobRunner) -> None:
    make_project(chat)
    chat.say("大家好", name="赵副经理", at=sh("2026-11-23 10:00"))
    with runtime.session_factory.begin() as session:
        from models import Member, Role

        deputy = session.scalar(select(Member).where(Member.name == "赵副经理"))
        assert deputy is not None
        deputy.role = Role.CO_PM
    for day in ("2026-11-26", "2026-11-27", "2026-10-09", "2026-10-10"):
        runner.run(["digest"], sh(f"{day} 18:00"))
    runner.run(["digest"], sh("2026-10-13 19:30"))  # 10-13's digest was missed: recorded as skipped
    runner.run(["digest"], sh("2026-10-13 18:30"))  # an explicit re-run at its time posts it after all
    daily = posts(runtime.session_factory, "digest")
    assert [p.to_user_id for p in daily] == ["王经理", "赵副经理"] * 5
    weekly = posts(runtime.session_factory, "weekly-digest")
    # Fridays normally; the week of 10-10 ends with that make-up Saturday.
    assert [p.origin.rsplit(":", 1)[1] for p in weekly][::2] == ["2026-W48", "2026-W41"]
    assert "进度跟踪表" in weekly[0].text and weekly[0].to_user_id == "王经理"


def test_a_platform_without_private_messages_never_gets_the_digest_in_the_group(
    chat: ConsoleChat, runtime: Runtime, runner: JobRunner
) -> None:
    # Issue 10: who did not update is for the PMs only; where nothing can be sent privately the PM asks
    # with /汇总 instead (this test used to pin the digest going to the group).
    pid = make_project(chat)
    with runtime.session_factory.begin() as session:
        project = session.get(Project, pid)
        assert project is not None
        project.platform = "webhook-only"
    report = runner.run(["digest"], sh("2026-11-27 18:00"))  # a Friday: the daily and the weekly digest
    assert report.count("withheld", "digest") == 1 and report.count("withheld", "weekly-digest") == 1
    assert posts(runtime.session_factory, "digest") == [] and posts(runtime.session_factory, "weekly-digest") == []
    assert runner.run(["digest"], sh("2026-11-27 18:10")).count("withheld") == 0  # claimed: decided once


# ---------------------------------------------------------------------------- reminders


def test_reminders_once_and_escalation_once_per_incident(chat: ConsoleChat, runtime: Runtime, runner: JobRunner) -> None:
    make_project(chat)
    chat.say("/任务 新增 审合同 @王五 截止:2026-11-24", at=sh("2026-11-16 10:00"))  # #4
    chat.say("/任务 新增 发邀请 @李四 截止:2026-11-20", at=sh("2026-11-16 10:00"))  # #5, overdue from 11-21
    chat.say("#3 阻塞 等第三方接口", name="王五", at=sh("2026-11-20 15:00"))  # a Friday
    for moment in ("2026-11-23 08:30", "2026-11-23 18:00", "2026-11-22 10:00"):  # outside hours / a Sunday
        assert runner.run(["reminders"], sh(moment)).lines == []
    runner.run(["reminders"], sh("2026-11-23 10:00"))
    runner.run(["reminders"], sh("2026-11-23 10:30"))
    [first] = posts(runtime.session_factory, "reminders")
    assert "已逾期" in first.text and "@李四 #5 发邀请" in first.text and "@王五 #4 审合同" in first.text
    assert "#2" in first.text  # 订场地 was due 10-09
    runner.run(["reminders"], sh("2026-11-23 15:00"))  # 24 h after Friday 15:00, not *more* than 24 h
    assert len(posts(runtime.session_factory, "reminders")) == 1
    runner.run(["reminders"], sh("2026-11-23 15:30"))
    runner.run(["reminders"], sh("2026-11-23 16:00"))
    escalation = posts(runtime.session_factory, "reminders")[1]
    assert "升级提醒" in escalation.text and "@王经理" in escalation.text and "#3 联调接口" in escalation.text
    assert len(posts(runtime.session_factory, "reminders")) == 2
    # The next day: overdue again (once a day); #4 is now due today (issue 10: a due-today reminder, once;
    # this used to assert #4 was not mentioned at all), its due-soon reminder is not repeated.
    runner.run(["reminders"], sh("2026-11-24 09:00"))
    runner.run(["reminders"], sh("2026-11-24 09:30"))
    third = posts(runtime.session_factory, "reminders")[2:]
    assert len(third) == 1 and "#5 发邀请" in third[0].text
    assert "即将到期" not in third[0].text and "今天到期：\n  @王五 #4 审合同" in third[0].text
    # A new blocking episode is a new incident, escalated again after another 24 working hours.
    chat.say("#3 开始", name="王五", at=sh("2026-11-24 10:00"))
    chat.say("#3 阻塞 接口又挂了", name="王五", at=sh("2026-11-24 11:00"))
    runner.run(["reminders"], sh("2026-11-25 11:00"))
    runner.run(["reminders"], sh("2026-11-25 11:30"))
    escalations = [p for p in posts(runtime.session_factory, "reminders") if "升级提醒" in p.text]
    assert len(escalations) == 2 and "接口又挂了" in escalations[1].text


# ---------------------------------------------------------------------------- time zones and DST


@pytest.mark.parametrize(
    ("zone", "due_utc", "early_utc"),
    [
        # New York: Friday before the spring-forward switch (EST, UTC-5), the Monday after (EDT, UTC-4),
        # the Friday before falling back (EDT) and the Monday after (EST).
        ("America/New_York", "2026-03-06 22:00", "2026-03-06 21:59"),
        ("America/New_York", "2026-03-09 21:00", "2026-03-09 20:59"),
        ("America/New_York", "2026-10-30 21:00", "2026-10-30 20:59"),
        ("America/New_York", "2026-11-02 22:00", "2026-11-02 21:59"),
        ("Europe/Berlin", "2026-03-27 16:00", "2026-03-27 15:59"),
        ("Europe/Berlin", "2026-03-30 15:00", "2026-03-30 14:59"),
    ],
)
def test_the_prompt_follows_local_time_across_dst(
    chat: ConsoleChat, runtime: Runtime, runner: JobRunner, zone: str, due_utc: str, early_utc: str
) -> None:
    make_project(chat, created="2026-02-25 10:00")
    chat.say(f"/项目 设置 时区 {zone}", at=sh("2026-02-25 10:05"))

    def utc(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    assert runner.run(["daily-prompt"], utc(early_utc)).count("posted") == 0
    assert runner.run(["daily-prompt"], utc(due_utc)).count("posted") == 1
    assert runner.run(["daily-prompt"], utc(due_utc) + timedelta(minutes=59)).count("posted") == 0
    assert prompts(runtime) == [utc(due_utc).date().isoformat()]


def test_a_prompt_time_skipped_by_the_dst_switch_still_goes_once(
    chat: ConsoleChat, runtime: Runtime, runner: JobRunner
) -> None:
    make_project(chat, created="2026-02-25 10:00")
    chat.say("/项目 设置 时区 Europe/Berlin", at=sh("2026-02-25 10:05"))
    chat.say("/项目 设置 日报 02:30", at=sh("2026-02-25 10:06"))  # 02:30 does not exist on 03-29 in Berlin
    chat.say("/项目 补班 2026-03-29", at=sh("2026-02-25 10:07"))
    moment = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST
    for minutes in range(0, 120, 10):
        runner.run(["daily-prompt"], moment + timedelta(minutes=minutes))
    assert prompts(runtime) == ["2026-03-29"]


# ---------------------------------------------------------------------------- racing schedulers


def test_two_schedulers_racing_post_each_slot_once(chat: ConsoleChat, runtime: Runtime, database_url: str) -> None:
    for n in range(12):
        team = ConsoleChat(runtime, chat.clock, chat_id=f"race{n}")
        team.say(f"/项目 创建 项目{n}", at=sh("2026-11-16 10:00"))
        team.say("/任务 新增 写稿 @李四 截止:2026-11-20", at=sh("2026-11-16 10:00"))
        team.say("/任务 新增 订场地 @王五 截止:2026-11-24", at=sh("2026-11-16 10:00"))
    engines: list[Engine] = [make_engine(database_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    reports: list[int] = []
    errors: list[BaseException] = []

    def scheduler(engine: Engine) -> None:
        runner = JobRunner(make_session_factory(engine), clock=runtime.clock, batch=5, private_platforms=private_platforms())
        try:
            for moment in ("2026-11-23 10:00", "2026-11-23 17:00", "2026-11-23 18:00"):
                barrier.wait(timeout=30)
                report = runner.run(["daily-prompt", "digest", "reminders"], sh(moment))
                reports.append(report.count("posted"))
                assert report.errors == 0
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=scheduler, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for engine in engines:
        engine.dispose()
    assert not errors, errors
    factory = runtime.session_factory
    assert len(posts(factory, "daily-prompt")) == 12
    assert len(posts(factory, "digest")) == 12  # one PM each
    assert len(posts(factory, "reminders")) == 12  # one message per project: 写稿 overdue, 订场地 due soon
    with factory() as session:
        claims = session.execute(select(JobRun.project_id, JobRun.job, JobRun.slot)).all()
        assert len(claims) == len(set(claims))
        assert session.scalar(select(func.count()).select_from(JobRun).where(JobRun.job == "remind-overdue")) == 12
    # 李四 and 王五 own tasks in all twelve: one merged private prompt each, once across the four schedulers.
    assert sorted(p.to_user_id or "" for p in posts(factory, "person-prompt")) == ["李四", "王五"]
    assert sum(reports) == 12 * 4 + 2  # per project: 2 reminder incidents, the prompt, the digest; 2 merged
