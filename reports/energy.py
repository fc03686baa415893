"""The monthly energy report for the environmental bureau (能源资源消耗月报): the numbers.

For one calendar month in the campus time zone, from the daily roll-ups:
- per building and per department: electricity kWh, water m³, gas m³, standard coal (kgce) and
  CO2 (kg), and the public-institution indicators kgce/m², kgce/person and m³ water/person;
- the site: the same, month-on-month (环比) and year-on-year (同比);
- each department against its monthly target and the year to date against 12 × that (节能降耗指标);
- the incomer against the sum of the buildings' main meters (line loss, 线损);
- data completeness per meter (readings received ÷ expected) and the month's flagged register steps;
- the month's alerts by category and severity (given by the caller: reports do not depend on alerts);
- the sub-item table (分项能耗): each building's use by energy item, with 未分项 (``reports.items``).
Totals add up main meters only: sub-meters (``parent``) and the incomer are not counted twice.
Where a billing file prices the meters, each row also carries what its energy cost in 元 (``Row.cost``: filled
by the app, which knows billing; reports do not); without one it is None and the report is as it always was.
Renderers (``reports.render``) turn this model into JSON, CSV, XLSX and PDF.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from campus.contract import Kind
from campus.items import item_source
from campus.labels import DEPARTMENTS, label
from campus.model import INCOMER, Campus, Department, Device
from reports.buckets import Interval, edges
from reports.config import ReportSettings
from reports.consumption import UNIT, MeterUse, Tally, coverage_ratio, meter_use, meters
from reports.factors import CoefficientUsed, FactorSet
from reports.items import BuildingItems, item_rows, split
from reports.usage import SiteUsage

__all__ = ["CoefficientUsed"]  # the factors a report used: defined with the factors, named here for readers

ENERGY_KINDS = (Kind.ELECTRICITY, Kind.WATER, Kind.GAS)


class Figures(BaseModel):
    """Use by carrier, each in standard coal and CO2, and the totals: energy_kgce = electricity_kgce + gas_kgce
    (+ water_kgce with [report] water_in_energy); co2_kg = electricity_co2_kg + gas_co2_kg (tap water has no CO2
    factor)."""

    electricity_kwh: float = 0.0
    water_m3: float = 0.0
    gas_m3: float = 0.0
    energy_kgce: float = Field(default=0.0, description="electricity + gas in standard coal (+ water if configured)")
    water_kgce: float = Field(default=0.0, description="tap water in standard coal, for reference")
    co2_kg: float = 0.0
    electricity_kgce: float = Field(default=0.0, description="electricity × coal_electricity (当量值)")
    gas_kgce: float = Field(default=0.0, description="natural gas × coal_gas (from the heating value)")
    electricity_co2_kg: float = Field(default=0.0, description="electricity × co2_electricity (the month's grid "
                                                                "factor)")
    gas_co2_kg: float = Field(default=0.0, description="natural gas × co2_gas (from the heating value)")


class Indicators(BaseModel):
    kgce_per_m2: float | None = None
    kgce_per_person: float | None = None
    water_m3_per_person: float | None = None


class Costs(BaseModel):
    """What a row's electricity, water and gas cost this month, in 元 to the fen (from the billing file).

    A building's is its main meters priced by the tariff of the payer holding each (a shared meter: each payer's
    share at its own tariff; a sub-meter billed to someone else at theirs); a department's, its buildings' added
    up; the site's, what the school pays the utility where an incomer with a tariff exists for the kind (its
    bill: energy, monthly fee, demand or capacity), else its buildings' added up. A row without meters of a kind
    costs 0.00 of it; null: not known (a meter with use that no payer holds, listed in ``unpriced``)."""

    electricity_yuan: Decimal | None = None
    water_yuan: Decimal | None = None
    gas_yuan: Decimal | None = None
    from_incomer: list[Kind] = Field(default_factory=list, description="the site: kinds whose cost is the "
                                     "incomer's bill; the others are its buildings' added up")
    unpriced: list[str] = Field(default_factory=list, description="meters with use that no payer holds (ids)")


class Row(BaseModel):
    """A building, a department or the site."""

    id: str
    name: str
    code: str | None = Field(default=None, description="a building's code (建筑识别编码), if the campus file gives it")
    department: str | None = None
    floor_area_m2: float = 0
    occupants: int = 0
    per_person: bool = Field(default=True, description="its occupants are the people it serves, so per-person "
                                                       "figures mean something; false for a plant room (锅炉房, "
                                                       "配电房) and a building without occupants")
    figures: Figures
    indicators: Indicators
    coverage: float = Field(description="readings received ÷ expected over the row's meters this month")
    cost: Costs | None = Field(default=None, description="元 per energy; null: no billing file")


# -- comparing periods ---------------------------------------------------------------------------------------
# A period's coverage is what its meters sent ÷ what they should have sent: readings received ÷ readings expected
# at each meter's interval (reports.consumption.coverage_ratio), the report's 数据完整率. Two periods are compared
# (环比, 同比, the year to date against its target, a term or year against the one before) only when both are
# over and both are covered at least ``[report] completeness_min`` (90 % unless set). Otherwise the change is
# None, shown "—" with why (Gap): a month with two days of data is not compared with a whole one.
Gap = Literal["unfinished", "incomplete", "compared_incomplete", "compared_zero"]
GAP_HELP = ("why the % is left out (null: it is not): unfinished (this period is not over), incomplete (this "
            "period's coverage is below [report] completeness_min), compared_incomplete (the compared period's is), "
            "compared_zero (the compared period used nothing)")


def compare(this: float, this_coverage: float, other: float | None, other_coverage: float, s: ReportSettings, *,
            over: bool = True) -> tuple[float | None, Gap | None]:
    """The change from ``other`` to ``this`` in %, or None and why (see above)."""
    if not over:
        return None, "unfinished"
    if this_coverage < s.completeness_min:
        return None, "incomplete"
    if other is None or other_coverage < s.completeness_min:
        return None, "compared_incomplete"
    if other == 0:
        return None, "compared_zero"
    return (this - other) / other * 100, None


class Comparison(BaseModel):
    scope: str = Field(description="the site id, or a department", examples=["yucai", "canteen"])
    scope_name: str
    metric: str = Field(examples=["electricity_kwh"])
    unit: str
    this_month: float
    this_coverage: float = Field(default=1.0, description="this month's coverage (readings received ÷ expected)")
    previous_month: float | None = Field(description="null: no reading at all that month")
    previous_coverage: float = Field(default=1.0, description="the previous month's coverage")
    mom_pct: float | None = Field(description="month-on-month change, % (环比); null: not comparable, see mom_gap")
    mom_gap: Gap | None = Field(default=None, description=GAP_HELP)
    last_year: float | None = Field(description="null: no reading at all in the same month last year")
    last_year_coverage: float = Field(default=1.0, description="the same month last year's coverage")
    yoy_pct: float | None = Field(description="year-on-year change, % (同比); null: not comparable, see yoy_gap")
    yoy_gap: Gap | None = Field(default=None, description=GAP_HELP)


class TargetProgress(BaseModel):
    department: str
    department_name: str
    kind: Kind
    unit: str
    month_target: float
    month_use: float
    month_pct: float
    year_target: float = Field(description="12 × the monthly target")
    ytd_use: float = Field(description="1 January to the end of this month")
    ytd_coverage: float = Field(default=1.0, description="coverage from 1 January to the end of this month")
    ytd_pct: float | None = Field(description="ytd_use ÷ year_target, %; null: the year so far is not covered "
                                              "enough (see ytd_gap)")
    ytd_gap: Gap | None = Field(default=None, description=GAP_HELP)
    over: bool = Field(description="this month's use is over this month's target")


class Incomer(BaseModel):
    meter: str
    incomer_kwh: float
    meters_kwh: float = Field(description="the buildings' main meters added up")
    loss_pct: float | None = Field(description="(incomer − meters) ÷ incomer: line loss and unmetered use")


class MeterCompleteness(BaseModel):
    device: str
    name: str
    kind: Kind
    building: str
    readings: int
    expected: int
    coverage: float
    complete: bool
    implausible: int = Field(description="steps excluded as implausible jumps")
    new_cycles: int = Field(description="meter replacements or resets")
    manual: bool = Field(default=False, description="read by hand (抄表): one reading a month is complete")


class AlertCount(BaseModel):
    category: str
    severity: str
    raised: int
    open: int


class ChangeSinceFiled(BaseModel):
    building: str = Field(description="a building's id, or the site's for the site as a whole")
    building_name: str
    kind: Kind
    unit: str
    filed: float
    now: float
    change: float


class FiledNote(BaseModel):
    """The month was filed: which version, when, by whom, and what late readings changed since."""

    version: int
    filed_at: datetime
    filed_by: str
    changes: list[ChangeSinceFiled]


class EnergyReport(BaseModel):
    site: str
    site_name: str
    month: str = Field(examples=["2026-10"])
    language: str
    timezone: str
    period_start: datetime
    period_end: datetime
    generated_at: datetime
    site_total: Row
    buildings: list[Row]
    departments: list[Row]
    comparisons: list[Comparison]
    targets: list[TargetProgress]
    incomer: Incomer | None
    completeness: list[MeterCompleteness]
    alerts: list[AlertCount]
    coefficients: list[CoefficientUsed] = Field(description="the factors this month used, each with its version "
                                                "(name@year[/region]); a filed month keeps the ones it was filed with")
    filed: FiledNote | None = Field(default=None, description="the month's newest filing, and what changed since")
    completeness_min: float = Field(default=0.9, description="the coverage a month needs to be compared with another "
                                                             "([report] completeness_min)")
    items: list[BuildingItems] = Field(default_factory=list, description="the sub-item table (分项能耗表): each "
                                       "building's use by energy item, 未分项 and total, then the site's (rule: "
                                       "reports.items)")
    items_source: str = Field(default="", description="where the item codes come from")
    water_in_energy: bool = Field(default=False, description="tap water's kgce is in energy_kgce ([report] "
                                                             "water_in_energy)")


def alert_counts(alerts: Iterable[tuple[str, str, bool]]) -> list[AlertCount]:
    """(category, severity, still open) of each alert → the report's counts, by category then severity."""
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for category, severity, still_open in alerts:
        n = counts[(category, severity)]
        n[0] += 1
        n[1] += bool(still_open)
    return [AlertCount(category=c, severity=s, raised=n, open=o) for (c, s), (n, o) in sorted(counts.items())]


