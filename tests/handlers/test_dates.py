"""Dates as people type them: Chinese numerals, months and weeks asked back, times kept out of titles,
due dates on days off or past the project deadline accepted with a warning naming the nearest workday."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date

import pytest
from sqlalchemy import select

from handlers.dates import is_time_of_day, parse_date, parse_date_and_time
from handlers.errors import UserError
from models import ActionItem, Task
from tests.chat import ConsoleChat
from tests.handlers.conftest import PM, query

Unchanged = Callable[[ConsoleChat], AbstractContextManager[None]]
MONDAY = date(2026, 11, 23)  # the test clock's day


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("十二月一日", date(2026, 12, 1)),
        ("十二月一号", date(2026, 12, 1)),
        ("十月十日", date(2027, 10, 10)),  # the next such date
        ("十一月三十日", date(2026, 11, 30)),
        ("二〇二六年十二月八日", date(2026, 12, 8)),
        ("二十号", date(2026, 12, 20)),
        ("三十一号", date(2026, 12, 31)),
        ("25号", date(2026, 11, 25)),
        ("下个月5号", date(2026, 12, 5)),
        ("下个月五号", date(2026, 12, 5)),
        ("下月10号", date(2026, 12, 10)),
        ("下下个月1号", date(2027, 1, 1)),
        ("本月30号", date(2026, 11, 30)),
        ("周五前", date(2026, 11, 27)),
        ("周五之前", date(2026, 11, 27)),
        ("本周五以前", date(2026, 11, 27)),
        ("12月5日前", date(2026, 12, 5)),
        ("月中", date(2026, 12, 15)),  # this month's 15th has passed
        ("下个月中", date(2026, 12, 15)),
        ("12月中", date(2026, 12, 15)),
        ("一月中", date(2027, 1, 15)),
        ("月底", date(2026, 11, 30)),
        ("月底前", date(2026, 11, 30)),
        ("下月底", date(2026, 12, 31)),
        ("十二月底", date(2026, 12, 31)),
        ("2月底", date(2027, 2, 28)),
        ("年底", date(2026, 12, 31)),
        ("下周三", date(2026, 12, 2)),
        ("下星期三", date(2026, 12, 2)),
        ("下礼拜五", date(2026, 12, 4)),
        ("下下周一", date(2026, 12, 7)),
        ("星期五", date(2026, 11, 27)),
        ("两天后", date(2026, 11, 25)),
        ("十天后", date(2026, 12, 3)),
        ("三周后", date(2026, 12, 14)),
        ("明天", date(2026, 11, 24)),
        ("Friday", date(2026, 11, 27)),
        ("next Monday", date(2026, 11, 30)),
        ("dec 15", date(2026, 12, 15)),
        ("2026-12-01", date(2026, 12, 1)),
    ],
)
def test_dates_people_type(text: str, expected: date) -> None:
    assert parse_date(text, today=MONDAY) == expected


@pytest.mark.parametrize(
    ("text", "expected", "time"),
    [
        ("12月10日 18:00", date(2026, 12, 10), "18:00"),
        ("12月10日18:00", date(2026, 12, 10), "18:00"),
        ("十二月十日 下午三点", date(2026, 12, 10), "下午3点"),
        ("周五下午3点半前", date(2026, 11, 27), "下午3点半"),
        ("明天上午10点", date(2026, 11, 24), "上午10点"),
        ("明天 晚上", date(2026, 11, 24), "晚上"),
        ("周五下班前", date(2026, 11, 27), "下班"),
        ("tomorrow 6pm", date(2026, 11, 24), "6pm"),
        ("12/10 9:30", date(2026, 12, 10), "9:30"),
        ("周五", date(2026, 11, 27), None),
    ],
)
def test_a_time_of_day_is_split_off_the_date(text: str, expected: date, time: str | None) -> None:
    assert parse_date_and_time(text, today=MONDAY) == (expected, time)


@pytest.mark.parametrize(
    ("text", "asked"),
    [
        ("12月", "“12月”是哪一天？请写具体日期，如 12月15日、12月底。"),
        ("十二月", "“12月”是哪一天？"),
        ("2027年1月", "“2027年1月”是哪一天？"),
        ("1月份", "“1月份”是哪一天？"),
        ("下周", "“下周”是哪一天？请写具体哪天，如 下周三、下周五。"),
        ("下个星期", "“下个星期”是哪一天？"),
        ("本周", "“本周”是哪一天？"),
        ("下下周", "“下下周”是哪一天？"),
        ("下个月", "“下个月”是哪一天？请写具体哪天，如 下个月5号、月底。"),
        ("next week", "“next week”是哪一天？"),
        ("december", "“december”是哪一天？"),
    ],
)
def test_a_month_or_a_week_alone_is_asked_back(text: str, asked: str) -> None:
    with pytest.raises(UserError) as refused:
        parse_date(text, today=MONDAY)
    assert refused.value.message.startswith(asked)


@pytest.mark.parametrize("text", ["18:00", "下午3点", "晚上", "eod"])
def test_a_time_alone_is_not_a_date(text: str) -> None:
    assert is_time_of_day(text)
    with pytest.raises(UserError) as refused:
        parse_date(text, today=MONDAY)
    assert "是时间" in refused.value.message


@pytest.mark.parametrize("text", ["二月三十日", "13月1日", "本月31号", "四十号"])
def test_impossible_days_are_refused(text: str) -> None:
    with pytest.raises(UserError):
        parse_date(text, today=MONDAY)


def task_row(chat: ConsoleChat, number: int) -> tuple[str, date | None]:
    found = query(chat, lambda s: s.execute(select(Task.title, Task.due_date).where(Task.number == number)).one())
    return tuple(found)  # type: ignore[arg-type, return-value]


def test_a_time_never_lands_in_the_title(project: ConsoleChat) -> None:
    reply = project.say("/任务 新增 写发布稿 @李四 截止:12月10日 18:00", name=PM)
    assert reply.splitlines() == [
        "已新增 #1 写发布稿",
        "负责人 @李四 · 截止 12-10(周四)",
        "（只记下了日期，时间“18:00”没有记录）",
    ]
    assert task_row(project, 1) == ("写发布稿", date(2026, 12, 10))
    project.say("/任务 新增 订场地 截止:周五 下午3点 确认报价", name=PM)
    assert task_row(project, 2) == ("订场地 确认报价", date(2026, 11, 27))
    project.say("/任务 修改 #1 截止:十二月十一日 晚上8点", name=PM)
    assert task_row(project, 1) == ("写发布稿", date(2026, 12, 11))


def test_chinese_numeral_dates_through_the_chat(project: ConsoleChat) -> None:
    assert "截止 12-01(周二)" in project.say("/任务 新增 写稿 截止:十二月一日", name=PM)
    assert "截止 12-04(周五)" in project.say("/行动 新增 订酒店 @李四 截止:下周五前", name=PM)
    assert query(project, lambda s: s.scalar(select(ActionItem.due_date))) == date(2026, 12, 4)


@pytest.mark.parametrize("value", ["12月", "下周", "下个月", "十二月"])
def test_a_vague_due_date_is_asked_back_and_nothing_is_added(
    project: ConsoleChat, unchanged: Unchanged, value: str
) -> None:
    with unchanged(project):
        reply = project.say(f"/任务 新增 写稿 截止:{value}", name=PM)
    assert "是哪一天？" in reply and "用法：/任务 新增" in reply


def test_a_due_date_on_a_weekend_is_kept_with_the_nearest_workday(project: ConsoleChat) -> None:
    reply = project.say("/任务 新增 写稿 截止:12月5日", name=PM)  # a Saturday
    assert reply.splitlines()[-1] == "提醒：12-05(周六) 是休息日（周末），最近的工作日是 12-04(周五)。"
    assert task_row(project, 1) == ("写稿", date(2026, 12, 5))
    reply = project.say("/任务 修改 #1 截止:12月6日", name=PM)  # Sunday: Monday is nearer
    assert reply.splitlines()[-1] == "提醒：12-06(周日) 是休息日（周末），最近的工作日是 12-07(周一)。"


def test_a_project_day_off_and_a_make_up_workday_count(project: ConsoleChat) -> None:
    project.say("/项目 休息日 2026-12-02 团建", name=PM)
    reply = project.say("/任务 新增 写稿 截止:12月2日", name=PM)
    assert "提醒：12-02(周三) 是休息日（团建），最近的工作日是 12-01(周二)。" in reply
    project.say("/项目 补班 2026-12-05", name=PM)
    assert "提醒" not in project.say("/任务 新增 布场 截止:12月5日", name=PM)


def test_a_statutory_holiday_is_named(project: ConsoleChat) -> None:
    reply = project.say("/任务 新增 写稿 截止:2026-12-31", name=PM)
    assert "提醒" not in reply  # a Thursday, a workday
    reply = project.say("/任务 修改 #1 截止:2027-01-01", name=PM)
    assert "提醒：2027-01-01(周五) 是休息日（元旦" in reply and "最近的工作日是 12-31(周四)" in reply


def test_a_due_date_after_the_project_deadline_is_kept_with_a_warning(project: ConsoleChat) -> None:
    reply = project.say("/任务 新增 复盘 截止:2027-01-05", name=PM)
    assert reply.splitlines()[-1] == "提醒：截止 2027-01-05(周二) 晚于项目截止 12-31(周四)。"
    assert task_row(project, 1) == ("复盘", date(2027, 1, 5))
    assert "提醒" not in project.say("/任务 新增 总结 截止:12月31日", name=PM)
