"""Versioned factors (reports/factors.yaml): a month uses the versions of its year and region, natural gas's kgce
and CO2 come from one heating value, and a filed month keeps its bytes (and names its versions) when a later
factor is added. The campus and its October 2026 worked by hand are in tests/support/energy.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.settings import load_settings
from campus.contract import Kind
from campus.db import DataDir
from campus.errors import ConfigError
from ingest.status import PresenceStore
from ingest.stores.sqlite import SqliteStore
from reports.config import ReportSettings
from reports.consumption import Tally
from reports.energy import EnergyReport, Totals, build
from reports.factors import Factor, parse_factors, pick, shipped
from reports.filing import FORMATS, FilingStore
from reports.render import render
from reports.usage import SiteUsage, Usage
from tests.support.cost import cpu_clock
from tests.support.energy import CAMPUS, NOW_MS, readings

ADDED_2024 = {"name": "co2_electricity", "value": 0.5, "unit": "kgCO2/kWh", "year": 2024,
              "source": "a 2024 national factor, as the ministry would publish it"}


@pytest.fixture(scope="module")
def usage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SiteUsage]:
    tmp = tmp_path_factory.mktemp("factors")
    store, presence = SqliteStore(DataDir(tmp).readings), PresenceStore(DataDir(tmp).state)
    store.write(readings())
    whole = Usage(tmp, store, lambda: {"s": CAMPUS}, presence)
    yield whole.site("s")
    whole.close()
    store.close()
    presence.close()


def test_a_month_uses_the_versions_of_its_year_and_region() -> None:
    s = ReportSettings()
    grid = {y: s.factors_for(y).get("co2_electricity") for y in (2019, 2021, 2022, 2023, 2026)}
    assert {y: (c.value, c.version) for y, c in grid.items()} == {
        2019: (0.5568, "co2_electricity@2021"),   # older than every version: the oldest
        2021: (0.5568, "co2_electricity@2021"), 2022: (0.5366, "co2_electricity@2022"),
        2023: (0.5306, "co2_electricity@2023"), 2026: (0.5306, "co2_electricity@2023")}
    east = ReportSettings(region="east")
    assert east.factors_for(2023).get("co2_electricity").value == 0.5500
    assert east.factors_for(2022).get("co2_electricity").value == 0.5617
    assert east.factors_for(2021).get("co2_electricity").version == "co2_electricity@2021"  # no regional 2021
    per_site = ReportSettings.model_validate({"sites": {"s": {"region": "south"}}})
    assert per_site.factors_for(2023, "s").get("co2_electricity").value == 0.4042
    assert per_site.factors_for(2023, "other").get("co2_electricity").value == 0.5306
    table = shipped()
    regional_2023 = {f.region: f.value for f in table.factors if f.name == "co2_electricity" and f.year == 2023}
    assert regional_2023 == {"national": 0.5306, "north": 0.6361, "northeast": 0.5122, "east": 0.5500,
                             "central": 0.5271, "northwest": 0.5543, "south": 0.4042, "southwest": 0.2472}


def test_gas_kgce_and_co2_come_from_one_heating_value_in_the_physical_ratio() -> None:
    """Per GJ: 10⁶ ÷ 29307.6 = 34.1208 kgce; 15.3 kgC × 0.99 × 44/12 = 55.539 kgCO2; 55.539 ÷ 34.1208 = 1.6277."""
    for h, kgce, co2 in ((38931, 1.328358, 2.162189),           # the table's: 38931 ÷ 29307.6; 38.931 × 55.539
                         (36000, 1.228351, 1.999404)):          # a supplier's bill: 36000 ÷ 29307.6; 36 × 55.539
        s = ReportSettings() if h == 38931 else ReportSettings(gas_heating_value_kj_m3=h)
        f = s.factors_for(2026)
        assert f.value("coal_gas") == pytest.approx(kgce, abs=1e-6)
        assert f.value("co2_gas") == pytest.approx(co2, abs=1e-6)
        assert f.value("co2_gas") / f.value("coal_gas") == pytest.approx(55.539 / 34.1208, abs=1e-4)
        assert f.value("co2_gas") / f.value("coal_gas") == pytest.approx(1.6277, abs=1e-4)
        assert f.get("coal_gas").derivation == f"{h} kJ/m³ ÷ 29307.6 kJ/kgce"
    with pytest.raises(ValueError, match="gas_heating_value_kj_m3"):
        ReportSettings.model_validate({"coefficients": {"coal_gas": {"value": 1.2143, "unit": "kgce/m³",
                                                                     "source": "x", "year": 2020}}})


def _file(usage: SiteUsage, s: ReportSettings, store: FilingStore, month: str) -> dict[str, bytes]:
    report = build(usage, month, s, now_ms=NOW_MS)
    bodies = {fmt: render(report, fmt, s) for fmt in FORMATS}
    store.file("s", month, "tester", NOW_MS, bodies)
    return bodies


def test_a_filed_month_keeps_its_bytes_after_a_2024_factor_is_added(usage: SiteUsage, tmp_path: Path) -> None:
    before = load_settings(None, data_dir=tmp_path).report
    store = FilingStore(tmp_path / "filed.db")
    try:
        bodies = _file(usage, before, store, "2026-10")
        after = load_settings(None, data_dir=tmp_path, report={"factors": [ADDED_2024]}).report
        assert after.factors_for(2024).get("co2_electricity").version == "co2_electricity@2024"
        assert after.factors_for(2023).get("co2_electricity").version == "co2_electricity@2023"  # 2023 as it was
        for fmt in FORMATS:
            assert store.body("s", "2026-10", fmt) == bodies[fmt]  # byte for byte
        filed = EnergyReport.model_validate_json(store.body("s", "2026-10", "json"))
        used = {c.name: c.version for c in filed.coefficients}
        assert used["co2_electricity"] == "co2_electricity@2023"  # what it was filed with, named
        assert filed.site_total.figures.electricity_co2_kg == pytest.approx(2480 * 0.5306)

        now = build(usage, "2026-10", after, now_ms=NOW_MS, refresh=False)  # built again: the latest ≤ 2026
        assert now.site_total.figures.electricity_co2_kg == pytest.approx(2480 * 0.5)  # 1240 kg
        in_2024 = build(usage, "2024-10", after, now_ms=NOW_MS, refresh=False)
        assert {c.name: c.version for c in in_2024.coefficients}["co2_electricity"] == "co2_electricity@2024"
        in_2023 = build(usage, "2023-10", after, now_ms=NOW_MS, refresh=False)
        assert {c.name: c.value for c in in_2023.coefficients}["co2_electricity"] == 0.5306
    finally:
        store.close()


def test_a_month_compared_with_last_year_converts_each_with_its_own_year() -> None:
    """January 2024's year-on-year bucket is January 2023: 2023's grid factor there, 2024's in the month."""
    s = ReportSettings.model_validate({"factors": [ADDED_2024]})
    factors = [s.factors_for(2023)] * 12 + [s.factors_for(2024)]
    t = Totals(13, 12, factors)
    t.add(Kind.ELECTRICITY, Tally([100.0] * 13, [1] * 13, [1.0] * 13))
    assert t.figures(12, s).co2_kg == pytest.approx(100 * 0.5)
    assert t.figures(0, s).co2_kg == pytest.approx(100 * 0.5306)


