"""The monthly report's and the district report's cost per energy (元), on the campus worked by hand in
tests/support/billing.py, October 2026:

  b2 第一食堂: electricity (e2 at the canteen's time-of-use tariff) 8064.00 + 11362.80 = 19426.80,
               water (w2) 372 m³ × 5.00 = 1860.00, gas 0.00 (no gas meter): 19426.80 + 1860.00 = 21286.80
  b1 行政楼:   electricity (e1 shared by area) office 6651.96 + shop 1942.68 = 8594.64
  b0 配电房:   only the incomer, which the buildings do not count: 0.00
  the site:    electricity 51952.00, what the school pays the utility (the incomer: 44652.00 of energy, 100.00 fee,
               7200.00 demand); water 1860.00 (no water incomer: the buildings' added up); gas 0.00
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.costs import site_biller, with_costs
from app.reporting import district_report, monthly_report
from app.settings import Settings
from billing.config import BillingSettings
from campus.db import DataDir
from campus.model import Campus
from ingest.status import PresenceStore
from ingest.stores.sqlite import SqliteStore
from reports.energy import Costs, EnergyReport, build
from reports.render import render, render_district
from reports.usage import Usage
from tests.support.billing import BILLING, CAMPUS, NOW_MS, TZ, readings

D = Decimal
MONTH = "2026-10"


@dataclass
class Site:
    usage: Usage
    data: Path

    def settings(self, billing: str | None = BILLING) -> Settings:
        if billing is None:
            return Settings(data_dir=self.data)
        path = self.data / f"billing-{abs(hash(billing))}.yaml"
        path.write_text(billing, encoding="utf-8")
        return Settings(data_dir=self.data, billing=BillingSettings(file=path))

    def report(self, billing: str | None = BILLING, view: Campus | None = None) -> EnergyReport:
        site = self.usage.site(CAMPUS.site.id, view)
        report = build(site, MONTH, self.settings(None).report, now_ms=NOW_MS, refresh=False)
        now = dt.datetime.fromtimestamp(NOW_MS / 1000, TZ)
        return with_costs(report, site, site_biller(site, self.settings(billing), MONTH, now))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp: Path = tmp_path_factory.mktemp("costs")
    store, presence = SqliteStore(DataDir(tmp).readings), PresenceStore(DataDir(tmp).state)
    usage = Usage(tmp, store, lambda: {CAMPUS.site.id: CAMPUS}, presence)
    try:
        store.write(readings())
        usage.site().refresh()
        yield Site(usage, tmp)
    finally:
        usage.close()
        store.close()
        presence.close()


@pytest.fixture(scope="module")
def october(site: Site) -> EnergyReport:
    return site.report()


def _costs(c: Costs | None) -> tuple[Decimal | None, ...]:
    assert c is not None
    return (c.electricity_yuan, c.water_yuan, c.gas_yuan)


def test_the_octobers_cost_per_building_and_the_sites_by_hand(site: Site) -> None:
    report = site.report()
    rows = {r.id: r for r in report.buildings}
    assert _costs(rows["b2"].cost) == (D("19426.80"), D("1860.00"), D("0.00"))   # 21286.80 in all
    assert _costs(rows["b1"].cost) == (D("8594.64"), D("0.00"), D("0.00"))       # 6651.96 + 1942.68
    assert _costs(rows["b0"].cost) == (D("0.00"), D("0.00"), D("0.00"))
    assert _costs(report.site_total.cost) == (D("51952.00"), D("1860.00"), D("0.00"))
    assert report.site_total.cost is not None
    assert [k.value for k in report.site_total.cost.from_incomer] == ["electricity"]
    depts = {r.id: r for r in report.departments}
    assert _costs(depts["canteen"].cost) == (D("19426.80"), D("1860.00"), D("0.00"))
    assert json.loads(report.model_dump_json())["buildings"][1]["cost"]["electricity_yuan"] == "19426.80"


def test_the_report_through_app_reporting_carries_them(site: Site) -> None:
    got = monthly_report(site.usage.site(), site.settings(), MONTH, "zh-CN", refresh=False)
    assert _costs(got.site_total.cost)[0] == D("51952.00")


def test_a_meter_no_payer_holds_is_not_priced(site: Site) -> None:
    """Without the shared line, nobody holds e1: 行政楼's electricity is not known ("—", e1 listed); without the
    incomer either, the site's electricity is its buildings' added up, so not known either."""
    unshared = BILLING.replace("shared:\n  - {meter: e1, by: area, payers: [office, shop]}\n", "")
    rows = {r.id: r for r in site.report(unshared).buildings}
    assert rows["b1"].cost is not None
    assert (rows["b1"].cost.electricity_yuan, rows["b1"].cost.unpriced) == (None, ["e1"])
    no_incomer = unshared.replace("incomer:\n  electricity: {meter: inc, tariff: utility}\n", "")
    report = site.report(no_incomer)
    assert _costs(report.site_total.cost) == (None, D("1860.00"), D("0.00"))
    csv = render(report, "csv", site.settings().report).decode("utf-8-sig")
    assert "行政楼,行政办公,1250.0,50,14880.0,—," in csv


def test_a_view_of_some_buildings_adds_up_its_buildings(site: Site) -> None:
    """A token narrowed to the canteen sees its cost, not the whole site's bill."""
    view = CAMPUS.model_copy(update={"buildings": [b for b in CAMPUS.buildings if b.id == "b2"],
                                     "devices": [d for d in CAMPUS.devices if d.building == "b2"]})
    report = site.report(view=view)
    assert _costs(report.site_total.cost) == (D("19426.80"), D("1860.00"), D("0.00"))
    assert report.site_total.cost is not None
    assert report.site_total.cost.from_incomer == []


