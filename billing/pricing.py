"""A meter's use priced by a tariff: one charge per version and band (or tier), money in Decimal.

The convention, written down plainly:

1. Use per day and band is counted in micro-units (``billing.metered``); the parts of a period add up exactly.
2. A charge's use is shown to 0.01 kWh or m³. The charges of one meter are rounded together by the largest
   remainder, so their shown uses add up to the meter's use rounded to 0.01.
3. A charge's amount is its shown use × its price, rounded half up to 0.01 元 (one fen).
4. A statement's total is the sum of its lines' amounts, never a separately rounded figure.
5. The exact cost (unrounded, :attr:`Priced.exact`) is micro-units × price: the exact cost of a period is the sum
   of the exact costs of any split of it into whole days (tiers carry the use before the split).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from billing.metered import MICRO, Day, micro
from billing.tariffs import Tariff, Tiers, Version
from campus.errors import Invalid

FEN = Decimal("0.01")
CENTI = Decimal("0.01")     # shown use: 0.01 kWh or m³
FLAT = "flat_rate"           # the band name of a single-price charge


def money(x: Decimal) -> Decimal:
    return x.quantize(FEN, rounding=ROUND_HALF_UP)


@dataclass(slots=True)
class Charge:
    """Use in one band (or tier) under one tariff version, from ``start`` to ``until`` (days, exclusive)."""

    start: dt.date
    until: dt.date
    band: str
    price: Decimal
    micro: int                    # exact use, 10⁻⁶ units
    use: Decimal = Decimal(0)     # shown, 0.01
    amount: Decimal = Decimal(0)  # use × price, to the fen

    @property
    def exact(self) -> Decimal:
        return Decimal(self.micro) / MICRO * self.price


@dataclass(slots=True)
class Priced:
    tariff: Tariff
    charges: list[Charge] = field(default_factory=list)

    @property
    def micro(self) -> int:
        return sum(c.micro for c in self.charges)

    @property
    def exact(self) -> Decimal:
        return sum((c.exact for c in self.charges), Decimal(0))

    @property
    def amount(self) -> Decimal:
        return sum((c.amount for c in self.charges), Decimal(0))

    @property
    def use(self) -> Decimal:
        return sum((c.use for c in self.charges), Decimal(0))


def day_band_use(version: Version, day: Day, tags: frozenset[str], tz: ZoneInfo) -> dict[str, int]:
    """One day's use per band of ``version`` (micro-units); a day without a profile is all in its bands pro rata
    to their hours (only a zero day: use without a profile never meets bands, the tariff kind forbids it)."""
    if not version.time_of_use:
        return {FLAT: micro(day.total)}
    bands = version.day_bands(day.date, tags)
    out: dict[str, float] = {b: 0.0 for b in dict.fromkeys(bands)}
    if day.slots is None:
        for b in bands:
            out[b] += day.total / len(bands)
    elif len(day.slots) == len(bands):  # the usual day: slot i is quarter hour i
        for b, pick in _indices(bands).items():
            got = pick(day.slots)
            out[b] = sum(got) if isinstance(got, tuple) else got
    else:  # a day a clock changes
        for q, x in zip(day.slot_times(tz), day.slots, strict=False):
            out[bands[q]] += x
    return _split_exact(out, micro(day.total))


_INDICES: dict[tuple[str, ...], dict[str, itemgetter[Any]]] = {}


def _indices(bands: tuple[str, ...]) -> dict[str, itemgetter[Any]]:
    """Each band's quarter hours, as a getter of their slots (a few distinct day maps per tariff: kept)."""
    got = _INDICES.get(bands)
    if got is None:
        qs: dict[str, list[int]] = {}
        for q, b in enumerate(bands):
            qs.setdefault(b, []).append(q)
        got = {b: itemgetter(*idx) for b, idx in qs.items()}
        if len(_INDICES) < 4096:
            _INDICES[bands] = got
    return got