def test_a_report_filed_before_versions_existed_still_reads() -> None:
    """A JSON filed by an older meterwatch (no versions, no carrier columns) is still a report: changes since
    filing are computed from it."""
    doc = {"site": "s", "site_name": "x", "month": "2025-10", "language": "zh-CN", "timezone": "Asia/Shanghai",
           "period_start": "2025-10-01T00:00:00+08:00", "period_end": "2025-11-01T00:00:00+08:00",
           "generated_at": "2025-11-02T00:00:00+08:00",
           "site_total": {"id": "s", "name": "x", "figures": {"electricity_kwh": 1.0, "energy_kgce": 0.1229},
                          "indicators": {}, "coverage": 1.0},
           "buildings": [], "departments": [], "comparisons": [], "targets": [], "incomer": None,
           "completeness": [], "alerts": [],
           "coefficients": [{"name": "coal_gas", "value": 1.2143, "unit": "kgce/m³", "source": "GB/T 2589",
                             "year": 2020}]}
    report = EnergyReport.model_validate(doc)
    assert report.coefficients[0].version is None
    assert report.site_total.figures.electricity_kgce == 0.0


# -- the file's parser ------------------------------------------------------------------------------------------

YEARS = st.integers(min_value=1990, max_value=2100)
VALUES = st.floats(min_value=0, max_value=100, allow_nan=False, allow_infinity=False)
REGIONS = st.sampled_from(["national", "north", "northeast", "east", "central", "northwest", "south", "southwest"])


