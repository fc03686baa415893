"""Rewards and penalties (奖罚) on the campus worked by hand in tests/support/billing.py, October 2026.

The incentives added to its billing file, and what each comes to, by hand:

  canteen (payer), electricity: use 29760 kWh (40 kW × 744 h), target 25000, dead band 5 % → 23750…26250;
      over by 29760 − 26250 = 3510 kWh × 0.20 = 702.00 元 penalty (cap 2000: not reached)
  office (payer), electricity: use 11904 kWh (0.8 × 20 kW × 744 h), target 13000, dead band 5 % → 12350…13650;
      saved 12350 − 11904 = 446 kWh × 0.10 = 44.60 元 reward (−44.60; cap 100: not reached)
  b1 行政楼 (building), electricity: use 14880 kWh (20 kW × 744 h), target 14000, no dead band;
      over by 880 kWh × 0.05 = 44.00 元
  b2 第一食堂 (building), gas: no gas meter, no use: no result
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.reporting import monthly_bulletin
from app.settings import Settings
from billing.book import Book
from billing.config import BillingSettings, Incentive, parse_billing
from billing.desk import BillingDesk
from billing.incentives import Gap, incentive_lines, results, settle
from billing.statements import Biller
from campus.db import DataDir
from ingest.status import PresenceStore
from ingest.stores.sqlite import SqliteStore
from reports.render import render_bulletin
from reports.usage import SiteUsage, Usage
from tests.support.billing import BILLING, CAMPUS, NOW_MS, TZ, readings

D = Decimal
INCENTIVES = """
incentives:
  - {payer: canteen, kind: electricity, target: 25000, reward_per_unit: 0.10, penalty_per_unit: 0.20,
     dead_band: 0.05, reward_cap: 1000, penalty_cap: 2000}
  - {payer: office, kind: electricity, target: 13000, reward_per_unit: 0.10, penalty_per_unit: 0.20,
     dead_band: 0.05, reward_cap: 100, penalty_cap: 2000}
  - {building: b1, kind: electricity, target: 14000, reward_per_unit: 0.05, penalty_per_unit: 0.05}
  - {building: b2, kind: gas, target: 100, reward_per_unit: 1, penalty_per_unit: 1}
