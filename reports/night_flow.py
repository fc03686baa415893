"""Night minimum flow (夜间最小流量) of the water incomer and each building's main meter, night by night, and its
trend over weeks.

The plain rules:
- A night is ``[water] night_hours`` (default 00:00–05:00, site time), named by the date it ends on.
- Its minimum flow is the lowest **hourly** flow among its hours (m³ in the hour, from the register rules, so
  m³/h). An hour counts when it has 75 % of its readings; a night counts when 75 % of its hours do, else it is null
  with why.
- The trend: the median of the last 7 nights against the median of the (up to 28) nights before them, the usual.
  The minimum is **rising** when the recent median is more than ``[water] night_rise_m3h`` above the usual.
  ``nights_above`` counts the latest nights in a row above the usual by that much: a hidden leak shows there from
  its first night, before the 7-night median moves.
- A token that does not see the whole site sees its buildings' mains, not the incomer.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field

from campus.model import Device
from reports.buckets import Interval, edges
from reports.consumption import coverage_ratio, meter_use
from reports.usage import SiteUsage
from reports.water_balance import incomers, mains, name_of, sees_site, words
from reports.water_config import WaterSettings, parse_hours

HOUR_COVERAGE = 0.75
RECENT_NIGHTS = 7
USUAL_NIGHTS = 28


@dataclass(frozen=True, slots=True)
class Night:
    date: str
    min_m3h: float | None
    hour: str | None                # the hour the minimum fell in, e.g. "03:00"
    why: str | None = None


@dataclass(slots=True)
class NightSeries:
    device: str
    name: str
    building: str | None            # its name; None for the incomer
    level: str                      # incomer | main
    nights: list[Night] = field(default_factory=list)
    recent_m3h: float | None = None
    usual_m3h: float | None = None
    rise_m3h: float | None = None
    rising: bool = False
    nights_above: int = 0


def night_of(local: dt.datetime, start: int, end: int) -> dt.date | None:
    """The night an hour starting at ``local`` belongs to (the date the night ends on), or None outside it."""
    h = local.hour
    if start < end:
        return local.date() if start <= h < end else None
    if h >= start:
        return local.date() + dt.timedelta(days=1)
    return local.date() if h < end else None


def last_night(now: dt.datetime, start: int, end: int) -> dt.date:
    """The latest night that is over by ``now`` (local)."""
    return now.date() if now.hour >= end else now.date() - dt.timedelta(days=1)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 4) if values else None


def series(usage: SiteUsage, device: Device, nights: list[dt.date], settings: WaterSettings, now_ms: int,
           language: str) -> NightSeries:
    tz = usage.tz
    start, end = parse_hours(settings.night_hours)
    first = dt.datetime.combine(nights[0] - dt.timedelta(days=1 if start > end else 0), dt.time(start), tz)
    last = dt.datetime.combine(nights[-1], dt.time(end), tz)
    cuts = edges(first, last, Interval.HOUR, tz)
    use = meter_use(usage.rollups, usage.store, device, cuts, Interval.HOUR, now_ms)
    hours: dict[dt.date, list[tuple[float | None, str]]] = {}
    for k in range(len(cuts) - 1):
        local = dt.datetime.fromtimestamp(cuts[k] / 1000, tz)
        night = night_of(local, start, end)
        if night is None:
            continue
        length_h = (cuts[k + 1] - cuts[k]) / 3_600_000
        ok = coverage_ratio(use.readings[k], use.expected[k]) >= HOUR_COVERAGE and use.expected[k] > 0
        hours.setdefault(night, []).append((use.totals[k] / length_h if ok else None, f"{local:%H}:00"))
    span = (end - start) % 24
    b = usage.campus.building(device.building)
    s = NightSeries(device.id, name_of(device), None if device in incomers(usage.campus) else (b.name if b else None),
                    "incomer" if device in incomers(usage.campus) else "main")
    for night in nights:
        got = [(f, h) for f, h in hours.get(night, []) if f is not None]
        if len(got) < HOUR_COVERAGE * span:
            s.nights.append(Night(night.isoformat(), None, None, words(
                language, f"数据不全：{len(got)}/{span} 小时有足够读数", f"incomplete: {len(got)} of {span} hours "
                "have enough readings")))
            continue
        low, hour = min(got)
        s.nights.append(Night(night.isoformat(), round(max(low, 0.0), 4), hour))
    values = [n.min_m3h for n in s.nights]
    recent = [v for v in values[-RECENT_NIGHTS:] if v is not None]
    usual = [v for v in values[-RECENT_NIGHTS - USUAL_NIGHTS:-RECENT_NIGHTS] if v is not None]
    s.recent_m3h, s.usual_m3h = _median(recent), _median(usual)
    if s.recent_m3h is not None and s.usual_m3h is not None:
        s.rise_m3h = round(s.recent_m3h - s.usual_m3h, 4)
        s.rising = s.rise_m3h > settings.night_rise_m3h
        for v in reversed(values):
            if v is None or v <= s.usual_m3h + settings.night_rise_m3h:
                break
            s.nights_above += 1
    return s


def night_flow(usage: SiteUsage, weeks: int, settings: WaterSettings, now_ms: int, language: str = "zh-CN",
               ) -> list[NightSeries]:
    """The last ``weeks`` × 7 nights over by ``now_ms`` of the incomer (when the asker sees the whole site) and
    every building's main water meter."""
    start, end = parse_hours(settings.night_hours)
    now = dt.datetime.fromtimestamp(now_ms / 1000, usage.tz)
    latest = last_night(now, start, end)
    nights = [latest - dt.timedelta(days=i) for i in reversed(range(weeks * 7))]
    meters = (incomers(usage.campus) if sees_site(usage) else []) + mains(usage.campus)
    return [series(usage, d, nights, settings, now_ms, language) for d in meters]