def month_bounds(month: str) -> tuple[int, int]:
    try:
        year, mon = (int(x) for x in month.split("-"))
        datetime(year, mon, 1)
    except ValueError:
        raise ValueError(f"month {month!r}: use YYYY-MM, e.g. 2026-10") from None
    return year, mon


class Totals:
    """Use per kind over ``n`` buckets (the report: the 13 months M-12 .. M), for a building, department or site;
    ``at`` is the bucket a row describes (the report's month: the last)."""

    def __init__(self, n: int = 13, at: int = 12, factors: Sequence[FactorSet] | None = None) -> None:
        self.kinds = {k: Tally([0.0] * n, [0] * n, [0.0] * n) for k in ENERGY_KINDS}
        self.at = at
        self.factors = factors  # bucket i's factors (its month's year); None: this year's

    def factor_set(self, i: int, s: ReportSettings) -> FactorSet:
        return self.factors[i] if self.factors is not None else s.factors_for(date.today().year)

    def add(self, kind: Kind, use: Tally) -> None:
        self.kinds[kind].add(use)

    def merge(self, other: Totals) -> None:
        for kind, tally in other.kinds.items():
            self.kinds[kind].add(tally)

    def use(self, kind: Kind, i: int) -> float:
        return self.kinds[kind].totals[i]

    def coverage(self, first: int | None = None, last: int | None = None) -> float:
        """Of buckets ``first`` to ``last`` (default: the bucket described, this month), over all its meters."""
        lo = self.at if first is None else first
        hi = lo if last is None else last
        return coverage_ratio(sum(sum(t.readings[lo:hi + 1]) for t in self.kinds.values()),
                              sum(sum(t.expected[lo:hi + 1]) for t in self.kinds.values()))

    def readings(self, i: int) -> int:
        return sum(t.readings[i] for t in self.kinds.values())

    def figures(self, i: int, s: ReportSettings) -> Figures:
        """Bucket ``i``'s use, converted with the factors valid in its month."""
        e, w, g = (self.use(k, i) for k in ENERGY_KINDS)
        c = self.factor_set(i, s).value
        e_kgce, g_kgce, water_kgce = e * c("coal_electricity"), g * c("coal_gas"), w * c("coal_water")
        e_co2, g_co2 = e * c("co2_electricity"), g * c("co2_gas")
        return Figures(electricity_kwh=e, water_m3=w, gas_m3=g,
                       energy_kgce=e_kgce + g_kgce + (water_kgce if s.water_in_energy else 0),
                       water_kgce=water_kgce, co2_kg=e_co2 + g_co2, electricity_kgce=e_kgce, gas_kgce=g_kgce,
                       electricity_co2_kg=e_co2, gas_co2_kg=g_co2)

    def row(self, id_: str, name: str, area: float, people: int, s: ReportSettings,
            department: str | None = None, per_person: bool = True) -> Row:
        f = self.figures(self.at, s)
        per_person = per_person and people > 0
        ind = Indicators(kgce_per_m2=f.energy_kgce / area if area else None,
                         kgce_per_person=f.energy_kgce / people if per_person else None,
                         water_m3_per_person=f.water_m3 / people if per_person else None)
        return Row(id=id_, name=name, department=department, floor_area_m2=area, occupants=people,
                   per_person=per_person, figures=f, indicators=ind, coverage=self.coverage())


