"""A year against a provincial school quota (能耗定额), in the quota's own convention, checked by hand.

The campus: one teaching building of 1000 m² read daily at local midnight from 2025-01-01 to 2026-01-01, so 2025
is whole (365 days, 100 % coverage): electricity 30 kWh/day → 10,950 kWh; natural gas 4 m³/day → 1,460 m³;
water 10 m³/day → 3,650 m³.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.settings import load_settings
from campus.contract import Kind, Reading
from campus.db import DataDir
from campus.errors import ConfigError
from campus.model import Campus, parse_campus
from ingest.status import PresenceStore
from ingest.stores.sqlite import SqliteStore
from reports.config import ReportSettings
from reports.quotas import band, parse_quotas, shipped
from reports.render import render_period
from reports.summaries import build_period
from reports.usage import SiteUsage, Usage

TZ = ZoneInfo("Asia/Shanghai")
NOW_MS = int(datetime(2026, 1, 5, tzinfo=TZ).timestamp() * 1000)
RATES = {"e": (Kind.ELECTRICITY, "energy_kwh", 30.0), "g": (Kind.GAS, "volume_m3", 4.0),
         "w": (Kind.WATER, "volume_m3", 10.0)}


def _campus(area: float) -> Campus:
    return parse_campus(f"""
site: {{id: q, name: 定额中学, timezone: Asia/Shanghai}}
buildings:
  - {{id: t1, name: 教学楼, department: teaching, floor_area_m2: {area}, occupants: 300}}
devices:
  - {{id: e, kind: electricity, building: t1, interval_s: 86400}}
  - {{id: g, kind: gas, building: t1, interval_s: 86400}}
  - {{id: w, kind: water, building: t1, interval_s: 86400}}
""")


def _readings() -> list[Reading]:
    out, day = [], date(2025, 1, 1)
    while day <= date(2026, 1, 1):
        ts = int(datetime(day.year, day.month, day.day, tzinfo=TZ).timestamp() * 1000)
        n = (day - date(2025, 1, 1)).days
        for dev, (kind, field, rate) in RATES.items():
            out.append(Reading(dev, ts, kind, "q", "t1", "teaching", "default", {field: 1000.0 + n * rate}))
        day += timedelta(days=1)
    return out


def _usage(tmp: Path, campus: Campus) -> tuple[SiteUsage, Any]:
    store, presence = SqliteStore(DataDir(tmp).readings), PresenceStore(DataDir(tmp).state)
    store.write(_readings())
    whole = Usage(tmp, store, lambda: {"q": campus}, presence)

    def close() -> None:
        whole.close()
        store.close()
        presence.close()
    return whole.site("q"), close


@pytest.fixture(scope="module")
def usage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SiteUsage]:
    site, close = _usage(tmp_path_factory.mktemp("quota"), _campus(1000))
    yield site
    close()


CALORIFIC = {"id": "test-calorific", "name": "试验定额 (当量值, 含水)", "name_en": "test, calorific, water in",
             "source": "a test quota", "school_type": "primary_secondary", "heating": "included",
             "electricity": "calorific", "water": "in", "restraint": 6.0, "baseline": 5.0, "guide": 4.5,
             "verified": True}
EQUIVALENT = {**CALORIFIC, "id": "test-equivalent", "name": "试验定额 (等价值)", "electricity": "equivalent",
              "water": "out", "restraint": 5.5, "baseline": 5.0, "guide": 4.0}


def _year(usage: SiteUsage, **report: Any) -> Any:
    s = ReportSettings.model_validate({"quotas": [CALORIFIC, EQUIVALENT], **report})
    return build_period(usage, "year", "2025", s, now_ms=NOW_MS, refresh=True), s


def test_the_shandong_convention_equivalent_0_31_water_out(usage: SiteUsage) -> None:
    """sd-2671-school counts electricity at its 0.31 and gas at its 1.2143, water out:
    10950 × 0.31 = 3394.5; 1460 × 1.2143 = 1772.878; 5167.378 kgce ÷ 1000 m² = 5.167378 kgce/(m²·a):
    above 引导值 4.0, within 基准值 7.0 → baseline (≤ 基准值)."""
    r, _ = _year(usage, quota="sd-2671-school")
    q = r.quota
    assert q is not None
    assert r.site_total.figures.electricity_kwh == pytest.approx(10950)
    assert (q.electricity, q.electricity_kgce_per_kwh, q.gas_kgce_per_m3, q.water) == ("equivalent", 0.31, 1.2143,
                                                                                      "out")
    assert q.energy_kgce == pytest.approx(5167.378)
    assert q.kgce_per_m2 == pytest.approx(5.167378)
    assert (q.band, q.gap, q.verified) == ("baseline", None, False)


def test_the_calorific_convention_with_water(usage: SiteUsage) -> None:
    """electricity 10950 × 0.1229 = 1345.755; gas 1460 × 1.328358 (38931 ÷ 29307.6) = 1939.403; water 3650 × 0.0857
    = 312.805; 3597.963 kgce ÷ 1000 = 3.597963 ≤ 引导值 4.5 → guide."""
    r, _ = _year(usage, quota="test-calorific")
    q = r.quota
    assert q.energy_kgce == pytest.approx(1345.755 + 1460 * 38931 / 29307.6 + 312.805)
    assert q.kgce_per_m2 == pytest.approx(3.597963, abs=1e-6)
    assert q.band == "guide"


def test_the_equivalent_value_of_the_year_from_settings(usage: SiteUsage) -> None:
    """No 等价值 set for 2025: "—" and why. With 0.3 for 2024 (the latest ≤ 2025): 10950 × 0.3 = 3285;
    gas at the report's 1.328358: 1939.403; 5224.403 ÷ 1000 = 5.224 > 基准值 5.0, ≤ 约束值 5.5 → restraint."""
    r, _ = _year(usage, quota="test-equivalent")
    assert (r.quota.band, r.quota.gap, r.quota.kgce_per_m2) == (None, "no_equivalent_value", None)
    r, s = _year(usage, quota="test-equivalent", equivalent_kgce_per_kwh={"2024": 0.3})
    assert r.quota.kgce_per_m2 == pytest.approx((3285 + 1460 * 38931 / 29307.6) / 1000)
    assert r.quota.band == "restraint"
    rows = list(csv.reader(io.StringIO(render_period(r, "csv", s).decode("utf-8-sig"))))
    assert ["所在档次", "≤ 约束值", ""] in rows
    english = render_period(r.model_copy(update={"language": "en"}), "csv", s).decode("utf-8-sig")
    assert "≤ restraint" in english