def test_without_a_billing_file_nothing_changes(site: Site) -> None:
    """No billing file: no cost anywhere, and every format is byte for byte what the report was before."""
    plain = build(site.usage.site(), MONTH, site.settings(None).report, now_ms=NOW_MS, refresh=False)
    report = site.report(None)
    assert report == plain
    assert report.site_total.cost is None
    assert all(r.cost is None for r in [*report.buildings, *report.departments])
    s = site.settings(None).report
    for fmt in ("csv", "json"):
        assert render(report, fmt, s) == render(plain, fmt, s)
    assert "元" not in render(report, "csv", s).decode("utf-8-sig")
    got = monthly_report(site.usage.site(), site.settings(None), MONTH, "zh-CN", refresh=False)
    assert got.site_total.cost is None


def _drop(doc: Any, key: str) -> Any:
    if isinstance(doc, dict):
        return {k: _drop(v, key) for k, v in doc.items() if k != key}
    if isinstance(doc, list):
        return [_drop(v, key) for v in doc]
    return doc


def test_a_report_filed_before_costs_still_parses(site: Site) -> None:
    """A report filed before this change has no ``cost`` anywhere: it parses, with none."""
    report = site.report()
    old = json.dumps(_drop(json.loads(report.model_dump_json()), "cost"))
    parsed = EnergyReport.model_validate_json(old)
    assert parsed.site_total.cost is None
    assert parsed.buildings[0].figures == report.buildings[0].figures
    assert "电费" not in render(parsed, "csv", site.settings().report).decode("utf-8-sig")


def test_every_format_shows_the_costs_in_chinese_and_english(site: Site, tmp_path: Path) -> None:
    s = site.settings().report
    report = site.report()
    csv = render(report, "csv", s).decode("utf-8-sig")
    assert "用电量 kWh,电费 元,用水量 m³,水费 元,用气量 m³,燃气费 元" in csv
    assert "第一食堂,食堂,800.0,20,29760.0,19426.80,372.0,1860.00,0.0,0.00," in csv
    assert "电费(进线总表),51952.00,元" in csv
    en = render(report.model_copy(update={"language": "en"}), "csv", s).decode("utf-8-sig")
    assert "Electricity kWh,Electricity 元,Water m³,Water 元,Gas m³,Gas 元" in en
    assert "Electricity cost (incomer's bill),51952.00,元" in en
    assert render(report, "xlsx", s).startswith(b"PK")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(render(report, "pdf", s))
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(tmp_path / "page")], check=True, timeout=60)
    assert sorted(p.name for p in tmp_path.glob("page*.png"))


def test_the_district_report_has_a_cost_column_per_energy(site: Site) -> None:
    settings = site.settings()
    d = district_report(site.usage, settings, MONTH, "zh-CN", now_ms=NOW_MS, refresh=False)
    assert _costs(d.sites[0].cost) == (D("51952.00"), D("1860.00"), D("0.00"))
    assert _costs(d.cost) == (D("51952.00"), D("1860.00"), D("0.00"))
    csv = render_district(d, "csv", settings.report).decode("utf-8-sig")
    assert "用电量 kWh,电费 元,用水量 m³,水费 元,用气量 m³,燃气费 元" in csv
    assert "电费 元,\"51,952.00\"" in csv
    plain = district_report(site.usage, site.settings(None), MONTH, "en", now_ms=NOW_MS, refresh=False)
    assert plain.cost is None
    assert plain.sites[0].cost is None
    assert "元" not in render_district(plain, "csv", settings.report).decode("utf-8-sig")


money = st.none() | st.decimals(min_value=0, max_value=10**9, places=2)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(e=money, w=money, g=money)
def test_any_costs_render_and_round_trip(site: Site, october: EnergyReport, e: Decimal | None, w: Decimal | None,
                                         g: Decimal | None) -> None:
    """Whatever a row costs (or not), every format renders it and the JSON reads back the same."""
    report = october
    cost = Costs(electricity_yuan=e, water_yuan=w, gas_yuan=g)
    report = report.model_copy(update={"buildings": [r.model_copy(update={"cost": cost}) for r in report.buildings],
                                       "site_total": report.site_total.model_copy(update={"cost": cost})})
    assert EnergyReport.model_validate_json(report.model_dump_json()) == report
    s = site.settings().report
    csv = render(report, "csv", s).decode("utf-8-sig")
    shown = [str(x) if x is not None else "—" for x in (e, w, g)]
    assert f"29760.0,{shown[0]},372.0,{shown[1]},0.0,{shown[2]}," in csv
    assert render(report, "xlsx", s).startswith(b"PK")
