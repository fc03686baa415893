"""Sub-item energy (分项能耗) on the campus of tests/support/items.py, whose October was worked out by hand there:
item totals plus 未分项 equal each building, in the split, in GET-style consumption and in the monthly report
(JSON, CSV, XLSX, PDF); the item table's cells; building codes accepted iff valid."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from pypdf import PdfReader

from app.settings import load_settings
from campus.contract import Kind
from campus.db import DataDir
from campus.errors import ConfigError
from campus.items import check_building_code, item_code, item_name, item_shares, item_text, splits_further
from campus.model import parse_campus
from ingest.status import PresenceStore
from ingest.stores.sqlite import SqliteStore
from reports.buckets import Interval, edges
from reports.consumption import GroupBy, consumption
from reports.energy import EnergyReport, build
from reports.items import split
from reports.render import render
from reports.usage import SiteUsage, Usage
from tests.support.items import CAMPUS, CAMPUS_YAML, NOW_MS, SITE_ITEMS, TZ, readings


@pytest.fixture(scope="module")
def usage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SiteUsage]:
    tmp = tmp_path_factory.mktemp("items")
    store, presence = SqliteStore(DataDir(tmp).readings), PresenceStore(DataDir(tmp).state)
    store.write(readings())
    whole = Usage(tmp, store, lambda: {CAMPUS.site.id: CAMPUS}, presence)
    site = whole.site()
    site.refresh()
    yield site
    whole.close()
    presence.close()
    store.close()


@pytest.fixture(scope="module")
def report(usage: SiteUsage, tmp_path_factory: pytest.TempPathFactory) -> EnergyReport:
    settings_ = load_settings(None, data_dir=tmp_path_factory.mktemp("settings"))
    return build(usage, "2026-10", settings_.report, now_ms=NOW_MS, refresh=False)


def october(usage: SiteUsage, kind: Kind, group_by: GroupBy, view: SiteUsage | None = None):  # type: ignore[no-untyped-def]
    u = view or usage
    cuts = edges(datetime(2026, 10, 1, tzinfo=TZ), datetime(2026, 11, 1, tzinfo=TZ), Interval.MONTH, TZ)
    return consumption(u.campus, u.rollups, u.store, kind, cuts, Interval.MONTH, group_by, NOW_MS)


def test_the_split_by_hand() -> None:
    # October's use of each electricity meter (31 × its daily rate, tests/support/items.py)
    uses = {"e1": [3100.0], "e1a": [930.0], "e1b": [1240.0], "e1b1": [310.0], "e2": [1550.0], "e2a": [620.0],
            "e3": [310.0], "e3a": [372.0], "inc": [9300.0]}
    parts = split(CAMPUS, Kind.ELECTRICITY, uses)
    assert parts.building("b1") == {"01A00": [930.0], "01B00": [1240.0 - 310.0], "01B10": [310.0],
                                    "unitemised": [3100.0 - 930.0 - 1240.0]}
    assert parts.building("b2") == {"01B20": [620.0], "01D20": [1550.0 - 620.0]}  # the canteen's own: 01D20
    assert parts.building("b3") == {"01A10": [372.0], "unitemised": [310.0 - 372.0]}
    for b, main in (("b1", 3100), ("b2", 1550), ("b3", 310)):
        assert parts.total(b, 0) == main  # items + 未分项 = the building, exactly
    assert [(n.meter, n.building, n.amount) for n in parts.negative] == [("e3", "b3", -62.0)]
    assert "inc" not in {m for per in parts.meters.values() for ms in per.values() for m in ms}
    water = split(CAMPUS, Kind.WATER, {"w1": [620.0], "w1s": [155.0]})
    assert water.building("b1") == {"02000": [465.0 + 155.0]}  # water is not split further: no 未分项
    # a main meter without its sub-meters counts whole; a sub-meter without its main meter counts nowhere
    assert split(CAMPUS, Kind.ELECTRICITY, {"e1": [3100.0]}).building("b1") == {"unitemised": [3100.0]}
    assert split(CAMPUS, Kind.ELECTRICITY, {"e1a": [930.0]}).use == {}


def test_consumption_by_item_equals_the_buildings(usage: SiteUsage) -> None:
    by_item = october(usage, Kind.ELECTRICITY, GroupBy.ITEM)
    got = {g.key: g.total for g in by_item.groups}
    assert got == pytest.approx(SITE_ITEMS)
    assert list(got) == ["01A00", "01A10", "01B00", "01B10", "01B20", "01D20", "unitemised"]  # 未分项 last
    site = october(usage, Kind.ELECTRICITY, GroupBy.SITE)
    assert by_item.total == pytest.approx(site.total) == pytest.approx(3100 + 1550 + 310)
    names = {g.key: g.name for g in by_item.groups}
    assert names["01A00"] == "照明插座用电"
    assert names["unitemised"] == "未分项"
    unitemised = next(g for g in by_item.groups if g.key == "unitemised")
    assert unitemised.meters == ["e1", "e3"]
    assert unitemised.coverage() == 1.0
    assert [n.meter for n in by_item.negative] == ["e3"]
    gas = october(usage, Kind.GAS, GroupBy.ITEM)
    assert {g.key: g.total for g in gas.groups} == pytest.approx({"03A00": 124, "unitemised": 0})  # shown at 0


def test_the_report_carries_the_item_table(report: EnergyReport) -> None:
    rows = {(r.building, r.kind.value): r for r in report.items}
    b1 = rows[("b1", "electricity")]
    assert b1.code == "330106D001"
    assert b1.building_name == "教学楼A"
    assert {i.item: i.value for i in b1.items} == pytest.approx(
        {"01A00": 930, "01B00": 930, "01B10": 310, "unitemised": 930})
    for (building, kind), row in rows.items():
        assert sum(i.value for i in row.items) == pytest.approx(row.total)
        if building != "s":
            figures = next(b for b in report.buildings if b.id == building).figures
            assert row.total == pytest.approx(getattr(figures, {"electricity": "electricity_kwh", "water": "water_m3",
                                                                "gas": "gas_m3"}[kind]))
    assert rows[("b2", "electricity")].unitemised == 0
    assert rows[("b2", "electricity")].items[-1].item == "unitemised"
    b3 = rows[("b3", "electricity")]
    assert (b3.unitemised, b3.total) == (pytest.approx(-62), pytest.approx(310))
    assert (b3.negative, b3.code) == (["宿舍总表"], None)
    assert [i.item for i in rows[("b1", "water")].items] == ["02000"]
    site = rows[("s", "electricity")]
    assert {i.item: i.value for i in site.items} == pytest.approx(SITE_ITEMS)
    assert site.total == pytest.approx(report.site_total.figures.electricity_kwh)
    assert "分项能耗数据采集技术导则" in report.items_source


def test_csv_xlsx_pdf_show_the_item_table(report: EnergyReport, tmp_path: Path) -> None:
    s = load_settings(None, data_dir=tmp_path).report
    rows = list(csv.reader(io.StringIO(render(report, "csv", s).decode("utf-8-sig"))))
    at = rows.index(["# 分项能耗"])
    assert rows[at + 1] == ["建筑", "建筑编码", "能源", "分项编码", "分项", "用量", "单位", "说明"]
    body = rows[at + 2:rows.index([], at)]
    assert ["教学楼A", "330106D001", "电", "01A00", "照明插座用电", "930.0", "kWh", ""] in body
    negative = next(r for r in body if r[0] == "学生宿舍" and r[4] == "未分项")
    assert (negative[1], negative[3], float(negative[5])) == ("—", "—", -62.0)
    assert "分表读数之和大于总表" in negative[7]
    assert "宿舍总表" in negative[7]
    assert ["学生宿舍", "—", "电", "—", "合计", "310.0", "kWh", "各分项 + 未分项 = 建筑总用量"] in body

    book = load_workbook(io.BytesIO(render(report, "xlsx", s)))
    sheet = book["分项能耗"]
    cells = [r for r in sheet.iter_rows(min_row=2, values_only=True) if r[0] == "全校合计" and r[2] == "电"]
    assert {r[4]: r[5] for r in cells} == pytest.approx({**{item_name(k): v for k, v in SITE_ITEMS.items()},
                                                          "合计": 4960})
    assert all(isinstance(r[5], float | int) for r in cells)

    english = report.model_copy(update={"language": "en", "items": build_en(report)})
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(render(english, "pdf", s))).pages)
    assert "Sub-item energy" in text
    assert "Unitemised" in text
    assert "Lighting and sockets" in text
    zh = "".join(p.extract_text() for p in PdfReader(io.BytesIO(render(report, "pdf", s))).pages)
    assert "分项能耗" in zh
    assert "未分项" in zh
    assert "330106D001" in zh


def build_en(report: EnergyReport) -> list:  # type: ignore[type-arg]
    """The same rows with English item names (the report is built in one language)."""
    return [r.model_copy(update={"items": [i.model_copy(update={"name": item_name(i.item, "en")}) for i in r.items]})
            for r in report.items]


def test_items_by_name_or_code() -> None:
    assert item_code("照明插座用电", Kind.ELECTRICITY) == item_code("照明插座", Kind.ELECTRICITY) == "01A00"
    assert item_code("1000", Kind.ELECTRICITY) == "01000"  # a spreadsheet's number, zero put back
    assert item_code("Lighting and sockets", Kind.ELECTRICITY) == "01A00"
    assert item_code("01d20 厨房餐厅", Kind.ELECTRICITY) == "01D20"
    with pytest.raises(ValueError, match="01D20 is 厨房餐厅, not 洗衣房"):
        item_code("01D20 洗衣房", Kind.ELECTRICITY)
    with pytest.raises(ValueError, match="water item, not electricity"):
        item_code("水", Kind.ELECTRICITY)
    with pytest.raises(ValueError, match="neither an energy item code nor its name"):
        item_code("路灯", Kind.ELECTRICITY)
    assert splits_further("01000")
    assert splits_further("03000")
    assert not splits_further("02000")


def test_a_sub_meter_naming_no_item_has_its_parents_and_a_virtual_meter_none() -> None:
    """The lighting meter's own sub-meter measures lighting; a virtual meter is made of other meters' use."""
    campus = parse_campus(CAMPUS_YAML.replace(
        "  - {id: e3, name: 宿舍总表,",
        "  - {id: e1a1, name: 照明分支, kind: electricity, building: b1, interval_s: 86400, parent: e1a}\n"
        "  - {id: e1x, name: 空调余量, kind: electricity, building: b1, virtual: e1b - e1b1}\n"
        "  - {id: e3, name: 宿舍总表,"))
    devices = {d.id: d for d in campus.devices}
    assert campus.item_of(devices["e1a1"]) == "01A00"   # its parent's
    assert campus.item_of(devices["e1b1"]) == "01B10"   # its own, not its parent's
    assert campus.item_of(devices["e1"]) == "01000"     # a main meter naming none: its kind's default
    assert campus.item_of(devices["w1s"]) == "02000"
    assert campus.item_of(devices["e1x"]) is None
    parts = split(campus, Kind.ELECTRICITY, {d: [1.0] for d in ("e1", "e1a", "e1a1", "e1b", "e1b1")})
    assert parts.building("b1")["01A00"] == [1.0]        # e1a less e1a1, plus e1a1: both lighting


def test_a_meter_shared_by_items_puts_its_parts_under_each() -> None:
    """e1b's own 930 kWh (tests/support/items.py) at 01B00 70 %, 01C00 30 %: 651 and 279; the building's items plus
    未分项 still equal its 3100."""
    campus = parse_campus(CAMPUS_YAML.replace("parent: e1, item: 01B00}", 'parent: e1, item: "空调 70%, 01C00 30%"}'))
    e1b = next(d for d in campus.devices if d.id == "e1b")
    assert e1b.item == "01B00 70%, 01C00 30%"
    assert campus.items_of(e1b) == {"01B00": 0.7, "01C00": 0.3}
    assert campus.item_of(e1b) == "01B00"
    uses = {"e1": [3100.0], "e1a": [930.0], "e1b": [1240.0], "e1b1": [310.0]}
    b1 = split(campus, Kind.ELECTRICITY, uses).building("b1")
    assert {k: v[0] for k, v in b1.items()} == pytest.approx({"01A00": 930, "01B00": 651, "01B10": 310,
                                                              "01C00": 279, "unitemised": 930})
    assert sum(v[0] for v in b1.values()) == pytest.approx(3100)


SHARE_CODES = st.sampled_from(["01A00", "01B00", "01C00", "01D20", "照明插座", "空调用电", "Power"])


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=60), st.lists(st.tuples(SHARE_CODES, st.integers(0, 120)), max_size=6).map(
    lambda parts: "，".join(f"{c} {p}%" for c, p in parts))))
def test_item_shares_are_read_or_refused_in_words(text: str) -> None:
    """Any cell: shares adding up to 100 of distinct items, read back the same from their canonical text, or a
    ValueError that says what to write; nothing else."""
    try:
        shares = item_shares(text, Kind.ELECTRICITY)
    except ValueError as exc:
        assert str(exc).startswith("item")  # noqa: PT017 - the message is what people read
        return
    assert sum(shares.values()) == pytest.approx(1.0)
    assert all(0 < f <= 1 for f in shares.values())
    assert item_shares(item_text(shares), Kind.ELECTRICITY) == pytest.approx(shares)


# -- building codes: accepted iff valid ---------------------------------------------------------------------------
VALID = re.compile(r"(1[1-5]|2[1-3]|3[1-7]|4[1-6]|5[0-4]|6[1-5]|71|81|82)[0-9]{4}[A-H][0-9]{3}")
CHARS = st.sampled_from("0123456789ABCDEFGHIJKZabd-/ ０１٣\u00a0")


@st.composite
def codes(draw: st.DrawFn) -> str:
    """Ten characters: random, or a valid code with one character changed (near misses find the edges)."""
    if draw(st.booleans()):
        return "".join(draw(st.lists(CHARS, min_size=10, max_size=10)))
    province = draw(st.sampled_from(["11", "33", "37", "44", "65", "71", "82", "00", "10", "16", "39", "99"]))
    code = province + draw(st.from_regex(r"[0-9]{4}[A-H][0-9]{3}", fullmatch=True))
    at, ch = draw(st.integers(0, 9)), draw(CHARS)
    return code[:at] + ch + code[at + 1:] if draw(st.booleans()) else code


@settings(max_examples=300, deadline=None)
@given(codes())
def test_a_building_code_is_accepted_iff_valid(code: str) -> None:
    if VALID.fullmatch(code):
        assert check_building_code(code) == code
    else:
        with pytest.raises(ValueError, match="building code"):
            check_building_code(code)


@pytest.mark.parametrize(("code", "says"), [
    ("330106D01", "has 9 characters, not 10"),
    ("33010AD001", "the first 6 characters are the administrative division"),
    ("990106D001", "99 is no province's code"),
    ("330106X001", "the 7th character is the category, one of A–H"),
    ("330106D0O1", "the last 3 characters are the building's number"),
])
def test_a_malformed_building_code_is_refused_with_what_is_wrong(code: str, says: str) -> None:
    text = CAMPUS_YAML.replace("code: 330106D001", f"code: '{code}'")
    with pytest.raises(ConfigError, match=re.escape(says)):
        parse_campus(text)