def test_above_the_restraint_and_a_year_not_over(usage: SiteUsage) -> None:
    tight = {**CALORIFIC, "id": "tight", "restraint": 3.0, "baseline": 2.0, "guide": 1.0}
    s = ReportSettings.model_validate({"quotas": [tight], "quota": "tight"})
    r = build_period(usage, "year", "2025", s, now_ms=NOW_MS, refresh=False)
    assert r.quota.band == "above"  # 3.597963 > 3.0
    r = build_period(usage, "year", "2026", s, now_ms=NOW_MS, refresh=False)  # 5 days into 2026
    assert (r.quota.band, r.quota.gap) == (None, "unfinished")
    rows = list(csv.reader(io.StringIO(render_period(r, "csv", s).decode("utf-8-sig"))))
    assert ["所在档次", "—", "本年未结束"] in rows


def test_no_floor_area_is_said(tmp_path: Path) -> None:
    site, close = _usage(tmp_path, _campus(0))
    try:
        s = ReportSettings.model_validate({"quotas": [CALORIFIC], "quota": "test-calorific"})
        r = build_period(site, "year", "2025", s, now_ms=NOW_MS)
        assert (r.quota.band, r.quota.gap, r.quota.kgce_per_m2) == (None, "no_floor_area", None)
        text = render_period(r, "csv", s).decode("utf-8-sig")
        assert "未填写建筑面积" in text
    finally:
        close()


def test_settings_name_a_quota_that_exists() -> None:
    with pytest.raises(ConfigError, match="no such quota"):
        load_settings(None, report={"quota": "nowhere"})
    s = load_settings(None, report={"sites": {"q": {"quota": "sd-2671-higher"}}}).report
    assert s.quota_of("q").id == "sd-2671-higher"
    assert s.quota_of("other") is None


def test_the_shipped_quotas_declare_their_convention_and_say_what_is_assumed() -> None:
    for q in shipped().quotas:
        assert q.electricity in ("calorific", "equivalent")
        assert q.water in ("in", "out")
        assert q.guide <= q.baseline <= q.restraint
        assert q.verified or q.note  # an assumed figure says so


@given(st.floats(min_value=0, max_value=100, allow_nan=False))
def test_bands_are_ordered(value: float) -> None:
    q = parse_quotas("quotas:\n  - " + json.dumps(CALORIFIC)).quotas[0]
    expected = "guide" if value <= 4.5 else "baseline" if value <= 5 else "restraint" if value <= 6 else "above"
    assert band(value, q) == expected


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=600))
def test_any_text_is_a_quota_table_or_a_config_error(text: str) -> None:
    try:
        parse_quotas(text)
    except ConfigError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(CALORIFIC)), st.one_of(st.none(), st.floats(), st.text(max_size=20),
                                                                      st.booleans(), st.integers()), max_size=6))
def test_a_quota_with_fields_changed_parses_or_says_what_to_fix(changes: dict[str, Any]) -> None:
    text = "quotas:\n  - " + json.dumps({**CALORIFIC, **changes})
    try:
        q = parse_quotas(text).quotas[0]
    except ConfigError as exc:
        message = str(exc)
    else:
        assert q.guide <= q.baseline <= q.restraint
        return
    assert "quotas.yaml" in message
