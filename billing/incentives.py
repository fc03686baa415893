"""Rewards and penalties (奖罚) from the month's use against a target (the billing file's ``incentives:``).

The rule, written down plainly, for one incentive and one month:

1. Use is the payer's use of the kind (what its statement bills, before any allowance), or for a building its
   main meters' use. The target is the incentive's, else the building's monthly target in the campus file.
2. Within the dead band (a share of the target either side of it) nothing is paid either way.
3. Below it, each unit saved below the band's lower edge earns ``reward_per_unit`` (a negative amount: it is
   taken off what the payer owes); above it, each unit over the band's upper edge costs ``penalty_per_unit``.
4. The amount is the units beyond the band's edge × the price per unit, rounded half up to the fen, then capped
   (``reward_cap``, ``penalty_cap``; a cap is taken to the fen below, so a rounded amount never exceeds it).
5. A month with no use of that kind (no data) has no result: "—", never a reward.
6. A reward is paid only for a month that is over and whose meters sent at least ``min_coverage`` (90 %, the
   report's completeness minimum) of their readings: a silent meter or half a month must not pass for a saving.
   Before that the result says why (``gap``: unfinished, incomplete) and pays no reward; a penalty is already
   owed (the use so far is over the band).

Worked: a target of 25000 kWh with a dead band of 5 % pays nothing from 23750 to 26250 kWh, both edges
included; at 29760 kWh it is over by 29760 − 26250 = 3510 kWh, × 0.20 = 702.00 元, under a cap of 2000.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Literal

from billing.config import Incentive
from billing.metered import MICRO
from billing.pricing import money
from billing.tariffs import TariffKind
from campus.model import Device
from reports.buckets import Interval
from reports.consumption import coverage_ratio, meter_use

if TYPE_CHECKING:
    from billing.statements import Biller, Line, Statement

CENTI = Decimal("0.01")
MIN_COVERAGE = 0.9   # the report's completeness minimum ([report] completeness_min) unless told
Gap = Literal["unfinished", "incomplete"]


@dataclass(frozen=True, slots=True)
class Result:
    incentive: Incentive
    who: str                 # the payer's or the building's name
    use: Decimal
    target: Decimal
    low: Decimal
    high: Decimal
    units: Decimal           # saved (negative) or over (positive) beyond the dead band; 0 inside it
    amount: Decimal          # 元: negative a reward, positive a penalty

    capped: bool = False     # the amount is the cap, not units × price
    coverage: float = 1.0    # readings received ÷ expected over the meters counted
    gap: Gap | None = None   # why no reward is paid yet (rule 6): the month is unfinished, or its data incomplete

    @property
    def outcome(self) -> str:
        return "reward" if self.amount < 0 else "penalty" if self.amount > 0 else "none"


def _cap(cap: Decimal | None) -> Decimal | None:
    return None if cap is None else cap.quantize(CENTI, rounding=ROUND_DOWN)


def settle(incentive: Incentive, use: Decimal, target: Decimal, who: str = "", *, coverage: float = 1.0,
           gap: Gap | None = None) -> Result:
    """Rules 2-4 (and 6: with a ``gap``, no reward)."""
    band = (target * Decimal(str(incentive.dead_band))).quantize(CENTI, rounding=ROUND_HALF_UP)
    low, high = target - band, target + band
    capped = False
    if use < low and gap is not None:
        units, amount = Decimal(0), Decimal("0.00")
    elif use < low:
        units = use - low
        amount = money(units * incentive.reward_per_unit)
        cap = _cap(incentive.reward_cap)
        if cap is not None and amount < -cap:
            amount, capped = -cap, True
    elif use > high:
        units = use - high
        amount = money(units * incentive.penalty_per_unit)
        cap = _cap(incentive.penalty_cap)
        if cap is not None and amount > cap:
            amount, capped = cap, True
    else:
        units, amount = Decimal(0), Decimal("0.00")
    return Result(incentive, who, use, target, low, high, units, money(amount), capped, coverage, gap)


def results(biller: Biller, min_coverage: float = MIN_COVERAGE) -> list[Result]:
    """Every incentive of the site for the biller's month (those with use and a target)."""
    out = []
    book = biller.book
    for inc in book.billing.incentives:
        r = _one(biller, inc, min_coverage)
        if r is not None:
            out.append(r)
    return out


