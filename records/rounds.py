"""Check-round templates and which rounds are due, on the school calendar.

The plain rules (each a *window* of days in the site's time zone; a round recorded on any day of its window
covers it; once the window's last day has passed with no round, it is overdue):
- ``school_day``: every workday in term, one day long. Make-up workdays (调休) count; public holidays and
  vacations do not.
- ``daily``: every day, holidays included.
- ``weekly``: each Monday-Sunday week.
- ``before_holiday``: the last workday before a break of three days or more, or before a vacation.
- ``term_end``: the three days after a term's last day, when students have left.
- ``on_demand``: never due.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from campus.calendar import CampusCalendar
from campus.contract import Identifier
from campus.labels import Name
from campus.model import Campus, Department
from campus.yamlfile import load_yaml_model

_Strict = ConfigDict(extra="forbid", frozen=True)
BREAK_DAYS = 3       # a break this long or longer is a holiday to check before (a plain weekend is not)
TERM_END_DAYS = 3    # the after-term check is due within this many days after the term's last day


class Every(StrEnum):
    SCHOOL_DAY = "school_day"
    DAILY = "daily"
    WEEKLY = "weekly"
    BEFORE_HOLIDAY = "before_holiday"
    TERM_END = "term_end"
    ON_DEMAND = "on_demand"


class Per(StrEnum):
    ZONE = "zone"
    BUILDING = "building"


class Where(BaseModel):
    model_config = _Strict
    zones: list[str] = Field(default_factory=list)
    buildings: list[str] = Field(default_factory=list)
    departments: list[Department] = Field(default_factory=list)


class Template(BaseModel):
    model_config = _Strict
    id: Identifier
    name: Name
    every: Every
    per: Per = Per.ZONE
    where: Where = Where()
    items: list[Name] = Field(min_length=1, max_length=100)


class RoundFile(BaseModel):
    model_config = _Strict
    rounds: list[Template] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> RoundFile:
        seen: set[str] = set()
        for t in self.rounds:
            if t.id in seen:
                raise ValueError(f"round template id {t.id!r} is used twice")
            seen.add(t.id)
        return self

    def template(self, template_id: str) -> Template | None:
        return next((t for t in self.rounds if t.id == template_id), None)


def load_rounds(path: Path | None) -> RoundFile:
    return load_yaml_model(path or Path(__file__).parent / "default_rounds.yaml", RoundFile, "round templates")


@dataclass(frozen=True, slots=True)
class Place:
    """Where one round is walked: a zone, or a building (with its zone)."""

    zone: str
    building: str | None

    @property
    def key(self) -> str:
        return self.building or self.zone


def places(template: Template, campus: Campus) -> list[Place]:
    """The zones or buildings a template asks a round of."""
    w = template.where
    zone_of = {b: z.id for z in campus.zones for b in z.buildings}
    if template.per is Per.ZONE:
        zones = [z.id for z in campus.zones] or ["default"]
        return [Place(z, None) for z in zones if not w.zones or z in w.zones]
    return [Place(zone_of.get(b.id, "default"), b.id) for b in campus.buildings
            if (not w.buildings or b.id in w.buildings) and (not w.departments or b.department in w.departments)
            and (not w.zones or zone_of.get(b.id, "default") in w.zones)]


@dataclass(frozen=True, slots=True)
class Window:
    start: dt.date
    end: dt.date      # inclusive

    @property
    def key(self) -> str:
        return self.start.isoformat() if self.start == self.end else f"{self.start}/{self.end}"


def _break_ahead(cal: CampusCalendar, day: dt.date) -> bool:
    """Is ``day`` a workday followed by a break of BREAK_DAYS or more days off, or by a vacation?"""
    if "workday" not in cal.tags(day):
        return False
    nxt = day + dt.timedelta(days=1)
    if "term" in cal.tags(day) and "vacation" in cal.tags(nxt):
        return True
    n = 0
    while "offday" in cal.tags(nxt + dt.timedelta(days=n)) and n < 60:
        n += 1
    return n >= BREAK_DAYS


def windows(every: Every, cal: CampusCalendar, start: dt.date, end: dt.date) -> list[Window]:
    """The windows of ``every`` that end within [start, end], oldest first."""
    out: list[Window] = []
    if every is Every.ON_DEMAND:
        return out
    if every is Every.TERM_END:
        for _, last in cal.terms:
            w = Window(last + dt.timedelta(days=1), last + dt.timedelta(days=TERM_END_DAYS))
            if start <= w.end <= end:
                out.append(w)
        return out
    day = start
    while day <= end:
        tags = cal.tags(day)
        if every is Every.DAILY or (every is Every.SCHOOL_DAY and "school_day" in tags) or (
                every is Every.BEFORE_HOLIDAY and _break_ahead(cal, day)):
            out.append(Window(day, day))
        elif every is Every.WEEKLY and day.weekday() == 6:
            out.append(Window(day - dt.timedelta(days=6), day))
        day += dt.timedelta(days=1)
    return out


def current(every: Every, cal: CampusCalendar, today: dt.date) -> Window | None:
    """The window that holds ``today``, if any."""
    if every is Every.WEEKLY:
        monday = today - dt.timedelta(days=today.weekday())
        return Window(monday, monday + dt.timedelta(days=6))
    for w in windows(every, cal, today, today + dt.timedelta(days=TERM_END_DAYS)):
        if w.start <= today <= w.end:
            return w
    return None
