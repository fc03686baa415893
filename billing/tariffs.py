"""Tariffs: what a kWh or m³ costs, when, and what is charged besides (the billing file's ``tariffs:``).

The rules, written down plainly:

1. A tariff has versions. Each is valid **from** its date (local midnight) until the next version's date, so
   a price change in the middle of a month splits the month at that date. Versions are in date order.
2. Within a version the price of use is exactly one of:
   - a flat ``price``;
   - time-of-use ``bands`` (尖峰平谷: any names, e.g. peak, flat, valley, deep_valley), each with a ``price`` and
     local ``hours`` (half-open ``"HH:MM-HH:MM"``, on the quarter hour, ``"23:00-07:00"`` runs past midnight);
     together they cover the day exactly once. ``seasons`` may give other bands in some months, and
     ``offday_bands`` on days that are not workdays (weekends and public holidays, with 调休 make-up workdays as
     workdays). A ``sharp`` (尖峰) window takes its hours from whatever band they fall in, in its months only;
   - ``tiers`` (阶梯): prices by use so far in the month or the year, each step up to a threshold.
3. Besides use, a version may charge a ``monthly_fee`` (元 per month), and for an incomer a ``capacity``
   charge (元 per kVA of transformer capacity per month) or a ``demand`` charge (元 per kW of the month's
   maximum demand: the largest quarter-hour's use × 4).
4. Time-of-use bands, sharp windows and the demand charge need a quarter-hour profile: electricity only.
5. Prices are decimal numbers of 元 per unit (kWh, m³), never floats.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from campus.contract import Kind

SLOTS_PER_DAY = 96          # quarter hours
DAY_KINDS = frozenset({"workday", "offday", "holiday"})  # what of a day's calendar tags the bands depend on
Price = Annotated[Decimal, Field(ge=0, le=1000, max_digits=12, decimal_places=6)]
BILLED_KINDS = (Kind.ELECTRICITY, Kind.WATER, Kind.GAS)


class TariffKind(StrEnum):
    ELECTRICITY = "electricity"
    WATER = "water"
    GAS = "gas"


def _clock(text: str, *, end: bool) -> int:
    """``"HH:MM"`` → quarter hours since midnight (``"24:00"`` only as an end)."""
    try:
        hh, mm = text.strip().split(":")
        h, m = int(hh), int(mm)
    except ValueError:
        raise ValueError(f"{text!r} is not a time of day: write HH:MM, e.g. 08:00") from None
    if m % 15 or not 0 <= m < 60 or not 0 <= h <= 24 or (h == 24 and (m or not end)):
        raise ValueError(f"{text!r}: band hours are on the quarter hour (HH:00, :15, :30, :45), 00:00 to 24:00")
    return h * 4 + m // 15


def quarter_hours(ranges: list[str]) -> list[int]:
    """The quarter hours (0…95) that half-open ``"HH:MM-HH:MM"`` ranges cover, in order given, repeats kept."""
    out: list[int] = []
    for r in ranges:
        if r.count("-") != 1:
            raise ValueError(f"{r!r} is not a range of hours: write HH:MM-HH:MM, e.g. 08:00-11:00")
        a, b = r.split("-")
        start, stop = _clock(a, end=False), _clock(b, end=True)
        if start == stop:
            raise ValueError(f"{r!r} is empty: a range's end must differ from its start")
        out += list(range(start, stop)) if start < stop else [*range(start, SLOTS_PER_DAY), *range(0, stop)]
    return out


class Band(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    price: Price
    hours: list[str] = Field(min_length=1, max_length=24)


def _day_map(bands: dict[str, Band], where: str) -> tuple[str, ...]:
    """Each quarter hour's band; bands that overlap or leave a gap are refused, saying where."""
    owner: dict[int, str] = {}
    for name, band in bands.items():
        try:
            slots = quarter_hours(band.hours)
        except ValueError as exc:
            raise ValueError(f"{where}, band {name}: {exc}") from None
        for q in slots:
            if q in owner:
                raise ValueError(f"{where}: bands {owner[q]} and {name} overlap at {q // 4:02d}:{q % 4 * 15:02d}; "
                                 "each quarter hour of the day belongs to one band")
            owner[q] = name
    gaps = [q for q in range(SLOTS_PER_DAY) if q not in owner]
    if gaps:
        q = gaps[0]
        raise ValueError(f"{where}: no band covers {q // 4:02d}:{q % 4 * 15:02d} ({len(gaps) * 15} minutes of the "
                         "day in all); the bands' hours must cover 00:00-24:00 exactly once")
    return tuple(owner[q] for q in range(SLOTS_PER_DAY))


