"""The school calendar: terms from the campus file, weekends, Chinese public holidays and
make-up workdays (调休) from the chinese-calendar package."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import chinese_calendar


class DayType(StrEnum):
    SCHOOL_DAY = "school_day"   # term, working day (including make-up Saturdays/Sundays)
    WEEKEND = "weekend"         # term, weekend: boarders stay, canteens reduced
    HOLIDAY = "holiday"         # public holiday in term: most students home
    VACATION = "vacation"       # winter/summer vacation


DEFAULT_TERMS = [((9, 1), (1, 20)), ((2, 24), (7, 10))]


def _is_workday(day: dt.date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # outside the package's years: plain weekdays
        return day.weekday() < 5


def _is_holiday(day: dt.date) -> bool:
    try:
        holiday, name = chinese_calendar.get_holiday_detail(day)
        return bool(holiday) and name is not None
    except NotImplementedError:
        return False


class SchoolCalendar:
    def __init__(self, calendar: dict[str, Any] | None = None) -> None:
        self.terms: list[tuple[dt.date, dt.date]] = []
        for term in (calendar or {}).get("terms", []):
            start, end = term["start"], term["end"]
            self.terms.append((start if isinstance(start, dt.date) else dt.date.fromisoformat(start),
                               end if isinstance(end, dt.date) else dt.date.fromisoformat(end)))

    def in_term(self, day: dt.date) -> bool:
        if self.terms:
            return any(s <= day <= e for s, e in self.terms)
        for (sm, sd), (em, ed) in DEFAULT_TERMS:
            start, end = dt.date(day.year, sm, sd), dt.date(day.year, em, ed)
            if start <= end and start <= day <= end or start > end and (day >= start or day <= end):
                return True
        return False

    def day_type(self, day: dt.date) -> DayType:
        if not self.in_term(day):
            return DayType.VACATION
        if _is_workday(day):
            return DayType.SCHOOL_DAY
        if _is_holiday(day):
            return DayType.HOLIDAY
        return DayType.WEEKEND
