"""What the report's rows cost, in 元: where reports (the figures) and billing (the prices) meet.

The rules, written down plainly (``reports.energy.Costs`` says the same to whoever reads the report):

1. A building's cost of a kind is the cost of its main meters of that kind (those the report adds up), each
   priced by the tariff of the payer holding it, as on that payer's statement: the use lines' amounts, each
   rounded to the fen, added up. A shared meter is its payers' shares, each at its own tariff. A sub-meter billed
   to someone else is taken off its parent's payer (``billing.book`` rule 3) and priced at its own payer's
   tariff, so the building still pays for all of its main meter's use. Fixed, demand and capacity charges,
   allowances and incentives belong to payers, not buildings, and are not in it.
2. A main meter with use that no payer holds, or whose tariff has no price for the month, cannot be priced:
   its kind's cost is null ("—") and the meter is
   listed (``unpriced``). A building without meters of a kind costs 0.00 of it.
3. A department's cost is its buildings' added up (null if any is null).
4. The site's cost of a kind is what the school pays the utility where the billing file gives an incomer for
   it (the incomer's bill: energy, monthly fee, demand or capacity; its ``Summary`` amount), else its buildings'
   added up. A report narrowed to some buildings (a token's view) adds up its buildings: the incomer's bill is
   the whole site's.
5. Without a billing file (or without this site in it) there are no costs: every row's ``cost`` is None and the
   report is exactly as before.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from app.settings import Settings
from billing.book import Book, Holding
from billing.config import billing_for, load_billing
from billing.pricing import NoPrice, price_days
from billing.statements import Biller
from billing.tariffs import TariffKind
from campus.contract import Kind
from campus.model import Device
from reports.energy import ENERGY_KINDS, Costs, EnergyReport, Row
from reports.usage import SiteUsage

FIELDS = {Kind.ELECTRICITY: "electricity_yuan", Kind.WATER: "water_yuan", Kind.GAS: "gas_yuan"}
ZERO = Decimal("0.00")


def site_biller(usage: SiteUsage, settings: Settings, month: str, now: datetime, language: str = "zh-CN"
                ) -> Biller | None:
    """The site's biller for ``month`` from ``[billing] file``; None without one (or without this site in it).
    The roll-ups must be fresh (the report's build refreshes them)."""
    path = settings.billing.file
    if path is None:
        return None
    files = load_billing(path)
    if usage.site_id not in files and None not in files:
        return None
    book = Book.build(usage.whole, billing_for(files, usage.site_id))
    return Biller(book, usage.rollups, usage.store, month, now, language=language)


class Pricer:
    """Each meter's cost for the biller's month, as its payers' statements price it (rule 1)."""

    def __init__(self, biller: Biller) -> None:
        self.biller, self.book = biller, biller.book
        self.held: dict[str, list[tuple[str, Holding]]] = defaultdict(list)
        for pid, holdings in self.book.holdings.items():
            for h in holdings:
                self.held[h.device.id].append((pid, h))
        self._cost: dict[str, Decimal | None] = {}

    def own(self, device: Device) -> Decimal | None:
        """What the meter's payers pay for it (less the sub-meters billed to others); None: nobody holds it and
        it had use."""
        held = self.held.get(device.id)
        if not held:
            return None if self.biller.days(device).total > 0 else ZERO
        out = ZERO
        for pid, h in held:
            tariff = self.book.tariff(self.book.payers[pid], TariffKind(device.kind.value))
            try:
                priced = price_days(tariff, self.biller.held_days(h), self.biller.tags, self.biller.tz)
            except NoPrice:  # the tariff starts after this month: no price, "—" (the report is still made)
                return None
            out += sum((c.amount for c in priced.charges), ZERO)
        return out

    def cost(self, device: Device, unpriced: list[str], depth: int = 0) -> Decimal | None:
        """The meter's whole use priced: its own payers' part and the sub-meters taken off it (rule 1)."""
        got = self.own(device)
        if got is None:
            unpriced.append(device.id)
        less = {c.id: c for _, h in self.held.get(device.id, []) for c in h.less}
        for c in less.values():
            sub = self.cost(c, unpriced, depth + 1) if depth < 32 else None  # a parent loop: the campus refuses one
            got = None if got is None or sub is None else got + sub
        return got


def building_costs(biller: Biller, buildings: list[str]) -> dict[str, Costs]:
    pricer = Pricer(biller)
    out = {}
    for b in buildings:
        values: dict[str, Decimal | None] = {}
        unpriced: list[str] = []
        for kind in ENERGY_KINDS:
            total: Decimal | None = ZERO
            for d in biller.book.main_meters(TariffKind(kind.value)):
                if d.building != b:
                    continue
                c = pricer.cost(d, unpriced)
                total = None if total is None or c is None else total + c
            values[FIELDS[kind]] = total
        out[b] = Costs(**values, unpriced=unpriced)  # type: ignore[arg-type]
    return out


def added_up(costs: list[Costs]) -> Costs:
    values: dict[str, Decimal | None] = {}
    for f in FIELDS.values():
        parts = [getattr(c, f) for c in costs]
        values[f] = None if any(p is None for p in parts) else sum(parts, ZERO)
    return Costs(**values, unpriced=[u for c in costs for u in c.unpriced])  # type: ignore[arg-type]


def with_costs(report: EnergyReport, usage: SiteUsage, biller: Biller | None) -> EnergyReport:
    """The report with each row's cost (rules 1-5); unchanged without a biller."""
    if biller is None:
        return report
    campus = usage.campus
    by_building = building_costs(biller, [b.id for b in campus.buildings])

    def row(r: Row, cost: Costs) -> Row:
        return r.model_copy(update={"cost": cost})

    buildings = [row(r, by_building.get(r.id, Costs())) for r in report.buildings]
    departments = [row(r, added_up([by_building[b.id] for b in campus.buildings if b.department.value == r.id]))
                   for r in report.departments]
    site = added_up(list(by_building.values()))
    whole = {b.id for b in campus.buildings} == {b.id for b in usage.whole.buildings}
    if whole:
        incomer: list[Kind] = []
        values = site.model_dump()
        for kind in ENERGY_KINDS:
            try:
                got = biller.incomer(TariffKind(kind.value))
            except NoPrice:  # no utility price for the month: the buildings' sum stands
                got = None
            if got is not None:
                values[FIELDS[kind]] = sum((ln.amount for ln in got[1]), ZERO)
                incomer.append(kind)
        site = Costs(**{**values, "from_incomer": incomer})
    return report.model_copy(update={"buildings": buildings, "departments": departments,
                                     "site_total": row(report.site_total, site)})
