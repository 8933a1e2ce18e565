"""The working calendar: project overrides > China's statutory calendar (调休 included) > a logged estimate.

`chinesecalendar` knows the official holidays and make-up workdays (调休) for the years whose State
Council notice it has shipped (2004–2026 in 1.11). For any other year it raises NotImplementedError;
there we fall back to an *estimate*: weekends plus the statutory holidays as `holidays.CN` computes them
(fixed-date ones and the lunar festivals, without make-up workdays), or, should that library be
missing, weekends plus the fixed-date holidays. The estimate is logged once per process and year, and
each `WorkCalendar` remembers which estimated years it consulted so the scheduler can tell the PM once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import chinese_calendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import CalendarDay, CalendarDayKind

log = logging.getLogger(__name__)

# Statutory holidays on fixed Gregorian dates (国务院令 第 795 号, from 2025): the last-resort estimate.
FIXED_DATE_HOLIDAYS: tuple[tuple[int, int, str], ...] = (
    (1, 1, "元旦"),
    (5, 1, "劳动节"),
    (5, 2, "劳动节"),
    (10, 1, "国庆节"),
    (10, 2, "国庆节"),
    (10, 3, "国庆节"),
)
HOLIDAY_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}
SEARCH_LIMIT = 60  # days: no real calendar has a longer run of days off


@dataclass(frozen=True, slots=True)
class DayInfo:
    day: date
    is_workday: bool
    source: str  # "project" | "official" | "estimate"
    name: str | None = None  # the holiday's name, or the project's note


class NationalCalendar:
    """Mainland China's statutory calendar, shared by every project (thread-safe, cached per year)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._estimates: dict[int, dict[date, str]] = {}
        self._days: dict[date, DayInfo] = {}  # chinesecalendar scans its tables on every call: memoise

    def info(self, day: date) -> DayInfo:
        found = self._days.get(day)
        if found is None:
            found = self._days[day] = self._lookup(day)
        return found

    def _lookup(self, day: date) -> DayInfo:
        try:
            workday = chinese_calendar.is_workday(day)
        except NotImplementedError:
            holidays = self._estimate(day.year)
            name = holidays.get(day)
            return DayInfo(day, name is None and day.weekday() < 5, "estimate", name)
        name = None
        if not workday or day.weekday() >= 5:
            _, english = chinese_calendar.get_holiday_detail(day)
            name = HOLIDAY_NAMES.get(english, english) if english else None
        return DayInfo(day, workday, "official", name)

    def is_workday(self, day: date) -> bool:
        return self.info(day).is_workday

    @staticmethod
    def is_known(year: int) -> bool:
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
        except NotImplementedError:
            return False
        return True

    def _estimate(self, year: int) -> dict[date, str]:
        estimate = self._estimates.get(year)
        if estimate is not None:
            return estimate
        with self._lock:
            if year not in self._estimates:
                self._estimates[year], source = estimate_holidays(year)
                log.warning(
                    "chinesecalendar has no data for %d: using an ESTIMATE (weekends + %s, no 调休 make-up "
                    "workdays). Upgrade chinesecalendar once the State Council has published %d's holidays.",
                    year, source, year,
                )
            return self._estimates[year]


def estimate_holidays(year: int) -> tuple[dict[date, str], str]:
    """Days off for a year without official data: holidays.CN's computed dates, else the fixed-date ones."""
    try:
        import holidays
    except ImportError:  # holidays is a declared dependency; the fixed dates are the last resort
        pass
    else:
        try:
            computed = holidays.country_holidays("CN", years=year)
            return {d: _translate(name) for d, name in computed.items()}, "holidays.CN"
        except Exception:  # pragma: no cover - never let the estimate itself fail
            log.exception("holidays.CN failed for %d; using the fixed-date holidays", year)
    return {date(year, m, d): name for m, d, name in FIXED_DATE_HOLIDAYS}, "fixed-date holidays"


def _translate(name: str) -> str:
    for english, chinese in (
        ("New Year's Day", "元旦"),
        ("Chinese New Year", "春节"),
        ("Tomb-Sweeping", "清明节"),
        ("Labor Day", "劳动节"),
        ("Dragon Boat", "端午节"),
        ("Mid-Autumn", "中秋节"),
        ("National Day", "国庆节"),
    ):
        if english in name:
            return f"{chinese}（估算）"
    return f"{name}（估算）"


@cache
def national_calendar() -> NationalCalendar:
    """The process-wide national calendar (created on first use, not at import)."""
    return NationalCalendar()