def build(usage: SiteUsage, month: str, settings: ReportSettings, *, language: str = "zh-CN",
          alerts: list[tuple[str, str, int, int]] | None = None, now_ms: int | None = None,
          refresh: bool = True) -> EnergyReport:
    """The report for ``month`` (YYYY-MM). Refreshes the roll-ups first unless told not to."""
    year, mon = month_bounds(month)
    if refresh:
        usage.refresh(wait_s=usage.request_wait_s)
    campus = usage.campus
    tz = ZoneInfo(campus.site.timezone)
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    first = datetime(year - 1, mon, 1, tzinfo=tz)
    cuts = edges(first, datetime(year, mon, 2, tzinfo=tz), Interval.MONTH, tz)  # 13 months: M-12 .. M
    zh = language.startswith("zh")
    # bucket i is month M-12+i: the factors valid in its year (a month compared with last year's uses last year's)
    sets = {y: settings.factors_for(y, campus.site.id) for y in (year - 1, year)}
    factors = [sets[year if mon + i - 12 >= 1 else year - 1] for i in range(13)]

    def new() -> Totals:
        return Totals(13, 12, factors)

    buildings: dict[str, Totals] = defaultdict(new)
    site = new()
    incomer_use: dict[str, float] = {}
    completeness: list[MeterCompleteness] = []
    parts = []
    for kind in ENERGY_KINDS:
        uses: dict[str, list[float]] = {}
        for device in meters(campus, kind):
            use = meter_use(usage.rollups, usage.store, device, cuts, Interval.MONTH, now_ms)
            uses[device.id] = use.totals
            completeness.append(_completeness(device, use, settings, cuts[12], cuts[13]))
            if device.role == INCOMER:
                incomer_use[device.id] = use.totals[12]
            if device.counts_in_totals:
                buildings[device.building].add(kind, use)
                site.add(kind, use)
        parts.append(split(campus, kind, uses))

    rows, departments, dept_totals, site_row = campus_rows(campus, buildings, site, settings, zh, new)
    over = cuts[13] <= now_ms  # the month is over: its figures are final, and can be compared

    return EnergyReport(
        site=campus.site.id, site_name=campus.site.name, month=f"{year:04d}-{mon:02d}", language=language,
        timezone=campus.site.timezone,
        period_start=datetime.fromtimestamp(cuts[12] / 1000, tz),
        period_end=datetime.fromtimestamp(cuts[13] / 1000, tz),
        generated_at=datetime.fromtimestamp(now_ms / 1000, tz),
        site_total=site_row, buildings=rows, departments=departments,
        comparisons=_comparisons(site, campus.site.id, campus.site.name, settings, over) + [
            c for dept, t in dept_totals.items() for c in _comparisons(t, dept.value, dept_name(dept.value, zh),
                                                                         settings, over, ("energy_kgce",))],
        targets=_targets(campus, dept_totals, mon, zh, settings),
        incomer=_incomer(incomer_use, site), completeness=completeness,
        alerts=[AlertCount(category=c, severity=s, raised=n, open=o) for c, s, n, o in alerts or []],
        coefficients=list(factors[12].used), completeness_min=settings.completeness_min,
        items=item_rows(campus, parts, 12, language), items_source=item_source(),
        water_in_energy=settings.water_in_energy,
    )


