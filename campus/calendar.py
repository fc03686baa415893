"""Which kind of day a date is, for schedules and shifts: weekday, workday or day off (with
Chinese public holidays and make-up workdays 调休 from the chinese-calendar package), public
holiday, school term or vacation (terms from the campus file)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

import chinese_calendar

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_TAGS = frozenset({*WEEKDAYS, "all", "workday", "offday", "holiday", "term", "vacation", "school_day", "weekend"})


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


class CampusCalendar:
    """Tags of a date. ``terms`` as in the campus file: ``[{name, start, end}, ...]``."""

    def __init__(self, calendar: dict[str, Any] | None = None) -> None:
        self.terms = [(_as_date(t["start"]), _as_date(t["end"])) for t in (calendar or {}).get("terms", [])]
        self.tags = lru_cache(maxsize=4096)(self._tags)

    def _tags(self, day: dt.date) -> frozenset[str]:
        try:
            workday = bool(chinese_calendar.is_workday(day))
            holiday = bool(chinese_calendar.is_holiday(day)) and chinese_calendar.get_holiday_detail(day)[1] is not None
        except NotImplementedError:  # a year the package does not know yet: plain weekdays
            workday, holiday = day.weekday() < 5, False
        term = any(s <= day <= e for s, e in self.terms) if self.terms else True
        tags = {"all", WEEKDAYS[day.weekday()], "workday" if workday else "offday", "term" if term else "vacation"}
        if holiday:
            tags.add("holiday")
        if day.weekday() >= 5:
            tags.add("weekend")
        if term and workday:
            tags.add("school_day")
        return frozenset(tags)
