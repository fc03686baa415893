"""A meter's use over whole local days, as billing needs it: per day, and for electricity per quarter hour.

It comes from the roll-ups (``reports.rollup``), so it is exactly the use the consumption API and the monthly
report count: the register rules applied, the multiplier applied, and each step between two readings spread
evenly over its time, so a day's or a quarter hour's edge gets the interpolated share on each side. Use from
steps longer than an hour is *coarse*: where it lands between quarter hours is an estimate (a meter read too
rarely to split its use across bands), and the share of it is reported.

Use is counted in whole micro-units (10⁻⁶ kWh or m³) per day and band, so that adding parts is exact: the
bands' use adds up to the day's, and the days' to the period's, to the last unit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from campus.contract import Kind
from campus.model import Device
from ingest.stores import ReadingStore
from reports.buckets import Interval, spread
from reports.consumption import Flagged, meter_use
from reports.rollup import COARSE_MS, SLOT_MS, Rollups, slot_edges

MICRO = 1_000_000


def micro(x: float) -> int:
    return int(round(x * MICRO))


@dataclass(slots=True)
class Day:
    """One local day of one meter: its use per quarter hour (electricity) or in all."""

    date: dt.date
    start_ms: int
    slots: list[float] | None   # None: not profiled (water, gas), see total
    total: float

    def slot_times(self, tz: ZoneInfo) -> list[int]:
        """Each slot's quarter hour of the local day (0…95), even on a day a clock changes."""
        assert self.slots is not None  # noqa: S101
        if len(self.slots) == 96:
            return list(range(96))
        out = []
        for i in range(len(self.slots)):
            local = dt.datetime.fromtimestamp((self.start_ms + i * SLOT_MS) / 1000, tz)
            out.append(local.hour * 4 + local.minute // 15)
        return out


@dataclass(slots=True)
class MeterDays:
    device: Device
    days: list[Day]
    coarse: float = 0.0                                  # use from steps longer than an hour
    flags: list[Flagged] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(d.total for d in self.days)

    @property
    def estimated_share(self) -> float:
        t = self.total
        return 0.0 if t <= 0 else min(1.0, max(0.0, self.coarse / t))

    def max_demand_kw(self) -> float:
        """The largest quarter hour's use × 4 (kW); 0 without a profile."""
        return max((max(d.slots) * 4 for d in self.days if d.slots), default=0.0)


def _clip(s: int, e: int, d: float, lo: int, hi: int) -> float:
    """The part of a step of ``d`` spread over [s, e) that falls in [lo, hi)."""
    if e <= s:
        return d if lo <= e - 1 < hi else 0.0
    return d * max(0, min(e, hi) - max(s, lo)) / (e - s)


def meter_days(rollups: Rollups, store: ReadingStore, device: Device, first: dt.date, stop: dt.date, tz: ZoneInfo,
               now_ms: int) -> MeterDays:
    """``device``'s use on the local days [first, stop) (the roll-ups must be fresh)."""
    lo = int(dt.datetime.combine(first, dt.time(), tz).timestamp() * 1000)
    hi = int(dt.datetime.combine(stop, dt.time(), tz).timestamp() * 1000)
    dates = [first + dt.timedelta(days=i) for i in range((stop - first).days)]
    cuts = [int(dt.datetime.combine(d, dt.time(), tz).timestamp() * 1000) for d in dates] + [hi]
    if device.kind is not Kind.ELECTRICITY:
        use = meter_use(rollups, store, device, cuts, Interval.DAY, now_ms)
        # no profile, no bands: only the day matters (a tariff version starts at a date)
        return MeterDays(device, [Day(d, a, None, t) for d, a, t in zip(dates, cuts, use.totals, strict=False)],
                         flags=use.flags)
    quarters: list[int] = []
    offsets: list[int] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        offsets.append(len(quarters))
        quarters += slot_edges(a, b)[:-1]
    quarters.append(hi)
    slots = [0.0] * (len(quarters) - 1)
    rows, after = rollups.profile(device.id, lo, hi)
    coarse = 0.0
    flags: list[Flagged] = []
    for row in rows:
        k = cuts.index(row.day_ms)
        if row.slots is not None:  # nothing spread into this day yet: earlier rows reach back, never forward
            base = offsets[k]
            slots[base:base + len(row.slots)] = row.slots
        coarse += row.coarse
        if row.first is not None and row.first[0] < row.day_ms:  # the part of the day's first step before the day
            s, e, d = row.first
            before = d * (row.day_ms - s) / (e - s)
            spread(s, row.day_ms, before, quarters, slots)
            if e - s > COARSE_MS:
                coarse += _clip(s, row.day_ms, before, lo, hi)
        flags += [Flagged(device.id, *f) for f in row.flags  # type: ignore[arg-type]
                  if lo <= int(f[1]) < hi]  # type: ignore[call-overload]
    if after is not None and after.first is not None:
        s, e, d = after.first
        spread(s, e, d, quarters, slots)
        if e - s > COARSE_MS:
            coarse += _clip(s, e, d, lo, hi)
    days = []
    for k, date in enumerate(dates):
        a, b = offsets[k], (offsets[k + 1] if k + 1 < len(offsets) else len(slots))
        part = slots[a:b]
        days.append(Day(date, cuts[k], part, sum(part)))
    return MeterDays(device, days, coarse, flags)

