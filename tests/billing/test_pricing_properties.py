"""Properties of ``billing.pricing`` for any valid tariff and any days (hypothesis).

- The bands' use adds up to the period's, exactly in micro-units, and the shown 0.01 uses add up to the meter's use
  rounded to 0.01 — with negative quarter hours too (a sub-meter taken off).
- The exact cost of a period is the sum of the exact costs of any split of it into whole days, the tiers carrying
  the use before each split.
- Each charge's amount is its shown use × its price, half up to the fen; a statement's total is the sum of lines.

Tariffs are generated as the billing file would give them: random partitions of the 96 quarter hours into 1-5
bands written as ``"HH:MM-HH:MM"`` ranges (wrapping midnight, ``24:00`` ends), seasons, offday bands, a sharp
window inside the peak, other windows on holidays, workdays or offdays, tiers per month or year, and versions
starting inside the period. Days come straight from hypothesis, and for some examples from real readings rolled
up on a SQLite store (``tests/billing/test_metered.py``).
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.book import Book
from billing.config import parse_billing
from billing.metered import MICRO, Day, meter_days, micro
from billing.pricing import FLAT, Priced, day_band_use, money, price_days
from billing.statements import Biller
from billing.tariffs import SLOTS_PER_DAY, Tariff, quarter_hours
from tests.billing.test_metered import NOW, campus, ms, rolled
from tests.billing.test_statement_by_hand import biller  # noqa: F401  (the hand-worked October, module scope)
from tests.support.billing import BILLING, CAMPUS

ZONES = [ZoneInfo("Asia/Shanghai"), ZoneInfo("Europe/Berlin")]   # Berlin: days of 92 and 100 quarter hours
BAND_NAMES = ["peak", "flat", "valley", "shoulder", "off_peak"]
WINDOW_NAMES = ["deep_valley", "noon_valley"]
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
C = Decimal("0.01")

prices = st.decimals(min_value=0, max_value=3, places=4)


def clock(q: int) -> str:
    return f"{q // 4:02d}:{q % 4 * 15:02d}"


def arc(draw: Callable[[Any], Any], start: int, stop: int) -> str:
    """The range from quarter hour ``start`` to ``stop`` (mod 96), a midnight end written either way."""
    if stop % SLOTS_PER_DAY == 0:
        end = "24:00" if start == 0 or draw(st.booleans()) else "00:00"
    else:
        end = clock(stop % SLOTS_PER_DAY)
    return f"{clock(start)}-{end}"


@st.composite
def schedules(draw: Callable[[Any], Any], core: tuple[int, int] | None = None) -> dict[str, Any]:
    """Bands covering the day exactly once; ``core`` (start, stop) quarter hours are all in a band named peak."""
    names = draw(st.lists(st.sampled_from(BAND_NAMES), min_size=1, max_size=5, unique=True))
    cuts = set(draw(st.lists(st.integers(0, SLOTS_PER_DAY - 1), min_size=1, max_size=12)))
    if core is not None:
        cuts |= {core[0], core[1] % SLOTS_PER_DAY}
    if len(cuts) == 1:
        cuts = {0}
    order = sorted(cuts)
    hours: dict[str, list[str]] = {}
    for i, a in enumerate(order):
        b = order[(i + 1) % len(order)]
        stop = b if b > a else b + SLOTS_PER_DAY
        if core is not None and core[0] <= a < core[1]:
            name = "peak"
        else:
            name = draw(st.sampled_from(names))
        hours.setdefault(name, []).append(arc(draw, a, stop))
    for ranges in hours.values():
        random.Random(draw(st.integers(0, 9))).shuffle(ranges)
    return {n: {"price": draw(prices), "hours": h} for n, h in hours.items()}


months = st.lists(st.integers(1, 12), min_size=1, max_size=12, unique=True)


@st.composite
def tou_version(draw: Callable[[Any], Any]) -> dict[str, Any]:
    core = None
    if draw(st.booleans()):
        a = draw(st.integers(0, SLOTS_PER_DAY - 2))
        core = (a, draw(st.integers(a + 1, min(a + 16, SLOTS_PER_DAY))))
    v: dict[str, Any] = {"bands": draw(schedules(core))}
    season_months = draw(st.lists(st.integers(1, 12), max_size=12, unique=True))
    if season_months:
        cut = draw(st.integers(1, len(season_months)))
        groups = [g for g in (season_months[:cut], season_months[cut:]) if g]
        v["seasons"] = [{"months": g, "bands": draw(schedules(core))} for g in groups]
    if draw(st.booleans()):
        v["offday_bands"] = draw(schedules(core))
    if core is not None:
        a = draw(st.integers(core[0], core[1] - 1))
        b = draw(st.integers(a + 1, core[1]))
        v["sharp"] = {"price": draw(prices), "hours": [arc(draw, a, b)], "months": draw(months),
                      "days": draw(st.sampled_from(["all", "workday", "offday", "holiday"]))}
    windows = []
    for name in draw(st.lists(st.sampled_from(WINDOW_NAMES), max_size=2, unique=True)):
        a = draw(st.integers(0, SLOTS_PER_DAY - 1))
        b = draw(st.integers(a + 1, a + SLOTS_PER_DAY - 1))
        windows.append({"name": name, "price": draw(prices), "hours": [arc(draw, a, b)],
                        "months": draw(months), "days": draw(st.sampled_from(["all", "workday", "offday", "holiday"]))})
    if windows:
        v["windows"] = windows
    return v


@st.composite
def tiers(draw: Callable[[Any], Any], per: str) -> dict[str, Any]:
    ups = sorted(set(draw(st.lists(st.decimals(min_value=Decimal("0.001"), max_value=3000, places=3),
                                   min_size=1, max_size=4))))
    return {"per": per, "steps": [*({"up_to": u, "price": draw(prices)} for u in ups), {"price": draw(prices)}]}


@st.composite
def tariff_docs(draw: Callable[[Any], Any], first: dt.date, stop: dt.date, kind: str = "electricity") -> dict[str, Any]:
    """A valid tariff as the billing file gives it: its first version starts on or before ``first``, the others
    inside [first, stop)."""
    per = draw(st.sampled_from(["month", "year"]))
    span = (stop - first).days
    starts = [first - dt.timedelta(days=draw(st.integers(0, 400)))]
    if span > 1:
        starts += [first + dt.timedelta(days=d)
                   for d in sorted(set(draw(st.lists(st.integers(1, span - 1), max_size=3))))]
    versions = []
    for start in starts:
        choice = draw(st.sampled_from(["price", "tiers", "bands"] if kind == "electricity" else ["price", "tiers"]))
        v: dict[str, Any] = {"from": start.isoformat()}
        if choice == "price":
            v["price"] = draw(prices)
        elif choice == "tiers":
            v["tiers"] = draw(tiers(per))
        else:
            v.update(draw(tou_version()))
        if draw(st.booleans()):
            v["monthly_fee"] = draw(st.decimals(min_value=0, max_value=500, places=2))
        versions.append(v)
    return {"id": "t", "name": "生成的电价", "kind": kind, "versions": versions}


def tariffs(first: dt.date, stop: dt.date, kind: str = "electricity") -> st.SearchStrategy[Tariff]:
    return tariff_docs(first, stop, kind).map(Tariff.model_validate)


def day_slots(date: dt.date, tz: ZoneInfo) -> int:
    a = dt.datetime.combine(date, dt.time(), tz)
    b = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(), tz)
    return round((b.timestamp() - a.timestamp()) / 900)


def make_day(date: dt.date, tz: ZoneInfo, rng: random.Random, shape: str, profiled: bool) -> Day:
    n = day_slots(date, tz)
    if shape == "zero":
        slots = [0.0] * n
    elif shape == "constant":
        slots = [rng.uniform(0, 50)] * n
    elif shape == "spiky":
        slots = [rng.choice([0.0, 0.0, 1e-7, rng.uniform(0, 1e4)]) for _ in range(n)]
    elif shape == "negative":   # a sub-meter taken off: some quarter hours below zero
        slots = [rng.uniform(-30, 50) for _ in range(n)]
    else:
        slots = [rng.uniform(0, 50) for _ in range(n)]
    start = int(dt.datetime.combine(date, dt.time(), tz).timestamp() * 1000)
    return Day(date, start, slots if profiled else None, sum(slots))


@st.composite
def periods(draw: Callable[[Any], Any]) -> tuple[dt.date, dt.date]:
    first = dt.date(2025, 12, 1) + dt.timedelta(days=draw(st.integers(0, 400)))
    return first, first + dt.timedelta(days=draw(st.integers(1, 45)))


@st.composite
def day_lists(draw: Callable[[Any], Any], first: dt.date, stop: dt.date, tz: ZoneInfo,
              shapes: list[str], profiled: bool = True) -> list[Day]:
    rng = random.Random(draw(st.integers(0, 2**32)))
    days = [make_day(first + dt.timedelta(days=i), tz, rng, draw(st.sampled_from(shapes)), profiled)
            for i in range((stop - first).days)]
    if draw(st.booleans()):   # one day's quarter hours straight from hypothesis: tiny, huge, subnormal, repeated
        k = draw(st.integers(0, len(days) - 1))
        low = -1e3 if "negative" in shapes else 0.0
        slots = draw(st.lists(st.floats(low, 1e9), min_size=len(days[k].slots or [0] * 96),
                              max_size=len(days[k].slots or [0] * 96)))
        days[k] = Day(days[k].date, days[k].start_ms, slots if profiled else None, sum(slots))
    return days


@st.composite
def calendars(draw: Callable[[Any], Any], first: dt.date, stop: dt.date) -> Callable[[dt.date], frozenset[str]]:
    """Day tags like ``campus.calendar``: workday or offday, some offdays holidays, some weekends made workdays."""
    span = (stop - first).days
    picked = draw(st.lists(st.integers(0, span), max_size=6))
    holidays = {first + dt.timedelta(days=d) for d in picked[::2]}
    makeup = {first + dt.timedelta(days=d) for d in picked[1::2]} - holidays

    def tags(day: dt.date) -> frozenset[str]:
        if day in holidays:
            return frozenset({"all", "offday", "holiday"})
        if day.weekday() < 5 or day in makeup:
            return frozenset({"all", "workday"})
        return frozenset({"all", "offday"})
    return tags


def shown_ok(priced: Priced) -> None:
    """The convention: shown uses add up to the meter's use rounded to 0.01; each amount is use × price, half
    up; the exact cost is micro-units × price."""
    whole = Decimal(priced.micro) / MICRO
    assert priced.use == whole.quantize(C, rounding=ROUND_HALF_UP)
    for c in priced.charges:
        assert c.use == c.use.quantize(C)
        assert c.amount == (c.use * c.price).quantize(C, rounding=ROUND_HALF_UP)
        assert abs(c.use - Decimal(c.micro) / MICRO) < 1   # a shown use is its exact use to within a few 0.01
    assert priced.amount == sum(c.amount for c in priced.charges)


def carried(tariff: Tariff, days: list[Day], k: int) -> int:
    """The use before ``days[k]`` in its tiers' month (or year)."""
    per = next((v.tiers.per for v in tariff.versions if v.tiers is not None), "month")
    d = days[k].date
    return sum(micro(x.total) for x in days[:k]
               if x.date.year == d.year and (per == "year" or x.date.month == d.month))


