"""Consumption per bucket and group: the numbers behind the API, the console and the report.

- Each meter's use comes from the register rules (``campus.registers``): new meter cycles,
  dips and implausible jumps are handled there, and the flagged steps are listed here.
- A step between two readings is spread evenly over its time span, so a bucket boundary
  between two readings gets the interpolated share on each side.
- Coverage is readings received ÷ readings expected (the meter's interval) in each bucket,
  counting only time up to now; a group's coverage adds up its meters.
- Group totals (building, department, zone, site) add up main meters only: sub-meters
  (``parent``) and the site incomer are listed per device but not added twice.
- By item (分项能耗): the main meters' use split by energy item, with 未分项 for what no sub-meter itemised
  (the rule: ``reports.items``); the items add up to the site's total, as the buildings do. A group's meters,
  readings and coverage are those of the meters whose share it holds.
- Day and month buckets read the daily roll-ups; hour buckets read raw readings, starting
  from the register state the roll-ups saved before the range.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from enum import StrEnum

from campus.contract import REGISTER_FIELD, Kind
from campus.items import UNITEMISED, item_name, items_of, splits_further
from campus.labels import DEPARTMENTS, label
from campus.model import MAX_INTERVAL_S, Campus, Department, Device
from campus.registers import RegisterTrack
from ingest.stores import ReadingStore
from reports.buckets import Interval, spread
from reports.items import Negative, split
from reports.rollup import Rollups

UNIT = {Kind.ELECTRICITY: "kWh", Kind.WATER: "m³", Kind.GAS: "m³"}


class GroupBy(StrEnum):
    DEVICE = "device"
    BUILDING = "building"
    DEPARTMENT = "department"
    ZONE = "zone"
    SITE = "site"
    ITEM = "item"


@dataclass(frozen=True, slots=True)
class Flagged:
    device: str
    start_ms: int
    end_ms: int
    flag: str          # new_cycle | dip | implausible
    raw_from: float
    raw_to: float


@dataclass(slots=True)
class Tally:
    """Use, readings received and readings expected per bucket."""

    totals: list[float]
    readings: list[int]
    expected: list[float]

    @property
    def total(self) -> float:
        return sum(self.totals)

    def coverage(self, k: int | None = None) -> float:
        if k is None:
            return coverage_ratio(sum(self.readings), sum(self.expected))
        return coverage_ratio(self.readings[k], self.expected[k])

    def add(self, other: Tally) -> None:
        for i in range(len(self.totals)):
            self.totals[i] += other.totals[i]
            self.readings[i] += other.readings[i]
            self.expected[i] += other.expected[i]


@dataclass(slots=True)
class MeterUse(Tally):
    """One meter over the buckets between ``edges``."""

    device: Device | None = None
    flags: list[Flagged] = field(default_factory=list)


MANUAL_EVERY_MS = MAX_INTERVAL_S * 1000  # a meter read by hand owes one reading a month: 31 days, the longest


def coverage_ratio(got: float, expected: float) -> float:
    """Readings received ÷ expected, at most 1; complete when nothing was expected."""
    return 1.0 if expected <= 0 else min(got / expected, 1.0)


def _expected(device: Device, edges: list[int], now_ms: int) -> list[float]:
    """Readings a meter owes in each bucket: the bucket's length ÷ its interval. A meter read by hand owes one a
    month whatever its interval says (the bucket's length ÷ 31 days: any month with its reading is complete)."""
    every_ms = MANUAL_EVERY_MS if device.manual else device.interval_s * 1000
    return [max(0, min(b, now_ms) - a) / every_ms for a, b in zip(edges, edges[1:], strict=False)]


def meter_use(rollups: Rollups, store: ReadingStore, device: Device, edges: list[int], interval: Interval,
              now_ms: int, campus: Campus | None = None) -> MeterUse:
    n = len(edges) - 1
    use = MeterUse([0.0] * n, [0] * n, _expected(device, edges, now_ms), device)
    lo, hi = edges[0], edges[-1]
    if device.virtual is not None and interval is Interval.HOUR:
        _virtual_hours(rollups, store, device, edges, now_ms, campus, use)
    elif interval is Interval.HOUR:
        _from_readings(rollups, store, device, edges, use)
    else:
        rows, after = rollups.rows(device.id, lo, hi)
        k = 0
        for row in rows:
            while row.day_ms >= edges[k + 1]:
                k += 1
            use.totals[k] += row.delta
            use.readings[k] += row.readings
            if row.first is not None:  # the day's first step may start before the day: re-spread it
                s, e, d = row.first
                use.totals[k] -= d
                spread(s, e, d, edges, use.totals)
            use.flags += [Flagged(device.id, *f) for f in row.flags  # type: ignore[arg-type]
                          if lo <= int(f[1]) < hi]  # type: ignore[call-overload]
        if after is not None and after.first is not None:
            spread(*after.first, edges, use.totals)
    return use


def _virtual_hours(rollups: Rollups, store: ReadingStore, device: Device, edges: list[int], now_ms: int,
                   campus: Campus | None, use: MeterUse) -> None:
    """A virtual meter's hours: Σ coefficient × each term's use (day and month buckets read its roll-up rows,
    ``reports.virtual_days``); its readings per bucket the least coverage of its terms' times its own due."""
    if campus is None:
        raise ValueError(f"virtual meter {device.id!r}: its hours need the campus its terms are in")
    terms = campus.virtual_real_terms()[device.id]  # real meters only: each read once, whatever the nesting
    meters = {d.id: d for d in campus.devices}
    cover = [1.0] * len(use.totals)
    for tid, coef in terms.items():
        part = meter_use(rollups, store, meters[tid], edges, Interval.HOUR, now_ms)
        for k, v in enumerate(part.totals):
            use.totals[k] += coef * v
            cover[k] = min(cover[k], part.coverage(k))
    use.readings[:] = [round(c * e) for c, e in zip(cover, use.expected, strict=True)]


def _from_readings(rollups: Rollups, store: ReadingStore, device: Device, edges: list[int], use: MeterUse) -> None:
    field_ = REGISTER_FIELD[device.kind]
    assert field_ is not None  # noqa: S101
    lo, hi = edges[0], edges[-1]
    before = rollups.state_before(device.id, lo)
    from_ms = before[0] + 1 if before else 0
    points = store.series(rollups.site, device.id, device.kind, field_, from_ms, hi)
    _, nxt = store.around(rollups.site, device.id, device.kind, field_, hi - 1)
    if nxt is not None:
        points.append((nxt.ts, nxt.values[field_]))
    if before is not None:
        track = RegisterTrack.restore(before[1], multiplier=device.multiplier, rated_capacity=device.rated_capacity)
    elif points:
        track = RegisterTrack(*points[0], multiplier=device.multiplier, rated_capacity=device.rated_capacity)
        points = points[1:]
    else:
        return
    for ts, value in points:
        step = track.step(ts, value)
        spread(step.start_ms, step.end_ms, step.delta, edges, use.totals)
        if lo <= ts < hi:
            k = bisect_right(edges, ts) - 1
            use.readings[k] += 1
            if step.flag is not None:
                use.flags.append(Flagged(device.id, step.start_ms, step.end_ms, step.flag.value,
                                         step.raw_from, step.raw_to))


def group_key(campus: Campus, device: Device, by: GroupBy) -> str:
    if by is GroupBy.DEVICE:
        return device.id
    if by is GroupBy.BUILDING:
        return device.building
    if by is GroupBy.ZONE:
        return device.zone or "default"
    if by is GroupBy.SITE:
        return campus.site.id
    building = campus.building(device.building)
    return (building.department if building else Department.OTHER).value


def group_name(campus: Campus, key: str, by: GroupBy, language: str = "zh-CN") -> str:
    if by is GroupBy.DEVICE:
        dev = next((d for d in campus.devices if d.id == key), None)
        return dev.name if dev and dev.name else key
    if by is GroupBy.BUILDING:
        b = campus.building(key)
        return b.name if b else key
    if by is GroupBy.ZONE:
        z = next((z for z in campus.zones if z.id == key), None)
        return z.name if z else key
    if by is GroupBy.SITE:
        return campus.site.name
    if by is GroupBy.ITEM:
        return item_name(key, language)
    return label(DEPARTMENTS, key, language)




@dataclass(slots=True)
class GroupUse(Tally):
    key: str = ""
    name: str = ""
    meters: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Consumption:
    kind: Kind
    interval: Interval
    group_by: GroupBy
    edges: list[int]
    groups: list[GroupUse]
    flags: list[Flagged]
    negative: list[Negative] = field(default_factory=list)  # group_by=item: meters its sub-meters outread

    @property
    def total(self) -> float:
        return sum(g.total for g in self.groups)


def meters(campus: Campus, kind: Kind) -> list[Device]:
    return [d for d in campus.devices if d.kind is kind and REGISTER_FIELD[kind] is not None]


def consumption(campus: Campus, rollups: Rollups, store: ReadingStore, kind: Kind, edges: list[int],
                interval: Interval, group_by: GroupBy, now_ms: int, *, language: str = "zh-CN",
                devices: list[str] | None = None, whole: Campus | None = None) -> Consumption:
    """Use of ``kind`` per group and bucket (the roll-ups must be fresh: ``Rollups.refresh``). ``whole``: the
    site unnarrowed, where a virtual meter's terms are found for hour buckets (default ``campus``)."""
    if group_by is GroupBy.ITEM:
        return _by_item(campus, rollups, store, kind, edges, interval, now_ms, language, devices)
    groups: dict[str, GroupUse] = {}
    flags: list[Flagged] = []
    n = len(edges) - 1
    for device in meters(campus, kind):
        if devices is not None and device.id not in devices:
            continue
        if group_by is not GroupBy.DEVICE and not device.counts_in_totals:
            continue
        use = meter_use(rollups, store, device, edges, interval, now_ms, whole or campus)
        flags += use.flags
        key = group_key(campus, device, group_by)
        g = groups.get(key)
        if g is None:
            g = groups[key] = GroupUse([0.0] * n, [0] * n, [0.0] * n, key, group_name(campus, key, group_by, language))
        g.meters.append(device.id)
        g.add(use)
    return Consumption(kind, interval, group_by, edges, list(groups.values()), flags)



def _by_item(campus: Campus, rollups: Rollups, store: ReadingStore, kind: Kind, edges: list[int],
             interval: Interval, now_ms: int, language: str, devices: list[str] | None) -> Consumption:
    """Use per energy item (分项), 未分项 last: every meter's use (sub-meters too), split by ``reports.items``."""
    n = len(edges) - 1
    uses: dict[str, MeterUse] = {}
    for device in meters(campus, kind):  # a virtual meter is made of these: it is no item's own use
        if device.virtual is None and (devices is None or device.id in devices):
            uses[device.id] = meter_use(rollups, store, device, edges, interval, now_ms)
    parts = split(campus, kind, {k: u.totals for k, u in uses.items()})
    by_item = parts.by_item()
    if any(splits_further(i.code) for i in items_of(kind)):
        by_item.setdefault(UNITEMISED, [0.0] * n)  # 未分项 is shown, never hidden (it is last: the table's order)
    groups = []
    for key, totals in by_item.items():
        g = GroupUse(list(totals), [0] * n, [0.0] * n, key, group_name(campus, key, GroupBy.ITEM, language))
        for meter in parts.meters_of(key):
            g.meters.append(meter)
            for i in range(n):
                g.readings[i] += uses[meter].readings[i]
                g.expected[i] += uses[meter].expected[i]
        groups.append(g)
    counted = {m for per_key in parts.meters.values() for ms in per_key.values() for m in ms}
    flags = [f for m in uses if m in counted for f in uses[m].flags]
    return Consumption(kind, interval, GroupBy.ITEM, edges, groups, flags, parts.negative)
