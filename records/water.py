"""Drinking-water sampling points, the limits a test result is held to, and when tests fall due.

The plain rules:
- **Points.** Every drinking-water sensor (role drinking, purified_drinking, canteen_water or secondary_supply) is
  a sampling point under its device id; the campus file's ``sampling_points`` adds taps and fountains without a
  sensor. A fountain (role drinking or purified_drinking) has a filter to change.
- **Limits.** A parameter meterwatch's sensors measure is held to the site's threshold rules that would watch a
  sensor at that point (the same numbers, from the same rule file, that raise the sensor's alert). A few
  parameters only a laboratory measures have their limits below, by the point's standard: GB 5749-2022 for tap,
  canteen and secondary-supply water; CJ 94-2005 for a direct-drinking fountain (role purified_drinking) where
  it sets a stricter limit, GB 5749 otherwise (its raw water is tap water). Any other parameter must come with
  its own.
- **Drift.** A laboratory result more than the tolerance below away from the point's sensor (its reading nearest
  the sampling time, within an hour) means the sensor has drifted.
- **Due.** Self-tests every ``self_test_days`` (14) days; a laboratory test once a term; a fountain's filter
  changed once a term. Never tested means due now; a term's test not done by its last day is overdue.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from alerts.limits import rule_limit
from alerts.rules import RuleBook
from campus.calendar import CampusCalendar
from campus.contract import Kind
from campus.model import Campus, Device

DRINKING_ROLES = ("drinking", "purified_drinking", "canteen_water", "secondary_supply")
FOUNTAIN_ROLES = ("drinking", "purified_drinking")   # a sensor with these roles sits on a fountain with a filter
PURIFIED = "purified_drinking"
# the standard a point's water is held to, by its role (people read it beside a limit)
STANDARDS: dict[str, tuple[str, str]] = {
    "drinking": ("GB 5749-2022 生活饮用水卫生标准", "GB 5749-2022 standards for drinking water quality"),
    "canteen_water": ("GB 5749-2022 生活饮用水卫生标准", "GB 5749-2022 standards for drinking water quality"),
    "secondary_supply": ("GB 5749-2022 生活饮用水卫生标准(二次供水)",
                         "GB 5749-2022 standards for drinking water quality (secondary supply)"),
    PURIFIED: ("CJ 94-2005 饮用净水水质标准", "CJ 94-2005 water quality standard for purified drinking water"),
}


def standard(role: str, language: str = "zh") -> str:
    """The standard a drinking-water point of ``role`` is held to, in ``language``."""
    pair = STANDARDS.get(role, STANDARDS["drinking"])
    return pair[1] if language.lower().startswith("en") else pair[0]

KINDS = ("self", "lab", "filter")
SOON_DAYS = 3          # a due date this close is listed as due
NEAR_MS = 3_600_000    # the sensor reading compared with a lab sample: within an hour of it


@dataclass(frozen=True, slots=True)
class Param:
    zh: str
    en: str
    unit: str
    low: float | None = None
    high: float | None = None


# What meterwatch can name. The first five are the sensors' fields (their limits come from the rule file); the
# rest are GB 5749-2022 table 1 limits for what only a laboratory measures ("不应检出" is written as ≤ 0).
PARAMS: dict[str, Param] = {
    "ph": Param("pH", "pH", ""),
    "turbidity_ntu": Param("浑浊度", "Turbidity", "NTU"),
    "free_chlorine_mgl": Param("游离氯", "Free chlorine", "mg/L"),
    "tds_mgl": Param("溶解性总固体", "Total dissolved solids", "mg/L"),
    "temperature_c": Param("水温", "Temperature", "°C"),
    "total_coliforms": Param("总大肠菌群", "Total coliforms", "MPN/100mL", high=0),
    "e_coli": Param("大肠埃希氏菌", "E. coli", "MPN/100mL", high=0),
    "colony_count": Param("菌落总数", "Colony count", "MPN/mL", high=100),
    "total_hardness_mgl": Param("总硬度(以CaCO3计)", "Total hardness (as CaCO3)", "mg/L", high=450),
    "iron_mgl": Param("铁", "Iron", "mg/L", high=0.3),
    "manganese_mgl": Param("锰", "Manganese", "mg/L", high=0.1),
    "lead_mgl": Param("铅", "Lead", "mg/L", high=0.01),
    "nitrate_n_mgl": Param("硝酸盐(以N计)", "Nitrate (as N)", "mg/L", high=10),
    "ammonia_n_mgl": Param("氨(以N计)", "Ammonia (as N)", "mg/L", high=0.5),
    "codmn_mgl": Param("高锰酸盐指数(以O2计)", "Permanganate index (as O2)", "mg/L", high=3),
    "color": Param("色度", "Colour", "铂钴色度单位", high=15),
}

# CJ 94-2005 table 1 where it is stricter than GB 5749 for what only a laboratory measures (a fountain's water);
# the sensor fields' limits (pH 6.0–8.5, turbidity ≤ 0.5 NTU, TDS ≤ 500 mg/L) are the purified-* rules'
PURIFIED_LIMITS: dict[str, float] = {
    "colony_count": 50,           # 菌落总数 ≤ 50 CFU/mL
    "total_hardness_mgl": 300,    # 总硬度(以CaCO3计) ≤ 300 mg/L
    "iron_mgl": 0.2,              # 铁 ≤ 0.20 mg/L
    "manganese_mgl": 0.05,        # 锰 ≤ 0.05 mg/L
    "codmn_mgl": 2,               # 耗氧量(CODMn, 以O2计) ≤ 2.0 mg/L
    "color": 5,                   # 色度 ≤ 5 度
}

# how far a sensor may be from the laboratory before it has drifted: absolute, or a share of the lab's value
DRIFT: dict[str, tuple[float, float]] = {
    "ph": (0.5, 0.0),
    "turbidity_ntu": (0.5, 0.0),
    "free_chlorine_mgl": (0.2, 0.0),
    "tds_mgl": (50.0, 0.10),
    "temperature_c": (2.0, 0.0),
}


@dataclass(frozen=True, slots=True)
class SamplingPoint:
    id: str
    name: str
    building: str
    zone: str
    role: str
    device: str | None     # the sensor at this point, if it has one
    filter: bool


def points(campus: Campus) -> dict[str, SamplingPoint]:
    zone_of = {b: z.id for z in campus.zones for b in z.buildings}
    out = {d.id: SamplingPoint(d.id, d.name or d.id, d.building, d.zone or "default", d.role or "drinking", d.id,
                               d.role in FOUNTAIN_ROLES)
           for d in campus.devices if d.kind is Kind.WATER_QUALITY and d.role in DRINKING_ROLES}
    for p in campus.sampling_points:
        out[p.id] = SamplingPoint(p.id, p.name, p.building, zone_of.get(p.building, "default"), p.role, None,
                                  p.filter)
    return out


@dataclass(frozen=True, slots=True)
class Limit:
    low: float | None
    high: float | None
    rule: str | None     # the rule file's rule that holds a sensor here to it; None: the point's standard or the
    #                      result's own

    def text(self) -> str:
        if self.low is not None and self.high is not None:
            return f"{self.low:g}–{self.high:g}"
        if self.high is not None:
            return "不应检出" if self.high == 0 else f"≤ {self.high:g}"
        return f"≥ {self.low:g}"

    def holds(self, value: float) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


def limits(rules: RuleBook | None, campus: Campus, point: SamplingPoint) -> dict[str, Limit]:
    """The limits a result at ``point`` is held to: the threshold rules a sensor there would be watched by (none
    without a rule book, i.e. with alerts off), then the point's standard's for laboratory parameters (CJ 94-2005
    where stricter for a purified_drinking point, GB 5749-2022 otherwise)."""
    out: dict[str, Limit] = {}
    if rules is not None:
        depts = {b.id: b.department.value for b in campus.buildings}
        probe = Device(id=point.device or point.id, kind=Kind.WATER_QUALITY, building=point.building,
                       zone=point.zone, role=point.role)
        for rule in rules.rules.values():
            lim = rule_limit(rule) if rule.target.matches(probe, depts.get(point.building, "")) else None
            if lim is not None:
                out.setdefault(lim.field, Limit(lim.low, lim.high, lim.rule))
    for field, p in PARAMS.items():
        if field not in out and (p.low is not None or p.high is not None):
            high = PURIFIED_LIMITS.get(field, p.high) if point.role == PURIFIED else p.high
            out[field] = Limit(p.low, high, None)
    return out


def drifted(field: str, lab: float, sensor: float) -> bool:
    absolute, share = DRIFT.get(field, (float("inf"), 0.0))
    return abs(sensor - lab) > max(absolute, share * abs(lab))


@dataclass(frozen=True, slots=True)
class Due:
    point: SamplingPoint
    kind: str              # self | lab | filter
    last_ms: int | None
    due: dt.date
    status: str            # due | overdue


def _term(cal: CampusCalendar, today: dt.date) -> tuple[dt.date, dt.date] | None:
    """The term today is in, else the one that ended last (its test is overdue in the vacation after it)."""
    past = [t for t in cal.terms if t[0] <= today]
    return max(past) if past else None


def due_tests(campus: Campus, last: dict[tuple[str, str], int], today: dt.date, tz: dt.tzinfo,
              self_test_days: int, grace_days: int = 0) -> list[Due]:
    """What is due within SOON_DAYS or overdue, by point: self-tests, laboratory tests and filter changes."""
    cal = CampusCalendar(campus.calendar)
    term = _term(cal, today)
    out: list[Due] = []

    def day(ms: int) -> dt.date:
        return dt.datetime.fromtimestamp(ms / 1000, tz).date()

    for p in points(campus).values():
        got = last.get((p.id, "self"))
        due = today if got is None else day(got) + dt.timedelta(days=self_test_days)
        if due <= today + dt.timedelta(days=SOON_DAYS):
            out.append(Due(p, "self", got, due, "overdue" if due + dt.timedelta(days=grace_days) < today else "due"))
        if term is None:
            continue
        for kind in ("lab", "filter") if p.filter else ("lab",):
            got = last.get((p.id, kind))
            if got is not None and day(got) >= term[0]:
                continue
            out.append(Due(p, kind, got, term[1], "overdue" if term[1] + dt.timedelta(days=grace_days) < today
                           else "due"))
    return out
