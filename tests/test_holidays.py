"""Holidays announced (issue 10): the last workday before 3+ days off in a row, the group is told which
days have no prompt and which make-up days do, once per project and holiday; prompts on 调休 days say so."""

from __future__ import annotations

from datetime import date

from bot.runtime import Runtime
from models.calendar import WorkCalendar, national_calendar
from reports.holidays import long_holiday_after
from tests.chat import ConsoleChat
from tests.scheduling import posts, sh


def setup(chat: ConsoleChat) -> None:
    at = sh("2026-09-14 10:00")
    chat.say("/项目 创建 新品发布会", at=at)
    chat.say("/任务 新增 写发布稿 @李四 截止:2026-12-31", at=at)


def notices(runtime: Runtime) -> list[str]:
    return [p.text for p in posts(runtime.session_factory, "holiday-notice")]


def test_national_day_is_announced_once_on_the_last_workday_before(chat: ConsoleChat, runtime: Runtime) -> None:
    setup(chat)
    runner = runtime.job_runner()
    for moment in ("2026-09-25 17:00", "2026-09-29 17:00"):  # a plain weekend ahead, then a workday ahead
        runner.run(["daily-prompt"], sh(moment))
    assert notices(runtime) == []
    report = runner.run(["daily-prompt"], sh("2026-09-30 17:00"))
    assert report.count("posted", "holiday-notice") == 1 and report.count("posted", "daily-prompt") == 1
    for moment in ("2026-09-30 17:20", "2026-09-30 17:59"):
        assert runner.run(["daily-prompt"], sh(moment)).count("posted", "holiday-notice") == 0
    restarted = runtime.job_runner()  # another process, same database
    assert restarted.run(["daily-prompt"], sh("2026-09-30 17:30")).count("posted", "holiday-notice") == 0
    [notice] = notices(runtime)
    assert "10-01~10-07 不发日报，10-10（周六）调休上班" in notice
    assert "【放假安排 · 新品发布会】" in notice and "国庆节共 7 天" in notice and "10-08（周四） 恢复日报" in notice
    runner.run(["daily-prompt"], sh("2026-10-10 17:00"))
    [makeup_prompt] = [p.text for p in posts(runtime.session_factory, "daily-prompt") if "10-10" in (p.reply.title or "")]
    assert "今天（周六）是国庆节的调休上班日，照常更新进度。" in makeup_prompt
    ordinary = [p.text for p in posts(runtime.session_factory, "daily-prompt") if "09-30" in (p.reply.title or "")]
    assert ordinary and "调休" not in ordinary[0]


def test_a_projects_own_days_off_make_a_long_holiday_too(chat: ConsoleChat, runtime: Runtime) -> None:
    setup(chat)
    chat.say("/项目 休息日 2026-11-27 团建", at=sh("2026-11-20 10:00"))
    runner = runtime.job_runner()
    runner.run(["daily-prompt"], sh("2026-11-25 17:00"))
    assert notices(runtime) == []
    runner.run(["daily-prompt"], sh("2026-11-26 17:00"))
    runner.run(["daily-prompt"], sh("2026-11-26 17:30"))
    [notice] = notices(runtime)
    assert "团建共 3 天" in notice and "11-27~11-29 不发日报" in notice and "调休上班" not in notice


def test_spring_festival_from_its_make_up_saturday() -> None:
    calendar = WorkCalendar(national_calendar())
    holiday = long_holiday_after(calendar, date(2026, 2, 14))  # a make-up Saturday is the last workday before
    assert holiday is not None and holiday.first == date(2026, 2, 15) and holiday.name == "春节"
    assert holiday.makeup_days == (date(2026, 2, 28),) and holiday.back_on == calendar.next_workday(date(2026, 2, 14))
    assert long_holiday_after(calendar, date(2026, 2, 13)) is None  # a workday follows it
    assert long_holiday_after(calendar, date(2026, 2, 15)) is None  # a day off itself