def campus_rows(campus: Campus, buildings: dict[str, Totals], site: Totals, settings: ReportSettings, zh: bool,
                new: Callable[[], Totals]) -> tuple[list[Row], list[Row], dict[Department, Totals], Row]:
    """The rows of every building, of every department (its buildings added up) and of the site."""
    rows, departments = [], []
    dept_totals: dict[Department, Totals] = defaultdict(new)
    for b in campus.buildings:
        t = buildings[b.id]
        rows.append(t.row(b.id, b.name, b.floor_area_m2, b.occupants, settings, b.department.value,
                          per_person=b.department not in PLANT).model_copy(update={"code": b.code}))
        dept_totals[b.department].merge(t)
    for dept, t in dept_totals.items():
        blds = [b for b in campus.buildings if b.department is dept]
        departments.append(t.row(dept.value, dept_name(dept.value, zh), sum(b.floor_area_m2 for b in blds),
                                 sum(b.occupants for b in blds), settings, per_person=dept not in PLANT))
    site_row = site.row(campus.site.id, campus.site.name, sum(b.floor_area_m2 for b in campus.buildings),
                        sum(b.occupants for b in campus.buildings), settings)
    return rows, departments, dept_totals, site_row


# plant rooms: their occupants run the plant for everyone, so energy or water per occupant says nothing
PLANT = frozenset({Department.BOILER_ROOM, Department.POWER_ROOM})