def _one(biller: Biller, inc: Incentive, min_coverage: float = MIN_COVERAGE) -> Result | None:
    book = biller.book
    kind = TariffKind(inc.kind)
    if inc.payer is not None:
        payer = book.payers[inc.payer]
        held = [h for h in book.holdings.get(payer.id, []) if h.device.kind.value == kind.value]
        micro = sum(round(sum(d.total for d in biller.held_days(h)) * MICRO) for h in held)
        devices = [h.device for h in held]
        who = payer.name
        buildings = {h.device.building for h in held}
        target = inc.target
        if target is None and len(buildings) == 1:
            target = _building_target(biller, next(iter(buildings)), kind)
    else:
        assert inc.building is not None  # noqa: S101
        meters = [d for d in book.campus.devices if d.building == inc.building and d.counts_in_totals
                  and d.kind.value == kind.value]
        micro = sum(round(biller.days(d).total * MICRO) for d in meters)
        devices = meters
        building = book.campus.building(inc.building)
        who = building.name if building else inc.building
        target = inc.target if inc.target is not None else _building_target(biller, inc.building, kind)
    if target is None or micro == 0:  # no target, or no use (no data): no result, never a reward
        return None
    use = (Decimal(micro) / MICRO).quantize(CENTI, rounding=ROUND_HALF_UP)
    coverage = _coverage(biller, devices)
    stop = dt.datetime.combine(biller.stop, dt.time(), biller.tz)
    gap: Gap | None = "unfinished" if biller.now < stop else "incomplete" if coverage < min_coverage else None
    return settle(inc, use, Decimal(str(target)), who, coverage=coverage, gap=gap)


def _coverage(biller: Biller, devices: list[Device]) -> float:
    """Readings received ÷ expected over the month, over ``devices`` (each once)."""
    lo, hi = (int(dt.datetime.combine(d, dt.time(), biller.tz).timestamp() * 1000) for d in (biller.first, biller.stop))
    got = expected = 0.0
    for d in {d.id: d for d in devices}.values():
        use = meter_use(biller.rollups, biller.store, d, [lo, hi], Interval.MONTH, biller.now_ms)
        got, expected = got + use.readings[0], expected + use.expected[0]
    return coverage_ratio(got, expected)


def _building_target(biller: Biller, building: str, kind: TariffKind) -> Decimal | None:
    b = biller.book.campus.building(building)
    if b is None:
        return None
    for k, v in b.targets.items():
        if k.value == kind.value:
            return Decimal(str(v))
    return None


def incentive_lines(biller: Biller, payer: str, statement: Statement) -> list[Line]:
    """The payer's incentive lines for its statement."""
    from billing.statements import UNITS, Line

    out = []
    zh = biller.language.startswith("zh")
    for inc in biller.book.billing.incentives:
        if inc.payer != payer:
            continue
        r = _one(biller, inc)
        if r is None or r.amount == 0:
            continue
        unit = UNITS[TariffKind(inc.kind)]
        if r.amount < 0:
            note = (f"节能奖励: 用量 {r.use} {unit}, 目标 {r.target} (不奖不罚区间 {r.low}–{r.high}), 节约 {-r.units}"
                    if zh else f"reward: use {r.use} {unit}, target {r.target} (dead band {r.low}-{r.high}), "
                    f"saved {-r.units}")
            price = inc.reward_per_unit
        else:
            note = (f"超额罚款: 用量 {r.use} {unit}, 目标 {r.target} (不奖不罚区间 {r.low}–{r.high}), 超出 {r.units}"
                    if zh else f"penalty: use {r.use} {unit}, target {r.target} (dead band {r.low}-{r.high}), "
                    f"over by {r.units}")
            price = inc.penalty_per_unit
        if r.capped:
            note += f", 封顶 {abs(r.amount)} 元" if zh else f", capped at {abs(r.amount)} 元"
        out.append(Line(section="incentive", kind=TariffKind(inc.kind), start=biller.first, end=biller.last,
                        use=r.units, unit=unit, price=price, amount=r.amount, note=note))
    return out


def incentives_ahead(biller: Biller, payer: str, factor: Decimal) -> Decimal:
    """The payer's incentives at the month's end if its use grows by ``factor`` (the month ÷ the time elapsed):
    each settled again on its use so far × factor (the costs view's projection, ``billing.statements``)."""
    out = Decimal("0.00")
    for r in results(biller):
        if r.incentive.payer == payer:
            ahead = (r.use * factor).quantize(CENTI, rounding=ROUND_HALF_UP)
            out += settle(r.incentive, ahead, r.target, r.who).amount
    return out
