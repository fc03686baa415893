"""The water-saving school's indicators (节水型学校): litres per person per school day against the configured
indicator, and metering coverage.

The plain rules (the README cites what they follow):
- **Water used**: the month's use through the water incomer when the asker sees the whole site and the site has
  one, else the sum of the buildings' main meters (``source`` says which).
- Only the month's days that are over count (a month in progress: up to yesterday).
- **Per person per school day**: water used in the month (litres) ÷ persons ÷ the month's school days. Persons
  are ``[water] persons`` (for the whole site only), else the sum of the occupants of the buildings the asker
  sees. School days are the calendar's ``school_day`` days (a workday in term: make-up workdays count, holidays
  do not). Water used on other days is in the numerator too: the indicator spreads the month's water over the
  days school is held, as the water-saving schools' self-assessments do (annual water ÷ persons ÷ school days).
- **First-level meters** (一级表): the site's water incomer, and one main water meter for every building with
  occupants. Coverage = installed ÷ required; required is ``[water] coverage_first_pct`` (100 %).
- **Second-level metering** (二级表): the share of the mains' water that passes a sub-meter (``parent:`` a main),
  over the month: Σ sub-meters ÷ Σ mains. Required ``[water] coverage_second_pct`` (90 %). Without any water in
  the mains it is null with why.
"""

from __future__ import annotations

from dataclasses import dataclass

from campus.calendar import CampusCalendar
from campus.model import Device
from reports.buckets import Interval
from reports.consumption import meter_use
from reports.usage import SiteUsage
from reports.water_balance import children, incomers, mains, month_edges, sees_site, words
from reports.water_config import WaterSettings


@dataclass(frozen=True, slots=True)
class Indicators:
    month: str
    source: str                       # incomer | mains
    water_m3: float
    persons: int
    school_days: int
    litres_per_person_day: float | None
    indicator: float
    within: bool | None
    why: str | None
    first_required: int
    first_installed: int
    first_pct: float | None
    first_ok: bool | None
    missing: list[str]                # what has no first-level meter: the incomer, buildings by name
    second_pct: float | None
    second_ok: bool | None
    second_why: str | None
    first_target_pct: float
    second_target_pct: float


def indicators(usage: SiteUsage, month: str, settings: WaterSettings, now_ms: int, language: str = "zh-CN",
               ) -> Indicators:
    campus, tz = usage.campus, usage.tz
    cuts, _, dates = month_edges(month, tz)
    over = sum(1 for k in range(len(dates)) if cuts[k + 1] <= now_ms)  # the days of the month that are over
    whole = sees_site(usage)

    def used(devices: list[Device]) -> float:
        if not over:
            return 0.0
        return sum(sum(meter_use(usage.rollups, usage.store, d, cuts[:over + 1], Interval.DAY, now_ms).totals)
                   for d in devices)

    ins, main = (incomers(campus) if whole else []), mains(campus)
    source = "incomer" if ins else "mains"
    water = round(used(ins) if ins else used(main), 3)
    # [water] persons is the whole site's: a narrowed view divides its buildings' water by their own occupants
    persons = (settings.persons if whole else 0) or sum(b.occupants for b in campus.buildings)
    cal = CampusCalendar(campus.calendar)
    school = sum("school_day" in cal.tags(d) for d in dates[:over])
    per: float | None = None
    why = None
    if persons <= 0:
        why = words(language, "没有用水人数：在楼栋上填 occupants，或设置 [water] persons",
                    "no persons: give the buildings occupants, or set [water] persons")
    elif school <= 0:
        why = words(language, "本月（至今）没有上课日", "no school days in the month (so far)")
    else:
        per = round(water * 1000 / persons / school, 1)
    # first level: the incomer (site view only) and a main for every occupied building
    has_main = {d.building for d in main}
    needed = [b for b in campus.buildings if b.occupants > 0]
    missing = [b.name for b in needed if b.id not in has_main]
    required, installed = len(needed), len(needed) - len(missing)
    if whole:
        required += 1
        if incomers(campus):
            installed += 1
        else:
            missing.insert(0, words(language, "校区进水总表", "the site's water incomer"))
    first = round(installed / required * 100, 1) if required else None
    mains_m3 = used(main)
    subs = [c for m in main for c in children(campus, m)]
    second = second_why = None
    if mains_m3 > 0:
        second = round(used(subs) / mains_m3 * 100, 1)
    else:
        second_why = words(language, "各楼总表本月无用水", "no water through the buildings' mains this month")
    return Indicators(month, source, water, persons, school, per, settings.litres_per_person_day,
                      None if per is None else per <= settings.litres_per_person_day, why, required, installed, first,
                      None if first is None else first >= settings.coverage_first_pct, missing, second,
                      None if second is None else second >= settings.coverage_second_pct, second_why,
                      settings.coverage_first_pct, settings.coverage_second_pct)

