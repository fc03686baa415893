"""The annual return composed: the year's metered quantities (reports), their costs (billing) and the values
entered by hand (records). Reports do not import billing, so the costs are added up here.

Costs, written down plainly:

1. A metered energy's cost is that of each month of the year (up to this month), added up. A month's cost is as the
   monthly report's site row has it (``app.costs``): what the school pays the utility where the billing file gives
   an incomer for the kind (its bill: energy, monthly fee, demand or capacity), else the buildings' main meters
   priced at their payers' tariffs.
2. If any month of a kind cannot be priced (a meter with use that no payer holds, a tariff without a price for the
   month), billing does not price the kind for the year and the entered cost is used (``<kind>_yuan``).
3. Without a billing file (or without this site in it) every cost is entered.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from app.costs import ZERO, added_up, building_costs, site_biller
from app.settings import Settings
from billing.pricing import NoPrice
from billing.tariffs import TariffKind
from campus.contract import Kind
from records.return_entries import ReturnEntries
from reports.annual_return import AnnualReturn, build_return
from reports.energy import ENERGY_KINDS
from reports.summaries import build_period
from reports.usage import SiteUsage

FIELDS = {Kind.ELECTRICITY: "electricity_yuan", Kind.WATER: "water_yuan", Kind.GAS: "gas_yuan"}


def metered(usage: SiteUsage, year: int, settings: Settings, now_ms: int, refresh: bool = True
            ) -> dict[Kind, tuple[float, float]]:
    """The year's use of the site's main meters per kind, with the coverage (the year summary's site row)."""
    period = build_period(usage, "year", str(year), settings.report, now_ms=now_ms, refresh=refresh)
    f, cov = period.site_total.figures, period.site_total.coverage
    return {Kind.ELECTRICITY: (f.electricity_kwh, cov), Kind.WATER: (f.water_m3, cov), Kind.GAS: (f.gas_m3, cov)}


def billed(usage: SiteUsage, settings: Settings, year: int, now: datetime) -> dict[str, Decimal]:
    """Each metered kind's cost for the year where billing prices every month of it (rules 1-3), by row key."""
    months = [f"{year:04d}-{m:02d}" for m in range(1, 13) if (year, m) <= (now.year, now.month)]
    totals: dict[Kind, Decimal | None] = dict.fromkeys(ENERGY_KINDS, ZERO)
    for month in months:
        biller = site_biller(usage, settings, month, now)
        if biller is None:
            return {}
        site = added_up(list(building_costs(biller, [b.id for b in usage.whole.buildings]).values()))
        for kind in ENERGY_KINDS:
            cost: Decimal | None = getattr(site, FIELDS[kind])
            try:
                got = biller.incomer(TariffKind(kind.value))
            except NoPrice:
                got = None
            if got is not None:
                cost = sum((ln.amount for ln in got[1]), ZERO)
            before = totals[kind]
            totals[kind] = None if before is None or cost is None else before + cost
    return {k.value: v for k, v in totals.items() if v is not None} if months else {}


def annual_return(usage: SiteUsage, settings: Settings, entries: ReturnEntries, year: int, *, language: str = "zh-CN",
                  now_ms: int, refresh: bool = True) -> AnnualReturn:
    """The site's return for ``year`` as of ``now_ms`` (``usage`` must be the whole site's)."""
    campus = usage.whole
    now = datetime.fromtimestamp(now_ms / 1000, ZoneInfo(campus.site.timezone))
    quantities = metered(usage, year, settings, now_ms, refresh)
    return build_return(campus, year, quantities, billed(usage, settings, year, now),
                        entries.current(campus.site.id, year), settings.returns, settings.report,
                        language=language, now=now)
