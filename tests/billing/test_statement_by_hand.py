"""October 2026 statements of a small campus, checked to the fen against the figures worked by hand in
tests/support/billing.py: a tariff change on the 15th, a summer schedule with a sharp window, a holiday week
with deep valley, a meter replaced mid-month, a meter shared by floor area, a monthly fee and a demand charge."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from billing.book import Book
from billing.config import parse_billing
from billing.statements import Biller, Statement
from campus.db import DataDir
from ingest.status import PresenceStore
from ingest.stores.sqlite import SqliteStore
from reports.usage import Usage
from tests.support.billing import BILLING, CAMPUS, NOW_MS, TZ, readings

D = Decimal


@pytest.fixture(scope="module")
def biller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Biller]:
    tmp: Path = tmp_path_factory.mktemp("billing")
    store, presence = SqliteStore(DataDir(tmp).readings), PresenceStore(DataDir(tmp).state)
    usage = Usage(tmp, store, lambda: {CAMPUS.site.id: CAMPUS}, presence)
    try:
        store.write(readings())
        site = usage.site()
        site.refresh()
        book = Book.build(CAMPUS, parse_billing(BILLING)[None])
        yield Biller(book, site.rollups, store, "2026-10", dt.datetime.fromtimestamp(NOW_MS / 1000, TZ))
    finally:
        usage.close()
        store.close()
        presence.close()


def _bands(s: Statement, meter: str, start: str) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    return {ln.band or "": (ln.use, ln.price, ln.amount) for ln in s.lines
            if ln.meter == meter and ln.section == "use" and ln.start == dt.date.fromisoformat(start)}


def test_canteen_to_the_fen(biller: Biller) -> None:
    s = biller.statement("canteen")
    assert _bands(s, "e2", "2026-10-01") == {
        "sharp": (D("1120.00"), D("1.30"), D("1456.00")), "peak": (D("2520.00"), D("1.00"), D("2520.00")),
        "flat": (D("4200.00"), D("0.60"), D("2520.00")), "valley": (D("4480.00"), D("0.30"), D("1344.00")),
        "deep_valley": (D("1120.00"), D("0.20"), D("224.00"))}
    assert _bands(s, "e2", "2026-10-15") == {
        "sharp": (D("1360.00"), D("1.40"), D("1904.00")), "peak": (D("3400.00"), D("1.10"), D("3740.00")),
        "flat": (D("6120.00"), D("0.65"), D("3978.00")), "valley": (D("5440.00"), D("0.32"), D("1740.80"))}
    assert _bands(s, "w2", "2026-10-01") == {"flat_rate": (D("372.00"), D("5.00"), D("1860.00"))}
    assert s.total == D("21286.80")
    assert s.total == sum(ln.amount for ln in s.lines)


def test_a_price_change_splits_the_month_at_its_date(biller: Biller) -> None:
    s = biller.statement("canteen")
    first = [ln for ln in s.lines if ln.meter == "e2" and ln.start == dt.date(2026, 10, 1)]
    second = [ln for ln in s.lines if ln.meter == "e2" and ln.start == dt.date(2026, 10, 15)]
    assert {ln.end for ln in first if ln.band != "deep_valley"} == {dt.date(2026, 10, 14)}
    assert {ln.end for ln in first if ln.band == "deep_valley"} == {dt.date(2026, 10, 7)}  # the holiday week
    assert {ln.end for ln in second} == {dt.date(2026, 10, 31)}
    # the register at the split is the reading at midnight on the 15th, not interpolated
    reg = second[0].start_register
    assert reg is not None
    assert not reg.interpolated
    assert len(reg.readings) == 1


def test_the_replaced_meter_is_listed_and_its_use_continues(biller: Biller) -> None:
    s = biller.statement("canteen")
    assert [(e.meter, e.flag, e.raw_to) for e in s.events] == [("e2", "new_cycle", 10.0)]
    assert sum(ln.use for ln in s.lines if ln.meter == "e2") == D("29760.00")  # 40 kW × 744 h, nothing lost


def test_interpolated_registers_are_marked_and_traced(biller: Biller) -> None:
    s = biller.statement("canteen")
    water = next(ln for ln in s.lines if ln.meter == "w2")
    assert water.start_register is not None
    assert water.end_register is not None
    assert water.start_register.interpolated
    assert water.start_register.value == pytest.approx(311.75)
    assert [r.value for r in water.start_register.readings] == [311.5, 312.0]  # 23:30 and 00:30 around midnight
    assert water.end_register.value == pytest.approx(311.75 + 372)


def test_shared_meter_by_area(biller: Biller) -> None:
    office, shop = biller.statement("office"), biller.statement("shop")
    assert [(ln.share, ln.use, ln.amount) for ln in office.lines] == [(0.8, D("11904.00"), D("6651.96"))]
    assert office.total == D("6651.96")   # 11904 × 0.5588 = 6651.9552, half up
    assert shop.total == D("1942.68")
    assert {ln.share for ln in shop.lines} == {0.2}


def test_incomer_monthly_fee_demand_and_summary(biller: Biller) -> None:
    totals = {p: biller.statement(p).total for p in biller.book.payers}
    summary = biller.summary(totals)
    inc = summary.incomer[0]
    assert (inc.use, inc.main_meters_use, inc.remainder_use) == (D("74420.00"), D("44640.00"), D("29780.00"))
    assert inc.amount == D("51952.00")
    got = biller.incomer(biller.book.billing.incomer.__iter__().__next__())
    assert got is not None
    by_section = {ln.section: (ln.use, ln.amount) for ln in got[1]}
    assert by_section["fixed"] == (D(1), D("100.00"))
    assert by_section["demand"] == (D("180.00"), D("7200.00"))
    assert summary.payers_total == D("29881.44")
    assert summary.school_share == D("22070.56")
