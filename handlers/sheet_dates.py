"""Dates in a spreadsheet cell: real Excel dates, `2024-06-30`, `2024/6/30`, `2024.6.30`, `2024年6月30日`,
`6月30日`, `6/30`, and the combined 起止时间 `6/1-6/30`, `2024.06.01~06.30`, `6月1日至30日`.

A plan names its own days, so a date without a year is in the project's year (not “the next 6/30”, as in
chat, where a typed date is about the days ahead). A cell that names no day, or two days where one is
wanted, is a problem of its row, never a guess.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from handlers.errors import UserError

_YEAR = r"(?:(?P<y>\d{4})\s*[-/.年]\s*)"
_ONE = re.compile(_YEAR + r"?(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*[日号]?")
_DAY_ONLY = re.compile(r"(?P<d>\d{1,2})\s*[日号]?")
_SEPARATOR = re.compile(r"\s*(?:~|～|〜|—+|–|-|至|到|to)\s*")
_TIME_TAIL = re.compile(r"\s+\d{1,2}:\d{2}(?::\d{2})?$")
EXCEL_EPOCH = date(1899, 12, 30)  # serial 1 is 1900-01-01, counting Excel's phantom 1900-02-29
DATE_FORMS = "日期可写成 2024-06-30、2024/6/30、6月30日、6/30，或 Excel 日期"
SPAN_FORMS = "起止时间可写成 6/1-6/30、2024.06.01~06.30、6月1日至6月30日"


def _make(year: int, month: int, day: int, text: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise UserError(f"没有“{text}”这一天") from None


def _from_text(text: str, *, year: int) -> date:
    text = _TIME_TAIL.sub("", text.strip())
    m = _ONE.fullmatch(text)
    if m is None:
        raise UserError(f"看不懂日期“{text}”（{DATE_FORMS}）")
    return _make(int(m["y"] or year), int(m["m"]), int(m["d"]), text)


def _from_serial(value: float) -> date:
    if not 1 <= value < 2958466:  # 9999-12-31
        raise UserError(f"看不懂日期“{value:g}”（{DATE_FORMS}）")
    return EXCEL_EPOCH + timedelta(days=int(value))


def cell_date(cell: object, *, year: int) -> date | None:
    """One day from a cell (None when it is empty); raises UserError naming the value otherwise."""
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return None
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    if isinstance(cell, bool):
        raise UserError(f"看不懂日期“{cell}”（{DATE_FORMS}）")
    if isinstance(cell, (int, float)):
        return _from_serial(float(cell))
    text = str(cell).strip()
    if re.fullmatch(r"\d{5}(?:\.\d+)?", text):  # a date cell saved to CSV as its serial number
        return _from_serial(float(text))
    return _from_text(text, year=year)


def _split_span(text: str) -> tuple[str, str] | None:
    """The two halves of `6/1-6/30`: at a separator with a date on each side (`-` is also inside dates)."""
    for m in _SEPARATOR.finditer(text):
        left, right = text[: m.start()].strip(), text[m.end():].strip()
        if _ONE.fullmatch(_TIME_TAIL.sub("", left)) and (_ONE.fullmatch(right) or _DAY_ONLY.fullmatch(right)):
            return left, right
    return None


def cell_span(cell: object, *, year: int) -> tuple[date | None, date | None]:
    """Start and end from a combined 起止时间 cell; a single date is read as the end (the due date)."""
    if cell is None or isinstance(cell, (date, int, float)) or not str(cell).strip():
        return None, cell_date(cell, year=year)
    text = str(cell).strip()
    halves = _split_span(text)
    if halves is None:
        if _ONE.fullmatch(_TIME_TAIL.sub("", text)):
            return None, _from_text(text, year=year)
        raise UserError(f"看不懂起止时间“{text}”（{SPAN_FORMS}）")
    start = _from_text(halves[0], year=year)
    right = halves[1]
    m = _ONE.fullmatch(right)
    if m is not None:  # `06.30` after `2024.06.01`: the end takes the start's year
        end = _make(int(m["y"] or start.year), int(m["m"]), int(m["d"]), right)
        if m["y"] is None and end < start:  # 11/20-1/15: into the next year
            end = _make(start.year + 1, end.month, end.day, right)
    else:
        d = _DAY_ONLY.fullmatch(right)
        assert d is not None
        end = _make(start.year, start.month, int(d["d"]), right)  # 6月1日至30日: the start's month
    if end < start:
        raise UserError(f"起止时间“{text}”的结束早于开始")
    return start, end
