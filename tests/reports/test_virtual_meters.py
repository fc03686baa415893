"""A virtual public-area meter (公共区域 = incomer − Σ buildings) over fixed readings worked out by hand: its days,
its month, its hours and its quarter-hour profile come from its terms' settled days (``reports.virtual_days``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from billing.metered import meter_days
from campus.contract import Kind, Reading
from campus.db import DataDir
from campus.model import Campus, parse_campus
from ingest.status import PresenceStore
from ingest.stores.sqlite import SqliteStore
from reports.buckets import Interval, edges
from reports.consumption import GroupBy, consumption
from reports.rollup import RollupStore

TZ = ZoneInfo("Asia/Shanghai")
CAMPUS_TEXT = """
site: {id: s, name: 测试校区, timezone: Asia/Shanghai}
buildings:
  - {id: pr, name: 配电房, department: power_room}
  - {id: b1, name: 办公楼, department: office}
  - {id: b2, name: 教学楼, department: teaching}
devices:
  - {id: inc, kind: electricity, building: pr, role: incomer, interval_s: 3600}
  - {id: e1, kind: electricity, building: b1, interval_s: 3600}
  - {id: e2, kind: electricity, building: b2, interval_s: 3600}
  - {id: pub, kind: electricity, building: pr, name: 公共区域, interval_s: 3600, virtual: "inc - e1 - e2"}
  - {id: half, kind: electricity, building: pr, interval_s: 3600, virtual: "0.5 * (pub + e2)"}
