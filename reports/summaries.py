"""Term and year summaries: the monthly report's figures over a school term or a calendar year, against the
same period a year before (what a 节约型学校 self-assessment asks for) and against the targets.

A year is 1 January to 1 January in the site's time zone. A term is one of the campus file's terms,
``start`` to ``end`` inclusive; the term it is compared with is the calendar's term of the year before
that starts within a month of a year earlier (the same season), else the same dates a year before.
A period's target is each department's monthly target times the months the period covers, a month
partly covered counting by its days. A period uses the factors valid in the year it starts in.

A year is also held against the site's quota (能耗定额, ``[report] quota``), in the quota's convention
(reports/quotas.py): the year's kgce per m² and the band it falls in, or why there is none.
"""

from __future__ import annotations

import calendar
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from campus.contract import Kind
from campus.errors import NotFound
from campus.model import Campus
from reports.buckets import Interval
from reports.config import ReportSettings
from reports.consumption import UNIT, coverage_ratio, meter_use, meters
from reports.energy import (
    ENERGY_KINDS,
    GAP_HELP,
    METRICS,
    CoefficientUsed,
    Gap,
    Row,
    Totals,
    campus_rows,
    compare,
    dept_name,
)
from reports.quotas import QuotaResult, against
from reports.usage import SiteUsage


class YearOnYear(BaseModel):
    scope: str
    scope_name: str
    metric: str
    unit: str
    this_period: float
    this_coverage: float = Field(default=1.0, description="this period's coverage (readings received ÷ expected)")
    last_year: float | None = Field(description="null: no reading at all in the period a year before")
    last_year_coverage: float = Field(default=1.0)
    yoy_pct: float | None = Field(description="change against the same period a year before, % (同比); null: not "
                                              "comparable, see yoy_gap")
    yoy_gap: Gap | None = Field(default=None, description=GAP_HELP)


class PeriodTarget(BaseModel):
    department: str
    department_name: str
    kind: Kind
    unit: str
    target: float = Field(description="the monthly target × the months the period covers")
    use: float
    coverage: float = Field(default=1.0, description="the period's coverage for this energy")
    pct: float | None = Field(description="use ÷ target, %; null: the period is not over or not covered enough")
    gap: Gap | None = Field(default=None, description=GAP_HELP)
    over: bool = Field(description="the use is over the target already")


class PeriodReport(BaseModel):
    site: str
    site_name: str
    kind: Literal["year", "term"]
    period: str = Field(examples=["2026", "2026秋季学期"])
    language: str
    timezone: str
    period_start: datetime
    period_end: datetime = Field(description="exclusive")
    previous_start: datetime
    previous_end: datetime
    generated_at: datetime
    site_total: Row
    buildings: list[Row]
    departments: list[Row]
    year_on_year: list[YearOnYear]
    targets: list[PeriodTarget]
    coefficients: list[CoefficientUsed]
    completeness_min: float = Field(default=0.9, description="the coverage a period needs to be compared with another")
    quota: QuotaResult | None = Field(default=None, description="a year against the site's quota (能耗定额); null: "
                                      "a term, or no quota set for the site")


def terms(campus: Campus) -> list[dict[str, Any]]:
    """The campus file's terms: name, start and end dates (inclusive)."""
    out = []
    for t in (campus.calendar or {}).get("terms", []):
        out.append({"name": str(t["name"]), "start": _day(t["start"]), "end": _day(t["end"])})
    return out


def _day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _year_before(d: date) -> date:
    return d.replace(year=d.year - 1, day=min(d.day, calendar.monthrange(d.year - 1, d.month)[1]))


def bounds(campus: Campus, kind: str, period: str) -> tuple[date, date, date, date]:
    """(start, end, previous start, previous end) as dates, ends exclusive; NotFound for an unknown term."""
    if kind == "year":
        year = int(period)
        return date(year, 1, 1), date(year + 1, 1, 1), date(year - 1, 1, 1), date(year, 1, 1)
    listed = terms(campus)
    term = next((t for t in listed if t["name"] == period), None)
    if term is None:
        raise NotFound(f"no term {period!r} in site {campus.site.id!r}'s calendar "
                       f"(terms: {', '.join(t['name'] for t in listed) or 'none'})")
    start, end = term["start"], term["end"] + timedelta(days=1)
    ago = _year_before(start)
    before = next((t for t in listed if abs((t["start"] - ago).days) <= 31), None)
    if before is not None:
        return start, end, before["start"], before["end"] + timedelta(days=1)
    return start, end, ago, _year_before(end)


def _months_covered(start: date, end: date) -> float:
    """Months from ``start`` to ``end`` (exclusive), a month partly covered counting by its days."""
    months, d = 0.0, start
    while d < end:
        days = calendar.monthrange(d.year, d.month)[1]
        month_end = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
        months += (min(end, month_end) - d).days / days
        d = month_end
    return months


