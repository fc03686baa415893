"""Consumption on fixed readings whose totals were worked out by hand (see each test's table).

Readings go into the real SQLite store; ingest's change log (``PresenceStore``) is what the
roll-ups follow, as in production. Times are Asia/Shanghai local.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from campus.contract import Kind, Reading
from campus.db import DataDir
from campus.model import parse_campus
from ingest.config import StoreSettings
from ingest.status import PresenceStore
from ingest.stores import ReadingStore, open_store
from ingest.stores.sqlite import SqliteStore
from reports.buckets import Interval, edges
from reports.consumption import GroupBy, consumption
from reports.rollup import RollupStore

TZ = ZoneInfo("Asia/Shanghai")
CAMPUS = parse_campus("""
site: {id: s, name: 测试校区, timezone: Asia/Shanghai}
buildings:
  - {id: b1, name: 办公楼, department: office, floor_area_m2: 1000, occupants: 50}
  - {id: b2, name: 食堂, department: canteen, floor_area_m2: 800, occupants: 20}
devices:
  - {id: m1, kind: electricity, building: b1, interval_s: 3600, rated_capacity: 100}
  - {id: m3, kind: electricity, building: b1, interval_s: 3600, rated_capacity: 100, parent: m1}
  - {id: m2, kind: water, building: b2, interval_s: 3600, rated_capacity: 10}