"""
CAMPUS = parse_campus(CAMPUS_TEXT)
NOW = "2026-03-10 00:00"


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp() * 1000)


# By hand, local days (Asia/Shanghai):
#   inc  03-02 00:00 1000, 12:00 1100, 03-03 00:00 1250, 03-04 00:00 1400
#        → 03-01: 0, 03-02: 250, 03-03: 150                                         March 400
#   e1   03-01 23:00 100, 03-02 01:00 120 (20 in 2 h: 10 on 03-01, 10 on 03-02), 13:00 180 (+60),
#        03-03 01:00 240 (60 in 12 h, 5 an hour: 55 on 03-02, 5 on 03-03), 03-04 00:00 300 (+60 on 03-03)
#        → 03-01: 10, 03-02: 10 + 60 + 55 = 125, 03-03: 5 + 60 = 65                  March 200
#   e2   03-02 00:00 500, 03-03 00:00 560, 03-04 00:00 600 → 03-02: 60, 03-03: 40   March 100
#   pub = inc − e1 − e2 → 03-01: 0 − 10 − 0 = −10; 03-02: 250 − 125 − 60 = 65; 03-03: 150 − 65 − 40 = 45
#                          March: 400 − 200 − 100 = 100 = −10 + 65 + 45
#   half = 0.5 × (pub + e2) → 03-01: −5, 03-02: 0.5 × 125 = 62.5, 03-03: 0.5 × 85 = 42.5
READINGS = {
    "inc": [("2026-03-02 00:00", 1000), ("2026-03-02 12:00", 1100), ("2026-03-03 00:00", 1250),
            ("2026-03-04 00:00", 1400)],
    "e1": [("2026-03-01 23:00", 100), ("2026-03-02 01:00", 120), ("2026-03-02 13:00", 180),
           ("2026-03-03 01:00", 240), ("2026-03-04 00:00", 300)],
    "e2": [("2026-03-02 00:00", 500), ("2026-03-03 00:00", 560), ("2026-03-04 00:00", 600)],
}


def readings(only: set[tuple[str, str]] | None = None, skip: set[tuple[str, str]] | None = None) -> list[Reading]:
    dept = {"pr": "power_room", "b1": "office", "b2": "teaching"}
    home = {d.id: d.building for d in CAMPUS.devices}
    return [Reading(dev, at(t), Kind.ELECTRICITY, "s", home[dev], dept[home[dev]], "default", {"energy_kwh": float(v)})
            for dev, rows in READINGS.items() for t, v in rows
            if (only is None or (dev, t) in only) and (skip is None or (dev, t) not in skip)]


class Parts:
    def __init__(self, tmp: Path) -> None:
        self.store = SqliteStore(DataDir(tmp).readings)
        self.presence = PresenceStore(DataDir(tmp).state)
        self.file = RollupStore(DataDir(tmp).rollups)
        self.rollups = self.file.site("s")

    def write(self, rows: list[Reading]) -> None:
        self.store.write(rows)
        self.presence.record({}, {}, [(r.site, r.device, r.ts) for r in rows])

    def use(self, start: str, end: str, interval: Interval, campus: Campus = CAMPUS) -> dict[str, list[float]]:
        self.rollups.refresh(self.store, campus, self.presence)
        cuts = edges(datetime.fromisoformat(start).replace(tzinfo=TZ), datetime.fromisoformat(end).replace(tzinfo=TZ),
                     interval, TZ)
        self.last = consumption(campus, self.rollups, self.store, Kind.ELECTRICITY, cuts, interval, GroupBy.DEVICE,
                                now_ms=at(NOW))
        return {g.key: [round(v, 9) for v in g.totals] for g in self.last.groups}


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[Parts]:
    made = Parts(tmp_path)
    yield made
    for part in (made.file, made.presence, made.store):
        part.close()


def test_public_area_is_the_incomer_less_the_buildings_by_day_and_month(parts: Parts) -> None:
    parts.write(readings())
    days = parts.use("2026-03-01", "2026-03-04", Interval.DAY)
    assert days["inc"] == [0.0, 250.0, 150.0]
    assert days["e1"] == [10.0, 125.0, 65.0]
    assert days["e2"] == [0.0, 60.0, 40.0]
    assert days["pub"] == [-10.0, 65.0, 45.0]
    assert days["half"] == [-5.0, 62.5, 42.5]
    month = parts.use("2026-03-01", "2026-04-01", Interval.MONTH)
    assert month["pub"] == [100.0]  # 400 − 200 − 100
    assert month["half"] == [100.0]  # 0.5 × (100 + 100)


def test_coverage_is_the_least_of_its_terms(parts: Parts) -> None:
    parts.write(readings())
    parts.use("2026-03-02", "2026-03-03", Interval.DAY)
    cover = {g.key: g.coverage() for g in parts.last.groups}
    # 03-02: inc 2 of 24 hourly readings, e1 2 of 24, e2 1 of 24: pub has the least, 1 of 24
    assert cover["inc"] == pytest.approx(2 / 24)
    assert cover["e2"] == pytest.approx(1 / 24)
    assert cover["pub"] == pytest.approx(1 / 24)


def test_hours_add_up_to_the_day_and_follow_the_terms(parts: Parts) -> None:
    parts.write(readings())
    hours = parts.use("2026-03-02", "2026-03-03", Interval.HOUR)
    # 00-01: inc 100/12, e1 10 (the second hour of its 2 h step: 20/2), e2 60/24 = 2.5
    assert hours["pub"][0] == pytest.approx(100 / 12 - 10 - 2.5)
    assert sum(hours["pub"]) == pytest.approx(65.0)
    assert sum(hours["half"]) == pytest.approx(62.5)


def test_the_quarter_hour_profile_billing_reads_is_the_sum_too(parts: Parts) -> None:
    parts.write(readings())
    parts.rollups.refresh(parts.store, CAMPUS, parts.presence)
    pub = next(d for d in CAMPUS.devices if d.id == "pub")
    got = meter_days(parts.rollups, parts.store, pub, date(2026, 3, 2), date(2026, 3, 4), TZ, at(NOW))
    assert [round(d.total, 9) for d in got.days] == [65.0, 45.0]
    assert got.days[0].slots is not None
    assert len(got.days[0].slots) == 96
    # 00:00-00:15: inc 100/12/4, e1 10/4, e2 2.5/4
    assert got.days[0].slots[0] == pytest.approx((100 / 12 - 10 - 2.5) / 4)


def test_a_late_reading_of_a_term_recomputes_the_virtual_meter(parts: Parts) -> None:
    late = {("e1", "2026-03-03 01:00")}
    parts.write(readings(skip=late))
    # without e1's 01:00 reading, its 13:00 → 03-04 00:00 step is 120 over 11 h on 03-02 and 24 h on 03-03
    early = parts.use("2026-03-02", "2026-03-04", Interval.DAY)
    assert early["e1"] == pytest.approx([70 + 120 * 11 / 35, 120 * 24 / 35])
    parts.write(readings(only=late))
    assert parts.use("2026-03-02", "2026-03-04", Interval.DAY)["pub"] == [65.0, 45.0]
    assert parts.rollups.refresh(parts.store, CAMPUS, parts.presence) == 0  # current: nothing to redo


def test_a_changed_expression_rebuilds_it_and_totals_leave_it_out(parts: Parts) -> None:
    parts.write(readings())
    parts.use("2026-03-02", "2026-03-03", Interval.DAY)
    changed = parse_campus(CAMPUS_TEXT.replace('"inc - e1 - e2"', '"inc - e1"'))
    assert parts.use("2026-03-02", "2026-03-03", Interval.DAY, changed)["pub"] == [125.0]  # 250 − 125
    cuts = [at("2026-03-02 00:00"), at("2026-03-03 00:00")]
    site = consumption(changed, parts.rollups, parts.store, Kind.ELECTRICITY, cuts, Interval.DAY, GroupBy.SITE,
                       now_ms=at(NOW))
    assert site.groups[0].meters == ["e1", "e2"]  # main meters only: not the incomer, not a virtual meter


def test_ingest_refuses_a_reading_published_for_a_virtual_meter(tmp_path: Path) -> None:
    import json

    from campus.registry import Registry
    from ingest.decode import Inbound, decode

    registry = Registry(DataDir(tmp_path).state)
    registry.seed_all([CAMPUS])
    payload = json.dumps({"ts": 1_772_400_000, "values": {"energy_kwh": 1.0}}).encode()
    got = decode(Inbound("campus/s/pub/reading", payload, 1_772_400_000_000), registry, "campus")
    assert not got.readings
    assert [r.reason for r in got.refusals] == [
        "device 'pub' in site 's' is a virtual meter, computed as 'inc - e1 - e2': it takes no readings; publish for "
        "its terms, or fix the gateway's topic"]
    ok = decode(Inbound("campus/s/e1/reading", payload, 1_772_400_000_000), registry, "campus")
    assert len(ok.readings) == 1
    assert not ok.refusals
    registry.close()
