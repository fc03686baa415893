"""The summary's extras for the costs view, on the small campus worked by hand (tests/support/billing.py): the
payers' electricity by band, the month's projected total, and the newest reading the figures include.

Ten days into October (readings up to 2026-10-11 00:00, the desk's clock frozen there), at constant power:
7 holiday days (Oct 1-7) and 3 ordinary ones, so per kW: sharp 2×10 = 20 h, peak 4×7 + 5×3 = 43 h, flat 6×7 + 9×3
= 69 h, valley 8×10 = 80 h, deep valley 4×7 = 28 h. The canteen (40 kW) and the shop (4 kW) pay the ``tou`` prices
of Oct 1-14, so the payers' bands are 44 kW × those hours:
  sharp 880 kWh × 1.30 = 1144.00, peak 1892 × 1.00 = 1892.00, flat 3036 × 0.60 = 1821.60,
  valley 3520 × 0.30 = 1056.00, deep valley 1232 × 0.20 = 246.40;
the office (0.8 × 20 kW × 240 h = 3840 kWh) pays the single price: 3840 × 0.5588 = 2145.792 → 2145.79.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.config import BillingSettings
from billing.desk import BillingDesk
from billing.statements import Summary, scale
from campus.db import DataDir
from ingest.status import PresenceStore
from ingest.stores.sqlite import SqliteStore
from reports.usage import Usage
from tests.support.billing import BILLING, CAMPUS, TZ, readings

D = Decimal
TEN_DAYS = dt.datetime(2026, 10, 11, tzinfo=TZ)


@contextmanager
def desk(tmp: Path, readings_until: dt.datetime, now: dt.datetime, billing: str = BILLING) -> Iterator[BillingDesk]:
    """A billing desk over the readings up to ``readings_until``, its clock frozen at ``now``."""
    path = tmp / "billing.yaml"
    path.write_text(billing, encoding="utf-8")
    store, presence = SqliteStore(DataDir(tmp).readings), PresenceStore(DataDir(tmp).state)
    usage = Usage(tmp, store, lambda: {CAMPUS.site.id: CAMPUS}, presence)
    got = BillingDesk(tmp, BillingSettings(file=path), lambda: {CAMPUS.site.id: CAMPUS}, usage,
                      clock=lambda: now.timestamp())
    try:
        cut = int(readings_until.timestamp() * 1000)
        store.write([r for r in readings() if r.ts <= cut])
        yield got
    finally:
        got.close()
        usage.close()
        store.close()
        presence.close()


def summary(d: BillingDesk, month: str = "2026-10", language: str = "zh-CN") -> Summary:
    return d.summary(d.biller(CAMPUS.site.id, month, language=language))[0]


@pytest.fixture(scope="module")
def so_far(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Summary]:
    with desk(tmp_path_factory.mktemp("ten-days"), TEN_DAYS, TEN_DAYS) as d:
        yield summary(d)


def test_the_payers_electricity_by_band_to_the_fen(so_far: Summary) -> None:
    assert [(b.band, b.band_name, b.use, b.amount) for b in so_far.bands] == [
        ("sharp", "尖峰", D("880.00"), D("1144.00")), ("peak", "高峰", D("1892.00"), D("1892.00")),
        ("flat", "平段", D("3036.00"), D("1821.60")), ("valley", "低谷", D("3520.00"), D("1056.00")),
        ("deep_valley", "深谷", D("1232.00"), D("246.40")), ("flat_rate", "单一电价", D("3840.00"), D("2145.79"))]
    shop = next(p for p in so_far.payers if p.payer == "shop")
    assert [(b.band, b.amount) for b in shop.bands] == [
        ("sharp", D("104.00")), ("peak", D("172.00")), ("flat", D("165.60")), ("valley", D("96.00")),
        ("deep_valley", D("22.40"))]
    assert shop.total == D("560.00")


def test_the_bands_add_up_to_the_payers_electricity(so_far: Summary) -> None:
    for p in so_far.payers:  # no fees, allowances or incentives here: a payer's electricity is its use lines
        assert sum((b.amount for b in p.bands), D(0)) <= p.total
    by_band = {b.band: b.amount for b in so_far.bands}
    for band, amount in by_band.items():
        assert amount == sum((b.amount for p in so_far.payers for b in p.bands if b.band == band), D(0))


def test_the_month_is_projected_from_ten_days_of_thirty_one(so_far: Summary) -> None:
    office = next(p for p in so_far.payers if p.payer == "office")
    assert office.total == D("2145.79")
    assert office.projected == D("6651.95")          # 2145.79 × 31 ÷ 10 = 6651.949 → 6651.95
    for p in so_far.payers:  # only use lines here: each × 31 ÷ 10
        assert p.projected == (p.total * 31 / 10).quantize(D("0.01"), rounding=ROUND_HALF_UP)
    assert so_far.projected_total == sum((p.projected or D(0) for p in so_far.payers), D(0))
    assert so_far.as_of == TEN_DAYS  # the readings at midnight are the newest


def _office(tmp: Path, billing: str) -> tuple[Decimal, Decimal | None]:
    assert billing != BILLING
    with desk(tmp, TEN_DAYS, TEN_DAYS, billing) as d:
        office = next(p for p in summary(d).payers if p.payer == "office")
        statement = d.statement(d.biller(CAMPUS.site.id, "2026-10"), "office")
    assert statement.projected == office.projected
    return office.total, office.projected


def test_a_monthly_fee_is_counted_once(tmp_path: Path) -> None:
    fee = BILLING.replace("versions: [{from: 2024-01-01, price: 0.5588}]",
                          "versions: [{from: 2024-01-01, price: 0.5588, monthly_fee: 50}]")
    assert _office(tmp_path, fee) == (D("2195.79"), D("6701.95"))  # 50 + 2145.79 × 31 ÷ 10


def test_an_allowance_is_taken_off_the_projected_use(tmp_path: Path) -> None:
    # 3840 kWh so far, all free; 11904 kWh by the month's end, 10000 of them free at 0.5588
    allowance = BILLING.replace("floor_area_m2: 1000, tariffs: {electricity: school}}",
                                "floor_area_m2: 1000, tariffs: {electricity: school}, allowance: {electricity: 10000}}")
    assert _office(tmp_path, allowance) == (D("0.00"), D("6651.95") - D("5588.00"))


def test_an_incentive_is_settled_on_the_projected_use(tmp_path: Path) -> None:
    # the canteen's 40 kW: 9600 kWh in ten days, 29760 by the month's end, its target: no reward for the month,
    # though ten days are far below a month's target (and no reward so far either: a month not over pays none,
    # billing/incentives.py rule 6)
    target = BILLING + ("incentives:\n  - {payer: canteen, kind: electricity, target: 29760, reward_per_unit: 0.10,"
                        " penalty_per_unit: 0.20, dead_band: 0.05, reward_cap: 1000}\n")
    with desk(tmp_path, TEN_DAYS, TEN_DAYS, target) as d:
        canteen = next(p for p in summary(d).payers if p.payer == "canteen")
        lines = d.statement(d.biller(CAMPUS.site.id, "2026-10"), "canteen").lines
    assert [ln.amount for ln in lines if ln.section == "incentive"] == []
    electricity = sum((ln.amount for ln in lines if ln.kind == "electricity" and ln.section == "use"), D(0))
    water = sum((ln.amount for ln in lines if ln.kind == "water"), D(0))
    assert electricity == D("5600.00")
    assert canteen.total == electricity + water
    assert canteen.projected == scale(electricity, 10, 31) + scale(water, 10, 31)  # at its target: no reward


def test_a_month_that_is_over_has_no_projection(tmp_path: Path) -> None:
    end = dt.datetime(2026, 11, 1, 1, tzinfo=TZ)
    with desk(tmp_path, end, dt.datetime(2026, 11, 2, 9, tzinfo=TZ)) as d:
        over = summary(d, language="en")
        november = summary(d, "2026-11")
        december = summary(d, "2026-12")
    assert over.projected_total is None
    assert all(p.projected is None for p in over.payers)
    assert over.as_of == dt.datetime(2026, 11, 1, tzinfo=TZ)  # the month's end, not the readings after it
    assert [b.band_name for b in over.bands][:2] == ["sharp peak", "peak"]
    assert over.payers_total == D("29881.44")           # the figures worked by hand, unchanged
    assert november.projected_total is not None          # the current month: one hour and more of it gone
    assert november.as_of == end
    assert december.projected_total is None              # not begun
    assert december.bands == [] or all(b.use == 0 for b in december.bands)


@given(amount=st.decimals(min_value=0, max_value=10**7, places=2),
       month_h=st.sampled_from([28 * 24, 29 * 24, 30 * 24, 31 * 24, 31 * 24 - 1, 31 * 24 + 1]),
       elapsed=st.floats(min_value=0, max_value=1.0))
def test_a_line_at_the_month_s_end_is_never_below_it_so_far(amount: Decimal, month_h: int, elapsed: float) -> None:
    month_ms = month_h * 3_600_000
    elapsed_ms = max(3_600_000, min(month_ms, int(month_ms * elapsed)))
    got = scale(amount, elapsed_ms, month_ms)
    assert got >= amount
    assert got == got.quantize(D("0.01"))
    assert scale(amount, month_ms, month_ms) == amount  # at the month's end: what it came to
    if elapsed_ms < month_ms:
        assert scale(amount, elapsed_ms + 3_600_000, month_ms) <= got  # later, nearer the figures so far
