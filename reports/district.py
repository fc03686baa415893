"""The district report (区县教育局 / 节能监管平台): every site's month side by side, ranked.

For each site the figures are its own monthly report's (:func:`reports.energy.build`, the same rules
and coefficients): energy in standard coal, CO2, electricity, water and gas; per m² of floor area and
per person; against the site's targets (the departments' monthly targets added up per kind); and
year on year. Sites are ranked by energy per m² (单位建筑面积能耗), lowest first; per person is
ranked beside it. A site whose data is thin (coverage under the report's completeness minimum) is
ranked all the same but marked, so a silent meter does not pass for a saving.

Where the sites' reports carry costs (a billing file), each site's cost per energy in 元 is its report's site
total (``reports.energy.Costs``), and the district's the sites' added up (null where a site's is not known).
``costs`` is how the app adds them to each site's report: reports do not know prices.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from campus.contract import Kind
from campus.model import Campus
from reports.config import ReportSettings
from reports.energy import ENERGY_KINDS, Costs, EnergyReport, Figures, build, month_bounds
from reports.usage import SiteUsage, Usage

COST_FIELDS = ("electricity_yuan", "water_yuan", "gas_yuan")


class SiteTarget(BaseModel):
    kind: Kind
    month_target: float = Field(description="the departments' monthly targets of this kind, added up")
    month_use: float = Field(description="the departments' use that the targets cover")
    month_pct: float
    over: bool


class SiteStanding(BaseModel):
    site: str
    name: str
    rank: int = Field(description="by energy per m², lowest first (1 = best)")
    rank_per_person: int | None = Field(description="by energy per person, lowest first")
    floor_area_m2: float
    occupants: int
    figures: Figures
    kgce_per_m2: float | None
    kgce_per_person: float | None
    water_m3_per_person: float | None
    energy_yoy_pct: float | None = Field(description="energy (kgce) against the same month last year, %")
    targets: list[SiteTarget]
    over_target: bool = Field(description="over any of its targets this month")
    coverage: float
    complete: bool = Field(description="coverage at or above [report] completeness_min")
    cost: Costs | None = Field(default=None, description="元 per energy (the site report's); null: no billing file")


class DistrictReport(BaseModel):
    month: str = Field(examples=["2026-10"])
    language: str
    generated_at: datetime
    sites: list[SiteStanding]
    total: Figures
    floor_area_m2: float
    occupants: int
    kgce_per_m2: float | None
    kgce_per_person: float | None
    cost: Costs | None = Field(default=None, description="the sites' costs added up; null: none has costs")


def total_cost(rows: list[SiteStanding]) -> Costs | None:
    """The sites' costs per energy added up: null for an energy where any site's is not known."""
    if all(r.cost is None for r in rows):
        return None
    out: dict[str, Decimal | None] = {}
    for f in COST_FIELDS:
        parts: list[Decimal | None] = [getattr(r.cost, f) if r.cost is not None else None for r in rows]
        known = [p for p in parts if p is not None]
        out[f] = sum(known, Decimal("0.00")) if len(known) == len(parts) else None
    return Costs(**out)  # type: ignore[arg-type]


def standing(report: EnergyReport, settings: ReportSettings) -> SiteStanding:
    """One site's line, from its monthly report."""
    s = report.site_total
    yoy = next((c.yoy_pct for c in report.comparisons if c.scope == report.site and c.metric == "energy_kgce"), None)
    targets = []
    for kind in ENERGY_KINDS:
        mine = [t for t in report.targets if t.kind is kind]
        if not mine:
            continue
        target, use = sum(t.month_target for t in mine), sum(t.month_use for t in mine)
        targets.append(SiteTarget(kind=kind, month_target=target, month_use=use, month_pct=use / target * 100,
                                  over=use > target))
    return SiteStanding(
        site=report.site, name=report.site_name, rank=0, rank_per_person=None, floor_area_m2=s.floor_area_m2,
        occupants=s.occupants, figures=s.figures, kgce_per_m2=s.indicators.kgce_per_m2,
        kgce_per_person=s.indicators.kgce_per_person, water_m3_per_person=s.indicators.water_m3_per_person,
        energy_yoy_pct=yoy, targets=targets, over_target=any(t.over for t in targets), coverage=s.coverage,
        complete=s.coverage >= settings.completeness_min, cost=s.cost)


def _ranked(rows: list[SiteStanding]) -> list[SiteStanding]:
    def order(value: Callable[[SiteStanding], float | None]) -> list[SiteStanding]:
        return sorted((r for r in rows if value(r) is not None), key=lambda r: (value(r), r.site))

    by_area = order(lambda r: r.kgce_per_m2) + sorted((r for r in rows if r.kgce_per_m2 is None),
                                                        key=lambda r: r.site)
    per_person = {r.site: i for i, r in enumerate(order(lambda r: r.kgce_per_person), start=1)}
    return [r.model_copy(update={"rank": i, "rank_per_person": per_person.get(r.site)})
            for i, r in enumerate(by_area, start=1)]


def build_district(usage: Usage, month: str, settings: ReportSettings, *, language: str = "zh-CN",
                   sites: dict[str, Campus] | None = None, now_ms: int | None = None, refresh: bool = True,
                   progress: Callable[[list[str]], Iterable[str]] | None = None,
                   costs: Callable[[SiteUsage, EnergyReport], EnergyReport] | None = None) -> DistrictReport:
    """Every site's month, ranked; ``sites``: only these, each as the asker sees it. Refreshes the roll-ups once
    first unless told not to. ``costs``: the site's report with its costs (the app's; see above)."""
    month_bounds(month)
    if refresh:
        usage.refresh(wait_s=usage.request_wait_s)
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    chosen = list(sites) if sites is not None else list(usage.campuses)
    def report(site: str) -> EnergyReport:
        site_usage = usage.site(site, sites.get(site) if sites else None)
        got = build(site_usage, month, settings, language=language, now_ms=now_ms, refresh=False)
        return costs(site_usage, got) if costs is not None else got

    rows = [standing(report(site), settings) for site in (progress(chosen) if progress else chosen)]
    total = Figures(**{k: sum(getattr(r.figures, k) for r in rows) for k in Figures.model_fields})
    area, people = sum(r.floor_area_m2 for r in rows), sum(r.occupants for r in rows)
    campuses = usage.campuses
    tz = ZoneInfo(campuses[chosen[0]].site.timezone if chosen else "Asia/Shanghai")
    return DistrictReport(month=month, language=language, generated_at=datetime.fromtimestamp(now_ms / 1000, tz),
                          sites=_ranked(rows), total=total, floor_area_m2=area, occupants=people,
                          kgce_per_m2=total.energy_kgce / area if area else None,
                          kgce_per_person=total.energy_kgce / people if people else None, cost=total_cost(rows))
