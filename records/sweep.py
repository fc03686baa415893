"""The sweep (用能扫查): what is still drawing power, water or gas now that should not be.

A meter's own recent past is no judge of a fault that has run for weeks (a canteen left at 44 kW every night had
become its own normal), so the sweep judges against two things that a long fault does not move:

- *closed hours*: a canteen outside 05:30-20:00, a teaching building outside 06:30-22:30 (both closed all day on
  public holidays and in vacations), a dormitory in a vacation (``HOURS``; the campus calendar says which days are
  which). A closed building should draw its standby only: at most ``STANDBY_SHARE`` of its average on a recent
  open day (its daily use ÷ 24, the median over ``LOOKBACK_WEEKS``);
- *the same hour in a recent week without the fault*: the same hour on days of the same kind (a school day, a
  weekend or holiday in term, a vacation day): the ``RECENT`` latest and one in each week before, back
  ``LOOKBACK_WEEKS``; the low quartile of those, so a fault that has run for some of them does not count as usual.

*expected* is the lower of the two (the second alone in open hours); a meter is flagged when its use over the
last hour (*now*, kW or m³/h; the hour that ends one reporting interval ago, so the newest reading is in) is above
expected × ``RATIO`` + the kind's margin (2 kW, 0.1 m³/h of water, 0.2 m³/h of gas). *excess* is now − expected:
the lines are sorted by it, largest first. A meter with no reading in the last hour is listed as silent (the offline
alert covers it), never flagged; the site's incomer and a virtual meter (made of meters listed already) are
listed, never flagged. Offices, plant rooms and other buildings have no closed hours here: only the same-hour
comparison judges them.
Buildings add up their main meters (sub-meters and the incomer are listed, not added).
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from alerts.schedule import Schedule
from campus.calendar import CampusCalendar
from campus.contract import Kind
from campus.model import INCOMER, Campus, Department, Device
from reports.buckets import Interval, day_edges
from reports.consumption import GroupBy, consumption, meters
from reports.usage import SiteUsage

LOOKBACK_WEEKS = 8
RECENT = 4
RATIO = 1.5
STANDBY_SHARE = 0.2
MARGIN = {Kind.ELECTRICITY: 2.0, Kind.WATER: 0.1, Kind.GAS: 0.2}
UNITS = {Kind.ELECTRICITY: "kW", Kind.WATER: "m³/h", Kind.GAS: "m³/h"}
HOUR_MS = 3_600_000
DAY_MS = 86_400_000

# when a department's buildings are open (outside these hours they should draw their standby only)
HOURS: dict[Department, Schedule] = {dept: Schedule.model_validate(spec) for dept, spec in {
    Department.CANTEEN: {"hours": ["05:30-20:00"], "days": ["all"], "except": ["holiday", "vacation"]},
    Department.TEACHING: {"hours": ["06:30-22:30"], "days": ["all"], "except": ["holiday", "vacation"]},
    Department.DORMITORY: {"hours": ["00:00-24:00"], "days": ["all"], "except": ["vacation"]},
}.items()}


def day_kind(cal: CampusCalendar, day: dt.date) -> str:
    tags = cal.tags(day)
    return "vacation" if "vacation" in tags else "offday" if "offday" in tags else "school_day"


def closed(campus: Campus, building: str, at: dt.datetime, cal: CampusCalendar) -> bool:
    """Should ``building`` be closed (standby only) at ``at`` (local)? Never for a department without hours."""
    b = campus.building(building)
    hours = HOURS.get(b.department) if b is not None else None
    return hours is not None and not hours.contains(at, cal)


def _open_day(campus: Campus, building: str, day: dt.date, cal: CampusCalendar) -> bool:
    """Is ``building`` open at some hour of ``day``?"""
    b = campus.building(building)
    hours = HOURS.get(b.department) if b is not None else None
    if hours is None:
        return False
    tags = cal.tags(day)
    return any(d in tags for d in hours.days) and not any(d in tags for d in hours.except_)


@dataclass(slots=True)
class SweepLine:
    device: str
    name: str
    building: str
    kind: str
    unit: str
    now: float | None              # None: no reading in the last hour
    usual: float | None            # the same hour in recent weeks (low quartile); None: no such hour yet
    days: int                      # how many earlier days the usual is taken from
    flagged: bool
    main: bool                     # counts in its building's total
    closed: bool = False           # the building should be closed now (standby only)
    standby: float | None = None   # what it may draw when closed; None: open now, or no open day seen yet

    @property
    def expected(self) -> float | None:
        """What it should draw now: the lower of the usual and (closed) the standby."""
        known = [x for x in (self.usual, self.standby if self.closed else None) if x is not None]
        return min(known) if known else None

    @property
    def excess(self) -> float:
        return (self.now or 0.0) - (self.expected or 0.0)


@dataclass(slots=True)
class BuildingSweep:
    id: str
    name: str
    zone: str | None
    closed: bool = False
    now: dict[str, float] = field(default_factory=dict)
    usual: dict[str, float] = field(default_factory=dict)
    flagged: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Sweep:
    site: str
    at_ms: int
    day_kind: str
    quiet: bool
    lines: list[SweepLine]
    buildings: list[BuildingSweep]

    @property
    def flagged(self) -> list[SweepLine]:
        return [x for x in self.lines if x.flagged]


def _rates(usage: SiteUsage, kind: Kind, end_ms: int, now_ms: int) -> dict[str, tuple[float, int]]:
    """device → (use in the hour before ``end_ms`` per hour, readings in it)."""
    c = consumption(usage.campus, usage.rollups, usage.store, kind, [end_ms - HOUR_MS, end_ms], Interval.HOUR,
                    GroupBy.DEVICE, now_ms)
    return {g.key: (g.totals[0], g.readings[0]) for g in c.groups}


def same_hour_days(now: dt.datetime, cal: CampusCalendar) -> list[dt.datetime]:
    """The same hour on earlier days of the same kind within ``LOOKBACK_WEEKS``: the ``RECENT`` latest, then one a
    week further back (the latest of each week), so a fault of the last days is outvoted by the weeks before."""
    kind = day_kind(cal, now.date())
    days = [now - dt.timedelta(days=k) for k in range(1, LOOKBACK_WEEKS * 7 + 1)
            if day_kind(cal, (now - dt.timedelta(days=k)).date()) == kind]
    out, weeks = days[:RECENT], set()
    for t in days[RECENT:]:
        week = (now - t).days // 7
        if week not in weeks and week >= 1:
            weeks.add(week)
            out.append(t)
    return out


def _standby(usage: SiteUsage, kind: Kind, devices: list[Device], now: dt.datetime, now_ms: int,
             cal: CampusCalendar, tz: ZoneInfo) -> dict[str, float]:
    """device → what it may draw when its building is closed: ``STANDBY_SHARE`` of its average on a recent open
    day (the median day, from the daily roll-ups)."""
    today = day_edges(now_ms, now_ms, tz)[0]
    edges = day_edges(today - LOOKBACK_WEEKS * 7 * DAY_MS, today - 1, tz)  # the days before today
    c = consumption(usage.campus, usage.rollups, usage.store, kind, edges, Interval.DAY, GroupBy.DEVICE, now_ms,
                    devices=[d.id for d in devices])
    building = {d.id: d.building for d in devices}
    out = {}
    for g in c.groups:
        days = [g.totals[i] / 24 for i, start in enumerate(edges[:-1])
                if g.readings[i] > 0 and g.coverage(i) >= 0.9
                and _open_day(usage.campus, building[g.key], dt.datetime.fromtimestamp(start / 1000, tz).date(), cal)]
        if days:
            out[g.key] = STANDBY_SHARE * statistics.median(days)
    return out


def _low_quartile(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 4]


def sweep(usage: SiteUsage, now_ms: int) -> Sweep:
    campus = usage.campus
    tz = ZoneInfo(campus.site.timezone)
    cal = CampusCalendar(campus.calendar)
    usage.refresh(wait_s=usage.request_wait_s)
    now = dt.datetime.fromtimestamp(now_ms / 1000, tz)
    kind_today = day_kind(cal, now.date())
    earlier = same_hour_days(now, cal)
    devices = {d.id: d for d in campus.devices}
    shut = {b.id: closed(campus, b.id, now, cal) for b in campus.buildings}
    lines: list[SweepLine] = []
    for kind in (Kind.ELECTRICITY, Kind.WATER, Kind.GAS):
        lag_ms = max((d.interval_s for d in meters(campus, kind)), default=0) * 1000
        current = _rates(usage, kind, now_ms - lag_ms, now_ms)
        past = [_rates(usage, kind, int(t.timestamp() * 1000) - lag_ms, now_ms) for t in earlier]
        asleep = [d for d in meters(campus, kind) if shut.get(d.building)]
        standby = _standby(usage, kind, asleep, now, now_ms, cal, tz) if asleep else {}
        for dev_id, (rate, n) in current.items():
            dev = devices[dev_id]
            seen = [p[dev_id][0] for p in past if dev_id in p and p[dev_id][1] > 0]
            line = SweepLine(dev_id, dev.name or dev_id, dev.building, kind.value, UNITS[kind],
                             rate if n > 0 else None, _low_quartile(seen) if seen else None, len(seen), False,
                             dev.counts_in_totals, shut.get(dev.building, False), standby.get(dev_id))
            expected = line.expected
            line.flagged = (line.now is not None and expected is not None and dev.role != INCOMER
                            and dev.virtual is None and line.now > expected * RATIO + MARGIN[kind])
            lines.append(line)
    lines.sort(key=lambda x: (not x.flagged, -x.excess, x.building, x.kind, x.device))
    zone_of = {b: z.id for z in campus.zones for b in z.buildings}
    buildings = {b.id: BuildingSweep(b.id, b.name, zone_of.get(b.id), shut[b.id]) for b in campus.buildings}
    for x in lines:
        b = buildings[x.building]
        if x.flagged:
            b.flagged.append(x.device)
        if x.main:
            b.now[x.kind] = b.now.get(x.kind, 0.0) + (x.now or 0.0)
            b.usual[x.kind] = b.usual.get(x.kind, 0.0) + (x.expected or 0.0)
    quiet = kind_today != "school_day" or now.hour >= 22 or now.hour < 6
    order = sorted(buildings.values(), key=lambda b: (not b.flagged, b.id))
    return Sweep(campus.site.id, now_ms, kind_today, quiet, lines, order)