"""


@dataclass
class Campus:
    site: SiteUsage
    settings: Settings

    def biller(self, month: str = "2026-10", extra: str = INCENTIVES, now: dt.datetime | None = None) -> Biller:
        book = Book.build(CAMPUS, parse_billing(BILLING + extra)[None])
        return Biller(book, self.site.rollups, self.site.store, month,
                      now or dt.datetime.fromtimestamp(NOW_MS / 1000, TZ))


@pytest.fixture(scope="module")
def campus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Campus]:
    tmp: Path = tmp_path_factory.mktemp("incentives")
    store, presence = SqliteStore(DataDir(tmp).readings), PresenceStore(DataDir(tmp).state)
    usage = Usage(tmp, store, lambda: {CAMPUS.site.id: CAMPUS}, presence)
    billing = tmp / "billing.yaml"
    billing.write_text(BILLING + INCENTIVES, encoding="utf-8")
    try:
        store.write(readings())
        site = usage.site()
        site.refresh()
        yield Campus(site, Settings(data_dir=tmp, billing=BillingSettings(file=billing)))
    finally:
        usage.close()
        store.close()
        presence.close()


def _by_who(biller: Biller) -> dict[str, tuple[Decimal, Decimal, Decimal, Decimal, str]]:
    return {r.who: (r.use, r.target, r.units, r.amount, r.outcome) for r in results(biller)}


def test_the_incentive_of_a_department_over_target_is_the_hand_computed_penalty(campus: Campus) -> None:
    """canteen: 29760 kWh against 25000 with a 5 % dead band (1250): over by 29760 − 26250 = 3510 kWh,
    × 0.20 元 = 702.00 元, under its cap of 2000."""
    got = _by_who(campus.biller())
    assert got["食堂承包方"] == (D("29760.00"), D(25000), D("3510.00"), D("702.00"), "penalty")


def test_a_reward_under_target_and_a_building_over_its_own(campus: Campus) -> None:
    """office: 11904 kWh against 13000 ± 650: saved 12350 − 11904 = 446 kWh × 0.10 = 44.60 元 (a reward: −44.60).
    行政楼 (b1, a building): 14880 kWh against 14000, no dead band: 880 × 0.05 = 44.00 元."""
    got = _by_who(campus.biller())
    assert got["行政办公"] == (D("11904.00"), D(13000), D("-446.00"), D("-44.60"), "reward")
    assert got["行政楼"] == (D("14880.00"), D(14000), D("880.00"), D("44.00"), "penalty")


def test_no_data_no_result(campus: Campus) -> None:
    """第一食堂 has no gas meter: no use, so no result (never a reward for a silent meter); a month without
    readings (December) has no result at all."""
    assert "第一食堂" not in _by_who(campus.biller())
    assert results(campus.biller("2026-12")) == []


def test_no_reward_before_the_month_is_over(campus: Campus) -> None:
    """Asked on 20 October (the test's readings run to the month's end all the same), the office is below its
    band: no reward yet, the month is not over (rule 6); the canteen is over its band: the penalty is owed."""
    got = {r.who: r for r in results(campus.biller(now=dt.datetime(2026, 10, 20, 12, tzinfo=TZ)))}
    office = got["行政办公"]
    assert (office.gap, office.outcome, office.amount) == ("unfinished", "none", D("0.00"))
    assert office.use < office.low
    assert (got["食堂承包方"].gap, got["食堂承包方"].amount) == ("unfinished", D("702.00"))


def test_no_reward_when_the_data_is_incomplete(tmp_path: Path) -> None:
    """The office building's meter silent from 2 to 16 October: its use still counts (the registers carry it),
    but with half the month's readings missing no reward is paid; the statement has no incentive line."""
    silent = (int(dt.datetime(2026, 10, 2, tzinfo=TZ).timestamp() * 1000),
              int(dt.datetime(2026, 10, 16, tzinfo=TZ).timestamp() * 1000))
    store, presence = SqliteStore(DataDir(tmp_path).readings), PresenceStore(DataDir(tmp_path).state)
    usage = Usage(tmp_path, store, lambda: {CAMPUS.site.id: CAMPUS}, presence)
    try:
        store.write([r for r in readings() if not (r.device == "e1" and silent[0] < r.ts < silent[1])])
        site = usage.site()
        site.refresh()
        biller = Campus(site, Settings(data_dir=tmp_path)).biller()
        office = next(r for r in results(biller) if r.who == "行政办公")
        assert office.use == D("11904.00")
        assert (office.gap, office.amount) == ("incomplete", D("0.00"))
        assert office.coverage == pytest.approx(0.55, abs=0.01)   # 17 of 31 days' readings
        assert incentive_lines(biller, "office", biller.statement("office")) == []
    finally:
        usage.close()
        store.close()
        presence.close()


def test_caps(campus: Campus) -> None:
    """A penalty cap of 500 holds the canteen's 702.00 at 500.00; a reward cap of 40 holds the office's 44.60 at
    40.00; the statement's line says it was capped."""
    capped = INCENTIVES.replace("penalty_cap: 2000}", "penalty_cap: 500}", 1)
    capped = capped.replace("reward_cap: 100", "reward_cap: 40")
    biller = campus.biller(extra=capped)
    got = _by_who(biller)
    assert got["食堂承包方"][3] == D("500.00")
    assert got["行政办公"][3] == D("-40.00")
    statement = biller.statement("canteen")
    lines = incentive_lines(biller, "canteen", statement)
    assert [(ln.section, ln.amount) for ln in lines] == [("incentive", D("500.00"))]
    assert "封顶 500.00 元" in lines[0].note


def test_the_penalty_is_a_line_of_the_payers_statement(campus: Campus) -> None:
    """The canteen's October statement: 21286.80 元 of use, and the 702.00 元 penalty: 21988.80 元."""
    desk = BillingDesk(campus.settings.data_dir, campus.settings.billing, lambda: {CAMPUS.site.id: CAMPUS},
                       campus.site.usage)
    try:
        statement = desk.statement(campus.biller(), "canteen")
    finally:
        desk.close()
    line = next(ln for ln in statement.lines if ln.section == "incentive")
    assert (line.use, line.price, line.amount) == (D("3510.00"), D("0.20"), D("702.00"))
    assert statement.total == D("21988.80")


def _inc(**kw: object) -> Incentive:
    return Incentive.model_validate({"payer": "p", "kind": "electricity", "reward_per_unit": "0.10",
                                     "penalty_per_unit": "0.20", "dead_band": 0.05, **kw})