def dept_name(key: str, zh: bool) -> str:
    return label(DEPARTMENTS, key, "zh-CN" if zh else "en")


def _completeness(device: Device, use: MeterUse, s: ReportSettings, start_ms: int, end_ms: int) -> MeterCompleteness:
    got, expected, cov = use.readings[12], use.expected[12], use.coverage(12)
    month_flags = [f for f in use.flags if start_ms <= f.end_ms < end_ms]
    return MeterCompleteness(
        device=device.id, name=device.name or device.id, kind=device.kind, building=device.building, readings=got,
        expected=round(expected), coverage=cov, complete=cov >= s.completeness_min,
        implausible=sum(f.flag == "implausible" for f in month_flags),
        new_cycles=sum(f.flag == "new_cycle" for f in month_flags), manual=device.manual)


METRICS = (("electricity_kwh", "kWh"), ("water_m3", "m³"), ("gas_m3", "m³"), ("energy_kgce", "kgce"),
           ("co2_kg", "kgCO2"))


def _comparisons(t: Totals, scope: str, name: str, s: ReportSettings, over: bool,
                 only: tuple[str, ...] | None = None) -> list[Comparison]:
    now, prev, last = t.figures(12, s), t.figures(11, s), t.figures(0, s)
    cov_now, cov_prev, cov_last = t.coverage(12), t.coverage(11), t.coverage(0)
    out = []
    for metric, unit in METRICS:
        if only is not None and metric not in only:
            continue
        a = getattr(now, metric)
        b = getattr(prev, metric) if t.readings(11) else None  # no reading at all: nothing to show, not 0
        c = getattr(last, metric) if t.readings(0) else None
        mom, mom_gap = compare(a, cov_now, b, cov_prev, s, over=over)
        yoy, yoy_gap = compare(a, cov_now, c, cov_last, s, over=over)
        out.append(Comparison(scope=scope, scope_name=name, metric=metric, unit=unit, this_month=a,
                              this_coverage=cov_now, previous_month=b, previous_coverage=cov_prev, mom_pct=mom,
                              mom_gap=mom_gap, last_year=c, last_year_coverage=cov_last, yoy_pct=yoy,
                              yoy_gap=yoy_gap))
    return out


def _targets(campus: Campus, depts: dict[Department, Totals], mon: int, zh: bool,
             s: ReportSettings) -> list[TargetProgress]:
    out = []
    for dept, by_kind in campus.targets.items():
        t = depts.get(dept, Totals())
        for kind, target in by_kind.items():
            if kind not in ENERGY_KINDS or target <= 0:
                continue
            month_use = t.use(kind, 12)
            tally = t.kinds[kind]
            ytd = sum(tally.totals[12 - (mon - 1):13])
            ytd_cov = coverage_ratio(sum(tally.readings[12 - (mon - 1):13]), sum(tally.expected[12 - (mon - 1):13]))
            complete = ytd_cov >= s.completeness_min
            out.append(TargetProgress(
                department=dept.value, department_name=dept_name(dept.value, zh), kind=kind, unit=UNIT[kind],
                month_target=target, month_use=month_use, month_pct=month_use / target * 100, year_target=12 * target,
                ytd_use=ytd, ytd_coverage=ytd_cov, ytd_pct=ytd / (12 * target) * 100 if complete else None,
                ytd_gap=None if complete else "incomplete", over=month_use > target))
    return out


def _incomer(incomer_use: dict[str, float], site: Totals) -> Incomer | None:
    if not incomer_use:
        return None
    meter, kwh = next(iter(incomer_use.items()))
    metered = site.use(Kind.ELECTRICITY, 12)
    return Incomer(meter=meter, incomer_kwh=kwh, meters_kwh=metered,
                   loss_pct=(kwh - metered) / kwh * 100 if kwh else None)
