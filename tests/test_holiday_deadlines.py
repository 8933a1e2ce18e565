"""Deadlines around a long holiday (国庆 2026, 五一 2026, 春节 2027) flagged in the agenda before it, with
the working days really left; make-up workdays announced as prompted only when there are open tasks."""

from __future__ import annotations

import pytest

from bot.runtime import Runtime
from scheduler.jobs import JobRunner
from tests.chat import ConsoleChat, FixedClock
from tests.scheduling import posts, sh

SECTION = "九、"


@pytest.fixture
def runner(runtime: Runtime) -> JobRunner:
    return runtime.job_runner()


@pytest.fixture
def other(runtime: Runtime, clock: FixedClock) -> ConsoleChat:
    return ConsoleChat(runtime, clock, chat_id="g2")


def holiday_section(agenda: str) -> list[str]:
    lines = agenda.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(SECTION)), None)
    if start is None:
        return []
    found = [lines[start]]
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        found.append(line.strip())
    return found


def national_day_project(chat: ConsoleChat) -> None:
    at = sh("2026-09-14 10:00")
    chat.say("/项目 创建 发布会", at=at)
    for title, due in (("写接口", "2026-10-03"), ("联调", "2026-10-09"), ("印物料", "2026-10-10"),
                       ("彩排", "2026-10-12"), ("订场地", "2026-09-29"), ("结算", "2026-10-05")):
        chat.say(f"/任务 新增 {title} @李四 截止:{due}", at=at)
    chat.say("/完成 #6", name="李四", at=at)  # done: nothing to flag


def test_the_agenda_before_national_day_flags_what_is_due_around_it(chat: ConsoleChat) -> None:
    national_day_project(chat)
    agenda = chat.say("/议程", at=sh("2026-09-25 17:00"))  # Friday; 中秋 weekend, then three workdays
    section = holiday_section(agenda)
    assert section[0] == "九、国庆节前后到期（10-01(周四)~10-07(周三) 放假，10-08(周四) 上班）（3）"
    assert section[1:] == [
        "#1 写接口（李四）截止10-03(周六)（在假期中）· 还有 8 天，实际只剩 3 个工作日",
        "#2 联调（李四）截止10-09(周五)（节后）· 还有 14 天，实际只剩 5 个工作日",
        "#3 印物料（李四）截止10-10(周六)（节后）· 还有 15 天，实际只剩 6 个工作日",  # a make-up Saturday
    ]  # #4 (10-12) is past the first three workdays after it; #5 is before it; #6 is done


def test_far_from_a_long_holiday_there_is_no_such_section(chat: ConsoleChat) -> None:
    national_day_project(chat)
    assert holiday_section(chat.say("/议程", at=sh("2026-09-14 17:00"))) == []  # 国庆 is 17 days away
    assert holiday_section(chat.say("/议程", at=sh("2026-10-09 17:00"))) == []  # and then it is over


def test_may_day_and_the_estimated_spring_festival(chat: ConsoleChat) -> None:
    at = sh("2026-04-13 10:00")
    chat.say("/项目 创建 年会 截止:2027-06-30", at=at)
    chat.say("/任务 新增 五一物料 @张三 截止:2026-05-06", at=at)
    chat.say("/任务 新增 年会彩排 @张三 截止:2027-02-08", at=at)
    chat.say("/任务 新增 年后复盘 @张三 截止:2027-02-12", at=at)
    may = holiday_section(chat.say("/议程", at=sh("2026-04-24 17:00")))
    assert may[0].startswith("九、劳动节前后到期（05-01(周五)~05-05(周二) 放假，05-06(周三) 上班）")
    # 04-27 … 04-30 and 05-06: five working days.
    assert may[1:] == ["#1 五一物料（张三）截止05-06(周三)（节后）· 还有 12 天，实际只剩 5 个工作日"]
    spring = holiday_section(chat.say("/议程", at=sh("2027-01-29 17:00")))
    assert spring[0].startswith("九、春节（估算）前后到期（02-05(周五)~02-10(周三) 放假，02-11(周四) 上班）")
    assert spring[1:] == [
        "#2 年会彩排（张三）截止02-08(周一)（在假期中）· 还有 10 天，实际只剩 4 个工作日",
        "#3 年后复盘（张三）截止02-12(周五)（节后）· 还有 14 天，实际只剩 6 个工作日",
    ]


def test_the_setting_turns_it_off(chat: ConsoleChat) -> None:
    national_day_project(chat)
    assert "已关闭节假日截止提醒" in chat.say("/项目 设置 节假日截止 关", at=sh("2026-09-25 10:00"))
    assert holiday_section(chat.say("/议程", at=sh("2026-09-25 17:00"))) == []
    assert "已开启" in chat.say("/project set holiday-deadlines on", at=sh("2026-09-25 17:01"))
    assert holiday_section(chat.say("/议程", at=sh("2026-09-25 17:02")))
    assert "只有项目经理" in chat.say("/项目 设置 节假日截止 关", name="李四", at=sh("2026-09-25 17:03"))


def test_make_up_workdays_are_prompted_only_with_open_tasks(
    chat: ConsoleChat, other: ConsoleChat, runtime: Runtime, runner: JobRunner
) -> None:
    national_day_project(chat)
    other.say("/项目 创建 空项目", at=sh("2026-09-14 10:00"))  # nothing open
    runner.run(["daily-prompt"], sh("2026-09-30 17:00"))
    notices = {p.chat_id: p.text for p in posts(runtime.session_factory, "holiday-notice")}
    assert "10-10（周六）调休上班（照常发日报）" in notices["g1"]
    assert "10-10（周六）调休上班（本项目没有未完成的任务，不发日报）" in notices["g2"]
    runner.run(["daily-prompt"], sh("2026-10-10 17:00"))
    prompts = [p for p in posts(runtime.session_factory, "daily-prompt") if p.origin.endswith("2026-10-10")]
    assert [p.chat_id for p in prompts] == ["g1"] and "调休上班日" in prompts[0].text
