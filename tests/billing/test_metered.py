"""``billing.metered.meter_days`` from real readings on a real SQLite store through the roll-ups: the estimated
share of a meter read too rarely to split its use across quarter hours, the demand, and the days' use against
the register."""

from __future__ import annotations

import datetime as dt
import random
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.metered import MeterDays, meter_days
from campus.contract import Kind, Reading
from campus.db import DataDir
from campus.model import Campus, parse_campus
from ingest.stores.sqlite import SqliteStore
from reports.buckets import Interval
from reports.consumption import meter_use
from reports.rollup import RollupStore

TZ = ZoneInfo("Asia/Shanghai")
FIRST, STOP = dt.date(2026, 10, 1), dt.date(2026, 10, 8)   # a week
NOW = dt.datetime(2026, 11, 1, tzinfo=TZ)


def campus(tz: str = "Asia/Shanghai", kind: str = "electricity", multiplier: float = 1.0) -> Campus:
    return parse_campus(f"""
site: {{id: s, name: 测试中学, timezone: {tz}}}
buildings: [{{id: b1, name: 行政楼, department: office}}]
devices: [{{id: m1, kind: {kind}, building: b1, name: 电表, multiplier: {multiplier}}}]
""")


def ms(at: dt.datetime) -> int:
    return int(at.timestamp() * 1000)


@contextmanager
def rolled(points: list[tuple[int, float]], place: Campus) -> Iterator[tuple[RollupStore, SqliteStore]]:
    """``points`` (ms, register) of meter m1 in a fresh SQLite store, rolled up; both closed afterwards."""
    device = place.devices[0]
    field = "energy_kwh" if device.kind is Kind.ELECTRICITY else "volume_m3"
    with tempfile.TemporaryDirectory() as tmp:
        data = DataDir(Path(tmp))
        store = SqliteStore(data.readings)
        try:
            rollups = RollupStore(data.rollups)
            try:
                store.write([Reading("m1", ts, device.kind, "s", "b1", "office", "default", {field: v})
                             for ts, v in points])
                rollups.site("s").refresh(store, place)
                yield rollups, store
            finally:
                rollups.close()
        finally:
            store.close()


def days_of(points: list[tuple[int, float]], first: dt.date = FIRST, stop: dt.date = STOP, *,
            place: Campus | None = None) -> MeterDays:
    place = place or campus()
    tz = ZoneInfo(place.site.timezone)
    with rolled(points, place) as (rollups, store):
        return meter_days(rollups.site("s"), store, place.devices[0], first, stop, tz, ms(NOW))


def steady(start: dt.datetime, end: dt.datetime, every: dt.timedelta, kw: float,
           skip: tuple[dt.datetime, dt.datetime] | None = None) -> list[tuple[int, float]]:
    """Readings of a constant ``kw`` load every ``every`` over [start, end], none strictly inside ``skip``."""
    out, at, reg = [], start, 1000.0
    while at <= end:
        if skip is None or not skip[0] < at < skip[1]:
            out.append((ms(at), reg + kw * (at - start).total_seconds() / 3600))
        at += every
    return out


def local(day: dt.date, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), TZ)


def test_a_meter_read_once_a_day_at_noon_is_all_estimated() -> None:
    md = days_of(steady(local(dt.date(2026, 9, 28), 12), local(dt.date(2026, 10, 10), 12), dt.timedelta(days=1), 10))
    assert md.total == pytest.approx(10 * 24 * 7)
    assert md.estimated_share == pytest.approx(1.0)
    assert md.coarse == pytest.approx(md.total)
    assert all(d.slots is not None and len(d.slots) == 96 for d in md.days)
    assert md.max_demand_kw() == pytest.approx(10)   # an even spread: the average power


def test_a_fifteen_minute_meter_is_not_estimated() -> None:
    md = days_of(steady(local(dt.date(2026, 9, 30)), local(dt.date(2026, 10, 9)), dt.timedelta(minutes=15), 40))
    assert md.estimated_share == 0.0
    assert md.coarse == 0.0
    assert md.total == pytest.approx(40 * 24 * 7)
    for d in md.days:
        assert d.slots is not None
        assert d.slots == pytest.approx([10.0] * 96)   # 40 kW: 10 kWh a quarter hour
        assert d.total == pytest.approx(960)


def test_a_three_hour_gap_is_its_share_estimated() -> None:
    gap = (local(dt.date(2026, 10, 3), 9), local(dt.date(2026, 10, 3), 12))
    md = days_of(steady(local(dt.date(2026, 9, 30)), local(dt.date(2026, 10, 9)), dt.timedelta(minutes=15), 20,
                        skip=gap))
    assert md.total == pytest.approx(20 * 24 * 7)
    assert md.coarse == pytest.approx(20 * 3)
    assert md.estimated_share == pytest.approx(3 / (24 * 7))
    oct3 = md.days[2]
    assert oct3.slots is not None
    assert oct3.slots[36:48] == pytest.approx([5.0] * 12)   # the gap's use spread evenly over its quarter hours


def test_a_gap_across_the_period_edge_counts_only_its_part_inside() -> None:
    # readings stop at Oct 7 22:00 and start again Oct 8 02:00: two of the gap's four hours are in the week
    gap = (local(dt.date(2026, 10, 7), 22), local(dt.date(2026, 10, 8), 2))
    md = days_of(steady(local(dt.date(2026, 9, 30)), local(dt.date(2026, 10, 9)), dt.timedelta(minutes=15), 8,
                        skip=gap))
    assert md.total == pytest.approx(8 * 24 * 7)
    assert md.coarse == pytest.approx(8 * 2)
    # and the same gap seen from the next week: its other two hours
    after = days_of(steady(local(dt.date(2026, 9, 30)), local(dt.date(2026, 10, 16)), dt.timedelta(minutes=15), 8,
                           skip=gap), dt.date(2026, 10, 8), dt.date(2026, 10, 15))
    assert after.coarse == pytest.approx(8 * 2)


