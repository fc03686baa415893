"""Comparisons with data missing: a month is compared (环比, 同比, the year to date against its target, a year
against the year before) only when both periods are over and covered (readings received ÷ expected ≥ [report]
completeness_min); otherwise the change is None, shown "—" with why, in JSON, CSV, XLSX, the PDF, the bulletin and
the year report. Per-person figures only where the occupants are the people served: never for a plant room or a
building without occupants.

The hand-worked campus of tests/support/energy.py, its readings starting on 29 September 2025 (so September 2025
has two days of data and October 2024 none), with a boiler room (3 staff) and an empty store (no occupants)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from campus.contract import Kind, Reading
from campus.db import DataDir
from campus.model import Building, Department, Device
from ingest.status import PresenceStore
from ingest.stores.sqlite import SqliteStore
from reports.bulletin import build_bulletin
from reports.config import ReportSettings
from reports.energy import EnergyReport, build
from reports.render import render, render_bulletin, render_period
from reports.summaries import build_period
from reports.usage import SiteUsage, Usage
from tests.support.energy import CAMPUS, NOW_MS, TZ, readings

FIRST = datetime(2025, 9, 29, tzinfo=TZ)
PLANT = CAMPUS.model_copy(update={
    "buildings": [*CAMPUS.buildings,
                  Building(id="b3", name="锅炉房", department=Department.BOILER_ROOM, floor_area_m2=200, occupants=3,
                           targets={Kind.ELECTRICITY: 3000}),
                  Building(id="b4", name="库房", department=Department.OTHER, floor_area_m2=100, occupants=0)],
    "devices": [*CAMPUS.devices, Device(id="e3", kind=Kind.ELECTRICITY, building="b3", interval_s=86400),
                Device(id="e4", kind=Kind.ELECTRICITY, building="b4", interval_s=86400)]})
SETTINGS = ReportSettings()


def _readings() -> list[Reading]:
    out = [r for r in readings() if r.ts >= FIRST.timestamp() * 1000]
    day, value = FIRST.date(), 100.0
    while day <= date(2026, 11, 1):
        ts = int(datetime(day.year, day.month, day.day, tzinfo=TZ).timestamp() * 1000)
        for dev, dept, b in (("e3", "boiler_room", "b3"), ("e4", "other", "b4")):
            out.append(Reading(dev, ts, Kind.ELECTRICITY, "s", b, dept, "default", {"energy_kwh": value}))
        value += 100
        day += timedelta(days=1)
    return out


@pytest.fixture(scope="module")
def usage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SiteUsage]:
    tmp = tmp_path_factory.mktemp("incomplete")
    store, presence = SqliteStore(DataDir(tmp).readings), PresenceStore(DataDir(tmp).state)
    store.write(_readings())
    whole = Usage(tmp, store, lambda: {"s": PLANT}, presence)
    site = whole.site("s")
    site.refresh()
    yield site
    whole.close()
    store.close()
    presence.close()


@pytest.fixture(scope="module")
def october(usage: SiteUsage) -> EnergyReport:
    return build(usage, "2025-10", SETTINGS, now_ms=NOW_MS, refresh=False)


def test_a_month_after_two_days_of_data_is_not_compared(october: EnergyReport) -> None:
    elec = next(c for c in october.comparisons if c.scope == "s" and c.metric == "electricity_kwh")
    assert elec.this_month > 0
    assert elec.this_coverage == pytest.approx(1.0)
    assert (elec.mom_pct, elec.mom_gap) == (None, "compared_incomplete")  # not +1,400 %
    assert elec.previous_coverage == pytest.approx(2 / 30)
    assert elec.previous_month is not None  # two days' use: shown, not compared
    assert (elec.last_year, elec.yoy_pct, elec.yoy_gap) == (None, None, "compared_incomplete")  # not 0.0
    assert elec.last_year_coverage == 0
    depts = [c for c in october.comparisons if c.scope != "s"]
    assert depts
    assert all(c.mom_pct is None and c.yoy_pct is None for c in depts)
    office = next(t for t in october.targets if t.department == "office")
    assert (office.ytd_pct, office.ytd_gap) == (None, "incomplete")  # one month of ten is no year to date
    assert office.ytd_coverage < 0.2


def test_a_month_not_over_is_not_compared(usage: SiteUsage) -> None:
    mid = int(datetime(2026, 10, 20, tzinfo=TZ).timestamp() * 1000)
    r = build(usage, "2026-10", SETTINGS, now_ms=mid, refresh=False)
    elec = next(c for c in r.comparisons if c.scope == "s" and c.metric == "electricity_kwh")
    assert (elec.mom_pct, elec.mom_gap) == (None, "unfinished")
    whole = build(usage, "2026-10", SETTINGS, now_ms=NOW_MS, refresh=False)
    elec = next(c for c in whole.comparisons if c.scope == "s" and c.metric == "electricity_kwh")
    assert elec.mom_gap is None
    assert elec.mom_pct is not None


def test_per_person_only_where_the_occupants_are_the_people_served(october: EnergyReport) -> None:
    rows = {r.id: r for r in [*october.buildings, *october.departments]}
    assert rows["b1"].indicators.kgce_per_person is not None
    assert rows["b1"].per_person
    for plant in ("b3", "boiler_room", "b4", "other"):  # a boiler room's 3 staff, an empty store
        assert not rows[plant].per_person, plant
        assert (rows[plant].indicators.kgce_per_person, rows[plant].indicators.water_m3_per_person) == (None, None)
    assert rows["b3"].indicators.kgce_per_m2 is not None  # per m² still means something


def test_every_rendering_shows_a_dash_and_why(october: EnergyReport) -> None:
    rows = list(csv.reader(io.StringIO(render(october, "csv", SETTINGS).decode("utf-8-sig"))))
    site = next(r for r in rows if r[:2] == ["测试中学", "用电量"])
    assert site[5] == "—"  # 环比 %
    assert site[7] == "—"  # 同比 %
    assert "上月数据不全" in site[-1]
    assert "去年同月无数据" in site[-1]
    boiler = next(r for r in rows if r and r[0] == "锅炉房" and len(r) > 10)
    assert boiler[10] == "—"  # kgce per person

    english = october.model_copy(update={"language": "en"})
    text = render(english, "csv", SETTINGS).decode("utf-8-sig")
    assert "previous month incomplete" in text
    book = load_workbook(io.BytesIO(render(october, "xlsx", SETTINGS)))
    values = [c for row in book["环比与同比"].iter_rows(values_only=True) for c in row]
    assert "—" in values
    targets = [c for row in book["节能降耗指标完成情况"].iter_rows(values_only=True) for c in row]
    assert "—" in targets
    pdf = "".join(p.extract_text() for p in PdfReader(io.BytesIO(render(october, "pdf", SETTINGS))).pages)
    assert "上月数据不全" in pdf
    assert "年内数据不全" in pdf


def test_the_bulletin_and_the_year_report_do_not_compare_with_a_year_without_data(usage: SiteUsage) -> None:
    now = build(usage, "2026-10", SETTINGS, now_ms=NOW_MS, refresh=False)
    before = build(usage, "2025-10", SETTINGS, now_ms=NOW_MS, refresh=False)
    b = build_bulletin(PLANT, before, build(usage, "2024-10", SETTINGS, now_ms=NOW_MS, refresh=False), SETTINGS)
    office = next(x for x in b.lines if x.id == "office")
    assert (office.last_year, office.yoy_pct, office.yoy_gap) == (None, None, "compared_incomplete")
    boiler = next(x for x in b.lines if x.id == "b3")
    assert boiler.per_person is None
    text = render_bulletin(b, "csv", SETTINGS).decode("utf-8-sig")
    assert "去年同月无数据" in text
    full = build_bulletin(PLANT, now, before, SETTINGS)
    office = next(x for x in full.lines if x.id == "office")
    assert office.yoy_pct == pytest.approx(50)  # October 2025 is whole: compared

    year = build_period(usage, "year", "2026", SETTINGS, now_ms=NOW_MS, refresh=False)
    elec = next(c for c in year.year_on_year if c.scope == "s" and c.metric == "electricity_kwh")
    assert (elec.yoy_pct, elec.yoy_gap) == (None, "unfinished")  # 2026 is not over on 2 November
    done = build_period(usage, "year", "2025", SETTINGS, now_ms=NOW_MS, refresh=False)
    elec = next(c for c in done.year_on_year if c.scope == "s" and c.metric == "electricity_kwh")
    assert (elec.yoy_pct, elec.yoy_gap) == (None, "incomplete")  # 2025 had three months of data
    assert (elec.last_year, elec.last_year_coverage) == (None, 0)
    office = next(t for t in done.targets if t.department == "office")
    assert (office.pct, office.gap) == (None, "incomplete")
    text = render_period(done, "csv", SETTINGS).decode("utf-8-sig")
    assert "本期数据不全" in text
    assert "—" in text


def test_the_pdf_names_things_counts_whole_and_has_sign_off_fields(october: EnergyReport) -> None:
    rows = list(csv.reader(io.StringIO(render(october, "csv", SETTINGS).decode("utf-8-sig"))))
    meters = rows[next(i for i, r in enumerate(rows) if r == ["# 数据完整性(按表计)"]) + 2:]
    office = next(r for r in meters if r and r[0] == "e1")  # a meter without a name goes by its id
    assert "行政楼" in office  # the building's name, not b1
    assert "b1" not in office
    pdf = render(october, "pdf", SETTINGS)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    for expected in ("填报人", "审核人", "日期", "电力折标准煤系数", "二氧化碳排放因子"):
        assert expected in text, expected
    assert "coal_electricity" not in text
    assert "73.00" not in text  # 73 people, 7 meters: counts, not amounts
    assert "7.00" not in text
    english = "".join(p.extract_text() for p in PdfReader(io.BytesIO(render(
        october.model_copy(update={"language": "en"}), "pdf", SETTINGS))).pages)
    for expected in ("Prepared by", "Reviewed by", "Electricity to standard coal"):
        assert expected in english, expected


def test_no_page_ends_on_a_heading(october: EnergyReport) -> None:
    from reports.render.energy_tables import tables

    titles = {t.title for t in tables(october)}
    for page in PdfReader(io.BytesIO(render(october, "pdf", SETTINGS))).pages:
        lines = [x.strip() for x in page.extract_text().splitlines() if x.strip()]
        assert lines[-1] not in titles, lines[-3:]
    first = PdfReader(io.BytesIO(render(october, "pdf", SETTINGS))).pages[0].extract_text()
    assert "填报人" in first  # the form is signed on its first page
