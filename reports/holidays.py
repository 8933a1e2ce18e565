"""Long holidays and make-up workdays (调休), as the group is told about them.

On the last workday before three or more days off in a row (the project's calendar: statutory
holidays, weekends, the project's own days off), the group learns which days have no prompt and which
make-up days (调休上班) do; a prompt on a make-up day says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from bot.messages import Reply
from models.calendar import WorkCalendar
from reports.format import WEEKDAY_LABELS, shorten

MIN_DAYS_OFF = 3  # a plain weekend is two: three or more in a row is a long holiday worth announcing
MAKEUP_WINDOW = 30  # days after a holiday in which its make-up workdays fall
LONG_HOLIDAY_DAYS = 5  # 国庆, 春节, 五一: deadlines around them are flagged in the agenda
HOLIDAY_LOOKAHEAD = 14  # days ahead an agenda looks for one
WORKDAYS_AFTER = 3  # the first workdays after it count as "around" it


@dataclass(frozen=True, slots=True)
class LongHoliday:
    announced_on: date  # the last workday before it
    first: date
    last: date
    name: str | None  # 国庆节, or the project's own note
    makeup_days: tuple[date, ...]  # weekend days worked for it, after the announcement
    back_on: date  # the first workday after it


def is_makeup_day(calendar: WorkCalendar, day: date) -> bool:
    """A weekend day that is a workday (调休上班, or a project's own extra workday)."""
    return day.weekday() >= 5 and calendar.is_workday(day)


def long_holiday_after(calendar: WorkCalendar, day: date) -> LongHoliday | None:
    """The long holiday that starts right after `day`, when `day` is the last workday before it."""
    if not calendar.is_workday(day):
        return None
    back_on = calendar.next_workday(day)
    if back_on is None or (back_on - day).days - 1 < MIN_DAYS_OFF:
        return None
    first, last = day + timedelta(days=1), back_on - timedelta(days=1)
    names = [calendar.info(first + timedelta(days=i)).name for i in range((last - first).days + 1)]
    name = next((n for n in names if n), None)
    makeup = []
    for offset in range(1, (last - day).days + MAKEUP_WINDOW + 1):
        candidate = day + timedelta(days=offset)
        if is_makeup_day(calendar, candidate):
            info = calendar.info(candidate)
            if info.source == "project" or (name is not None and info.name == name):
                makeup.append(candidate)
    return LongHoliday(day, first, last, name, tuple(makeup), back_on)


def long_holiday_ahead(
    calendar: WorkCalendar, today: date, *, lookahead: int = HOLIDAY_LOOKAHEAD, min_days: int = LONG_HOLIDAY_DAYS
) -> LongHoliday | None:
    """The first holiday of `min_days` or more days off in a row starting within `lookahead` days."""
    for offset in range(lookahead + 1):
        holiday = long_holiday_after(calendar, today + timedelta(days=offset))
        if holiday is not None and (holiday.last - holiday.first).days + 1 >= min_days and holiday.first > today:
            return holiday
    return None


def around_holiday_until(calendar: WorkCalendar, holiday: LongHoliday, workdays: int = WORKDAYS_AFTER) -> date:
    """The last of the first `workdays` workdays after the holiday."""
    last = holiday.back_on
    for _ in range(workdays - 1):
        last = calendar.next_workday(last) or last
    return last


def _md(day: date) -> str:
    return day.strftime("%m-%d")


def _with_weekday(day: date) -> str:
    return f"{_md(day)}（{WEEKDAY_LABELS[day.weekday()]}）"


def holiday_notice(holiday: LongHoliday, *, project_name: str, open_tasks: bool = True) -> Reply:
    """`open_tasks`: whether the project has open tasks, so that its make-up days have a prompt."""
    days = (holiday.last - holiday.first).days + 1
    line = f"{_md(holiday.first)}~{_md(holiday.last)} 不发日报"
    if holiday.makeup_days:
        prompted = "照常发日报" if open_tasks else "本项目没有未完成的任务，不发日报"
        line += f"，{'、'.join(_with_weekday(d) for d in holiday.makeup_days)}调休上班（{prompted}）"
    lines = [
        f"{shorten(holiday.name or '假期', 20)}共 {days} 天：",
        line,
        f"节后 {_with_weekday(holiday.back_on)} 恢复日报。放假前请把任务进度更新好。",
    ]
    return Reply("\n".join(lines), title=" · ".join(("放假安排", shorten(project_name, 20))))


def makeup_note(calendar: WorkCalendar, day: date) -> str | None:
    """The prompt's line on a make-up workday, else None."""
    if not is_makeup_day(calendar, day):
        return None
    name = calendar.info(day).name
    return f"今天（{WEEKDAY_LABELS[day.weekday()]}）是{shorten(name, 20) + '的' if name else ''}调休上班日，照常更新进度。"