def test_demand_is_the_largest_quarter_hour_times_four() -> None:
    points = steady(local(dt.date(2026, 9, 30)), local(dt.date(2026, 10, 9)), dt.timedelta(minutes=15), 100)
    spike = ms(local(dt.date(2026, 10, 4), 18, 15))   # the 18:00-18:15 quarter hour at 180 kW
    points = [(t, v + (20.0 if t >= spike else 0.0)) for t, v in points]
    md = days_of(points)
    assert md.max_demand_kw() == pytest.approx(180)
    assert md.days[3].slots is not None
    assert md.days[3].slots[72] == pytest.approx(45)


def test_a_multiplier_is_applied() -> None:
    md = days_of(steady(local(dt.date(2026, 9, 30)), local(dt.date(2026, 10, 9)), dt.timedelta(minutes=15), 1),
                 place=campus(multiplier=80))
    assert md.total == pytest.approx(80 * 24 * 7)
    assert md.max_demand_kw() == pytest.approx(80)


def test_water_has_days_without_a_profile() -> None:
    points = steady(local(dt.date(2026, 9, 30), 0, 30), local(dt.date(2026, 10, 9)), dt.timedelta(hours=1), 0.5)
    md = days_of(points, place=campus(kind="water"))
    assert [d.slots for d in md.days] == [None] * 7
    assert [d.total for d in md.days] == pytest.approx([12.0] * 7)
    assert md.estimated_share == 0.0
    assert md.max_demand_kw() == 0.0


def test_a_day_a_clock_changes_has_its_own_number_of_quarter_hours() -> None:
    place = campus("Europe/Berlin")
    tz = ZoneInfo("Europe/Berlin")
    start = dt.datetime(2026, 10, 23, tzinfo=tz)
    points, at, reg = [], start, 0.0
    while at <= dt.datetime(2026, 10, 28, tzinfo=tz):
        points.append((ms(at), reg))
        at = (at.astimezone(dt.UTC) + dt.timedelta(minutes=15)).astimezone(tz)
        reg += 1.0   # 4 kW
    md = days_of(points, dt.date(2026, 10, 24), dt.date(2026, 10, 27), place=place)
    assert [len(d.slots or []) for d in md.days] == [96, 100, 96]   # Oct 25: 25 hours
    assert [d.total for d in md.days] == pytest.approx([96, 100, 96])
    assert md.days[1].slot_times(tz)[8:12] == [8, 9, 10, 11]   # 02:00-03:00 local, the first time
    assert md.days[1].slot_times(tz)[12:16] == [8, 9, 10, 11]  # and again


def test_no_readings_in_the_period_is_nothing_used() -> None:
    md = days_of(steady(local(dt.date(2026, 11, 1)), local(dt.date(2026, 11, 2)), dt.timedelta(minutes=15), 5))
    assert md.total == 0.0
    assert md.estimated_share == 0.0
    assert md.max_demand_kw() == 0.0


@st.composite
def meter_readings(draw: st.DrawFn) -> list[tuple[int, float]]:
    """Readings around the week: irregular (a minute to two days apart), some in bursts, a reset to zero (a new
    meter) now and then, registers that sometimes stand still."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    at = ms(local(FIRST - dt.timedelta(days=draw(st.integers(0, 2))), draw(st.integers(0, 23))))
    end = ms(local(STOP + dt.timedelta(days=draw(st.integers(0, 2))), draw(st.integers(0, 23))))
    gaps = draw(st.lists(st.sampled_from([300, 900, 1800, 3600, 3 * 3600, 86_400, 2 * 86_400]), min_size=1,
                         max_size=4))
    reg, out = rng.uniform(0, 1e4), []
    while at <= end:
        out.append((at, reg))
        step = rng.choice(gaps) * 1000 + rng.randint(0, 59) * 1000
        if rng.random() < 0.01:
            reg = 0.0   # a replacement: the new meter starts at zero
        elif rng.random() < 0.8:
            reg += rng.uniform(0, 100) * step / 3_600_000
        at += step
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(meter_readings())
def test_days_and_quarter_hours_agree_with_the_consumption_api(points: list[tuple[int, float]]) -> None:
    """The days' use is the consumption API's daily use, and each hour's four quarter hours add up to its hourly
    use (which it computes from the readings, not the roll-ups)."""
    place = campus()
    device = place.devices[0]
    with rolled(points, place) as (rollups, store):
        site = rollups.site("s")
        md = meter_days(site, store, device, FIRST, STOP, TZ, ms(NOW))
        days = [ms(local(FIRST + dt.timedelta(days=i))) for i in range(8)]
        daily = meter_use(site, store, device, days, Interval.DAY, ms(NOW))
        hours = list(range(days[0], days[-1] + 1, 3_600_000))
        hourly = meter_use(site, store, device, hours, Interval.HOUR, ms(NOW))
    assert [d.total for d in md.days] == pytest.approx(daily.totals, rel=1e-9, abs=1e-6)
    quarters = [x for d in md.days for x in (d.slots or [0.0] * 96)]
    by_hour = [sum(quarters[i:i + 4]) for i in range(0, len(quarters), 4)]
    assert by_hour == pytest.approx(hourly.totals, rel=1e-9, abs=1e-6)
    assert 0.0 <= md.estimated_share <= 1.0
    assert md.max_demand_kw() == pytest.approx(max([*quarters, 0.0]) * 4)
