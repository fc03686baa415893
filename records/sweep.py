"""The sweep (用能扫查): what is still drawing power, water or gas now, against the same hour on the same kind of day.

The plain rules:
- *now* is each meter's use over the last hour of readings (kW or m³/h): the hour that ends one reporting
  interval ago (the longest of that kind's meters), so the newest reading is in;
- *usual* is the median of the same hour on up to ``SAMPLES`` earlier days of the same kind (a school day, a
  weekend or holiday in term, a vacation day) within ``LOOKBACK_DAYS``;
- a meter is flagged when now > usual × ``RATIO`` + the kind's margin (2 kW, 0.1 m³/h of water, 0.2 m³/h of gas):
  lights left on over a vacation night, a tap running after students left, a canteen's gas after closing;
- a meter with no reading in the last hour is listed as silent (the offline alert covers it), never flagged;
- the site's incomer is listed, never flagged: whatever it sees, a building's meter shows where;
- the sweep is *quiet time* on a vacation or a day off, and every night 22:00–06:00: what is flagged then should
  most likely be off.
Buildings add up their main meters (sub-meters and the incomer are listed, not added).
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from campus.calendar import CampusCalendar
from campus.contract import Kind
from campus.model import INCOMER
from reports.buckets import Interval
from reports.consumption import GroupBy, consumption, meters
from reports.usage import SiteUsage

LOOKBACK_DAYS = 28
SAMPLES = 4
RATIO = 1.5
MARGIN = {Kind.ELECTRICITY: 2.0, Kind.WATER: 0.1, Kind.GAS: 0.2}
UNITS = {Kind.ELECTRICITY: "kW", Kind.WATER: "m³/h", Kind.GAS: "m³/h"}
HOUR_MS = 3_600_000


def day_kind(cal: CampusCalendar, day: dt.date) -> str:
    tags = cal.tags(day)
    return "vacation" if "vacation" in tags else "offday" if "offday" in tags else "school_day"


@dataclass(slots=True)
class SweepLine:
    device: str
    name: str
    building: str
    kind: str
    unit: str
    now: float | None              # None: no reading in the last hour
    usual: float | None            # None: no earlier day of the same kind yet
    days: int                      # how many earlier days the usual is the median of
    flagged: bool
    main: bool                     # counts in its building's total

    @property
    def excess(self) -> float:
        return (self.now or 0.0) - (self.usual or 0.0)


@dataclass(slots=True)
class BuildingSweep:
    id: str
    name: str
    zone: str | None
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


def sweep(usage: SiteUsage, now_ms: int) -> Sweep:
    campus = usage.campus
    tz = ZoneInfo(campus.site.timezone)
    cal = CampusCalendar(campus.calendar)
    usage.refresh(wait_s=usage.request_wait_s)
    now = dt.datetime.fromtimestamp(now_ms / 1000, tz)
    kind_today = day_kind(cal, now.date())
    earlier = [now - dt.timedelta(days=k) for k in range(1, LOOKBACK_DAYS + 1)
               if day_kind(cal, (now - dt.timedelta(days=k)).date()) == kind_today][:SAMPLES]
    devices = {d.id: d for d in campus.devices}
    lines: list[SweepLine] = []
    for kind in (Kind.ELECTRICITY, Kind.WATER, Kind.GAS):
        lag_ms = max((d.interval_s for d in meters(campus, kind)), default=0) * 1000
        current = _rates(usage, kind, now_ms - lag_ms, now_ms)
        past = [_rates(usage, kind, int(t.timestamp() * 1000) - lag_ms, now_ms) for t in earlier]
        for dev_id, (rate, n) in current.items():
            dev = devices[dev_id]
            seen = [p[dev_id][0] for p in past if dev_id in p and p[dev_id][1] > 0]
            usual = statistics.median(seen) if seen else None
            got = rate if n > 0 else None
            flagged = (got is not None and usual is not None and got > usual * RATIO + MARGIN[kind]
                       and dev.role != INCOMER)
            lines.append(SweepLine(dev_id, dev.name or dev_id, dev.building, kind.value, UNITS[kind], got, usual,
                                   len(seen), flagged, dev.counts_in_totals))
    lines.sort(key=lambda x: (not x.flagged, -x.excess if x.flagged else 0, x.building, x.kind, x.device))
    zone_of = {b: z.id for z in campus.zones for b in z.buildings}
    buildings = {b.id: BuildingSweep(b.id, b.name, zone_of.get(b.id)) for b in campus.buildings}
    for x in lines:
        b = buildings[x.building]
        if x.flagged:
            b.flagged.append(x.device)
        if x.main:
            b.now[x.kind] = b.now.get(x.kind, 0.0) + (x.now or 0.0)
            b.usual[x.kind] = b.usual.get(x.kind, 0.0) + (x.usual or 0.0)
    quiet = kind_today != "school_day" or now.hour >= 22 or now.hour < 6
    order = sorted(buildings.values(), key=lambda b: (not b.flagged, b.id))
    return Sweep(campus.site.id, now_ms, kind_today, quiet, lines, order)
