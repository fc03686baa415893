"""The month's statement (内部结算单) of one payer, and every payer's total against the incomer's cost.

A statement has lines, each traceable to readings:

- ``use``: one meter × tariff version × band (or tier): the meter's registers at the start and end of the
  version's days (interpolated between the readings around each instant where no reading falls on it, and
  marked so), the multiplier, the use, the price and the amount. A payer's share of a shared meter is its
  share of each quarter hour; sub-meters billed to others are taken off first (``less``).
- ``allowance``: the free monthly use (定额) of a dorm room, taken off at the kind's price (its average over
  the kind's use lines, from the exact cost, when there are several prices): with one price, what is left is
  exactly the use above the allowance at that price.
- ``remainder``: the payer's part of the incomer's remainder (losses, unmetered public use), when the billing
  file allocates it, at the incomer's average energy price for the month.
- ``fixed``, ``demand``, ``capacity``: the tariff's monthly fee and, on the incomer, the two-part charges.
- ``incentive``: the month's reward (negative) or penalty (``billing.incentives``).

The total is the sum of the lines' amounts (see ``billing.pricing`` for the rounding convention).

The summary of every payer adds, for the console's costs view:

- ``bands``: the electricity use lines of every payer summed per band (use and 元), so the bands' amounts add up
  to what the payers pay for electricity use; each payer's own the same way.
- ``projected`` (on each statement and payer) and ``projected_total`` (their sum): what the statement will say at
  the month's end if use goes on at the rate so far. The current month only: null for a month that is over or not
  begun, and in its first hour. With ``f`` = the month's length ÷ the time elapsed, both counted in the site's
  time zone up to now: each ``use`` and ``remainder`` line's amount × f (to the fen); the ``fixed``, ``capacity``
  and ``demand`` lines once (a monthly fee is a whole month's already; demand is the month's maximum, not a sum);
  the ``allowance`` again on the projected use (min(use × f, allowance) at its price); and the payer's
  ``incentives`` settled again on its projected use (``ahead``, from the desk: a canteen ten days into the month is
  far below a month's target, which says nothing about the month).
- ``as_of``: the newest reading the figures include: the last reading of any billed meter or incomer at or
  before the month's end (or now, in the current month); null without one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from billing.book import Book, Holding
from billing.metered import MICRO, Day, MeterDays, meter_days
from billing.pricing import FLAT, Charge, Priced, money, price_days, shown
from billing.tariffs import Tariff, TariffKind
from campus.calendar import CampusCalendar
from campus.contract import REGISTER_FIELD
from campus.labels import Name
from campus.model import Device
from campus.registers import value_at
from ingest.stores import ReadingStore
from reports.rollup import Rollups

UNITS = {TariffKind.ELECTRICITY: "kWh", TariffKind.WATER: "m³", TariffKind.GAS: "m³"}
BAND_NAMES = {
    "sharp": ("尖峰", "sharp peak"), "peak": ("高峰", "peak"), "flat": ("平段", "flat"), "valley": ("低谷", "valley"),
    "deep_valley": ("深谷", "deep valley"), FLAT: ("单一电价", "single price"),
    "tier_1": ("第一档", "tier 1"), "tier_2": ("第二档", "tier 2"), "tier_3": ("第三档", "tier 3"),
    "tier_4": ("第四档", "tier 4"),
}
Section = Literal["use", "allowance", "remainder", "fixed", "demand", "capacity", "incentive"]
PRICE_PLACES = Decimal("0.0001")


def band_name(band: str, language: str) -> str:
    zh, en = BAND_NAMES.get(band, (band, band))
    return zh if language.startswith("zh") else en


class Reading(BaseModel):
    at: dt.datetime
    value: float


class Register(BaseModel):
    """A register's value at an instant: a reading at it, or interpolated between the two around it."""

    at: dt.datetime
    value: float | None = Field(description="raw register (before the multiplier); null: no reading before")
    interpolated: bool
    readings: list[Reading] = Field(description="the readings it comes from")


