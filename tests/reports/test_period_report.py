"""Term and year summaries on the hand-worked campus of test_energy_report (daily register readings from
1 September 2025 to 1 November 2026): every figure by hand, the same term a year before as the comparison,
and targets over the months a period covers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from app.settings import load_settings
from campus.db import DataDir
from campus.errors import NotFound
from campus.model import Campus
from ingest.status import PresenceStore
from ingest.stores.sqlite import SqliteStore
from reports.summaries import _months_covered, bounds, build_period
from reports.usage import SiteUsage, Usage
from tests.support.alertapp import alert_app
from tests.support.energy import CAMPUS, NOW_MS, readings

TERMS = {"terms": [{"name": "2025秋季学期", "start": "2025-09-01", "end": "2025-10-31"},
                   {"name": "2026春季学期", "start": "2026-02-24", "end": "2026-07-10"},
                   {"name": "2026秋季学期", "start": "2026-09-01", "end": "2026-10-31"}]}
SCHOOL: Campus = CAMPUS.model_copy(update={"calendar": TERMS})


@pytest.fixture(scope="module")
def usage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SiteUsage]:
    tmp = tmp_path_factory.mktemp("period")
    store, presence = SqliteStore(DataDir(tmp).readings), PresenceStore(DataDir(tmp).state)
    store.write(readings())
    whole = Usage(tmp, store, lambda: {"s": SCHOOL}, presence)
    yield whole.site("s")
    whole.close()
    store.close()
    presence.close()


def test_a_term_against_the_same_term_a_year_before(usage: SiteUsage) -> None:
    r = build_period(usage, "term", "2026秋季学期", load_settings(None).report, now_ms=NOW_MS)
    assert (r.period_start.isoformat(), r.period_end.isoformat()) == ("2026-09-01T00:00:00+08:00",
                                                                      "2026-11-01T00:00:00+08:00")
    assert r.previous_start.isoformat() == "2025-09-01T00:00:00+08:00"  # 2025秋季学期, the same season
    assert r.site_total.figures.electricity_kwh == pytest.approx(61 * (30 + 50))  # e1 and e2, 61 days
    elec = next(c for c in r.year_on_year if c.scope == "s" and c.metric == "electricity_kwh")
    assert elec.last_year == pytest.approx(61 * (20 + 50))
    assert elec.yoy_pct == pytest.approx((4880 - 4270) / 4270 * 100)
    office = next(t for t in r.targets if t.department == "office")
    assert (office.target, office.use) == (pytest.approx(2000), pytest.approx(1830))  # September and October
    assert office.over is False
    assert r.quota is None  # a term is not held against a yearly quota


def test_a_calendar_year(usage: SiteUsage) -> None:
    r = build_period(usage, "year", "2026", load_settings(None).report, now_ms=NOW_MS)
    assert r.site_total.figures.electricity_kwh == pytest.approx(304 * (30 + 50))  # data ends on 1 November
    b2 = next(b for b in r.buildings if b.id == "b2")
    assert b2.figures.gas_m3 == pytest.approx(304 * 4)
    elec = next(c for c in r.year_on_year if c.scope == "s" and c.metric == "electricity_kwh")
    assert elec.last_year == pytest.approx(121 * 20 + 30 + 122 * 50)  # 2025: from 1 September
    office = next(t for t in r.targets if t.department == "office")
    assert office.target == pytest.approx(12 * 1000)
    assert {c.name: c.version for c in r.coefficients}["co2_electricity"] == "co2_electricity@2023"  # ≤ 2026


def test_periods_and_months_covered() -> None:
    assert _months_covered(date(2026, 2, 24), date(2026, 7, 11)) == pytest.approx(5 / 28 + 4 + 10 / 31)
    with pytest.raises(NotFound, match="no term '2027春季学期'"):
        bounds(SCHOOL, "term", "2027春季学期")
    start, end, ps, pe = bounds(SCHOOL, "term", "2026春季学期")  # no spring term the year before: same dates
    assert (str(ps), str(pe)) == ("2025-02-24", "2025-07-11")


def test_term_and_year_through_the_api(tmp_path: Path) -> None:
    with alert_app(tmp_path, []) as (c, _):
        year = c.get("/api/v1/reports/energy/year/2026")
        assert year.status_code == 200
        assert year.json()["kind"] == "year"
        term = c.get("/api/v1/reports/energy/term/2026秋季学期", params={"format": "pdf"})
        assert term.status_code == 200
        assert term.content.startswith(b"%PDF")
        assert c.get("/api/v1/reports/energy/term/没有这个学期").status_code == 404
        assert "同比" in c.get("/api/v1/reports/energy/year/2026", params={"format": "csv"}).text
