"""/项目 设置|暂停|恢复|休息日|补班 and the on-demand views /议程 /汇总 /周报."""

from __future__ import annotations

from datetime import date, time

import pytest
from sqlalchemy import func, select

from bot.runtime import Runtime
from models import CalendarDay, CalendarDayKind, Change, JobRun, Project
from tests.chat import ConsoleChat
from tests.scheduling import posts, sh


@pytest.fixture
def team(chat: ConsoleChat) -> ConsoleChat:
    chat.say("/项目 创建 发布会", at=sh("2026-11-16 10:00"))
    chat.say("/任务 新增 写发布稿 @李四 截止:2026-11-20", at=sh("2026-11-16 10:01"))
    return chat


def project(runtime: Runtime) -> Project:
    with runtime.session_factory() as session:
        found = session.scalar(select(Project))
        assert found is not None
        return found


def test_settings_overview_shows_the_defaults(team: ConsoleChat) -> None:
    text = team.say("/项目 设置", name="李四")  # anyone may look
    for expected in ("时区：Asia/Shanghai", "日报：每个工作日 17:00 · 二次催办：关闭", "周会：每周一 09:00",
                     "议程：会前一个工作日 17:00（同日报）", "PM 汇总：每个工作日 18:00", "工作时间：09:00–18:00",
                     "日历：中国法定节假日与调休", "项目休息日：无"):
        assert expected in text, expected


def test_each_setting_can_be_changed_by_the_pm(team: ConsoleChat, runtime: Runtime) -> None:
    say = team.say
    assert "16:30" in say("/项目 设置 日报 16:30")
    assert "每周三 10:00" in say("/项目 设置 周会 星期三 10:00")
    assert "15:00" in say("/项目 设置 议程 15点")
    assert "18:30" in say("/项目 设置 汇总 18:30")
    assert "08:30–17:30" in say("/项目 设置 工作时间 8:30-17:30")
    assert "Europe/Berlin" in say("/项目 设置 时区 europe/berlin")
    assert "17:45" in say("/project set nudge 17:45")
    p = project(runtime)
    assert (p.daily_prompt_time, p.meeting_weekday, p.meeting_time, p.agenda_time, p.digest_time) == (
        time(16, 30), 2, time(10, 0), time(15, 0), time(18, 30))
    assert (p.work_start, p.work_end, p.timezone, p.nudge_time) == (time(8, 30), time(17, 30), "Europe/Berlin", time(17, 45))
    assert "同日报" in say("/项目 设置 议程 默认")
    assert "已关闭二次催办" in say("/项目 设置 催办 关闭")
    assert "Asia/Shanghai" in say("/项目 设置 时区 北京时间")
    p = project(runtime)
    assert p.agenda_time is None and p.nudge_time is None and p.timezone == "Asia/Shanghai"
    with runtime.session_factory() as session:
        fields = set(session.scalars(select(Change.field).where(Change.entity == "project")))
    assert {"daily_prompt_time", "meeting", "agenda_time", "digest_time", "work_hours", "timezone", "nudge_time"} <= fields


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("/项目 设置 日报 25:00", "没有 25:00 这个时间"),
        ("/项目 设置 日报 五点", "不是时间"),
        ("/项目 设置 周会 周八 09:00", "不是星期几"),
        ("/项目 设置 工作时间 18:00-09:00", "应早于下班时间"),
        ("/项目 设置 时区 Mars/Olympus", "不认识时区"),
        ("/项目 设置 催办 16:00", "催办时间应晚于日报时间 17:00"),
        ("/项目 设置 咖啡 10:00", "没有“咖啡”这项设置"),
        ("/项目 设置 日报", "缺少要设置的值"),
    ],
)
def test_bad_settings_are_refused_and_change_nothing(team: ConsoleChat, runtime: Runtime, command: str, answer: str) -> None:
    assert answer in team.say(command)
    p = project(runtime)
    assert (p.daily_prompt_time, p.timezone, p.nudge_time, p.work_start) == (time(17), "Asia/Shanghai", None, time(9))