def by_band(priced: Priced) -> dict[tuple[dt.date, str, Decimal], int]:
    """Micro-units per version (its start) × band × price."""
    out: dict[tuple[dt.date, str, Decimal], int] = {}
    for c in priced.charges:
        v = priced.tariff.version_on(c.start)
        assert v is not None
        key = (v.valid_from, c.band, c.price)
        out[key] = out.get(key, 0) + c.micro
    return out


@st.composite
def cases(draw: Callable[[Any], Any], shapes: list[str]) -> tuple[Tariff, list[Day], Any, ZoneInfo]:
    first, stop = draw(periods())
    tz = draw(st.sampled_from(ZONES))
    return (draw(tariffs(first, stop)), draw(day_lists(first, stop, tz, shapes)), draw(calendars(first, stop)), tz)


SHAPES = ["zero", "constant", "spiky", "random"]


@FAST
@given(cases(SHAPES))
def test_the_bands_add_up_to_the_period(case: tuple[Tariff, list[Day], Any, ZoneInfo]) -> None:
    tariff, days, tags, tz = case
    for day in days:
        version = tariff.version_on(day.date)
        assert version is not None
        if version.time_of_use:
            assert sum(day_band_use(version, day, tags(day.date), tz).values()) == micro(day.total)
    priced = price_days(tariff, days, tags, tz)
    assert priced.micro == sum(micro(d.total) for d in days)
    shown_ok(priced)


