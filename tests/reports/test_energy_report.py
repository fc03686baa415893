"""The monthly energy report on a small campus whose figures were worked out by hand: the campus, its readings
and the worked figures are in tests/support/energy.py."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from alerts.store import AlertStore
from app.reporting import monthly_report
from app.settings import load_settings
from campus.db import DataDir
from ingest.status import PresenceStore
from ingest.stores.sqlite import SqliteStore
from reports.energy import EnergyReport
from reports.render import render
from reports.usage import Usage
from tests.support.energy import CAMPUS, NOW_MS, RATES, TZ, readings
from tests.support.paths import ROOT

# Natural gas from one heating value, GB/T 2589's 38,931 kJ/m³ (reports/factors.yaml):
#   kgce: 38931 ÷ 29307.6 = 1.328358 kgce/m³;  CO2: 38.931 GJ/1000 m³ × 15.3 × 0.99 × 44/12 = 2.162189 kgCO2/m³.
GAS_KGCE = 38931 / 29307.6
GAS_CO2 = 38931 / 1e6 * 15.3 * 0.99 * 44 / 12


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> EnergyReport:
    tmp = tmp_path_factory.mktemp("report")
    store, presence = SqliteStore(DataDir(tmp).readings), PresenceStore(DataDir(tmp).state)
    store.write(readings())
    alerts = AlertStore(DataDir(tmp).alerts)
    oct5 = int(datetime(2026, 10, 5, 3, tzinfo=TZ).timestamp() * 1000)
    for i, (cat, sev, status) in enumerate([("energy", "warning", "resolved"), ("energy", "warning", "active"),
                                            ("safety", "critical", "resolved")]):
        alerts.insert_alert(site=CAMPUS.site.id, rule=f"r{i}", subject="x", category=cat, severity=sev,
                            status=status, started_ms=oct5, last_ms=oct5)
    alerts.insert_alert(site=CAMPUS.site.id, rule="sep", subject="x", category="data", severity="warning",
                        status="resolved", started_ms=oct5 - 30 * 86_400_000, last_ms=oct5)
    usage = Usage(tmp, store, lambda: {CAMPUS.site.id: CAMPUS}, presence).site()
    settings = load_settings(None, data_dir=tmp)
    usage.refresh()
    from reports.energy import build

    built = build(usage, "2026-10", settings.report, now_ms=NOW_MS)
    with_alerts = monthly_report(usage, settings, "2026-10", "zh-CN", alert_store=alerts, refresh=False)
    assert with_alerts.site_total == built.site_total
    return with_alerts


def test_site_figures_by_hand(report: EnergyReport) -> None:
    f = report.site_total.figures
    assert f.electricity_kwh == pytest.approx(2480)
    assert f.water_m3 == pytest.approx(310)
    assert f.gas_m3 == pytest.approx(124)
    # electricity 2480 × 0.1229 = 304.792 kgce; gas 124 × 1.328358 = 164.7164 kgce; energy 469.5084 kgce
    assert GAS_KGCE == pytest.approx(1.328358, abs=1e-6)
    assert (f.electricity_kgce, f.gas_kgce) == (pytest.approx(304.792), pytest.approx(164.7164, abs=1e-4))
    assert f.energy_kgce == pytest.approx(469.5084, abs=1e-4)
    # CO2: 2480 × 0.5306 = 1315.888 kg; 124 × 2.162189 = 268.1114 kg; 1583.9994 kg
    assert GAS_CO2 == pytest.approx(2.162189, abs=1e-6)
    assert (f.electricity_co2_kg, f.gas_co2_kg) == (pytest.approx(1315.888), pytest.approx(268.1114, abs=1e-4))
    assert f.co2_kg == pytest.approx(1583.9994, abs=1e-4)
    assert f.water_kgce == pytest.approx(310 * 0.0857)
    ind = report.site_total.indicators
    assert ind.kgce_per_m2 == pytest.approx(469.5084 / 1800, abs=1e-6)
    assert ind.kgce_per_person == pytest.approx(469.5084 / 70, abs=1e-6)
    assert ind.water_m3_per_person == pytest.approx(310 / 70)
    assert report.period_start.isoformat() == "2026-10-01T00:00:00+08:00"


def test_buildings_departments_and_comparisons(report: EnergyReport) -> None:
    b1 = next(b for b in report.buildings if b.id == "b1")
    assert b1.figures.electricity_kwh == pytest.approx(930)  # e1 only: not the sub-meter, not the incomer
    canteen = next(d for d in report.departments if d.id == "canteen")
    assert canteen.figures.energy_kgce == pytest.approx(1550 * 0.1229 + 124 * GAS_KGCE)
    assert canteen.indicators.kgce_per_m2 == pytest.approx(canteen.figures.energy_kgce / 800)
    elec = next(c for c in report.comparisons if c.metric == "electricity_kwh" and c.scope == "s")
    assert (elec.this_month, elec.previous_month, elec.last_year) == pytest.approx((2480, 900 + 1500, 620 + 1550))
    assert elec.mom_pct == pytest.approx((2480 - 2400) / 2400 * 100)
    assert elec.yoy_pct == pytest.approx((2480 - 2170) / 2170 * 100)
    office = next(c for c in report.comparisons if c.scope == "office")
    assert (office.metric, office.this_month, office.last_year) == ("energy_kgce", pytest.approx(930 * 0.1229),
                                                                     pytest.approx(620 * 0.1229))
    assert report.incomer is not None
    assert report.incomer.loss_pct == pytest.approx(155 / 2635 * 100)


def test_targets_completeness_and_alerts(report: EnergyReport) -> None:
    office = next(t for t in report.targets if t.department == "office")
    assert (office.month_pct, office.ytd_use, office.ytd_pct, office.over) == pytest.approx((93, 9120, 76, False))
    gas = next(t for t in report.targets if t.department == "canteen")
    assert (gas.month_pct, gas.over) == (pytest.approx(124), True)
    assert {m.device: (m.readings, m.expected, m.complete) for m in report.completeness} == {
        d: (31, 31, True) for d in RATES}
    assert [(a.category, a.severity, a.raised, a.open) for a in report.alerts] == [  # the most severe first
        ("safety", "critical", 1, 0), ("energy", "warning", 2, 1)]
    names = {c.name: (c.value, c.year, c.version) for c in report.coefficients}
    assert names["coal_electricity"] == (0.1229, 2020, "coal_electricity@2020")
    assert names["co2_electricity"] == (0.5306, 2023, "co2_electricity@2023")  # 2026: the latest ≤ 2026
    assert names["coal_gas"] == (pytest.approx(GAS_KGCE), None, "coal_gas@38931kJ")
    assert names["co2_gas"] == (pytest.approx(GAS_CO2), None, "co2_gas@38931kJ")
    assert names["coal_water"] == (0.0857, 2008, "coal_water@2008")


def test_csv_xlsx_pdf(report: EnergyReport, tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=tmp_path).report
    text = render(report, "csv", settings).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert ["# 按部门"] in rows
    total = next(r for r in rows if r and r[0] == "合计")
    assert float(total[3]) == pytest.approx(2480)
    carriers = rows[rows.index(["# 分能源折标煤与碳排放"]) + 1:]
    assert carriers[0][:5] == ["能源", "用量", "单位", "折标系数", "折标煤 kgce"]
    gas = next(r for r in carriers if r and r[0] == "天然气")  # 124 m³ × 1.3284 = 164.7 kgce; × 2.1622 = 268.1 kg
    assert (gas[1], gas[3], gas[4], gas[5], gas[6]) == ("124.0", "1.3284", "164.7", "2.1622", "268.1")

    book = load_workbook(io.BytesIO(render(report, "xlsx", settings)))
    assert book.sheetnames == ["概况", "按建筑", "按部门", "分项能耗", "分能源折标煤与碳排放", "环比与同比",
                               "节能降耗指标完成情况", "数据完整性(按表计)", "本月告警(按类别)", "折算系数"]
    sheet = book["按部门"]
    assert sheet.cell(1, 4).value == "用电量 kWh"
    canteen = next(r for r in sheet.iter_rows(min_row=2, values_only=True) if r[0] == "食堂")
    assert canteen[3] == pytest.approx(1550)
    assert isinstance(canteen[3], int | float)  # a number, not text

    pdf = render(report, "pdf", settings)
    (tmp_path / "report.pdf").write_bytes(pdf)
    reader = PdfReader(io.BytesIO(pdf))
    text = "".join(page.extract_text() for page in reader.pages)
    for expected in ("测试中学 2026-10 能源资源消耗月报", "第一食堂", "综合能耗", "节能降耗指标完成情况", "2,480.0",
                     "分能源折标煤与碳排放", "164.7", "38931 kJ/m³ ÷ 29307.6 kJ/kgce"):
        assert expected in text, expected
    english = render(report.model_copy(update={"language": "en"}), "pdf", settings)
    assert "Energy-saving targets" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(english)).pages)


HOSTILE_NAMES = ['=HYPERLINK("http://evil.example","点这里")', '<b>粗</b> & <font color="red">红</font> <a href="x">']
FORMULAS = ["+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\tTAB", "\rCR"]


def test_hostile_names_are_neutralised_in_csv_and_xlsx_and_escaped_in_the_pdf(report: EnergyReport,
                                                                              tmp_path: Path) -> None:
    buildings = [b.model_copy(update={"name": n}) for b, n in zip(report.buildings, HOSTILE_NAMES, strict=False)]
    departments = [d.model_copy(update={"name": n}) for d, n in zip(report.departments, FORMULAS, strict=False)]
    hostile = report.model_copy(update={"buildings": buildings, "departments": departments,
                                        "site_name": '<font size="40">育才</font> & co'})
    named = [b.name for b in buildings] + [d.name for d in departments]
    settings = load_settings(None, data_dir=tmp_path).report

    cells = [c for r in csv.reader(io.StringIO(render(hostile, "csv", settings).decode("utf-8-sig"))) for c in r]
    for name in named:
        if name.startswith(("=", "+", "-", "@", "\t", "\r")):
            assert "'" + name in cells
            assert name not in cells
    book = load_workbook(io.BytesIO(render(hostile, "xlsx", settings)))
    values = [c for ws in book for row in ws.iter_rows(values_only=True) for c in row if isinstance(c, str)]
    assert not [v for v in values if v.startswith(("=", "+", "@", "\t", "\r"))]  # nothing a formula
    assert "'" + named[0] in values

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(render(hostile, "pdf", settings))).pages)
    assert '<font size="40">育才</font> & co' in text  # shown as written, not read as markup
    assert "<b>粗</b>" in text.replace("\n", "")  # a table cell may wrap it


def test_pdf_on_a_bare_machine_falls_back_to_a_font_that_needs_no_file(report: EnergyReport, tmp_path: Path) -> None:
    """No system CJK font and no [report] pdf_font (a machine after the first install command alone): the PDF
    uses STSong-Light, a standard CID font PDF readers provide. In a fresh process: fonts register once."""
    (tmp_path / "report.json").write_text(report.model_dump_json(), encoding="utf-8")
    script = (
        "import sys; from pathlib import Path\n"
        "import reports.render.pdf as pdf\n"
        "from reports.config import ReportSettings\n"
        "from reports.energy import EnergyReport\n"
        "pdf.FONT_CANDIDATES = ()\n"
        "report = EnergyReport.model_validate_json(Path(sys.argv[1]).read_text(encoding='utf-8'))\n"
        "Path(sys.argv[2]).write_bytes(pdf.render(report, ReportSettings()))\n")
    out = tmp_path / "bare.pdf"
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "report.json"), str(out)], check=True, timeout=120,
                   cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    reader = PdfReader(out)
    text = "".join(page.extract_text() for page in reader.pages)
    for expected in ("测试中学 2026-10 能源资源消耗月报", "第一食堂", "2,480.0"):
        assert expected in text, expected
    fonts = {str(f["/BaseFont"]) for page in reader.pages for f in page["/Resources"]["/Font"].values()}
    assert any("STSong-Light" in f for f in fonts), fonts