""")


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp() * 1000)


# m1, electricity, 1 h interval, rated 100 kW. Day 2026-03-02 by hand:
#   23:30(-1d) 95 -> 00:30 105   +10, half of it after midnight         5
#   00:30 105 -> 01:30 115                                             10
#   01:30 115 -> 05:30 135      a 4 h gap, spread over it               20
#   05:30 135 -> 06:30 5000     +4865 in 1 h > 100 kW: implausible       0  (excluded, listed)
#   06:30 5000 -> 07:30 145     back to 10 above the last good value     10
#   07:30 145 -> 23:30 305                                             160
#   23:30 305 -> 00:30(+1d) 315  half before midnight                     5
#                                                               total 210 = 310 − 100 at the midnights
M1 = [("2026-03-01 23:30", 95), ("2026-03-02 00:30", 105), ("2026-03-02 01:30", 115), ("2026-03-02 05:30", 135),
      ("2026-03-02 06:30", 5000), ("2026-03-02 07:30", 145), ("2026-03-02 23:30", 305), ("2026-03-03 00:30", 315)]
# m3, a sub-meter of m1: 10 that day, listed per device but not added to b1 again.
M3 = [("2026-03-02 00:00", 10), ("2026-03-03 00:00", 20)]
# m2, water, replaced at 13:00: 1000 -> 1060 (+60), new meter reads 2 (+2, plausible from zero), then 30 (+28) = 90.
M2 = [("2026-03-02 00:00", 1000), ("2026-03-02 12:00", 1060), ("2026-03-02 13:00", 2), ("2026-03-03 00:00", 30)]


def reading(device: str, kind: Kind, when: str, value: float, building: str = "b1") -> Reading:
    field = "energy_kwh" if kind is Kind.ELECTRICITY else "volume_m3"
    return Reading(device, at(when), kind, "s", building, "office" if building == "b1" else "canteen", "default",
                   {field: float(value)})


def all_readings() -> list[Reading]:
    return ([reading("m1", Kind.ELECTRICITY, t, v) for t, v in M1]
            + [reading("m3", Kind.ELECTRICITY, t, v) for t, v in M3]
            + [reading("m2", Kind.WATER, t, v, "b2") for t, v in M2])


class Parts:
    def __init__(self, tmp: Path, store: ReadingStore) -> None:
        self.store = store
        self.presence = PresenceStore(DataDir(tmp).state)
        self.rollups = RollupStore(DataDir(tmp).rollups).site(CAMPUS.site.id)

    def write(self, readings: list[Reading]) -> None:
        """What the ingest pipeline does: store, then note the change."""
        self.store.write(readings)
        self.presence.record({}, {}, [(r.site, r.device, r.ts) for r in readings])

    def use(self, kind: Kind, start: str, end: str, interval: Interval, by: GroupBy) -> dict[str, list[float]]:
        self.rollups.refresh(self.store, CAMPUS, self.presence)
        cuts = edges(datetime.fromisoformat(start).replace(tzinfo=TZ), datetime.fromisoformat(end).replace(tzinfo=TZ),
                     interval, TZ)
        result = consumption(CAMPUS, self.rollups, self.store, kind, cuts, interval, by, now_ms=at("2026-03-10 00:00"))
        self.last = result
        return {g.key: [round(v, 9) for v in g.totals] for g in result.groups}


@pytest.fixture(params=["sqlite", pytest.param("influxdb", marks=pytest.mark.integration)])
def parts(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Parts]:
    """The same numbers from the embedded store and from a real InfluxDB 1.x started for the test."""
    if request.param == "sqlite":
        made = Parts(tmp_path, SqliteStore(DataDir(tmp_path).readings))
    else:
        influx = request.getfixturevalue("influx")
        made = Parts(tmp_path, open_store(StoreSettings(backend="influxdb", url=influx.url, database="t"), tmp_path))
    yield made
    for part in (made.rollups.file, made.presence, made.store):
        part.close()


def test_day_totals_by_hand(parts: Parts) -> None:
    parts.write(all_readings())
    assert parts.use(Kind.ELECTRICITY, "2026-03-02", "2026-03-03", Interval.DAY, GroupBy.DEVICE) == {
        "m1": [210.0], "m3": [10.0]}
    assert parts.use(Kind.ELECTRICITY, "2026-03-02", "2026-03-03", Interval.DAY, GroupBy.BUILDING) == {"b1": [210.0]}
    assert parts.use(Kind.WATER, "2026-03-02", "2026-03-03", Interval.DAY, GroupBy.DEPARTMENT) == {"canteen": [90.0]}
    flags = {(f.device, f.flag) for f in parts.last.flags}
    assert flags == {("m2", "new_cycle")}
    parts.use(Kind.ELECTRICITY, "2026-03-02", "2026-03-03", Interval.DAY, GroupBy.DEVICE)
    implausible = [f for f in parts.last.flags if f.flag == "implausible"]
    assert [(f.device, f.raw_from, f.raw_to, f.end_ms) for f in implausible] == [("m1", 135.0, 5000.0,
                                                                                   at("2026-03-02 06:30"))]
    # coverage: 6 of the 24 hourly readings of m1 arrived that day
    g = next(g for g in parts.last.groups if g.key == "m1")
    assert g.coverage() == pytest.approx(6 / 24)


def test_days_months_and_site(parts: Parts) -> None:
    parts.write(all_readings())
    assert parts.use(Kind.ELECTRICITY, "2026-03-01", "2026-03-04", Interval.DAY, GroupBy.SITE) == {
        "s": [5.0, 210.0, 5.0]}
    # the month holds the whole series: 10+10+20+10+160+10; February holds nothing
    assert parts.use(Kind.ELECTRICITY, "2026-02-01", "2026-04-01", Interval.MONTH, GroupBy.DEVICE) == {
        "m1": [0.0, 220.0], "m3": [0.0, 10.0]}


def test_hour_buckets_interpolate_at_each_boundary(parts: Parts) -> None:
    parts.write(all_readings())
    # 00-01: 5 (r1->r2) + 5 (r2->r3); 01-02: 5 + 20 × ½/4; 02-03: 20/4
    assert parts.use(Kind.ELECTRICITY, "2026-03-02 00:00", "2026-03-02 03:00", Interval.HOUR, GroupBy.DEVICE)[
        "m1"] == [10.0, 7.5, 5.0]
    # hours agree with the day: 24 hourly buckets add up to 210
    hours = parts.use(Kind.ELECTRICITY, "2026-03-02", "2026-03-03", Interval.HOUR, GroupBy.DEVICE)["m1"]
    assert sum(hours) == pytest.approx(210.0)


def test_out_of_order_and_late_readings_give_the_same_totals(parts: Parts) -> None:
    readings = all_readings()
    random.Random(3).shuffle(readings)
    first, late = readings[:8], readings[8:]
    parts.write(first)
    parts.use(Kind.ELECTRICITY, "2026-03-02", "2026-03-03", Interval.DAY, GroupBy.DEVICE)  # roll up the partial data
    for r in late:  # one at a time, each after a refresh: the roll-ups recompute from the late reading's day
        parts.write([r])
        parts.use(Kind.WATER, "2026-03-02", "2026-03-03", Interval.DAY, GroupBy.DEVICE)
    assert parts.use(Kind.ELECTRICITY, "2026-03-02", "2026-03-03", Interval.DAY, GroupBy.DEVICE) == {
        "m1": [210.0], "m3": [10.0]}
    assert parts.use(Kind.WATER, "2026-03-02", "2026-03-03", Interval.DAY, GroupBy.DEVICE) == {"m2": [90.0]}
    # nothing left to recompute once it is current
    assert parts.rollups.refresh(parts.store, CAMPUS, parts.presence) == 0


def test_a_changed_multiplier_rebuilds_that_meter(parts: Parts) -> None:
    parts.write(all_readings())
    parts.use(Kind.WATER, "2026-03-02", "2026-03-03", Interval.DAY, GroupBy.DEVICE)
    doubled = CAMPUS.model_copy(update={"devices": [d.model_copy(update={"multiplier": 2.0}) if d.id == "m2" else d
                                                    for d in CAMPUS.devices]})
    assert parts.rollups.refresh(parts.store, doubled, parts.presence) == 1
    cuts = edges(datetime(2026, 3, 2, tzinfo=TZ), datetime(2026, 3, 3, tzinfo=TZ), Interval.DAY, TZ)
    result = consumption(doubled, parts.rollups, parts.store, Kind.WATER, cuts, Interval.DAY, GroupBy.DEVICE,
                         now_ms=at("2026-03-10 00:00"))
    assert result.groups[0].totals == [pytest.approx(180.0)]


def test_a_query_during_a_long_refresh_answers_from_the_roll_ups_as_they_are(parts: Parts, tmp_path: Path) -> None:
    """A first build over a long history holds the refresh for minutes: queries must not hang on it."""
    import threading
    import time

    from reports.usage import Usage

    parts.write(all_readings())
    usage = Usage(tmp_path, parts.store, lambda: {"s": CAMPUS}, parts.presence, request_wait_s=0.2).site("s")
    usage.refresh()
    parts.write([reading("m2", Kind.WATER, "2026-03-03 12:00", 40, "b2")])  # +10 on 3 March, not rolled up yet
    busy, done = threading.Event(), threading.Event()

    def long_refresh() -> None:
        with usage.usage.lock:  # what a refresh holds while it runs
            busy.set()
            done.wait(10)

    worker = threading.Thread(target=long_refresh)
    worker.start()
    busy.wait(5)
    start = datetime(2026, 3, 2, tzinfo=TZ)
    t = time.monotonic()
    stale = usage.query(Kind.WATER, start, datetime(2026, 3, 4, tzinfo=TZ), Interval.DAY, GroupBy.DEVICE,
                        now_ms=at("2026-03-10 00:00"))
    assert time.monotonic() - t < 5
    assert stale.groups[0].totals == [pytest.approx(90.0), 0.0]  # as rolled up before the new reading
    done.set()
    worker.join()
    fresh = usage.query(Kind.WATER, start, datetime(2026, 3, 4, tzinfo=TZ), Interval.DAY, GroupBy.DEVICE,
                        now_ms=at("2026-03-10 00:00"))
    assert fresh.groups[0].totals == [pytest.approx(90.0), pytest.approx(10.0)]
    usage.usage.close()


def continue_next_day(parts: Parts, after_first: Callable[[], None] = lambda: None) -> None:
    """Every meter built to 2026-03-03, then one more reading each: the next day goes on from the last one."""
    parts.write(all_readings())
    parts.use(Kind.ELECTRICITY, "2026-03-02", "2026-03-03", Interval.DAY, GroupBy.DEVICE)
    after_first()
    parts.write([reading("m1", Kind.ELECTRICITY, "2026-03-03 01:30", 325),
                 reading("m3", Kind.ELECTRICITY, "2026-03-03 02:00", 21),
                 reading("m2", Kind.WATER, "2026-03-03 02:00", 31, "b2")])
    assert parts.use(Kind.ELECTRICITY, "2026-03-03", "2026-03-04", Interval.DAY, GroupBy.DEVICE) == {
        "m1": [5.0 + 10.0], "m3": [1.0]}
    assert parts.use(Kind.WATER, "2026-03-03", "2026-03-04", Interval.DAY, GroupBy.DEVICE) == {"m2": [1.0]}


def test_many_meters_continuing_are_read_together(parts: Parts) -> None:
    """The usual refresh: every meter goes on from its last day (one query per kind for InfluxDB)."""
    continue_next_day(parts)
    assert parts.use(Kind.ELECTRICITY, "2026-03-02", "2026-03-03", Interval.DAY, GroupBy.DEVICE) == {
        "m1": [210.0], "m3": [10.0]}


class BatchingStore(SqliteStore):
    """The real SQLite store, asked to batch like InfluxDB (two meters a step), recording each batch."""

    series_batch = 2

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.batches: list[list[str]] = []

    def series_many(self, site: str, kind: Kind, field: str, starts: Mapping[str, int],
                    end_ms: int) -> dict[str, list[tuple[int, float]]]:
        self.batches.append(sorted(starts))
        return super().series_many(site, kind, field, starts, end_ms)


def test_a_refresh_reads_at_most_the_stores_batch_of_meters_at_once(tmp_path: Path) -> None:
    """Memory a refresh holds is one batch of meters' readings: the store says how many (SQLite: 1)."""
    assert SqliteStore.series_batch == 1
    parts = Parts(tmp_path, BatchingStore(DataDir(tmp_path).readings))
    store = parts.store
    assert isinstance(store, BatchingStore)
    def first_build_read_meter_by_meter() -> None:
        assert store.batches == []

    continue_next_day(parts, first_build_read_meter_by_meter)
    assert store.batches == [["m1", "m3"]]  # the step of two electricity meters; m2 alone is read by itself
    for part in (parts.rollups.file, parts.presence, parts.store):
        part.close()