@FAST
@given(cases(["negative", "random", "zero"]))
def test_negative_quarter_hours_still_add_up(case: tuple[Tariff, list[Day], Any, ZoneInfo]) -> None:
    tariff, days, tags, tz = case
    priced = price_days(tariff, days, tags, tz)
    assert priced.micro == sum(micro(d.total) for d in days)
    shown_ok(priced)
    cut = len(days) // 2
    if cut:
        parts = [price_days(tariff, days[:cut], tags, tz), price_days(tariff, days[cut:], tags, tz,
                                                                       carried=carried(tariff, days, cut))]
        assert priced.exact == sum(p.exact for p in parts)


@FAST
@given(cases(SHAPES), st.lists(st.integers(1, 44), max_size=4))
def test_the_cost_of_a_period_is_the_sum_of_its_parts(case: tuple[Tariff, list[Day], Any, ZoneInfo],
                                                      cuts: list[int]) -> None:
    tariff, days, tags, tz = case
    whole = price_days(tariff, days, tags, tz)
    edges = [0, *sorted({c for c in cuts if c < len(days)}), len(days)]
    parts = [price_days(tariff, days[a:b], tags, tz, carried=carried(tariff, days, a) if a else 0)
             for a, b in zip(edges, edges[1:], strict=False)]
    assert whole.exact == sum(p.exact for p in parts)
    assert whole.micro == sum(p.micro for p in parts)
    merged: dict[tuple[dt.date, str, Decimal], int] = {}
    for p in parts:
        for key, u in by_band(p).items():
            merged[key] = merged.get(key, 0) + u
    assert {k: u for k, u in merged.items() if u} == {k: u for k, u in by_band(whole).items() if u}
    for p in parts:
        shown_ok(p)


