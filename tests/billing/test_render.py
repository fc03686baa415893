"""The statement and the summary in CSV, XLSX and PDF, read back: the October statements worked by hand
(tests/support/billing.py), a 375-line statement that must not lose a line, a hostile one (formulas for names,
very long names, 2000 lines) in bounded time, and the capital numerals (大写金额) against a plain reference."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from pypdf import PdfReader

from billing.book import Book
from billing.config import parse_billing
from billing.render import FORMATS, render_statement, render_summary
from billing.render.capital import capital
from billing.statements import Biller, Line, Statement, Summary
from billing.tariffs import TariffKind
from campus.db import DataDir
from ingest.status import PresenceStore
from ingest.stores.sqlite import SqliteStore
from reports.usage import Usage
from tests.support.billing import BILLING, CAMPUS, NOW_MS, TZ, readings

D = Decimal
EVIL = "=cmd|' /C calc'!A0"


@pytest.fixture(scope="module")
def october(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Statement], Summary]]:
    tmp: Path = tmp_path_factory.mktemp("render")
    store, presence = SqliteStore(DataDir(tmp).readings), PresenceStore(DataDir(tmp).state)
    usage = Usage(tmp, store, lambda: {CAMPUS.site.id: CAMPUS}, presence)
    try:
        store.write(readings())
        site = usage.site()
        site.refresh()
        book = Book.build(CAMPUS, parse_billing(BILLING)[None])
        biller = Biller(book, site.rollups, store, "2026-10", dt.datetime.fromtimestamp(NOW_MS / 1000, TZ))
        statements = {p: biller.statement(p) for p in book.payers}
        yield statements, biller.summary({p: s.total for p, s in statements.items()})
    finally:
        usage.close()
        store.close()
        presence.close()


@pytest.fixture(scope="module")
def canteen(october: tuple[dict[str, Statement], Summary]) -> Statement:
    s = october[0]["canteen"]
    # the JSON is what the API serves: render what a client would get back from it
    return Statement.model_validate_json(s.model_dump_json())


def _csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def _table(rows: list[list[str]], first: str, until: str) -> tuple[list[str], list[list[str]], list[str]]:
    """The header row beginning with ``first``, the rows under it and the row beginning with ``until``."""
    start = next(i for i, row in enumerate(rows) if row[:1] == [first])
    end = next(i for i in range(start + 1, len(rows)) if rows[i][:1] == [until])
    return rows[start], rows[start + 1:end], rows[end]


def _pdf_lines(data: bytes) -> tuple[int, list[str]]:
    reader = PdfReader(io.BytesIO(data))
    return len(reader.pages), [x.strip() for p in reader.pages for x in p.extract_text().splitlines()]


def _money(x: Decimal) -> str:
    return f"{x:,.2f}"


# -- the October statement, read back ------------------------------------------------------------------------
def test_csv_has_every_line_exactly(canteen: Statement) -> None:
    data, media = render_statement(canteen, "csv", "zh-CN")
    assert media.startswith("text/csv")
    rows = _csv_rows(data)
    assert rows[1:5] == [["学校/校区", "测试中学"], ["结算方", "食堂承包方"], ["结算方类型", "食堂承包方"],
                         ["结算月份", "2026-10"]]
    head, body, total = _table(rows, "项目", "合计")
    col = {name: i for i, name in enumerate(head)}
    assert len(body) == len(canteen.lines)
    for row, ln in zip(body, canteen.lines, strict=True):
        assert row[col["表计"]] == ln.meter_name
        assert (D(row[col["用量"]]), D(row[col["单价(元/单位)"]]), D(row[col["金额(元)"]])) == (ln.use, ln.price,
                                                                                              ln.amount)
        assert row[col["金额(元)"]] == str(ln.amount)  # exact text: 1740.80, not 1740.8
        assert ln.start_register is not None
        assert ln.start_register.value is not None
        assert float(row[col["起码"]]) == ln.start_register.value
        assert row[col["起码插值"]] == ("是" if ln.start_register.interpolated else "否")
    assert D(total[col["金额(元)"]]) == canteen.total == D("21286.80")
    assert sum(D(row[col["金额(元)"]]) for row in body) == canteen.total
    words = rows[rows.index(total) + 1]
    assert words == ["大写金额", "人民币贰万壹仟贰佰捌拾陆元捌角整"]
    events = next(i for i, row in enumerate(rows) if row[:1] == ["表计事件 (换表/归零)"])
    assert rows[events + 2][:3] == ["食堂电表", "e2", "换表或归零"]


def test_xlsx_has_every_line_as_numbers(canteen: Statement) -> None:
    data, media = render_statement(canteen, "xlsx", "zh-CN")
    assert media.endswith("spreadsheetml.sheet")
    wb = load_workbook(io.BytesIO(data))
    try:
        ws = wb.active
        assert ws is not None
        cells = list(ws.iter_rows())
        values = [[c.value for c in row] for row in cells]
        assert values[2][:2] == ["结算方", "食堂承包方"]
        start = next(i for i, row in enumerate(values) if row[0] == "项目")
        col = {name: i for i, name in enumerate(values[start]) if name is not None}
        body = cells[start + 1:start + 1 + len(canteen.lines)]
        for row, ln in zip(body, canteen.lines, strict=True):
            use, amount = row[col["用量"]], row[col["金额(元)"]]
            assert isinstance(amount.value, int | float)
            assert isinstance(use.value, int | float)
            assert (use.number_format, amount.number_format) == ("0.00", "0.00")
            assert D(str(amount.value)).quantize(D("0.01")) == ln.amount
            assert D(str(use.value)).quantize(D("0.01")) == ln.use
            assert row[col["表计"]].value == ln.meter_name
        total = cells[start + 1 + len(canteen.lines)]
        assert total[0].value == "合计"
        assert D(str(total[col["金额(元)"]].value)).quantize(D("0.01")) == canteen.total
        assert total[col["金额(元)"]].number_format == "0.00"
        assert wb.properties.modified == canteen.generated_at.astimezone(dt.UTC).replace(tzinfo=None)
    finally:
        wb.close()


def test_pdf_shows_every_line_the_total_and_the_signatures(canteen: Statement) -> None:
    data, media = render_statement(canteen, "pdf", "zh-CN")
    assert media == "application/pdf"
    pages, lines = _pdf_lines(data)
    assert pages == 1
    text = "\n".join(lines)
    for needle in ("内部结算单 / 能源费用结算", "学校/校区：测试中学", "结算方：食堂承包方", "结算方类型：食堂承包方",
                   "结算月份：2026-10", "生成时间：2026-11-02 00:00 (Asia/Shanghai)", "食堂电表", "食堂水表",
                   "≈311.75", "插值", "旧表止码 27,680.00 → 新表起码 10.00", "合计 (元)", "21,286.80",
                   "大写金额：人民币贰万壹仟贰佰捌拾陆元捌角整", "结算方（承包方）签字：", "后勤处经办人：",
                   "后勤处负责人："):
        assert needle in text, needle
    # every line's amount, in the order of the table: by meter, then period, then band
    amounts = [_money(ln.amount) for ln in canteen.lines]
    found = [x for x in lines if x in amounts]
    assert sorted(found) == sorted(amounts)
    assert found[:5] == ["1,456.00", "2,520.00", "2,520.00", "1,344.00", "224.00"]  # sharp, peak, flat, valley, deep
    assert "12,345.67" not in text


def test_english(canteen: Statement, october: tuple[dict[str, Statement], Summary]) -> None:
    rows = _csv_rows(render_statement(canteen, "csv", "en")[0])
    head, body, total = _table(rows, "item", "total")
    assert {row[head.index("band")] for row in body} >= {"sharp peak", "peak", "flat", "valley", "deep valley"}
    assert D(total[head.index("amount (CNY)")]) == canteen.total
    _, lines = _pdf_lines(render_statement(canteen, "pdf", "en")[0])
    text = "\n".join(lines)
    for needle in ("Internal settlement statement", "payer: 食堂承包方", "sharp peak", "Total (CNY)", "21,286.80",
                   "Payer (contractor), signature:"):
        assert needle in text, needle
    _, lines = _pdf_lines(render_summary(october[1], "pdf", "en")[0])
    assert "The school's share" in lines


def test_office_share_shown(october: tuple[dict[str, Statement], Summary]) -> None:
    _, lines = _pdf_lines(render_statement(october[0]["office"], "pdf", "zh-CN")[0])
    assert "80%" in lines
    assert "6,651.96" in lines
    assert "大写金额：人民币陆仟陆佰伍拾壹元玖角陆分" in lines


def test_summary_in_every_format(october: tuple[dict[str, Statement], Summary]) -> None:
    summary = october[1]
    rows = _csv_rows(render_summary(summary, "csv", "zh-CN")[0])
    head, body, total = _table(rows, "结算方", "合计")
    assert {row[0]: D(row[3]) for row in body} == {"食堂承包方": D("21286.80"), "行政办公": D("6651.96"),
                                                   "小卖部": D("1942.68")}
    assert D(total[3]) == summary.payers_total == D("29881.44")
    inc_head, inc, inc_total = _table(rows[rows.index(total) + 1:], "能源", "合计")
    assert inc[0][1] == "10kV进线"
    assert [D(x) for x in inc[0][4:7]] == [D("74420.00"), D("44640.00"), D("29780.00")]
    assert D(inc_total[-1]) == D("51952.00")
    assert rows[-1] == ["学校承担 (进线费用 − 各结算方合计)", "22070.56"]

    wb = load_workbook(io.BytesIO(render_summary(summary, "xlsx", "zh-CN")[0]))
    try:
        ws = wb.active
        assert ws is not None
        values = [[c.value for c in row] for row in ws.iter_rows()]
        got = {row[0]: row[1] for row in values if row[0] and str(row[0]).startswith("学校承担")}
        assert D(str(next(iter(got.values())))).quantize(D("0.01")) == summary.school_share
        payer_rows = {row[0]: row[3] for row in values if row[0] in {"食堂承包方", "行政办公", "小卖部"}}
        assert {k: D(str(v)).quantize(D("0.01")) for k, v in payer_rows.items()} == {
            "食堂承包方": D("21286.80"), "行政办公": D("6651.96"), "小卖部": D("1942.68")}
    finally:
        wb.close()

    pages, lines = _pdf_lines(render_summary(summary, "pdf", "zh-CN")[0])
    assert pages == 1
    for needle in ("能源费用结算汇总", "食堂承包方", "21,286.80", "6,651.96", "1,942.68", "29,881.44", "10kV进线",
                   "74,420.00", "29,780.00", "51,952.00", "22,070.56", "后勤处负责人："):
        assert needle in lines, needle


def test_other_charges_estimates_and_missing_registers(canteen: Statement) -> None:
    first, last = dt.date(2026, 10, 1), dt.date(2026, 10, 31)
    water = next(ln for ln in canteen.lines if ln.meter == "w2")
    assert water.start_register is not None
    guessed = water.model_copy(update={"estimated_share": 0.25, "start_register": water.start_register.model_copy(
        update={"value": None, "interpolated": False})})
    lines = [*[ln for ln in canteen.lines if ln.meter != "w2"], guessed,
             Line(section="fixed", kind=TariffKind.ELECTRICITY, start=first, end=last, use=D(1), unit="月",
                  price=D(100), amount=D("100.00"), note="月固定费"),
             Line(section="allowance", kind=TariffKind.WATER, start=first, end=last, use=D("-10.00"), unit="m³",
                  price=D("5.0000"), amount=D("-50.00"), note="定额 10 m³ 内免费"),
             Line(section="incentive", start=first, end=last, use=D("1200.00"), unit="kWh", price=D("-0.10"),
                  amount=D("-120.00"), note="低于目标 1200 kWh")]
    s = canteen.model_copy(update={"lines": lines, "total": sum((ln.amount for ln in lines), D("0.00"))})
    rows = _csv_rows(render_statement(s, "csv", "zh-CN")[0])
    head, body, total = _table(rows, "项目", "合计")
    assert [row[0] for row in body[-3:]] == ["月固定费", "定额减免", "节能奖罚"]
    assert [D(row[head.index("金额(元)")]) for row in body[-3:]] == [D("100.00"), D("-50.00"), D("-120.00")]
    assert D(total[head.index("金额(元)")]) == s.total == D("21216.80")
    _, got = _pdf_lines(render_statement(s, "pdf", "zh-CN")[0])
    text = "\n".join(got)
    for needle in ("其他费用", "电 · 月固定费", "水 · 定额减免", "节能奖罚", "-50.00", "-120.00", "单一电价 †",
                   "† 估算", "食堂水表 25%", "— 该时刻之前没有读数。", "21,216.80",
                   "大写金额：人民币贰万壹仟贰佰壹拾陆元捌角整"):
        assert needle in text, needle


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_same_bytes_twice(october: tuple[dict[str, Statement], Summary], fmt: str) -> None:
    for s in october[0].values():
        for language in ("zh-CN", "en"):
            assert render_statement(s, fmt, language)[0] == render_statement(s, fmt, language)[0]
    assert render_summary(october[1], fmt, "zh-CN")[0] == render_summary(october[1], fmt, "zh-CN")[0]


def test_the_same_bytes_in_another_process(canteen: Statement, tmp_path: Path) -> None:
    """A filed statement is checked against its SHA-256 later, by another process: fonts, dates and ids fixed."""
    source = tmp_path / "statement.json"
    source.write_text(canteen.model_dump_json())
    script = ("import hashlib, sys\n"
              "from pathlib import Path\n"
              "from billing.render import render_statement\n"
              "from billing.statements import Statement\n"
              "s = Statement.model_validate_json(Path(sys.argv[1]).read_text())\n"
              "print(' '.join(hashlib.sha256(render_statement(s, f, 'zh-CN')[0]).hexdigest() for f in sys.argv[2:]))\n")
    done = subprocess.run([sys.executable, "-c", script, str(source), *FORMATS], capture_output=True, text=True,
                          timeout=60, check=True)
    here = [hashlib.sha256(render_statement(canteen, f, "zh-CN")[0]).hexdigest() for f in FORMATS]
    assert done.stdout.split() == here


def test_a_statement_without_lines(canteen: Statement) -> None:
    s = canteen.model_copy(update={"lines": [], "events": [], "total": D("0.00")})
    _, lines = _pdf_lines(render_statement(s, "pdf", "zh-CN")[0])
    assert "大写金额：人民币零元整" in lines
    _, body, total = _table(_csv_rows(render_statement(s, "csv", "zh-CN")[0]), "项目", "合计")
    assert body == []
    assert total[19] == "0.00"


def test_an_unknown_format_is_refused(canteen: Statement) -> None:
    with pytest.raises(ValueError, match="choose one of csv, xlsx, pdf"):
        render_statement(canteen, "docx", "zh-CN")


# -- long and hostile statements -----------------------------------------------------------------------------
def _long(s: Statement, n: int, name: str = "", payer: str = "") -> Statement:
    """``s`` with ``n`` lines (its own, repeated over many meters), each amount different."""
    lines: list[Line] = []
    for i in range(n):
        ln = s.lines[i % len(s.lines)]
        lines.append(ln.model_copy(update={
            "meter": f"m{i // 10}", "meter_name": f"{name or '表'}{i // 10}", "amount": D(i) + D("0.37")}))
    return s.model_copy(update={"lines": lines, "payer_name": payer or s.payer_name,
                                "total": sum((ln.amount for ln in lines), D("0.00"))})


def test_375_lines_nothing_cut_off(canteen: Statement) -> None:
    s = _long(canteen, 375)
    pages, lines = _pdf_lines(render_statement(s, "pdf", "zh-CN")[0])
    assert pages > 3
    assert sorted(x for x in lines if x.endswith(".37")) == sorted(_money(ln.amount) for ln in s.lines)
    assert lines.count("单价(元/单位)") == pages  # the header row on every page
    assert _money(s.total) in lines
    assert any(x.startswith("大写金额：人民币" + capital(s.total)) for x in lines)
    assert "后勤处负责人：" in lines


def test_one_meter_over_pages_keeps_its_heading(canteen: Statement) -> None:
    lines = [canteen.lines[i % 9].model_copy(update={"amount": D(i) + D("0.37")}) for i in range(150)]
    s = canteen.model_copy(update={"lines": lines, "total": sum((ln.amount for ln in lines), D("0.00"))})
    reader = PdfReader(io.BytesIO(render_statement(s, "pdf", "zh-CN")[0]))
    pages = [p.extract_text() for p in reader.pages]
    assert len(pages) > 2
    for text in pages[1:]:  # a page in the middle of the meter says which meter it is, under the header row
        assert "单价(元/单位)" in text
        assert "食堂电表" in text
    lines_out = [x.strip() for p in pages for x in p.splitlines()]
    assert sorted(x for x in lines_out if x.endswith(".37")) == sorted(_money(ln.amount) for ln in lines)
    assert any("（续）" in x for x in lines_out)


def test_a_hostile_statement_renders_in_bounded_time(canteen: Statement) -> None:
    s = _long(canteen, 2000, name=EVIL + "长" * 3000, payer=EVIL + "承包方" * 3000)
    s = s.model_copy(update={"site_name": "@SUM(A1)" * 500, "events": [e.model_copy(update={"meter_name": EVIL * 50})
                                                                        for e in canteen.events]})
    started = time.perf_counter()
    out = {fmt: render_statement(s, fmt, "zh-CN")[0] for fmt in FORMATS}
    assert time.perf_counter() - started < 60  # about 5 s on an idle machine
    rows = _csv_rows(out["csv"])
    assert rows[2] == ["结算方", "'" + s.payer_name]
    head, body, total = _table(rows, "项目", "合计")
    assert len(body) == 2000
    assert all(row[1].startswith("'=") for row in body)
    assert D(total[head.index("金额(元)")]) == s.total
    wb = load_workbook(io.BytesIO(out["xlsx"]))
    try:
        ws = wb.active
        assert ws is not None
        assert not [c for row in ws.iter_rows() for c in row if c.data_type == "f"]  # no formula anywhere
        assert ws.max_row > 2000
    finally:
        wb.close()
    reader = PdfReader(io.BytesIO(out["pdf"]))
    assert len(reader.pages) > 20
    assert _money(s.total) in reader.pages[-1].extract_text().splitlines()


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payer=names, meter=names)
def test_any_names_are_written_safely(canteen: Statement, payer: str, meter: str) -> None:
    s = canteen.model_copy(update={"payer_name": payer, "lines": [
        ln.model_copy(update={"meter_name": meter}) for ln in canteen.lines]})
    rows = _csv_rows(render_statement(s, "csv", "zh-CN")[0])
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)
    wb = load_workbook(io.BytesIO(render_statement(s, "xlsx", "en")[0]))
    try:
        ws = wb.active
        assert ws is not None
        assert not [c for row in ws.iter_rows() for c in row if c.data_type == "f"]
    finally:
        wb.close()
    assert render_statement(s, "pdf", "zh-CN")[0].startswith(b"%PDF")


# -- 大写金额 --------------------------------------------------------------------------------------------------
def _reference(fen: int) -> str:
    """Every digit with its place written out, then the zeros folded by the plain rules."""
    digits, yuan = "零壹贰叁肆伍陆柒捌玖", fen // 100
    places = ["仟", "佰", "拾", "亿", "仟", "佰", "拾", "万", "仟", "佰", "拾", "元"]
    text = "".join(digits[int(d)] + p for d, p in zip(f"{yuan:012d}", places, strict=True)) if yuan else ""
    text = re.sub("^(零[仟佰拾亿万]?)+", "", text)     # leading zeros
    text = re.sub("零[仟佰拾]", "零", text)              # a zero has no place
    text = re.sub("零+", "零", text)                     # a run of zeros is one
    text = re.sub("零([亿万元])", r"\1", text)           # a zero before a group's name goes
    text = text.replace("亿万", "亿")                    # an empty 万 group
    jiao, cents = fen // 10 % 10, fen % 10
    if jiao:
        text += digits[jiao] + "角"
    elif cents and yuan:
        text += "零"
    text += digits[cents] + "分" if cents else "整"
    return text if fen else "零元整"


@pytest.mark.parametrize(("amount", "words"), [
    ("12345.67", "壹万贰仟叁佰肆拾伍元陆角柒分"), ("0", "零元整"), ("0.50", "伍角整"), ("0.06", "陆分"),
    ("1.06", "壹元零陆分"), ("10", "壹拾元整"), ("1005", "壹仟零伍元整"), ("1000.50", "壹仟元伍角整"),
    ("100010000", "壹亿零壹万元整"), ("100000001", "壹亿零壹元整"), ("101000000", "壹亿零壹佰万元整"),
    ("110001000", "壹亿壹仟万壹仟元整"), ("21286.80", "贰万壹仟贰佰捌拾陆元捌角整"), ("-3.20", "负叁元贰角整"),
    ("0.005", "壹分"), ("999999999999.99", "玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
])
def test_capital_examples(amount: str, words: str) -> None:
    assert capital(D(amount)) == words


@settings(deadline=None)  # microseconds each; no deadline to trip on a busy machine
@given(st.integers(min_value=0, max_value=10**14 - 1))
def test_capital_agrees_with_the_reference(fen: int) -> None:
    assert capital(D(fen) / 100) == _reference(fen)


@settings(deadline=None)
@given(st.integers(min_value=0, max_value=10**4).flatmap(
    lambda head: st.integers(0, 10**14 - 1).map(lambda x: x // 10**(head % 13) * 10**(head % 13))))
def test_capital_agrees_on_round_amounts(fen: int) -> None:
    assert capital(D(fen) / 100) == _reference(fen)


def test_capital_refuses_what_it_cannot_write() -> None:
    with pytest.raises(ValueError, match="under 10"):
        capital(D(10**12))
