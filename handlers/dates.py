"""Dates as people type them, resolved against the message's own day.

Chinese numerals become digits first (cn2an: 十二月一日, 二十号, 下个月五号, 两天后), a time of day after
the date is split off (`12月10日 18:00`, `周五下午3点`: tasks keep dates, the caller says the time was
not kept), and “by” words are dropped (`周五前` is due Friday). Then small rules (12月1日, 下周一,
下下周三, 下个月5号, 月中, 月底, 12月底 …), and dateparser only for what they miss (`Friday`,
`next Monday`, ISO). Something that names no single day — a month alone (“12月”), a week alone (“下周”)
— is asked back, never filled in with a day nobody said.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta

import cn2an
import dateparser

from handlers.errors import UsageError, UserError

WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5,
            "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
CN_NUMBERS = {"一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
DATE_HELP = "日期可写成 2026-12-01、12/1、12月1日、明天、周五、下周一、下个月5号、月中、月底、3天后、next Monday"
MID_MONTH = 15

_FULL = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")
_MONTH_DAY = re.compile(r"(\d{1,2})\s*(?:月|/|-|\.)\s*(\d{1,2})\s*[日号]?")
_DAY_ONLY = re.compile(r"(\d{1,2})\s*[日号]")
_WEEKDAY = re.compile(r"((?:下)*|(?:上)+|本|这|这个|下个|上个)(?:周|星期|礼拜)([一二三四五六日天末1-7])")
_RELATIVE = re.compile(r"(\d+|[一两二三四五六七八九十])\s*(天|日|周|星期|个月|月)\s*(?:后|之后|以后)")
_MONTH_PREFIX = r"(本|这个?|下个?|下下个?)"
_MONTH_PART = re.compile(_MONTH_PREFIX + r"?月(底|末|初|中)")
_RELATIVE_MONTH_DAY = re.compile(_MONTH_PREFIX + r"月(?:的)?(\d{1,2})\s*[日号]?")
_NAMED_MONTH_PART = re.compile(r"(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月(?:份)?(底|末|初|中)")
_YEAR_END = re.compile(r"(今|明)?年(底|末)")
# Things that name no single day: asked back.
_MONTH_ALONE = re.compile(r"(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月(?:份)?")
_VAGUE = re.compile(
    _MONTH_PREFIX + r"月|(?:本|这|这个|下|下个|下下|下下个|上|上个)?(?:周|星期|礼拜)|明年|今年"
    r"|(?:next|this) (?:week|month)"
)
_MONTH_NAME = re.compile(
    r"(?:in |by |end of |mid[- ]?)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?(?: \d{4})?"
)
_BY = re.compile(r"\s*(?:之前|以前|前|为止|by)\s*$")
_PERIOD = r"(?:上午|下午|晚上|中午|早上|早晨|傍晚|凌晨|夜里|今晚|晚|早)"
_CLOCK = (
    r"(?:\d{1,2}\s*:\s*\d{2}(?:\s*[ap]\.?m\.?)?|\d{1,2}\s*[ap]\.?m\.?"
    r"|\d{1,2}\s*(?:点|时)(?:\s*(?:半|一刻|三刻|整|\d{1,2}\s*分?))?)"
)
_TIME_OF_DAY = re.compile(rf"(?:{_PERIOD}\s*)?{_CLOCK}|{_PERIOD}|下班|下班前|中午前|eod|end of day", re.IGNORECASE)
_TRAILING_TIME = re.compile(rf"(?<=\S)\s*(?P<time>(?:{_TIME_OF_DAY.pattern}))\s*$", re.IGNORECASE)
_WORDS = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "大后天": 3, "today": 0, "tomorrow": 1}


def is_time_of_day(text: str) -> bool:
    """`18:00`, `下午3点`, `晚上`, `6pm`: a time, not a date."""
    return _TIME_OF_DAY.fullmatch(_digits(text.strip().lower())) is not None


def _digits(text: str) -> str:
    """Chinese numerals as digits (十二月一日 → 12月1日); the text as it was if cn2an cannot read it."""
    if not re.search(r"[〇零一二两三四五六七八九十百]", text):
        return text
    try:
        converted: str = cn2an.transform(text, "cn2an")
    except (ValueError, KeyError, IndexError):
        return text
    return converted


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


def _month_offset(prefix: str | None) -> int:
    return (prefix or "").count("下")


def _part_of_month(first: date, part: str) -> date:
    if part == "初":
        return first
    if part == "中":
        return first.replace(day=MID_MONTH)
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def _ask_back(text: str, today: date) -> None:
    """A month or a week alone is not a day: ask which one."""
    if m := _MONTH_ALONE.fullmatch(text):
        month = int(m.group(2))
        raise UserError(f"“{text}”是哪一天？请写具体日期，如 {month}月15日、{month}月底。")
    if _MONTH_NAME.fullmatch(text):
        raise UserError(f"“{text}”是哪一天？请写具体日期，如 Dec 15、12月15日。")
    if _VAGUE.fullmatch(text):
        example = "下周三、下周五" if ("周" in text or "星期" in text or "礼拜" in text or "week" in text) else "下个月5号、月底"
        raise UserError(f"“{text}”是哪一天？请写具体哪天，如 {example}。")


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
    if m := _MONTH_PART.fullmatch(text):
        prefix, part = m.group(1), m.group(2)
        first = _add_months(today.replace(day=1), _month_offset(prefix))
        found = _part_of_month(first, part)
        if prefix is None and found < today:  # 月初 / 月中 already past this month: next month's
            found = _part_of_month(_add_months(first, 1), part)
        return found
    if m := _RELATIVE_MONTH_DAY.fullmatch(text):
        first = _add_months(today.replace(day=1), _month_offset(m.group(1)))
        day = int(m.group(2))
        if not 1 <= day <= calendar.monthrange(first.year, first.month)[1]:
            raise UserError(f"{first.month}月没有 {day} 号。{DATE_HELP}")
        return first.replace(day=day)
    if m := _NAMED_MONTH_PART.fullmatch(text):
        month = int(m.group(2))
        if not 1 <= month <= 12:
            raise UserError(f"没有 {month} 月。{DATE_HELP}")
        if m.group(1):
            return _part_of_month(date(int(m.group(1)), month, 1), m.group(3))
        found = _part_of_month(date(today.year, month, 1), m.group(3))
        return found if found >= today else _part_of_month(date(today.year + 1, month, 1), m.group(3))
    if m := _YEAR_END.fullmatch(text):
        return date(today.year + (1 if m.group(1) == "明" else 0), 12, 31)
    return None


def split_time(text: str) -> tuple[str, str | None]:
    """The date part of `12月10日 18:00` / `周五下午3点前` and the time of day said with it (or None)."""
    cleaned = _BY.sub("", text.strip())
    m = _TRAILING_TIME.search(cleaned)
    if m is None:
        return cleaned, None
    return _BY.sub("", cleaned[: m.start()].strip()), m.group("time").strip()


def parse_date_and_time(text: str, *, today: date) -> tuple[date, str | None]:
    """A date typed by a person, and the time of day typed after it (tasks keep dates only: the caller
    says it was not kept). Raises UserError with the accepted forms, or asks back what is not one day."""
    cleaned = _digits(text.strip().lower())
    if not cleaned:
        raise UserError(f"缺少日期。{DATE_HELP}")
    if is_time_of_day(cleaned):
        raise UserError(f"“{text.strip()}”是时间，请写上哪一天，如 12月10日 18:00。{DATE_HELP}")
    day_text, time_text = split_time(cleaned)
    if not day_text:
        raise UserError(f"缺少日期。{DATE_HELP}")
    found = _rules(day_text, today)
    if found is not None:
        return found, time_text
    _ask_back(day_text, today)
    if not re.search(r"\d|[a-z]|[今明后周星期天]", day_text):
        raise UserError(f"看不懂日期“{text}”。{DATE_HELP}")
    parsed = dateparser.parse(
        day_text,
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
    return parsed.date(), time_text


def parse_date(text: str, *, today: date) -> date:
    """Resolve a date typed by a person; raise UserError with the accepted forms when it is not one."""
    return parse_date_and_time(text, today=today)[0]


def check_future(found: date, *, today: date, what: str = "截止日期") -> date:
    """A date that must not be in the past: a past date is refused, not guessed."""
    if found < today:
        raise UserError(f"{what} {found.isoformat()} 已经过去了（今天是 {today.isoformat()}）。请写一个今天或以后的日期。")
    if found.year > today.year + 10:
        raise UserError(f"{what} {found.isoformat()} 太远了，请检查年份。")
    return found


def parse_future_date(text: str, *, today: date, what: str = "截止日期") -> date:
    return check_future(parse_date(text, today=today), today=today, what=what)


DAY_RANGE = re.compile(r"\s*(?:~|～|至|到)\s*")


def take_day_range(words: list[str]) -> tuple[str, list[str]]:
    """The words that form a date or a date range at the start (`12-24 ~ 12-26` may come as three), and the rest."""
    words = list(words)
    taken = [words.pop(0)] if words else []
    while len(words) >= 2 and DAY_RANGE.fullmatch(" " + words[0] + " "):
        taken += [words.pop(0), words.pop(0)]
    return " ".join(taken), words


def parse_day_range(text: str, *, today: date, usage: str, max_days: int) -> tuple[date, date]:
    """`12-01~12-05`, `12月1日至12月5日`, `明天`: the first and last day (a single day is both)."""
    parts = DAY_RANGE.split(text.strip(), maxsplit=1)
    first = parse_date(parts[0], today=today)
    last = parse_date(parts[1], today=first) if len(parts) > 1 else first
    if last < first:
        raise UsageError(f"结束日期 {last.isoformat()} 早于开始日期 {first.isoformat()}。", usage)
    if (last - first).days >= max_days:
        raise UsageError(f"一次最多设置 {max_days} 天。", usage)
    return first, last