@FAST
@given(periods(), st.data())
def test_water_days_without_a_profile(period: tuple[dt.date, dt.date], data: st.DataObject) -> None:
    first, stop = period
    tariff = data.draw(tariffs(first, stop, "water"))
    days = data.draw(day_lists(first, stop, ZONES[0], ["random", "negative", "zero"], profiled=False))
    priced = price_days(tariff, days, lambda _: frozenset({"all", "workday"}), ZONES[0])
    assert priced.micro == sum(micro(d.total) for d in days)
    shown_ok(priced)
    cut = len(days) // 2
    if cut:
        parts = [price_days(tariff, days[:cut], lambda _: frozenset(), ZONES[0]),
                 price_days(tariff, days[cut:], lambda _: frozenset(), ZONES[0], carried=carried(tariff, days, cut))]
        assert priced.exact == sum(p.exact for p in parts)


def test_a_band_keeps_its_price_in_each_season() -> None:
    """Winter peak at 0.90, summer peak at 1.00: a January day's peak is 0.90 (not the summer's)."""
    tariff = Tariff.model_validate({"id": "t", "name": "n", "kind": "electricity", "versions": [{
        "from": "2026-01-01",
        "bands": {"peak": {"price": "0.90", "hours": ["08:00-20:00"]}, "valley": {"price": "0.30",
                                                                                 "hours": ["20:00-08:00"]}},
        "seasons": [{"months": [7, 8], "bands": {"peak": {"price": "1.00", "hours": ["08:00-20:00"]},
                                                 "valley": {"price": "0.30", "hours": ["20:00-08:00"]}}}]}]})
    tz = ZONES[0]
    days = [make_day(d, tz, random.Random(1), "constant", True) for d in (dt.date(2026, 1, 5), dt.date(2026, 7, 6))]
    for d in days:
        d.slots = [1.0] * 96
        d.total = 96.0
    priced = price_days(tariff, days, lambda _: frozenset({"all", "workday"}), tz)
    got = sorted((c.band, c.price, c.use, c.start, c.until) for c in priced.charges)
    assert got == [("peak", Decimal("0.90"), Decimal("48.00"), dt.date(2026, 1, 5), dt.date(2026, 1, 6)),
                   ("peak", Decimal("1.00"), Decimal("48.00"), dt.date(2026, 7, 6), dt.date(2026, 7, 7)),
                   ("valley", Decimal("0.30"), Decimal("96.00"), dt.date(2026, 1, 5), dt.date(2026, 7, 7))]
    assert priced.amount == Decimal("43.20") + Decimal("48.00") + Decimal("28.80")