@pytest.mark.parametrize(("use", "outcome", "amount"), [
    ("23750.00", "none", "0.00"),      # the band's lower edge, exactly: nothing
    ("26250.00", "none", "0.00"),      # the upper edge, exactly: nothing
    ("25000.00", "none", "0.00"),
    ("23749.90", "reward", "-0.01"),   # 0.10 kWh below the edge × 0.10 = 0.01
    ("26250.10", "penalty", "0.02"),   # 0.10 kWh above × 0.20 = 0.02
])
def test_the_dead_band_edges(use: str, outcome: str, amount: str) -> None:
    r = settle(_inc(), D(use), D(25000))
    assert (r.low, r.high) == (D("23750.00"), D("26250.00"))
    assert (r.outcome, r.amount) == (outcome, D(amount))


prices = st.decimals(min_value=0, max_value=100, places=4)
caps = st.none() | st.decimals(min_value=0, max_value=100_000, places=6)
uses = st.decimals(min_value=0, max_value=10_000_000, places=2)


@settings(max_examples=300, deadline=None)
@given(target=st.decimals(min_value="0.01", max_value=1_000_000, places=2), band=st.floats(0, 1),
       reward=prices, penalty=prices, reward_cap=caps, penalty_cap=caps, a=uses, b=uses,
       gap=st.sampled_from([None, "unfinished", "incomplete"]))
def test_the_amount_is_monotone_in_use_and_never_beyond_its_caps(
        target: Decimal, band: float, reward: Decimal, penalty: Decimal, reward_cap: Decimal | None,
        penalty_cap: Decimal | None, a: Decimal, b: Decimal, gap: Gap | None) -> None:
    """Whatever the incentive and the use: more use never costs less, no amount passes its cap, and a month not
    over (or not covered) earns no reward."""
    inc = _inc(reward_per_unit=reward, penalty_per_unit=penalty, dead_band=band, reward_cap=reward_cap,
               penalty_cap=penalty_cap)
    lo, hi = settle(inc, min(a, b), target, gap=gap), settle(inc, max(a, b), target, gap=gap)
    assert lo.amount <= hi.amount
    for r in (lo, hi):
        assert r.amount == r.amount.quantize(D("0.01"))
        if reward_cap is not None:
            assert r.amount >= -reward_cap
        if penalty_cap is not None:
            assert r.amount <= penalty_cap
        assert (r.amount < 0) <= (r.use < r.low)
        assert (r.amount > 0) <= (r.use > r.high)
        assert gap is None or r.amount >= 0


def test_the_bulletin_lists_the_months_rewards_and_penalties(campus: Campus) -> None:
    """The bulletin carries the month's results (name, kind, use, target, dead band, outcome, 元), in every format;
    zh-CN first, English complete. Without a billing file it has none (the section is left out)."""
    b = monthly_bulletin(campus.site, campus.settings, "2026-10", "zh-CN")
    assert b.incentives is not None
    rows = {r.who: r for r in b.incentives}
    canteen = rows["食堂承包方"]
    assert (canteen.kind, canteen.use, canteen.target, canteen.outcome, canteen.amount) == (
        "electricity", D("29760.00"), D(25000), "penalty", D("702.00"))
    assert (canteen.dead_band_low, canteen.dead_band_high) == (D("23750.00"), D("26250.00"))
    assert rows["行政办公"].amount == D("-44.60")
    assert '"amount": "702.00"' in render_bulletin(b, "json", campus.settings.report).decode()
    csv = render_bulletin(b, "csv", campus.settings.report).decode("utf-8-sig")
    assert "# 奖罚" in csv
    assert "罚款" in csv
    assert "奖励" in csv
    assert "702.00" in csv
    assert render_bulletin(b, "xlsx", campus.settings.report).startswith(b"PK")
    assert render_bulletin(b, "pdf", campus.settings.report).startswith(b"%PDF")
    en = render_bulletin(monthly_bulletin(campus.site, campus.settings, "2026-10", "en"), "csv",
                         campus.settings.report).decode("utf-8-sig")
    assert "# Rewards and penalties" in en
    assert "penalty" in en
    assert "罚" not in en
    plain = monthly_bulletin(campus.site, Settings(data_dir=campus.settings.data_dir), "2026-10", "zh-CN")
    assert plain.incentives is None
    assert "奖罚" not in render_bulletin(plain, "csv", campus.settings.report).decode("utf-8-sig")
