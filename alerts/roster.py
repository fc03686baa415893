"""The duty roster (值班表): people, how to reach them, who covers which zone when, and the
routes that say who hears about an alert and who it climbs to if nobody acknowledges.

A shift ``{zones, people, days, hours: "17:30-08:00"}`` starts on each listed kind of day
and may run past midnight (``"08:00-08:00"`` is a 24-hour shift); the hand-over is the
moment one shift ends and the next begins. When nobody's shift covers a zone, ``fallback``
is on duty.

Roles (``roles: {crew_leader: [chen]}``) name who holds a duty the emergency plans (应急预案) give steps to: the
crew leader, the canteen manager, the office head. ``on_duty`` is built in (whoever covers the alert's zone at that
moment) and cannot be redefined; every holder is a person of the roster.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from alerts.rules import Category, Severity
from campus.calendar import DAY_TAGS, CampusCalendar
from campus.durations import Seconds
from campus.errors import NotFound
from campus.yamlfile import load_yaml_model

ON_DUTY = "on_duty"
RoleName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
_Strict = ConfigDict(extra="forbid", frozen=True)


class Person(BaseModel):
    model_config = _Strict
    id: str
    name: str
    title: str = ""
    email: str | None = None
    phone: str | None = None
    language: str | None = Field(default=None, description="zh-CN or en; default: the site's")
    notify: list[str] = Field(default_factory=list, description="channel names, or apprise URLs")


class Shift(BaseModel):
    model_config = _Strict
    zones: list[str] = Field(default_factory=lambda: ["all"])
    people: list[str]
    days: list[str] = Field(default_factory=lambda: ["all"])
    hours: str = "00:00-24:00"

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        bad = [d for d in value if d not in DAY_TAGS]
        if bad:
            raise ValueError(f"unknown day {bad[0]!r}; use: {', '.join(sorted(DAY_TAGS))}")
        return value

    @property
    def span(self) -> tuple[int, int]:
        """(start minute, length in minutes)."""
        a, b = self.hours.split("-")
        h1, m1 = (int(x) for x in a.strip().split(":"))
        h2, m2 = (int(x) for x in b.strip().split(":"))
        start, end = h1 * 60 + m1, h2 * 60 + m2
        return start, (end - start) % 1440 or 1440

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        try:
            a, b = value.split("-")
            for part in (a, b):
                h, m = (int(x) for x in part.strip().split(":"))
                if not (0 <= h <= 24 and 0 <= m < 60):
                    raise ValueError
        except ValueError:
            raise ValueError(f"{value!r}: write hours as HH:MM-HH:MM, e.g. 17:30-08:00") from None
        return value


class Level(BaseModel):
    model_config = _Strict
    to: list[str] = Field(description="person ids, or on_duty")
    after: Seconds = Field(default=0, description="since the alert was raised, if nobody has acknowledged")


class Match(BaseModel):
    model_config = _Strict
    category: list[Category] = Field(default_factory=list)
    severity: list[Severity] = Field(default_factory=list)
    zones: list[str] = Field(default_factory=list)
    buildings: list[str] = Field(default_factory=list)


class Route(BaseModel):
    model_config = _Strict
    id: str
    match: Match = Match()
    levels: list[Level] = Field(min_length=1)
    also: list[str] = Field(default_factory=list, description="group channels told at every level")
    notify_resolved: bool = True


class RosterFile(BaseModel):
    model_config = _Strict
    channels: dict[str, str] = Field(default_factory=dict, description="name → apprise URL template")
    people: list[Person] = Field(default_factory=list)
    shifts: list[Shift] = Field(default_factory=list)
    fallback: list[str] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)
    bulletin: list[str] = Field(default_factory=list, description="who the monthly bulletin (通报) goes to: the "
                                "heads of the departments and buildings, by person id")
    roles: dict[RoleName, Annotated[list[str], Field(min_length=1, max_length=100)]] = Field(
        default_factory=dict, max_length=100,
        description="role → person ids: who holds each duty the emergency plans name (on_duty is built in)")

    def role_names(self) -> frozenset[str]:
        """Every role a plan's step may name: on_duty and the roles of this roster."""
        return frozenset({ON_DUTY, *self.roles})

    def zones_of(self, person: str) -> list[str] | None:
        """The zones ``person`` (an id on this roster) covers in any shift; [] for all of them; None for
        somebody not on the roster."""
        if not any(p.id == person for p in self.people):
            return None
        zones = {z for shift in self.shifts if person in shift.people for z in shift.zones}
        return [] if "all" in zones else sorted(zones)

    @model_validator(mode="after")
    def _refs(self) -> RosterFile:
        ids = {p.id for p in self.people}
        named = [(f"shift {i + 1}", p) for i, s in enumerate(self.shifts) for p in s.people]
        named += [("fallback", p) for p in self.fallback]
        named += [("bulletin", p) for p in self.bulletin]
        if ON_DUTY in self.roles:
            raise ValueError(f"role {ON_DUTY!r} is built in (whoever covers the zone): give your role another name, "
                             "e.g. crew_leader")
        named += [(f"role {role}", p) for role, people in self.roles.items() for p in people]
        named += [(f"route {r.id}", t) for r in self.routes for lv in r.levels for t in lv.to if t != ON_DUTY]
        for where, pid in named:
            if pid not in ids:
                known = ", ".join(sorted(ids)) or "nobody yet"
                raise ValueError(f"{where} names unknown person {pid!r}; add them under people: or use one of: "
                                 f"{known}")
        for p in self.people:
            for ch in p.notify:
                if "://" not in ch and ch not in self.channels:
                    raise ValueError(f"person {p.id!r}: channel {ch!r} is not defined under channels:")
        for r in self.routes:
            for ch in r.also:
                if "://" not in ch and ch not in self.channels:
                    raise ValueError(f"route {r.id!r}: channel {ch!r} is not defined under channels:")
        return self


