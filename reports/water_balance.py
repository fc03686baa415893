"""The water balance (水平衡): what came in against what went out, per day and month, from the daily roll-ups.

The plain rules:
- **Site level**: the water incomer(s) (``role: incomer``, kind water) against the sum of the buildings' main
  meters (water meters with no ``parent`` that are not incomers). Loss % = (in − Σ out) ÷ in × 100.
- **Building level**: a building's main meter against the sum of its sub-meters (``parent:`` that main meter), for
  every main meter that has sub-meters. A main without sub-meters has no balance (nothing to set it against).
- A day (or the month) is judged only when every meter in it has ``[water] min_coverage`` of its readings; else its
  loss is null with why (the meter and its share). A day that has not begun is left out; nothing through the
  incomer or main is null with why too.
- Beyond the limit (``[water] balance_site_pct`` / ``balance_building_pct``) either way: a loss beyond it is water
  lost between the meters (a leak, an unmetered draw), a gain beyond it (out > in) means the meters disagree —
  both are a ``data`` matter for whoever keeps the meters.
- A token that does not see the whole site sees no site level (the incomer is the site's), only its buildings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from campus.contract import Kind
from campus.model import INCOMER, Campus, Device
from reports.buckets import Interval, edges
from reports.consumption import coverage_ratio, meter_use
from reports.usage import SiteUsage
from reports.water_config import WaterSettings


def words(language: str, zh: str, en: str) -> str:
    return en if language == "en" else zh


def sees_site(usage: SiteUsage) -> bool:
    """The asker sees every building of the site (so the incomer, which is the whole site's, is theirs)."""
    return usage.view is None or {b.id for b in usage.view.buildings} == {b.id for b in usage.whole.buildings}


def incomers(campus: Campus) -> list[Device]:
    return [d for d in campus.devices if d.kind is Kind.WATER and d.role == INCOMER]


def mains(campus: Campus) -> list[Device]:
    """The buildings' main water meters: no parent, not the incomer."""
    return [d for d in campus.devices if d.kind is Kind.WATER and d.counts_in_totals]


def children(campus: Campus, meter: Device) -> list[Device]:
    return [d for d in campus.devices if d.kind is Kind.WATER and d.parent == meter.id]


def name_of(d: Device) -> str:
    return d.name or d.id


@dataclass(frozen=True, slots=True)
class Point:
    """One day or the month of one balance."""

    period: str                     # 2026-10-05, or 2026-10 for the month
    inflow_m3: float | None
    outflow_m3: float | None
    loss_m3: float | None
    loss_pct: float | None
    beyond: bool
    why: str | None = None          # why the loss is null


@dataclass(slots=True)
class Balance:
    level: str                      # site | building
    key: str                        # "site", or the building id
    name: str                       # the site's or the building's name
    inflow: list[str]               # the meters' names
    outflow: list[str]
    limit_pct: float
    days: list[Point] = field(default_factory=list)
    month: Point | None = None

    @property
    def subject(self) -> str:
        return "water-balance:site" if self.level == "site" else f"water-balance:{self.key}"


def _point(period: str, ins: list[tuple[Device, float, float]], outs: list[tuple[Device, float, float]],
           limit: float, settings: WaterSettings, language: str) -> Point:
    """``ins``/``outs``: (meter, use m³, coverage) over the period."""
    inflow = round(sum(u for _, u, _ in ins), 3)
    outflow = round(sum(u for _, u, _ in outs), 3)
    short = [(d, c) for d, _, c in ins + outs if c < settings.min_coverage]
    if short:
        d, c = min(short, key=lambda x: x[1])
        why = words(language, f"数据不全：{name_of(d)} 只有 {c:.0%} 的读数（需 ≥ {settings.min_coverage:.0%}）",
                    f"incomplete: {name_of(d)} has {c:.0%} of its readings (needs ≥ {settings.min_coverage:.0%})")
        return Point(period, inflow, outflow, None, None, False, why)
    if inflow <= 0:
        why = words(language, "进水表无用水，无法计算漏失率", "nothing through the inflow meter: no loss to compute")
        return Point(period, inflow, outflow, None, None, False, why)
    loss = inflow - outflow
    pct = round(loss / inflow * 100, 2)
    return Point(period, inflow, outflow, round(loss, 3), pct, abs(pct) > limit)


def _uses(usage: SiteUsage, meters: list[Device], cuts: list[int], interval: Interval,
          now_ms: int) -> dict[str, list[tuple[float, float]]]:
    out = {}
    for d in meters:
        u = meter_use(usage.rollups, usage.store, d, cuts, interval, now_ms)
        out[d.id] = [(u.totals[k], coverage_ratio(u.readings[k], u.expected[k])) for k in range(len(u.totals))]
    return out


def month_edges(month: str, tz: ZoneInfo) -> tuple[list[int], list[int], list[dt.date]]:
    """(day edges, month edges, the days) of ``month`` (YYYY-MM) in ``tz``."""
    year, mon = (int(x) for x in month.split("-"))
    start = dt.datetime(year, mon, 1, tzinfo=tz)
    end = dt.datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=tz)
    days = edges(start, end, Interval.DAY, tz)
    dates = [dt.datetime.fromtimestamp(e / 1000, tz).date() for e in days[:-1]]
    return days, edges(start, end, Interval.MONTH, tz), dates


def balances(usage: SiteUsage, month: str, settings: WaterSettings, now_ms: int, language: str = "zh-CN",
             ) -> list[Balance]:
    """The site's balance (when the asker sees the whole site and it has a water incomer) and each main meter's
    with sub-meters, per day of ``month`` (days begun by ``now_ms``) and for the month so far."""
    campus, tz = usage.campus, usage.tz
    day_cuts, month_cuts, dates = month_edges(month, tz)
    pairs: list[tuple[Balance, list[Device], list[Device]]] = []
    if sees_site(usage) and incomers(campus):
        ins, outs = incomers(campus), mains(campus)
        pairs.append((Balance("site", "site", campus.site.name, [name_of(d) for d in ins],
                              [name_of(d) for d in outs], settings.balance_site_pct), ins, outs))
    for m in mains(campus):
        subs = children(campus, m)
        if subs:
            b = campus.building(m.building)
            pairs.append((Balance("building", m.building, b.name if b else m.building, [name_of(m)],
                                  [name_of(d) for d in subs], settings.balance_building_pct), [m], subs))
    meters = {d.id: d for _, ins, outs in pairs for d in ins + outs}
    daily = _uses(usage, list(meters.values()), day_cuts, Interval.DAY, now_ms)
    monthly = _uses(usage, list(meters.values()), month_cuts, Interval.MONTH, now_ms)
    out = []
    for bal, ins, outs in pairs:
        for k, day in enumerate(dates):
            if day_cuts[k] >= now_ms:
                break
            bal.days.append(_point(day.isoformat(), [(d, *daily[d.id][k]) for d in ins],
                                   [(d, *daily[d.id][k]) for d in outs], bal.limit_pct, settings, language))
        if month_cuts[0] < now_ms:
            bal.month = _point(month, [(d, *monthly[d.id][0]) for d in ins], [(d, *monthly[d.id][0]) for d in outs],
                               bal.limit_pct, settings, language)
        out.append(bal)
    return out
