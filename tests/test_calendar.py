"""The working calendar: chinesecalendar's 2026 data (调休 included), project overrides, the 2027 estimate."""

from __future__ import annotations

import logging
import sys
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from models import CalendarDayKind
from models.calendar import NationalCalendar, WorkCalendar, estimate_holidays

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def calendar() -> WorkCalendar:
    return WorkCalendar(NationalCalendar())


def test_ordinary_weekdays_and_weekends(calendar: WorkCalendar) -> None:
    assert calendar.is_workday(date(2026, 11, 23))  # Monday
    assert calendar.is_workday(date(2026, 11, 27))  # Friday
    assert not calendar.is_workday(date(2026, 11, 21))  # Saturday
    assert not calendar.is_workday(date(2026, 11, 22))  # Sunday
    assert calendar.info(date(2026, 11, 23)).source == "official"


def test_national_day_2026_and_its_make_up_days_match_chinesecalendar(calendar: WorkCalendar) -> None:
    holiday = [date(2026, 10, d) for d in range(1, 8)]
    for day in holiday:
        assert not calendar.is_workday(day), day
        assert chinese_calendar.is_holiday(day)
    assert calendar.info(date(2026, 10, 5)).name == "国庆节"
    # The make-up workdays (调休): Sunday 2026-09-20 and Saturday 2026-10-10.
    for day in (date(2026, 9, 20), date(2026, 10, 10)):
        assert day.weekday() >= 5
        assert calendar.is_workday(day) and chinese_calendar.is_workday(day)
    assert not calendar.is_workday(date(2026, 10, 11))  # the Sunday after is off
    assert calendar.next_workday(date(2026, 9, 30)) == date(2026, 10, 8)
    assert calendar.previous_workday(date(2026, 10, 12)) == date(2026, 10, 10)
    assert calendar.estimated_years == set()


def test_2027_is_an_estimate_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 1))  # why there is a fallback at all
    national = NationalCalendar()
    calendar = WorkCalendar(national)
    with caplog.at_level(logging.WARNING, logger="models.calendar"):
        new_year = calendar.info(date(2027, 1, 1))
        assert calendar.is_workday(date(2027, 1, 4))  # the Monday after
        assert not calendar.is_workday(date(2027, 1, 2))  # a Saturday
        assert not calendar.is_workday(date(2027, 10, 1))
    assert new_year.source == "estimate" and not new_year.is_workday and "元旦" in (new_year.name or "")
    assert calendar.estimated_years == {2027}
    warnings = [r for r in caplog.records if "2027" in r.getMessage() and "ESTIMATE" in r.getMessage()]
    assert len(warnings) == 1
    assert not national.is_known(2027) and national.is_known(2026)
    # A year boundary crossed in a search does not crash either.
    assert calendar.next_workday(date(2026, 12, 31)) == date(2027, 1, 4)


def test_estimate_without_the_holidays_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "holidays", None)  # import holidays → ImportError
    days, source = estimate_holidays(2027)
    assert source == "fixed-date holidays"
    assert date(2027, 1, 1) in days and date(2027, 10, 1) in days and date(2027, 5, 1) in days


def test_project_overrides_win(calendar: WorkCalendar) -> None:
    calendar = WorkCalendar(
        calendar.national,
        {
            date(2026, 12, 24): (CalendarDayKind.OFF, "年会"),
            date(2026, 12, 26): (CalendarDayKind.WORK, None),
            date(2026, 10, 10): (CalendarDayKind.OFF, None),  # the project skips the national make-up day
        },
    )
    assert not calendar.is_workday(date(2026, 12, 24))
    assert calendar.info(date(2026, 12, 24)).source == "project"
    assert calendar.is_workday(date(2026, 12, 26))
    assert not calendar.is_workday(date(2026, 10, 10))


def test_working_time_not_counting_days_off(calendar: WorkCalendar) -> None:
    friday_3pm = datetime(2026, 11, 20, 15, 0, tzinfo=SHANGHAI)
    monday_3pm = datetime(2026, 11, 23, 15, 0, tzinfo=SHANGHAI)
    assert calendar.working_time_between(friday_3pm, monday_3pm, SHANGHAI) == timedelta(hours=24)
    # Across National Day: 12 hours on 09-30, nothing for 10-01..07, 12 hours on 10-08.
    start = datetime(2026, 9, 30, 12, 0, tzinfo=SHANGHAI)
    end = datetime(2026, 10, 8, 12, 0, tzinfo=SHANGHAI)
    assert calendar.working_time_between(start, end, SHANGHAI) == timedelta(hours=24)
    # The limit stops the count early, but still says "more than".
    long = calendar.working_time_between(start, end + timedelta(days=300), SHANGHAI, limit=timedelta(hours=24))
    assert timedelta(hours=24) < long < timedelta(days=3)
    assert calendar.working_time_between(end, start, SHANGHAI) == timedelta(0)


def test_working_time_across_a_dst_switch() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # Sunday 2026-03-29 has 23 hours in Berlin; make it a project workday.
    calendar = WorkCalendar(NationalCalendar(), {date(2026, 3, 29): (CalendarDayKind.WORK, None)})
    start = datetime(2026, 3, 29, 0, 0, tzinfo=berlin)
    end = datetime(2026, 3, 30, 0, 0, tzinfo=berlin)
    assert calendar.working_time_between(start, end, berlin) == timedelta(hours=23)
