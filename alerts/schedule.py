"""Schedules in the site's timezone: hours of the day on some kinds of days.

``{hours: ["05:30-20:00"], days: [all], except: [holiday, vacation]}``. A span that passes
midnight (``22:00-06:00``) is fine; the day tests apply to the date of each moment.
Day names: mon … sun, all, workday, offday (weekends and public holidays, make-up workdays
count as workdays), holiday (public holidays only), weekend, term, vacation, school_day.
"""

from __future__ import annotations

import datetime as dt
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from campus.calendar import DAY_TAGS, CampusCalendar

_SPAN = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


def parse_span(text: str) -> tuple[int, int]:
    """``"HH:MM-HH:MM"`` → minutes of the day (start, end); end may be 24:00."""
    m = _SPAN.match(text.strip())
    if not m:
        raise ValueError(f"{text!r}: write hours as HH:MM-HH:MM, e.g. 05:30-20:00")
    h1, m1, h2, m2 = (int(x) for x in m.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if h1 > 23 or m1 > 59 or m2 > 59 or end > 24 * 60 or start == end:
        raise ValueError(f"{text!r}: not a span of the day (00:00-24:00)")
    return start, end


def in_span(minute: float, span: tuple[int, int]) -> bool:
    start, end = span
    return start <= minute < end if start < end else (minute >= start or minute < end)


def _days(values: list[str]) -> list[str]:
    for v in values:
        if v not in DAY_TAGS:
            raise ValueError(f"unknown day {v!r}; use: {', '.join(sorted(DAY_TAGS))}")
    return values


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    hours: list[str] = Field(default_factory=lambda: ["00:00-24:00"])
    days: list[str] = Field(default_factory=lambda: ["all"])
    except_: list[str] = Field(default_factory=list, alias="except")

    _spans: list[tuple[int, int]] = []

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: list[str]) -> list[str]:
        for v in value:
            parse_span(v)
        return value

    _check_days = field_validator("days", "except_")(_days)

    def model_post_init(self, context: object) -> None:
        self._spans = [parse_span(h) for h in self.hours]

    def contains(self, local: dt.datetime, calendar: CampusCalendar) -> bool:
        tags = calendar.tags(local.date())
        if not any(d in tags for d in self.days) or any(d in tags for d in self.except_):
            return False
        minute = local.hour * 60 + local.minute + local.second / 60
        return any(in_span(minute, s) for s in self._spans)