def test_only_the_pm_may_change_the_rhythm(team: ConsoleChat, runtime: Runtime) -> None:
    for command in ("/项目 设置 日报 16:00", "/项目 暂停", "/项目 休息日 2026-12-24", "/项目 补班 2026-12-26"):
        assert "只有项目经理" in team.say(command, name="李四"), command
    assert not project(runtime).paused
    with runtime.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(CalendarDay)) == 0


def test_pause_and_resume(team: ConsoleChat, runtime: Runtime) -> None:
    assert "已暂停" in team.say("/项目 暂停")
    assert "已经是暂停状态" in team.say("/项目 暂停")
    assert "已暂停" in team.say("/项目 设置")
    assert "已恢复" in team.say("/project resume")
    assert not project(runtime).paused


def test_project_days_off_and_extra_workdays(team: ConsoleChat, runtime: Runtime) -> None:
    reply = team.say("/项目 休息日 2026-12-24~2026-12-25 年会", at=sh("2026-11-23 10:00"))
    assert "已把 12-24(周四) 至 12-25(周五) 设为本项目的休息日：年会" in reply
    assert "补班日" in team.say("/项目 补班 12月26日", at=sh("2026-11-23 10:00"))
    assert "补班日" in team.say("/项目 补班 2026-12-24", at=sh("2026-11-23 10:00"))  # overrides the day off
    with runtime.session_factory() as session:
        days = {d.day: d.kind for d in session.scalars(select(CalendarDay))}
    assert days == {date(2026, 12, 24): CalendarDayKind.WORK, date(2026, 12, 25): CalendarDayKind.OFF,
                    date(2026, 12, 26): CalendarDayKind.WORK}
    listing = team.say("/项目 设置", at=sh("2026-11-23 10:00"))
    assert "项目休息日：12-25(周五) 年会" in listing and "项目补班日：12-24(周四)；12-26(周六)" in listing
    assert "已删除 2 天" in team.say("/项目 休息日 删除 2026-12-24 ~ 2026-12-25", at=sh("2026-11-23 10:00"))
    assert "没有项目自定义安排" in team.say("/项目 补班 删除 2026-12-25", at=sh("2026-11-23 10:00"))
    assert "一次最多设置 31 天" in team.say("/项目 休息日 2026-12-01~2027-02-01", at=sh("2026-11-23 10:00"))


def test_views_answer_with_the_same_builders_and_claim_nothing(team: ConsoleChat, runtime: Runtime) -> None:
    at = sh("2026-11-23 11:00")
    agenda = team.say("/议程", at=at)
    # Issue 10: the agenda as it stands (the title said （预览）).
    assert "【周会议程 · 发布会（截至 11-23(周一) 11:00）】" in agenda and "周会时间：11-30(周一) 09:00" in agenda
    assert "#1 写发布稿 · 截止11-20(周五) ⚠逾期3天（李四）" in agenda
    digest = team.say("/汇总", at=at)
    assert "【每日汇总 · 发布会 · 11-23(周一)】" in digest and "未更新（1）：李四" in digest
    weekly = team.say("/weekly", at=at)
    assert "进度跟踪表" in weekly and "| #1 写发布稿 | 李四 |" in weekly and "| 延迟 |" in weekly
    with runtime.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(JobRun)) == 0
    runner = runtime.job_runner()  # the console sends privately (a bare JobRunner would hold the digest back)
    runner.run(["digest"], sh("2026-11-23 18:00"))
    assert len(posts(runtime.session_factory, "digest")) == 1  # the scheduled digest still goes out


def test_views_on_an_empty_project(chat: ConsoleChat) -> None:
    chat.say("/项目 创建 空项目", at=sh("2026-11-16 10:00"))
    assert "没有可以列入议程的内容" in chat.say("/议程", at=sh("2026-11-23 10:00"))
    assert "还没有可以汇总的内容" in chat.say("/汇总", at=sh("2026-11-23 10:00"))
    assert "还没有任务" in chat.say("/周报", at=sh("2026-11-23 10:00"))