def _split_exact(parts: dict[str, float], whole: int) -> dict[str, int]:
    """``parts`` in micro-units, by largest remainder, adding up to ``whole`` exactly."""
    if not parts:
        return {}
    scaled = {k: v * MICRO for k, v in parts.items()}
    floors = {k: int(v // 1) for k, v in scaled.items()}
    left = whole - sum(floors.values())
    order = sorted(scaled, key=lambda k: scaled[k] - floors[k], reverse=True)
    i = 0
    while left != 0 and order:
        k = order[i % len(order)]
        step = 1 if left > 0 else -1
        floors[k] += step
        left -= step
        i += 1
    return floors


def price_days(tariff: Tariff, days: list[Day], tags: Callable[[dt.date], frozenset[str]], tz: ZoneInfo, *,
               carried: int = 0) -> Priced:
    """``days`` (in order, whole local days) priced by ``tariff``. ``carried``: micro-units used earlier in the
    tiers' month or year, before the first day (the tiers count on from it)."""
    out = Priced(tariff)
    if not days:
        return out
    index: dict[tuple[dt.date, str], Charge] = {}
    tier_used = carried
    tier_key: tuple[int, int] | None = None
    for day in days:
        version = tariff.version_on(day.date)
        if version is None:
            raise NoPrice(tariff, day.date)
        start = version.valid_from
        if version.tiers is not None:
            key = (day.date.year, day.date.month if version.tiers.per == "month" else 0)
            if tier_key is not None and key != tier_key:
                tier_used = 0  # a new month (or year): the tiers start again
            tier_key = key
            parts = _tiered(version.tiers, tier_used, micro(day.total))
            tier_used += micro(day.total)
        else:
            prices = version.band_prices() if version.time_of_use else {FLAT: version.price}
            parts = {(b, prices[b]): u for b, u in  # type: ignore[misc]
                     day_band_use(version, day, tags(day.date), tz).items()}
        for (band, price), u in parts.items():
            c = index.get((start, band))
            if c is None:
                c = index[(start, band)] = Charge(max(start, days[0].date), day.date, band, price, 0)
                out.charges.append(c)
            c.micro += u
            c.until = day.date + dt.timedelta(days=1)
    shown(out.charges)
    return out


def _tiered(tiers: Tiers, used: int, add: int) -> dict[tuple[str, Decimal], int]:
    """``add`` micro-units after ``used`` in the tiers' period, split by step."""
    out: dict[tuple[str, Decimal], int] = {}
    lo = used
    for i, step in enumerate(tiers.steps):
        top = None if step.up_to is None else int(step.up_to * MICRO)
        if top is not None and lo >= top:
            continue
        take = add if top is None else min(add, top - lo)
        if take > 0:
            out[(f"tier_{i + 1}", step.price)] = take
            add -= take
            lo += take
        if add <= 0:
            break
    return out


def shown(charges: list[Charge]) -> None:
    """Each charge's use to 0.01 (largest remainder over the meter's charges) and amount to the fen."""
    whole = Decimal(sum(c.micro for c in charges)) / MICRO
    target = int(whole.quantize(CENTI, rounding=ROUND_HALF_UP) / CENTI)
    cents = {i: Decimal(c.micro) / (MICRO // 100) for i, c in enumerate(charges)}
    floors = {i: int(v.to_integral_value(rounding="ROUND_FLOOR")) for i, v in cents.items()}
    left = target - sum(floors.values())
    order = sorted(cents, key=lambda i: cents[i] - floors[i], reverse=left > 0)
    i = 0
    while left != 0 and order:
        k = order[i % len(order)]
        step = 1 if left > 0 else -1
        floors[k] += step
        left -= step
        i += 1
    for k, c in enumerate(charges):
        c.use = Decimal(floors[k]) * CENTI
        c.amount = money(c.use * c.price)


class NoPrice(Invalid):
    def __init__(self, tariff: Tariff, day: dt.date) -> None:
        super().__init__(f"tariff {tariff.id} has no version valid on {day}: its first starts "
                         f"{tariff.versions[0].valid_from}; add a version from an earlier date")
        self.tariff, self.day = tariff, day