@dataclass
class WorkCalendar:
    """One project's calendar: its own days off / extra workdays first, then the national calendar."""

    national: NationalCalendar
    overrides: Mapping[date, tuple[CalendarDayKind, str | None]] = field(default_factory=dict)
    estimated_years: set[int] = field(default_factory=set)

    def info(self, day: date) -> DayInfo:
        override = self.overrides.get(day)
        if override is not None:
            kind, note = override
            return DayInfo(day, kind == CalendarDayKind.WORK, "project", note)
        found = self.national.info(day)
        if found.source == "estimate":
            self.estimated_years.add(day.year)
        return found

    def is_workday(self, day: date) -> bool:
        return self.info(day).is_workday

    def next_workday(self, day: date) -> date | None:
        """The first workday strictly after `day`."""
        for offset in range(1, SEARCH_LIMIT + 1):
            candidate = day + timedelta(days=offset)
            if self.is_workday(candidate):
                return candidate
        return None

    def previous_workday(self, day: date) -> date | None:
        """The last workday strictly before `day`."""
        for offset in range(1, SEARCH_LIMIT + 1):
            candidate = day - timedelta(days=offset)
            if self.is_workday(candidate):
                return candidate
        return None

    def workdays(self, start: date, end: date) -> list[date]:
        """Workdays in [start, end]."""
        days = []
        current = start
        while current <= end:
            if self.is_workday(current):
                days.append(current)
            current += timedelta(days=1)
        return days

    def working_time_between(
        self, start: datetime, end: datetime, tz: ZoneInfo, *, limit: timedelta | None = None
    ) -> timedelta:
        """Time in [start, end) that falls on workdays of this calendar ("not counting days off").

        Whole local days count (a day off contributes nothing, a workday its full 24 hours, or 23/25
        across a DST switch). With `limit`, counting stops once it is exceeded (escalation checks only
        need to know that 24 hours have passed).
        """
        # Arithmetic in UTC: Python subtracts datetimes sharing a tzinfo by wall clock (wrong across DST).
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if end <= start:
            return timedelta(0)
        total = timedelta(0)
        day = start.astimezone(tz).date()
        last = end.astimezone(tz).date()
        while day <= last:
            if self.is_workday(day):
                day_start = datetime.combine(day, time(0), tz).astimezone(UTC)
                day_end = datetime.combine(day + timedelta(days=1), time(0), tz).astimezone(UTC)
                overlap = min(end, day_end) - max(start, day_start)
                if overlap > timedelta(0):
                    total += overlap
                if limit is not None and total > limit:
                    return total
            day += timedelta(days=1)
        return total


def load_calendars(
    session: Session, /, *, project_ids: Collection[int], national: NationalCalendar | None = None
) -> dict[int, WorkCalendar]:
    """A WorkCalendar per project, with all their overrides loaded in one statement."""
    national = national or national_calendar()
    overrides: dict[int, dict[date, tuple[CalendarDayKind, str | None]]] = {pid: {} for pid in project_ids}
    for chunk in chunked(sorted(project_ids), 500):
        rows = session.execute(
            select(CalendarDay.project_id, CalendarDay.day, CalendarDay.kind, CalendarDay.note).where(
                CalendarDay.project_id.in_(chunk)
            )
        )
        for project_id, day, kind, note in rows:
            overrides[project_id][day] = (kind, note)
    return {pid: WorkCalendar(national, days) for pid, days in overrides.items()}


def load_calendar(session: Session, /, *, project_id: int, national: NationalCalendar | None = None) -> WorkCalendar:
    return load_calendars(session, project_ids=[project_id], national=national)[project_id]


def chunked(items: Iterable[int], size: int) -> Iterable[list[int]]:
    chunk: list[int] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# ---------------------------------------------------------------------------- a project's own days


def project_days_from(session: Session, /, *, project_id: int, since: date, limit: int) -> Sequence[CalendarDay]:
    """The project's own days off and extra workdays from `since` on, in date order."""
    return session.scalars(
        select(CalendarDay)
        .where(CalendarDay.project_id == project_id, CalendarDay.day >= since)
        .order_by(CalendarDay.day)
        .limit(limit)
    ).all()


def set_project_days(
    session: Session, /, *, project_id: int, days: Iterable[date], kind: CalendarDayKind, note: str | None
) -> None:
    """Make each of `days` a project day off or extra workday (replacing what was set for it)."""
    wanted = list(days)
    existing = {c.day: c for c in _project_days(session, project_id, wanted)}
    for one in wanted:
        found = existing.get(one)
        if found is None:
            session.add(CalendarDay(project_id=project_id, day=one, kind=kind, note=note))
        else:
            found.kind, found.note = kind, note


def remove_project_days(session: Session, /, *, project_id: int, days: Iterable[date]) -> int:
    """Back to the national calendar on `days`; returns how many had a project setting."""
    entries = _project_days(session, project_id, list(days))
    for entry in entries:
        session.delete(entry)
    return len(entries)


def _project_days(session: Session, project_id: int, days: list[date]) -> Sequence[CalendarDay]:
    return session.scalars(select(CalendarDay).where(CalendarDay.project_id == project_id, CalendarDay.day.in_(days))).all()