def build_period(usage: SiteUsage, kind: Literal["year", "term"], period: str, settings: ReportSettings, *,
                 language: str = "zh-CN", now_ms: int | None = None, refresh: bool = True) -> PeriodReport:
    if refresh:
        usage.refresh(wait_s=usage.request_wait_s)
    campus = usage.campus
    tz = ZoneInfo(campus.site.timezone)
    start, end, prev_start, prev_end = bounds(campus, kind, period)
    moments = sorted({prev_start, prev_end, start, end})
    cuts = [int(datetime(d.year, d.month, d.day, tzinfo=tz).timestamp() * 1000) for d in moments]
    now_idx, prev_idx = moments.index(start), moments.index(prev_start)
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    zh = language.startswith("zh")
    n = len(cuts) - 1
    factors = [settings.factors_for(moments[i].year, campus.site.id) for i in range(n)]

    def new() -> Totals:
        return Totals(n, now_idx, factors)

    buildings: dict[str, Totals] = defaultdict(new)
    site = new()
    for k in ENERGY_KINDS:
        for device in meters(campus, k):
            if not device.counts_in_totals:
                continue
            use = meter_use(usage.rollups, usage.store, device, cuts, Interval.DAY, now_ms)
            buildings[device.building].add(k, use)
            site.add(k, use)
    rows, departments, depts, site_row = campus_rows(campus, buildings, site, settings, zh, new)

    over = cuts[moments.index(end)] <= now_ms

    def yoy(t: Totals, scope: str, name: str, only: tuple[str, ...] | None = None) -> list[YearOnYear]:
        now, last = t.figures(now_idx, settings), t.figures(prev_idx, settings)
        cov_now, cov_last = t.coverage(now_idx), t.coverage(prev_idx)
        out = []
        for m, u in METRICS:
            if only is not None and m not in only:
                continue
            a, b = getattr(now, m), getattr(last, m) if t.readings(prev_idx) else None
            pct, gap = compare(a, cov_now, b, cov_last, settings, over=over)
            out.append(YearOnYear(scope=scope, scope_name=name, metric=m, unit=u, this_period=a, this_coverage=cov_now,
                                  last_year=b, last_year_coverage=cov_last, yoy_pct=pct, yoy_gap=gap))
        return out

    months = _months_covered(start, end)
    targets = []
    for dept, by_kind in campus.targets.items():
        t = depts.get(dept, new())
        for k, monthly in by_kind.items():
            if k not in ENERGY_KINDS or monthly <= 0:
                continue
            used, target = t.use(k, now_idx), monthly * months
            tally = t.kinds[k]
            cov = coverage_ratio(tally.readings[now_idx], tally.expected[now_idx])
            gap: Gap | None = "incomplete" if cov < settings.completeness_min else None  # so far: progress
            targets.append(PeriodTarget(department=dept.value, department_name=dept_name(dept.value, zh), kind=k,
                                        unit=UNIT[k], target=target, use=used, coverage=cov,
                                        pct=used / target * 100 if gap is None else None, gap=gap,
                                        over=used > target))

    def at(d: date) -> datetime:
        return datetime(d.year, d.month, d.day, tzinfo=tz)

    return PeriodReport(
        site=campus.site.id, site_name=campus.site.name, kind=kind, period=period, language=language,
        timezone=campus.site.timezone, period_start=at(start), period_end=at(end), previous_start=at(prev_start),
        previous_end=at(prev_end), generated_at=datetime.fromtimestamp(now_ms / 1000, tz),
        site_total=site_row, buildings=rows, departments=departments,
        year_on_year=yoy(site, campus.site.id, campus.site.name) + [
            c for dept, t in depts.items() for c in yoy(t, dept.value, dept_name(dept.value, zh), ("energy_kgce",))],
        targets=targets, coefficients=list(factors[now_idx].used), completeness_min=settings.completeness_min,
        quota=_quota(settings, campus.site.id, site_row, start.year, factors[now_idx].value, over)
        if kind == "year" else None)


def _quota(settings: ReportSettings, site: str, row: Row, year: int, factor: Callable[[str], float],
           over: bool) -> QuotaResult | None:
    """The year against the site's quota, in the quota's convention (None: no quota set)."""
    q = settings.quota_of(site)
    if q is None:
        return None
    f = row.figures
    return against(q, electricity_kwh=f.electricity_kwh, gas_m3=f.gas_m3, water_m3=f.water_m3,
                   floor_area_m2=row.floor_area_m2, coverage=row.coverage, over=over,
                   completeness_min=settings.completeness_min, calorific=factor("coal_electricity"),
                   report_gas=factor("coal_gas"), water_kgce_per_t=factor("coal_water"),
                   equivalent=settings.equivalent_for(year))