class Line(BaseModel):
    section: Section
    kind: TariffKind | None = None
    meter: str | None = None
    meter_name: str | None = None
    tariff: str | None = None
    tariff_name: str | None = None
    start: dt.date
    end: dt.date = Field(description="the last day counted (inclusive)")
    band: str | None = None
    band_name: str | None = None
    start_register: Register | None = None
    end_register: Register | None = None
    multiplier: float | None = None
    share: float | None = Field(default=None, description="the payer's share of a shared meter (0…1)")
    less: list[str] = Field(default_factory=list, description="sub-meters billed to others, taken off")
    use: Decimal = Field(description="kWh or m³, to 0.01")
    unit: str = ""
    price: Decimal = Field(description="元 per unit (or per kW, per kVA, per month)")
    amount: Decimal = Field(description="元, to the fen")
    estimated_share: float = Field(default=0.0, description="share of the use whose split between bands is an "
                                   "estimate (a meter read less often than hourly)")
    note: str = ""


class MeterEvent(BaseModel):
    meter: str
    meter_name: str
    at: dt.datetime
    flag: str
    raw_from: float
    raw_to: float


class Statement(BaseModel):
    site: str
    site_name: str
    month: str
    payer: str
    payer_name: str
    payer_type: str
    timezone: str
    generated_at: dt.datetime
    currency: Literal["CNY"] = "CNY"
    lines: list[Line]
    events: list[MeterEvent] = Field(default_factory=list, description="meter replacements and register resets "
                                     "in the month: registers across them do not subtract")
    total: Decimal = Field(description="元: the sum of the lines' amounts")
    projected: Decimal | None = Field(default=None, description="元 at the month's end at the rate so far (the "
                                      "current month only; how: billing.statements)")


class BandUse(BaseModel):
    """Electricity use and its cost in one band, summed over statements' use lines."""

    band: str
    band_name: str
    use: Decimal = Field(description="kWh, to 0.01")
    amount: Decimal = Field(description="元, the sum of the lines' amounts")


class PayerTotal(BaseModel):
    payer: str
    payer_name: str
    payer_type: str
    total: Decimal
    bands: list[BandUse] = Field(default_factory=list, description="its electricity use lines by band")
    projected: Decimal | None = Field(default=None, description="元 at the month's end at the rate so far "
                                      "(the current month only)")


class IncomerCost(BaseModel):
    kind: TariffKind
    meter: str
    meter_name: str
    tariff: str
    use: Decimal
    main_meters_use: Decimal = Field(description="the site's main meters of this kind")
    remainder_use: Decimal = Field(description="losses and unmetered public use: incomer − main meters")
    amount: Decimal
    average_price: Decimal | None


class Summary(BaseModel):
    site: str
    site_name: str
    month: str
    timezone: str
    generated_at: dt.datetime
    payers: list[PayerTotal]
    payers_total: Decimal
    incomer: list[IncomerCost]
    incomer_total: Decimal
    school_share: Decimal = Field(description="the incomer's cost less what the payers pay: the school's own use, "
                                  "losses and unmetered use it keeps")
    bands: list[BandUse] = Field(default_factory=list, description="every payer's electricity use lines by band")
    projected_total: Decimal | None = Field(default=None, description="元: the payers' projected month-end total "
                                            "(the current month only; null for a past month)")
    as_of: dt.datetime | None = Field(default=None, description="the newest reading the figures include")


def month_days(month: str) -> tuple[dt.date, dt.date]:
    y, m = (int(x) for x in month.split("-"))
    first = dt.date(y, m, 1)
    return first, (dt.date(y + 1, 1, 1) if m == 12 else dt.date(y, m + 1, 1))