def _table(entries: list[dict[str, object]]) -> str:
    rows = "\n".join("  - " + json.dumps(e, ensure_ascii=False) for e in entries)
    return ("kgce_kj: 29307.6\nnatural_gas: {heating_value_kj_m3: 38931, heating_value_source: s, "
            "carbon_kgc_per_gj: 15.3, oxidation: 0.99, carbon_source: s, derivation: d}\nfactors:\n" + rows + "\n")


BASE = [{"name": n, "value": 0.1, "unit": "u", "year": 2020, "source": "s"}
        for n in ("coal_electricity", "coal_water", "co2_electricity")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=600))
def test_any_text_is_a_table_or_a_config_error(text: str) -> None:
    try:
        parse_factors(text)
    except ConfigError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(YEARS, REGIONS, VALUES), max_size=12), YEARS, REGIONS)
def test_the_version_picked_is_the_latest_of_the_year_or_before(grid: list[tuple[int, str, float]], year: int,
                                                                region: str) -> None:
    entries = list(BASE) + [{"name": "co2_electricity", "value": v, "unit": "u", "year": y, "region": r,
                             "source": "s"} for y, r, v in dict(((y, r), (y, r, v)) for y, r, v in grid).values()
                            if (y, r) != (2020, "national")]
    table = parse_factors(_table(entries))
    got = pick(table.factors, "co2_electricity", year, region)
    mine = [f for f in table.factors if f.name == "co2_electricity" and f.region == region and f.year <= year]
    national = [f for f in table.factors if f.name == "co2_electricity" and f.region == "national"]
    if mine:
        assert got.year == max(f.year for f in mine)
        assert got.region == region
    elif [f for f in national if f.year <= year]:
        assert got.region == "national"
        assert got.year == max(f.year for f in national if f.year <= year)
    else:
        assert got.year == min(f.year for f in national)


def test_the_parser_says_what_is_wrong() -> None:
    with pytest.raises(ConfigError, match="no national version of coal_water"):
        parse_factors(_table([BASE[0], BASE[2]]))
    with pytest.raises(ConfigError, match="listed twice"):
        parse_factors(_table([*BASE, BASE[0]]))
    with pytest.raises(ConfigError, match="no regional versions"):
        parse_factors(_table([*BASE, {**BASE[0], "region": "east"}]))
    with pytest.raises(ConfigError, match="at most"):
        parse_factors("#" * (300 * 1024))
    with pytest.raises(ConfigError, match="factors"):
        load_settings(None, report={"factors": [{**ADDED_2024, "value": float("nan")}]})
    assert Factor.model_validate(ADDED_2024).version == "co2_electricity@2024"


def test_an_alias_bomb_is_refused_at_once() -> None:
    """YAML aliases nested 12 deep (10¹² leaves if expanded) cost nothing: the shapes are wrong at the top."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 12)]
    for tail in ("factors: *a11", "kgce_kj: *a11\nnatural_gas: *a11\nfactors: *a11"):
        with cpu_clock() as spent, pytest.raises(ConfigError):
            parse_factors("\n".join(lines) + "\n" + tail + "\n")
        assert spent() < 1.0