def test_tiers_count_the_month_across_a_version_without_tiers() -> None:
    """Tiers count all of the month's use before a day, whatever version priced it."""
    tariff = Tariff.model_validate({"id": "t", "name": "n", "kind": "water", "versions": [
        {"from": "2026-01-01", "price": "1.00"},
        {"from": "2026-03-10", "tiers": {"per": "month", "steps": [{"up_to": 100, "price": "2.00"},
                                                                    {"price": "3.00"}]}}]})
    days = [Day(dt.date(2026, 3, d), 0, None, 10.0) for d in range(1, 13)]  # 90 m³ by the 9th, then 10 a day
    priced = price_days(tariff, days, lambda _: frozenset(), ZONES[0])
    assert {(c.band, c.use) for c in priced.charges} == {(FLAT, Decimal("90.00")), ("tier_1", Decimal("10.00")),
                                                         ("tier_2", Decimal("20.00"))}


def test_a_negative_day_on_tiers_gives_back_from_the_top() -> None:
    tariff = Tariff.model_validate({"id": "t", "name": "n", "kind": "water", "versions": [
        {"from": "2026-01-01", "tiers": {"per": "month", "steps": [{"up_to": 10, "price": "2.00"},
                                                                    {"price": "3.00"}]}}]})
    days = [Day(dt.date(2026, 3, 1), 0, None, 15.0), Day(dt.date(2026, 3, 2), 0, None, -8.0)]
    priced = price_days(tariff, days, lambda _: frozenset(), ZONES[0])
    assert {(c.band, c.use) for c in priced.charges} == {("tier_1", Decimal("7.00")), ("tier_2", Decimal("0.00"))}
    assert priced.micro == 7 * MICRO
    assert priced.amount == Decimal("14.00")


# -- from real readings ---------------------------------------------------------------------------------------------

@st.composite
def readings(draw: Callable[[Any], Any], first: dt.date, stop: dt.date, tz: ZoneInfo) -> list[tuple[int, float]]:
    """Readings of one meter from before ``first`` to after ``stop``: every 5 min to a day apart, with jitter,
    gaps, and loads that change at each reading."""
    every = draw(st.sampled_from([300, 900, 3600, 3 * 3600, 86_400]))
    rng = random.Random(draw(st.integers(0, 2**32)))
    at = int(dt.datetime.combine(first - dt.timedelta(days=1), dt.time(12), tz).timestamp() * 1000)
    end = int(dt.datetime.combine(stop + dt.timedelta(days=1), dt.time(12), tz).timestamp() * 1000)
    reg, out = rng.uniform(0, 1e5), []
    while at <= end:
        out.append((at, reg))
        step = every * 1000 * (rng.choice([1, 1, 1, 4]) if every < 3600 else 1) + rng.randint(0, 60) * 1000
        reg += rng.uniform(0, 200) * step / 3_600_000
        at += step
    return out


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_days_from_real_readings_add_up_and_split(data: st.DataObject) -> None:
    first = dt.date(2026, 1, 1) + dt.timedelta(days=data.draw(st.integers(0, 360)))
    stop = first + dt.timedelta(days=data.draw(st.integers(1, 8)))
    place = campus(multiplier=data.draw(st.sampled_from([1.0, 40.0])))
    tz = ZoneInfo(place.site.timezone)
    points = data.draw(readings(first, stop, tz))
    tariff = data.draw(tariffs(first, stop))
    tags = data.draw(calendars(first, stop))
    with rolled(points, place) as (rollups, store):
        md = meter_days(rollups.site("s"), store, place.devices[0], first, stop, tz, ms(NOW))
    lo = int(dt.datetime.combine(first, dt.time(), tz).timestamp() * 1000)
    hi = int(dt.datetime.combine(stop, dt.time(), tz).timestamp() * 1000)
    assert md.total == pytest.approx((register_at(points, hi) - register_at(points, lo)) * place.devices[0].multiplier,
                                     rel=1e-9, abs=1e-6)
    priced = price_days(tariff, md.days, tags, tz)
    assert priced.micro == sum(micro(d.total) for d in md.days)
    shown_ok(priced)
    cut = len(md.days) // 2
    if cut:
        parts = [price_days(tariff, md.days[:cut], tags, tz),
                 price_days(tariff, md.days[cut:], tags, tz, carried=carried(tariff, md.days, cut))]
        assert priced.exact == sum(p.exact for p in parts)