Months = Annotated[list[Annotated[int, Field(ge=1, le=12)]], Field(min_length=1, max_length=12)]


class Season(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    months: Months
    bands: dict[str, Band] = Field(min_length=1, max_length=8)


class Window(BaseModel):
    """Hours that take another price on some days: the sharp peak (尖峰) in summer and winter months, the deep
    valley (深谷) on public holidays. A window overrides whatever band its hours fall in."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    price: Price
    hours: list[str] = Field(min_length=1, max_length=24)
    months: Months = Field(default_factory=lambda: list(range(1, 13)))
    days: Literal["all", "workday", "offday", "holiday"] = "all"
    name: str = Field(default="sharp", pattern=r"^[a-z][a-z0-9_]{0,31}$")

    def applies(self, day: dt.date, tags: frozenset[str]) -> bool:
        return day.month in self.months and (self.days == "all" or self.days in tags)


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    up_to: Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=3)] | None = None
    price: Price


class Tiers(BaseModel):
    """阶梯: the price of each unit by the use before it in the month (``per: month``) or the calendar year."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    per: Literal["month", "year"] = "month"
    steps: list[Step] = Field(min_length=2, max_length=10)

    @model_validator(mode="after")
    def _rising(self) -> Tiers:
        ups = [s.up_to for s in self.steps]
        if ups[-1] is not None or any(u is None for u in ups[:-1]):
            raise ValueError("tiers: every step but the last has an up_to threshold; the last has none (the rest)")
        if any(b <= a for a, b in zip(ups[:-2], ups[1:-1], strict=False)):  # type: ignore[operator]
            raise ValueError("tiers: thresholds must rise from step to step")
        return self


class Demand(BaseModel):
    """两部制: the month's maximum demand (kW: the largest quarter hour's use × 4) at ``per_kw`` 元 per kW."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    per_kw: Price


class Capacity(BaseModel):
    """两部制: the transformer capacity (kVA) at ``per_kva`` 元 per kVA per month."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    per_kva: Price
    kva: Annotated[Decimal, Field(gt=0, le=1_000_000, decimal_places=1)]


class Version(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    valid_from: dt.date = Field(alias="from")
    price: Price | None = None
    bands: dict[str, Band] | None = Field(default=None, min_length=1, max_length=8)
    seasons: list[Season] = Field(default_factory=list, max_length=12)
    offday_bands: dict[str, Band] | None = Field(default=None, min_length=1, max_length=8)
    sharp: Window | None = None
    windows: list[Window] = Field(default_factory=list, max_length=8, description="more windows, e.g. "
                                  "deep_valley on holidays; later ones win where they overlap")
    tiers: Tiers | None = None
    monthly_fee: Annotated[Decimal, Field(ge=0, le=10_000_000, decimal_places=2)] = Decimal(0)
    demand: Demand | None = None
    capacity: Capacity | None = None
    _days: dict[tuple[dt.date, frozenset[str]], tuple[str, ...]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _one_price(self) -> Version:
        given = [k for k in ("price", "bands", "tiers") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"version from {self.valid_from}: give exactly one of price, bands (time of use) or "
                             f"tiers (阶梯), not {' and '.join(given) or 'none'}")
        if (self.seasons or self.offday_bands or self.sharp or self.windows) and self.bands is None:
            raise ValueError(f"version from {self.valid_from}: seasons, offday_bands, sharp and windows refine "
                             "time-of-use bands: give bands too")
        if self.demand and self.capacity:
            raise ValueError(f"version from {self.valid_from}: a demand charge or a capacity charge, not both")
        where = f"version from {self.valid_from}"
        if self.bands is not None:
            _day_map(self.bands, where)
        if self.offday_bands is not None:
            _day_map(self.offday_bands, f"{where}, offday_bands")
        seen: set[int] = set()
        for s in self.seasons:
            _day_map(s.bands, f"{where}, season {s.months}")
            if seen & set(s.months):
                raise ValueError(f"{where}: month {min(seen & set(s.months))} is in two seasons")
            seen |= set(s.months)
        names = {*(self.bands or {}), *(b for s in self.seasons for b in s.bands), *(self.offday_bands or {})}
        for w in self._windows():
            try:
                quarter_hours(w.hours)
            except ValueError as exc:
                raise ValueError(f"{where}, window {w.name}: {exc}") from None
            if w.name in names:
                raise ValueError(f"{where}: the window's name {w.name!r} is also a band's")
        if self.sharp is not None and "peak" in (self.bands or {}):
            peak = set(quarter_hours(self.bands["peak"].hours))  # type: ignore[index]
            outside = [q for q in quarter_hours(self.sharp.hours) if q not in peak]
            if outside:
                q = outside[0]
                raise ValueError(f"{where}: the sharp window lies inside the peak hours, but "
                                 f"{q // 4:02d}:{q % 4 * 15:02d} is not a peak hour")
        return self

    def _windows(self) -> list[Window]:
        return [*([self.sharp] if self.sharp else []), *self.windows]

    @property
    def time_of_use(self) -> bool:
        return self.bands is not None

    def day_bands(self, day: dt.date, tags: frozenset[str]) -> tuple[str, ...]:
        """Each quarter hour's band on ``day`` (a tariff with bands only); ``tags``: the day's calendar tags
        (``campus.calendar``: workday or offday, holiday)."""
        assert self.bands is not None  # noqa: S101
        key = (day, tags & DAY_KINDS)
        got = self._days.get(key)
        if got is None:
            got = self._days[key] = self._day_bands(day, key[1])
        return got

    def _day_bands(self, day: dt.date, tags: frozenset[str]) -> tuple[str, ...]:
        assert self.bands is not None  # noqa: S101
        bands = self.bands
        for s in self.seasons:
            if day.month in s.months:
                bands = s.bands
        if "workday" not in tags and self.offday_bands is not None:
            bands = self.offday_bands
        mapped = _day_map(bands, "")
        for w in self._windows():
            if w.applies(day, tags):
                inside = set(quarter_hours(w.hours))
                mapped = tuple(w.name if q in inside else b for q, b in enumerate(mapped))
        return mapped

    def band_prices(self) -> dict[str, Decimal]:
        prices = {n: b.price for bands in (self.bands or {}, self.offday_bands or {}, *(s.bands for s in self.seasons))
                  for n, b in bands.items()}
        for w in self._windows():
            prices[w.name] = w.price
        return prices


class Tariff(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    name: str = Field(min_length=1, max_length=120)
    kind: TariffKind
    source: str | None = Field(default=None, max_length=500, description="where the prices come from")
    versions: list[Version] = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _ordered(self) -> Tariff:
        dates = [v.valid_from for v in self.versions]
        for a, b in zip(dates, dates[1:], strict=False):
            if b <= a:
                raise ValueError(f"tariff {self.id}: versions must be in date order, each after the one before; "
                                 f"{b} comes after {a}")
        if self.kind is not TariffKind.ELECTRICITY:
            for v in self.versions:
                if v.bands is not None or v.demand or v.capacity:
                    raise ValueError(f"tariff {self.id}: time-of-use bands and demand or capacity charges are for "
                                     f"electricity (they need a quarter-hour profile), not {self.kind.value}")
        return self

    def version_on(self, day: dt.date) -> Version | None:
        """The version valid on ``day`` (None: before the first)."""
        found = None
        for v in self.versions:
            if v.valid_from <= day:
                found = v
        return found

    def split(self, first: dt.date, stop: dt.date) -> list[tuple[dt.date, dt.date, Version | None]]:
        """[first, stop) cut where a version starts: (from, until, version) with until exclusive."""
        cuts = [first, *(v.valid_from for v in self.versions if first < v.valid_from < stop), stop]
        return [(a, b, self.version_on(a)) for a, b in zip(cuts, cuts[1:], strict=False)]


def parse_tariffs(items: list[Any]) -> dict[str, Tariff]:
    """The ``tariffs:`` list, checked; ids unique."""
    out: dict[str, Tariff] = {}
    for item in items:
        tariff = Tariff.model_validate(item)
        if tariff.id in out:
            raise ValueError(f"tariff {tariff.id} is given twice")
        out[tariff.id] = tariff
    return out