class Biller:
    """Statements of one site for one month; meters' days are read once and shared by every statement."""

    def __init__(self, book: Book, rollups: Rollups, store: ReadingStore, month: str, now: dt.datetime, *,
                 language: str = "zh-CN") -> None:
        self.book, self.rollups, self.store, self.month, self.now = book, rollups, store, month, now
        self.language = language
        self.tz = ZoneInfo(book.campus.site.timezone)
        self.first, self.stop = month_days(month)
        self.calendar = CampusCalendar(book.campus.calendar)
        self._days: dict[str, MeterDays] = {}
        self._registers: dict[tuple[str, dt.date], Register] = {}
        self._incomer: dict[TariffKind, tuple[Priced, list[Line], MeterDays]] = {}
        self._made: dict[str, Statement] = {}  # the statements made, for the summary's bands and projection
        self.now_ms = int(now.timestamp() * 1000)

    def tags(self, day: dt.date) -> frozenset[str]:
        return self.calendar.tags(day)

    def days(self, device: Device) -> MeterDays:
        got = self._days.get(device.id)
        if got is None:
            got = self._days[device.id] = meter_days(self.rollups, self.store, device, self.first, self.stop,
                                                     self.tz, self.now_ms)
        return got

    def name(self, device: Device) -> str:
        return device.name or device.id

    def register(self, device: Device, day: dt.date) -> Register:
        """The raw register at local midnight starting ``day``."""
        key = (device.id, day)
        got = self._registers.get(key)
        if got is None:
            at = dt.datetime.combine(day, dt.time(), self.tz)
            at_ms = int(at.timestamp() * 1000)
            field = REGISTER_FIELD[device.kind]
            assert field is not None  # noqa: S101
            before, after = self.store.around(self.book.campus.site.id, device.id, device.kind, field, at_ms)
            b = (before.ts, before.values[field]) if before is not None and field in before.values else None
            a = (after.ts, after.values[field]) if after is not None and field in after.values else None
            value = value_at(b, a, at_ms)
            used = [p for p in (b, a) if p is not None]
            exact = b is not None and b[0] == at_ms
            got = self._registers[key] = Register(
                at=at, value=value, interpolated=not exact and value is not None,
                readings=[Reading(at=dt.datetime.fromtimestamp(t / 1000, self.tz), value=v)
                          for t, v in (used[:1] if exact else used)])
        return got

    # -- one payer ---------------------------------------------------------------------------
    def statement(self, payer_id: str, *, extra: Callable[[Statement], list[Line]] | None = None,
                  ahead: Callable[[Decimal], Decimal] | None = None) -> Statement:
        """``extra``: more lines (the desk's incentives); ``ahead``: what they come to at the month's end when use
        grows by the given factor (for the projection; without it they are counted as they stand)."""
        book = self.book
        payer = book.payer(payer_id)
        lines: list[Line] = []
        events: list[MeterEvent] = []
        use_by_kind: dict[TariffKind, int] = {}
        exact_by_kind: dict[TariffKind, Decimal] = {}
        for h in book.holdings.get(payer.id, []):
            kind = TariffKind(h.device.kind.value)
            tariff = book.tariff(payer, kind)
            days = self.held_days(h)
            priced = price_days(tariff, days, self.tags, self.tz)
            use_by_kind[kind] = use_by_kind.get(kind, 0) + priced.micro
            exact_by_kind[kind] = exact_by_kind.get(kind, Decimal(0)) + priced.exact
            lines += self._use_lines(h, tariff, priced, self.days(h.device).estimated_share if tariff_tou(tariff)
                                     else 0.0)
            events += [MeterEvent(meter=h.device.id, meter_name=self.name(h.device),
                                  at=dt.datetime.fromtimestamp(f.end_ms / 1000, self.tz), flag=f.flag,
                                  raw_from=f.raw_from, raw_to=f.raw_to)
                       for f in self.days(h.device).flags if f.flag == "new_cycle"]
        for kind, allowance in payer.allowance.items():
            used = Decimal(use_by_kind.get(kind, 0)) / MICRO
            kind_lines = [ln for ln in lines if ln.kind is kind and ln.section == "use"]
            free = min(used, allowance)
            if free > 0 and kind_lines:
                # the price the free use is taken off at: the one price of the kind's lines, or their average
                # from the exact (unrounded) cost; never from rounded amounts, which would be a fen off
                prices = {ln.price for ln in kind_lines}
                avg = (prices.pop() if len(prices) == 1 else
                       (exact_by_kind[kind] / used).quantize(PRICE_PLACES, rounding=ROUND_HALF_UP))
                shown_free = free.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
                lines.append(Line(section="allowance", kind=kind, start=self.first, end=self.last, use=-shown_free,
                                  unit=UNITS[kind], price=avg, amount=money(-shown_free * avg),
                                  note=_say(self.language, f"定额 {allowance} {UNITS[kind]} 内免费",
                                            f"free allowance of {allowance} {UNITS[kind]}")))
        lines += self._remainder_lines(payer.id, use_by_kind)
        for kind in sorted({TariffKind(h.device.kind.value) for h in book.holdings.get(payer.id, [])}):
            lines += self._fixed_lines(book.tariff(payer, kind), kind)
        statement = Statement(
            site=book.campus.site.id, site_name=book.campus.site.name, month=self.month, payer=payer.id,
            payer_name=payer.name, payer_type=payer.type.value, timezone=str(self.tz), generated_at=self.now,
            lines=lines, events=events, total=Decimal(0))
        if extra is not None:
            statement.lines += extra(statement)
        statement.total = sum((ln.amount for ln in statement.lines), Decimal("0.00"))
        statement.projected = self.projected(statement, ahead)
        self._made[payer.id] = statement
        return statement

    @property
    def last(self) -> dt.date:
        return self.stop - dt.timedelta(days=1)

    def held_days(self, h: Holding) -> list[Day]:
        own = self.days(h.device).days
        out = []
        minus = [self.days(c).days for c in h.less]
        for i, d in enumerate(own):
            slots = None if d.slots is None else list(d.slots)
            total = d.total
            for other in minus:
                o = other[i]
                total -= o.total
                if slots is not None and o.slots is not None:
                    slots = [a - b for a, b in zip(slots, o.slots, strict=False)]
            if h.share != 1.0:
                total *= h.share
                slots = None if slots is None else [x * h.share for x in slots]
            out.append(Day(d.date, d.start_ms, slots, total))
        return out

    def _use_lines(self, h: Holding, tariff: Tariff, priced: Priced, estimated: float) -> list[Line]:
        kind = TariffKind(h.device.kind.value)
        out = []
        for c in priced.charges:
            out.append(Line(
                section="use", kind=kind, meter=h.device.id, meter_name=self.name(h.device), tariff=tariff.id,
                tariff_name=tariff.name, start=c.start, end=c.until - dt.timedelta(days=1), band=c.band,
                band_name=band_name(c.band, self.language), start_register=self.register(h.device, c.start),
                end_register=self.register(h.device, c.until), multiplier=h.device.multiplier,
                share=None if h.share == 1.0 else round(h.share, 6), less=[d.id for d in h.less], use=c.use,
                unit=UNITS[kind], price=c.price, amount=c.amount, estimated_share=round(estimated, 4)))
        return out

    def _fixed_lines(self, tariff: Tariff, kind: TariffKind, demand_kw: float | None = None) -> list[Line]:
        version = tariff.version_on(self.last)
        out: list[Line] = []
        if version is None:
            return out
        if version.monthly_fee:
            out.append(Line(section="fixed", kind=kind, tariff=tariff.id, tariff_name=tariff.name, start=self.first,
                            end=self.last, use=Decimal(1), unit=_say(self.language, "月", "month"),
                            price=version.monthly_fee, amount=money(version.monthly_fee),
                            note=_say(self.language, "月固定费", "monthly fee")))
        if version.capacity is not None:
            cap = version.capacity
            out.append(Line(section="capacity", kind=kind, tariff=tariff.id, tariff_name=tariff.name,
                            start=self.first, end=self.last, use=cap.kva, unit="kVA", price=cap.per_kva,
                            amount=money(cap.kva * cap.per_kva),
                            note=_say(self.language, "容量电费 (两部制)", "capacity charge (two-part)")))
        if version.demand is not None and demand_kw is not None:
            kw = Decimal(str(round(demand_kw, 2)))
            out.append(Line(section="demand", kind=kind, tariff=tariff.id, tariff_name=tariff.name,
                            start=self.first, end=self.last, use=kw, unit="kW", price=version.demand.per_kw,
                            amount=money(kw * version.demand.per_kw),
                            note=_say(self.language, "需量电费: 当月最大需量 (15 分钟平均功率)",
                                      "demand charge: the month's maximum 15-minute demand")))
        return out

    # -- the incomer and its remainder -------------------------------------------------------
    def incomer(self, kind: TariffKind) -> tuple[Priced, list[Line], MeterDays] | None:
        inc = self.book.billing.incomer.get(kind)
        if inc is None:
            return None
        got = self._incomer.get(kind)
        if got is None:
            device = next(d for d in self.book.campus.devices if d.id == inc.meter)
            tariff = self.book.tariffs[inc.tariff]
            md = self.days(device)
            priced = price_days(tariff, md.days, self.tags, self.tz)
            lines = self._use_lines(Holding(device), tariff, priced, md.estimated_share if tariff_tou(tariff) else 0)
            lines += self._fixed_lines(tariff, kind, md.max_demand_kw())
            got = self._incomer[kind] = (priced, lines, md)
        return got

    def remainder_micro(self, kind: TariffKind) -> int:
        """Incomer use less the site's main meters (micro-units; may be negative: a meter is wrong)."""
        inc = self.incomer(kind)
        if inc is None:
            return 0
        mains = sum(round(self.days(d).total * MICRO) for d in self.book.main_meters(kind))
        return inc[0].micro - mains

    def _remainder_lines(self, payer_id: str, use_by_kind: dict[TariffKind, int]) -> list[Line]:
        out: list[Line] = []
        for kind, inc_cfg in self.book.billing.incomer.items():
            rule = inc_cfg.remainder.value
            if rule == "keep":
                continue
            payer = self.book.payers[payer_id]
            if kind not in payer.tariffs:
                continue
            weights = self._remainder_weights(kind, rule)
            total = sum(weights.values())
            if total <= 0 or weights.get(payer_id, 0) <= 0:
                continue
            inc = self.incomer(kind)
            assert inc is not None  # noqa: S101
            priced = inc[0]
            use = Decimal(priced.micro) / MICRO
            avg = (priced.amount / use).quantize(PRICE_PLACES, rounding=ROUND_HALF_UP) if use > 0 else Decimal(0)
            share = weights[payer_id] / total
            mine = (Decimal(self.remainder_micro(kind)) / MICRO * Decimal(str(share))).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP)
            out.append(Line(section="remainder", kind=kind, meter=inc_cfg.meter, start=self.first, end=self.last,
                            share=round(share, 6), use=mine, unit=UNITS[kind], price=avg, amount=money(mine * avg),
                            note=_say(self.language, f"进线损耗及未计量公共用量分摊 ({_RULES[rule][0]})",
                                      f"share of losses and unmetered use ({_RULES[rule][1]})")))
        return out

    def _remainder_weights(self, kind: TariffKind, rule: str) -> dict[str, float]:
        book = self.book
        if rule == "by_area":
            return {p: book.area[p] for p in book.payers if kind in book.payers[p].tariffs}
        if rule == "by_occupants":
            return {p: book.people[p] for p in book.payers if kind in book.payers[p].tariffs}
        out: dict[str, float] = {}
        for pid, held in book.holdings.items():
            for h in held:
                if h.device.kind.value == kind.value:
                    out[pid] = out.get(pid, 0.0) + sum(d.total for d in self.held_days(h))
        return out

    # -- every payer ------------------------------------------------------------------------
    def summary(self, totals: dict[str, Decimal]) -> Summary:
        book = self.book
        payers = []
        for p in book.billing.payers:
            made = self._made.get(p.id) or self.statement(p.id)
            payers.append(PayerTotal(payer=p.id, payer_name=p.name, payer_type=p.type.value, total=totals[p.id],
                                     bands=self.bands([made]), projected=made.projected))
        incomers = []
        for kind, cfg in book.billing.incomer.items():
            inc = self.incomer(kind)
            assert inc is not None  # noqa: S101
            priced, lines, md = inc
            use = Decimal(priced.micro) / MICRO
            amount = sum((ln.amount for ln in lines), Decimal(0))
            mains = Decimal(sum(round(self.days(d).total * MICRO) for d in book.main_meters(kind))) / MICRO
            device = md.device
            incomers.append(IncomerCost(
                kind=kind, meter=device.id, meter_name=self.name(device), tariff=cfg.tariff, use=_c(use),
                main_meters_use=_c(mains), remainder_use=_c(use - mains), amount=amount,
                average_price=(priced.amount / use).quantize(PRICE_PLACES, rounding=ROUND_HALF_UP) if use > 0
                else None))
        payers_total = sum((p.total for p in payers), Decimal("0.00"))
        incomer_total = sum((i.amount for i in incomers), Decimal("0.00"))
        return Summary(site=book.campus.site.id, site_name=book.campus.site.name, month=self.month,
                       timezone=str(self.tz), generated_at=self.now, payers=payers, payers_total=payers_total,
                       incomer=incomers, incomer_total=incomer_total, school_share=incomer_total - payers_total,
                       bands=self.bands([self._made.get(p.payer) or self.statement(p.payer) for p in payers]),
                       projected_total=None if any(p.projected is None for p in payers)
                       else sum((p.projected or Decimal(0) for p in payers), Decimal("0.00")),
                       as_of=self.as_of())

    # -- the costs view's extras --------------------------------------------------------------
    def bands(self, statements: list[Statement]) -> list[BandUse]:
        """Electricity use lines summed per band, in the order of ``BAND_NAMES`` (unknown bands after)."""
        use: dict[str, Decimal] = {}
        amount: dict[str, Decimal] = {}
        for st in statements:
            for ln in st.lines:
                if ln.section == "use" and ln.kind is TariffKind.ELECTRICITY and ln.band is not None:
                    use[ln.band] = use.get(ln.band, Decimal("0.00")) + ln.use
                    amount[ln.band] = amount.get(ln.band, Decimal("0.00")) + ln.amount
        order = list(BAND_NAMES)
        keys = sorted(use, key=lambda b: (order.index(b) if b in order else len(order), b))
        return [BandUse(band=b, band_name=band_name(b, self.language), use=use[b], amount=amount[b]) for b in keys]

    def elapsed(self) -> tuple[int, int] | None:
        """(ms elapsed, ms in the month) when now lies in the month and an hour of it has passed, else None."""
        lo = int(dt.datetime.combine(self.first, dt.time(), self.tz).timestamp() * 1000)
        hi = int(dt.datetime.combine(self.stop, dt.time(), self.tz).timestamp() * 1000)
        if not lo + 3_600_000 <= self.now_ms < hi:
            return None
        return self.now_ms - lo, hi - lo

    def projected(self, statement: Statement, ahead: Callable[[Decimal], Decimal] | None = None) -> Decimal | None:
        """``statement`` at the month's end at the rate so far (the module's docstring); None outside the month.
        ``ahead``: the extra lines (incentives) at the month's end, given the factor use grows by."""
        got = self.elapsed()
        if got is None:
            return None
        factor = Decimal(got[1]) / Decimal(got[0])
        out = Decimal("0.00")
        use: dict[TariffKind, Decimal] = {}
        for ln in statement.lines:
            if ln.section in ("use", "remainder"):
                out += scale(ln.amount, *got)
                if ln.section == "use" and ln.kind is not None:
                    use[ln.kind] = use.get(ln.kind, Decimal(0)) + ln.use * factor
            elif ln.section in ("fixed", "capacity", "demand") or (ln.section == "incentive" and ahead is None):
                out += ln.amount
        payer = self.book.payers.get(statement.payer)
        for ln in statement.lines:
            if ln.section == "allowance" and ln.kind is not None and payer is not None:
                free = min(use.get(ln.kind, Decimal(0)), payer.allowance.get(ln.kind, Decimal(0)))
                out -= money(free.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) * ln.price)
        return out + (ahead(factor) if ahead is not None else Decimal(0))

    def as_of(self) -> dt.datetime | None:
        """The newest reading of a billed meter or incomer at or before the month's end (or now)."""
        end = min(self.now, dt.datetime.combine(self.stop, dt.time(), self.tz))
        devices = {h.device.id: h.device for held in self.book.holdings.values() for h in held}
        devices |= {c.id: c for held in self.book.holdings.values() for h in held for c in h.less}
        ids = {inc.meter for inc in self.book.billing.incomer.values()}
        devices |= {d.id: d for d in self.book.campus.devices if d.id in ids}
        seen = [r.at for d in devices.values() for r in self.register(d, self.stop).readings if r.at <= end]
        return max(seen, default=None)


def scale(amount: Decimal, elapsed_ms: int, month_ms: int) -> Decimal:
    """``amount × month ÷ elapsed``, to the fen (half up): a line's amount at the month's end."""
    return money(amount * Decimal(month_ms) / Decimal(elapsed_ms))


_RULES = {"by_use": ("按用量", "by use"), "by_area": ("按面积", "by floor area"),
          "by_occupants": ("按人数", "by occupants")}


def _c(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _say(language: str, zh: str, en: str) -> str:
    return zh if language.startswith("zh") else en


def tariff_tou(tariff: Tariff) -> bool:
    return any(v.time_of_use for v in tariff.versions)


__all__ = ["BandUse", "Biller", "Charge", "Line", "Name", "Statement", "Summary", "month_days", "shown"]