def register_at(points: list[tuple[int, float]], at: int) -> float:
    """The register at ``at``, linear between the readings around it."""
    for (t0, v0), (t1, v1) in zip(points, points[1:], strict=False):
        if t0 <= at <= t1:
            return v0 + (v1 - v0) * (at - t0) / (t1 - t0)
    raise AssertionError("outside the readings")


# -- statements: amounts and totals ---------------------------------------------------------------------------------

def test_statement_lines_are_use_times_price_and_the_total_their_sum(biller: Biller) -> None:  # noqa: F811
    for payer in biller.book.payers:
        s = biller.statement(payer)
        assert s.total == sum(ln.amount for ln in s.lines)
        for ln in s.lines:
            assert ln.amount == money(ln.use * ln.price), ln
            assert ln.use == ln.use.quantize(C)
    totals = {p: biller.statement(p).total for p in biller.book.payers}
    summary = biller.summary(totals)
    assert summary.payers_total == sum(totals.values())
    assert summary.school_share == summary.incomer_total - summary.payers_total


def test_quarter_hours_of_a_generated_schedule_cover_the_day_once() -> None:
    @settings(max_examples=80, deadline=None)
    @given(schedules())
    def check(bands: dict[str, Any]) -> None:
        covered = sorted(q for b in bands.values() for q in quarter_hours(b["hours"]))
        assert covered == list(range(SLOTS_PER_DAY))
    check()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.data())
def test_statements_under_any_tariff_add_up(biller: Biller, data: st.DataObject) -> None:  # noqa: F811
    """The hand-worked October under generated tariffs: whatever the prices, each meter's shown use is its use, each
    line is use × price to the fen, and the total is the sum of the lines."""
    first, stop = dt.date(2026, 10, 1), dt.date(2026, 11, 1)
    doc = yaml.safe_load(BILLING)
    made = {"tou": data.draw(tariff_docs(first, stop)), "water": data.draw(tariff_docs(first, stop, "water"))}
    for t in doc["tariffs"]:
        if t["id"] in made:
            t["versions"] = made[t["id"]]["versions"]
    book = Book.build(CAMPUS, parse_billing(json.dumps(doc, default=str))[None])
    fresh = Biller(book, biller.rollups, biller.store, "2026-10", biller.now)
    statements = {p: fresh.statement(p) for p in book.payers}
    for s in statements.values():
        assert s.total == sum(ln.amount for ln in s.lines)
        for ln in s.lines:
            assert ln.amount == money(ln.use * ln.price), ln
    uses = {m: sum(ln.use for s in statements.values() for ln in s.lines if ln.meter == m and ln.section == "use")
            for m in ("e1", "e2", "w2")}
    assert uses == {"e1": Decimal("14880.00"), "e2": Decimal("29760.00"), "w2": Decimal("372.00")}
    summary = fresh.summary({p: s.total for p, s in statements.items()})
    assert summary.payers_total == sum(s.total for s in statements.values())
