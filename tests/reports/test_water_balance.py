"""The water balance, the night minimum flow and the indicators on 育英校区 (tests/support/water.py), every
number worked out by hand; a hidden 0.2 m³/h leak in dormitory A from 8 October 2026 15:00 shows in A's balance and
in the night minimum flow from its first night; a month without it raises nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from campus.model import load_campus
from ingest.decode import Inbound
from reports.night_flow import night_flow
from reports.usage import SiteUsage, Usage
from reports.water_balance import balances
from reports.water_config import WaterSettings
from reports.water_indicators import indicators
from tests.support.stack import build_stack
from tests.support.water import TZ, readings, write_campus

START = datetime(2026, 9, 14, tzinfo=TZ)
NOW = datetime(2026, 10, 12, tzinfo=TZ)   # midnight: 1-11 October are whole days
LEAK = datetime(2026, 10, 8, 15, tzinfo=TZ)
NOW_MS = int(NOW.timestamp() * 1000)


@pytest.fixture(scope="module")
def leaky(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SiteUsage]:
    tmp = tmp_path_factory.mktemp("leaky")
    yield from _usage(tmp, list(readings(START, NOW, leak_since=LEAK)))


@pytest.fixture(scope="module")
def normal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SiteUsage]:
    tmp = tmp_path_factory.mktemp("normal")
    yield from _usage(tmp, list(readings(START, NOW)))


def _usage(tmp: Path, batch: list[Inbound]) -> Iterator[SiteUsage]:
    with build_stack(tmp / "data", write_campus(tmp), batch, evaluate=False) as stack:
        ingest = stack.ingest
        usage = Usage(stack.data, ingest.store, lambda: ingest.registry.campuses, ingest.presence)
        try:
            site = usage.site("ying")
            site.refresh()
            yield site
        finally:
            usage.close()


def by_key(usage: SiteUsage, month: str = "2026-10") -> dict[str, object]:
    return {b.key: b for b in balances(usage, month, WaterSettings(), NOW_MS)}


def test_the_leak_shows_in_the_building_balance_and_not_the_site(leaky: SiteUsage) -> None:
    found = by_key(leaky)
    site, a = found["site"], found["dorm-a"]
    assert set(found) == {"site", "dorm-a"}  # B has no sub-meters: nothing to balance it against
    assert (site.inflow, site.outflow) == (["校区进水总表"], ["A栋总表", "B栋总表"])  # type: ignore[attr-defined]
    assert a.outflow == ["A栋盥洗分表", "A栋洗衣房分表"]  # type: ignore[attr-defined]
    days = {p.period: p for p in a.days}  # type: ignore[attr-defined]
    assert len(days) == 11  # 1-11 October; the 12th has not begun at NOW
    # a day without the leak: main 24 = 16 + 8, nothing lost
    assert (days["2026-10-07"].inflow_m3, days["2026-10-07"].outflow_m3, days["2026-10-07"].loss_pct) == (24, 24, 0)
    # 8 October: the leak from 15:00, 9 h × 0.2 = 1.8 m³ → 25.8 in, 24 out, 1.8 / 25.8 = 6.98 % > 5 %
    d8 = days["2026-10-08"]
    assert (d8.inflow_m3, d8.outflow_m3, d8.loss_m3, d8.loss_pct, d8.beyond) == (25.8, 24, 1.8, 6.98, True)
    # a whole day of it: 24 h × 0.2 = 4.8 → 28.8 in, 4.8 / 28.8 = 16.67 %
    assert (days["2026-10-09"].inflow_m3, days["2026-10-09"].loss_pct) == (28.8, 16.67)
    # the month so far, 1-11 October: 11 × 24 + 1.8 + 3 × 4.8 = 280.2 in, 264 out, 16.2 / 280.2 = 5.78 %
    m = a.month  # type: ignore[attr-defined]
    assert (m.inflow_m3, m.outflow_m3, m.loss_m3, m.loss_pct, m.beyond) == (280.2, 264, 16.2, 5.78, True)
    # the site: the leak is inside A's main, so only the pipes' 0.1 m³/h is lost between the incomer and the mains
    # 9 October: in 46.4 + 4.8 = 51.2, out 28.8 + 20 = 48.8, 2.4 / 51.2 = 4.69 % (within 10 %)
    s9 = next(p for p in site.days if p.period == "2026-10-09")  # type: ignore[attr-defined]
    assert (s9.inflow_m3, s9.outflow_m3, s9.loss_m3, s9.loss_pct, s9.beyond) == (51.2, 48.8, 2.4, 4.69, False)
    # the month: in 11 × 46.4 + 16.2 = 526.6, out 280.2 + 11 × 20 = 500.2, 26.4 / 526.6 = 5.01 %
    sm = site.month  # type: ignore[attr-defined]
    assert (sm.inflow_m3, sm.outflow_m3, sm.loss_pct) == (526.6, 500.2, 5.01)


def test_the_leak_shows_in_the_night_minimum_from_its_first_night(leaky: SiteUsage) -> None:
    meters = {s.device: s for s in night_flow(leaky, 4, WaterSettings(), NOW_MS)}
    assert list(meters) == ["in", "a-main", "b-main"]
    a = meters["a-main"]
    assert [n.date for n in a.nights][-1] == "2026-10-11"
    assert len(a.nights) == 28
    # the leak began 8 October 15:00: the nights ending 9, 10 and 11 October (00:00-05:00) flow 0.2 m³/h
    assert [(n.date, n.min_m3h) for n in a.nights[-4:]] == [
        ("2026-10-08", 0.0), ("2026-10-09", 0.2), ("2026-10-10", 0.2), ("2026-10-11", 0.2)]
    assert a.usual_m3h == 0.0
    assert a.nights_above == 3
    assert a.recent_m3h == 0.0
    assert not a.rising
    # the incomer's night: the pipes' 0.1 m³/h, then 0.3 with the leak
    assert [n.min_m3h for n in meters["in"].nights[-4:]] == [0.1, 0.3, 0.3, 0.3]
    assert meters["in"].usual_m3h == 0.1
    assert meters["in"].nights_above == 3
    assert meters["b-main"].nights_above == 0
    # a night with no readings (the one ending 12 October: the readings stop at midnight) is null, with why
    later = int(datetime(2026, 10, 12, 6, tzinfo=TZ).timestamp() * 1000)
    last = night_flow(leaky, 4, WaterSettings(), later)[1].nights[-1]
    assert (last.date, last.min_m3h, last.why) == ("2026-10-12", None, "数据不全：0/5 小时有足够读数")


def test_a_normal_month_has_no_gap_and_no_rise(normal: SiteUsage) -> None:
    found = by_key(normal)
    assert not any(p.beyond for b in found.values() for p in b.days)  # type: ignore[attr-defined]
    assert {p.loss_pct for p in found["dorm-a"].days} == {0.0}  # type: ignore[attr-defined]
    # the site: 2.4 / 46.4 = 5.17 % every day, within 10 %
    assert {p.loss_pct for p in found["site"].days} == {5.17}  # type: ignore[attr-defined]
    meters = night_flow(normal, 4, WaterSettings(), NOW_MS)
    assert [(s.nights_above, s.rising) for s in meters] == [(0, False)] * 3


def test_indicators(normal: SiteUsage) -> None:
    i = indicators(normal, "2026-10", WaterSettings(), NOW_MS)
    # 1-11 October (the days over by NOW) through the incomer: 11 × 46.4 = 510.4 m³; persons 600 + 900 = 1500;
    # school days: 1-7 October are the National Day holiday, 8 (Thu) and 9 (Fri) are workdays, 10 a make-up
    # Saturday (调休), 11 a Sunday: 3 days. 510,400 L / 1500 / 3 = 113.4 L per person per school day
    assert (i.source, i.water_m3, i.persons, i.school_days) == ("incomer", 510.4, 1500, 3)
    assert (i.litres_per_person_day, i.within) == (113.4, True)
    # first level: the incomer and a main for A and B (the pump house has nobody in it): 3 of 3
    assert (i.first_required, i.first_installed, i.first_pct, i.first_ok, i.missing) == (3, 3, 100.0, True, [])
    # second level: through sub-meters 11 × 24 = 264 of the mains' 11 × 44 = 484 m³: 54.5 % < 90 %
    assert (i.second_pct, i.second_ok) == (54.5, False)


def test_a_day_short_of_readings_is_not_judged(tmp_path: Path) -> None:
    batch = [r for r in readings(datetime(2026, 10, 1, tzinfo=TZ), datetime(2026, 10, 3, tzinfo=TZ))
             if not (r.topic.endswith("/a-sub2/reading") and r.received_ms >= int(
                 datetime(2026, 10, 2, 3, tzinfo=TZ).timestamp() * 1000))]
    for usage in _usage(tmp_path, batch):
        a = {b.key: b for b in balances(usage, "2026-10", WaterSettings(), int(
            datetime(2026, 10, 3, tzinfo=TZ).timestamp() * 1000), "en")}["dorm-a"]
        d2 = a.days[1]
        assert (d2.period, d2.loss_pct, d2.beyond) == ("2026-10-02", None, False)
        assert d2.why == "incomplete: A栋洗衣房分表 has 12% of its readings (needs ≥ 90%)"  # 3 h of 24: 12/96


def test_the_campus_file_is_valid(tmp_path: Path) -> None:
    campus = load_campus(write_campus(tmp_path))
    assert [d.id for d in campus.devices if d.parent == "a-main"] == ["a-sub1", "a-sub2"]