def load_roster(path: Path | None) -> RosterFile:
    if path is None:
        return RosterFile()
    return load_yaml_model(path, RosterFile, "duty roster")


def load_rosters(path: Path | None) -> dict[str | None, RosterFile]:
    """The duty rosters: one file for every site (key None), or a directory of ``SITE.yaml`` files, one per
    site (a site without one sends its alerts to MQTT only)."""
    if path is not None and path.is_dir():
        return {f.stem: load_roster(f) for f in sorted(path.iterdir()) if f.suffix in (".yaml", ".yml")}
    return {None: load_roster(path)}


def roster_of(rosters: dict[str | None, RosterFile], site: str) -> RosterFile:
    return rosters.get(site) or rosters.get(None) or RosterFile()


DEFAULT_ROUTE = Route(id="default", levels=[Level(to=[ON_DUTY])])


class DutyRoster:
    def __init__(self, roster: RosterFile, calendar: CampusCalendar, tz: dt.tzinfo) -> None:
        self.file, self.calendar, self.tz = roster, calendar, tz
        self.people = {p.id: p for p in roster.people}
        self.routes = {r.id: r for r in roster.routes}

    def on_duty(self, zone: str | None, at_ms: int) -> list[Person]:
        """Who covers ``zone`` at that moment (the fallback when no shift does)."""
        at = dt.datetime.fromtimestamp(at_ms / 1000, self.tz)
        found: list[str] = []
        for shift in self.file.shifts:
            if "all" not in shift.zones and zone not in shift.zones:
                continue
            start, length = shift.span
            for back in (0, 1):
                day = at.date() - dt.timedelta(days=back)
                if not any(d in self.calendar.tags(day) for d in shift.days):
                    continue
                begin = dt.datetime.combine(day, dt.time(), self.tz) + dt.timedelta(minutes=start)
                if begin <= at < begin + dt.timedelta(minutes=length):
                    found += [p for p in shift.people if p not in found]
        return [self.people[p] for p in (found or self.file.fallback)]

    def holders(self, role: str, zone: str | None, at_ms: int) -> list[Person]:
        """The people of ``role`` at that moment: on_duty is whoever covers ``zone`` then, any other role its
        holders on the roster. NotFound for a role the roster does not define."""
        if role == ON_DUTY:
            return self.on_duty(zone, at_ms)
        if role not in self.file.roles:
            raise NotFound(f"no role {role!r} on the duty roster; roles: {', '.join(sorted(self.file.role_names()))}")
        return [self.people[p] for p in dict.fromkeys(self.file.roles[role])]

    def route(self, name: str | None, category: str, severity: str, zone: str | None,
              building: str | None) -> Route:
        if name is not None and name in self.routes:
            return self.routes[name]
        for r in self.file.routes:
            m = r.match
            if ((not m.category or category in m.category) and (not m.severity or severity in m.severity)
                    and (not m.zones or zone in m.zones) and (not m.buildings or building in m.buildings)):
                return r
        return DEFAULT_ROUTE

    def recipients(self, level: Level, zone: str | None, at_ms: int) -> list[Person]:
        out: list[Person] = []
        for target in level.to:
            people = self.on_duty(zone, at_ms) if target == ON_DUTY else [self.people[target]]
            out += [p for p in people if p not in out]
        return out

    def urls(self, person: Person) -> list[tuple[str, str]]:
        """(channel name, apprise URL) for a person, templates filled with their details."""
        out = []
        for ch in person.notify:
            template = ch if "://" in ch else self.file.channels[ch]
            fields = {"id": person.id, "email": person.email or "", "phone": person.phone or ""}
            out.append((ch if "://" not in ch else ch.split("://")[0], template.format(**fields)))
        return out

    def group_urls(self, route: Route) -> list[tuple[str, str]]:
        return [(ch if "://" not in ch else ch.split("://")[0], self.file.channels.get(ch, ch)) for ch in route.also]
