"""Dates as people type them, resolved against the message's own day.

dateparser covers ISO dates, `12/1`, 明天/后天, 周五, `3天后`, `Friday`, `next Monday`; the Chinese forms
it misses (12月1日, 下周一, 下下周三, 月底, 本周五 …) are small rules here, tried first.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta

import dateparser

from handlers.errors import UserError

WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5,
            "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
CN_NUMBERS = {"一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
DATE_HELP = "日期可写成 2026-12-01、12/1、12月1日、明天、周五、下周一、月底、3天后、next Monday"

_FULL = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")
_MONTH_DAY = re.compile(r"(\d{1,2})\s*(?:月|/|-|\.)\s*(\d{1,2})\s*[日号]?")
_DAY_ONLY = re.compile(r"(\d{1,2})\s*[日号]")
_WEEKDAY = re.compile(r"((?:下)*|(?:上)+|本|这|这个|下个|上个)(?:周|星期|礼拜)([一二三四五六日天末1-7])")
_RELATIVE = re.compile(r"(\d+|[一两二三四五六七八九十])\s*(天|日|周|星期|个月|月)\s*(?:后|之后|以后)")
_MONTH_END = re.compile(r"(本|这个|下个?|下下个?)?月(底|末|初)")
_WORDS = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "大后天": 3, "today": 0, "tomorrow": 1}


def _number(text: str) -> int:
    return int(text) if text.isdigit() else CN_NUMBERS[text]


def _next_month_day(today: date, month: int, day: int) -> date:
    """A month and day without a year mean the next such date (today counts)."""
    for year in (today.year, today.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    raise UserError(f"没有 {month}月{day}日 这一天。{DATE_HELP}")


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _rules(text: str, today: date) -> date | None:
    if text in _WORDS:
        return today + timedelta(days=_WORDS[text])
    if m := _FULL.fullmatch(text):
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            raise UserError(f"没有 {text} 这一天。{DATE_HELP}") from None
    if m := _MONTH_DAY.fullmatch(text):
        month, day = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise UserError(f"没有 {month} 月。{DATE_HELP}")
        return _next_month_day(today, month, day)
    if m := _DAY_ONLY.fullmatch(text):
        day = int(m.group(1))
        for months in range(0, 3):
            month_start = _add_months(today.replace(day=1), months)
            if day <= calendar.monthrange(month_start.year, month_start.month)[1]:
                candidate = month_start.replace(day=day)
                if candidate >= today:
                    return candidate
        raise UserError(f"没有 {day} 号这一天。{DATE_HELP}")
    if m := _WEEKDAY.fullmatch(text):
        prefix, weekday = m.group(1), WEEKDAYS[m.group(2)]
        monday = today - timedelta(days=today.weekday())
        if prefix in ("本", "这", "这个"):
            return monday + timedelta(days=weekday)
        if prefix == "下个":
            return monday + timedelta(weeks=1, days=weekday)
        if prefix.startswith("上"):  # 上周五, 上上周一, 上个周五: in the past (refused where a future date is needed)
            return monday - timedelta(weeks=max(prefix.count("上"), 1)) + timedelta(days=weekday)
        weeks = prefix.count("下")
        if weeks:
            return monday + timedelta(weeks=weeks, days=weekday)
        candidate = monday + timedelta(days=weekday)
        return candidate if candidate >= today else candidate + timedelta(weeks=1)
    if m := _RELATIVE.fullmatch(text):
        count, unit = _number(m.group(1)), m.group(2)
        if unit in ("天", "日"):
            return today + timedelta(days=count)
        if unit in ("周", "星期"):
            return today + timedelta(weeks=count)
        return _add_months(today, count)
    if m := _MONTH_END.fullmatch(text):
        prefix, which = m.group(1) or "", m.group(2)
        first = _add_months(today.replace(day=1), prefix.count("下"))
        if which == "初":
            return first if first >= today else _add_months(first, 1)
        return first.replace(day=calendar.monthrange(first.year, first.month)[1])
    return None


def parse_date(text: str, *, today: date) -> date:
    """Resolve a date typed by a person; raise UserError with the accepted forms when it is not one."""
    cleaned = text.strip().lower()
    if not cleaned:
        raise UserError(f"缺少日期。{DATE_HELP}")
    found = _rules(cleaned, today)
    if found is not None:
        return found
    if not re.search(r"\d|[a-z]|[今明后周星期天]", cleaned):
        raise UserError(f"看不懂日期“{text}”。{DATE_HELP}")
    parsed = dateparser.parse(
        cleaned,
        languages=["zh", "en"],
        settings={
            "RELATIVE_BASE": datetime(today.year, today.month, today.day, 12, 0),
            "PREFER_DATES_FROM": "future",
            "DATE_ORDER": "MDY",
            "STRICT_PARSING": False,
        },
    )
    if parsed is None:
        raise UserError(f"看不懂日期“{text}”。{DATE_HELP}")
    return parsed.date()


def parse_future_date(text: str, *, today: date, what: str = "截止日期") -> date:
    """A date that must not be in the past: a past date is refused, not guessed."""
    found = parse_date(text, today=today)
    if found < today:
        raise UserError(f"{what} {found.isoformat()} 已经过去了（今天是 {today.isoformat()}）。请写一个今天或以后的日期。")
    if found.year > today.year + 10:
        raise UserError(f"{what} {found.isoformat()} 太远了，请检查年份。")
    return found
