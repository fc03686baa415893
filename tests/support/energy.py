"""A small campus whose monthly figures were worked out by hand (tests/reports: the energy report, the period
summaries and the bulletin).

Daily readings at local midnight from 2025-09-01 to 2026-11-01 (daily meters, so 100% complete):
  e1   office electricity   20 kWh/day until 2026-01-01, then 30   → Oct 2026 930, Sep 900, Oct 2025 620
  e1s  sub-meter of e1       5 kWh/day (listed, not added again)
  e2   canteen electricity  50 kWh/day                              → 1550
  w2   canteen water        10 m³/day                               → 310
  g2   canteen gas           4 m³/day                               → 124
  inc  the incomer          85 kWh/day                              → 2635; line loss (2635 − 2480) / 2635 = 5.882 %
October 2026, site: electricity 2480 kWh → 2480 × 0.1229 = 304.792 kgce; gas 124 × 1.328358 = 164.7164 kgce
(38,931 kJ/m³ ÷ 29,307.6); energy 469.5084 kgce; CO2 2480 × 0.5306 + 124 × 2.162189 = 1583.9994 kg; area 1800 m²,
70 people.
Targets: office electricity 1000/month → 93 %, year to date 304 days × 30 = 9120 of 12000 → 76 %;
canteen gas 100/month → 124 %, over.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from campus.contract import Kind, Reading
from campus.model import parse_campus

TZ = ZoneInfo("Asia/Shanghai")
CAMPUS = parse_campus("""
site: {id: s, name: 测试中学, timezone: Asia/Shanghai}
targets:
  office: {electricity: 1000}
  canteen: {gas: 100}
buildings:
  - {id: b1, name: 行政楼, department: office, floor_area_m2: 1000, occupants: 50}
  - {id: b2, name: 第一食堂, department: canteen, floor_area_m2: 800, occupants: 20}
devices:
  - {id: e1, kind: electricity, building: b1, interval_s: 86400}
  - {id: e1s, kind: electricity, building: b1, interval_s: 86400, parent: e1}
  - {id: inc, kind: electricity, building: b1, interval_s: 86400, role: incomer}
  - {id: e2, kind: electricity, building: b2, interval_s: 86400}
  - {id: w2, kind: water, building: b2, interval_s: 86400}
  - {id: g2, kind: gas, building: b2, interval_s: 86400}
""")
RATES = {"e1": None, "e1s": 5, "inc": 85, "e2": 50, "w2": 10, "g2": 4}
NOW_MS = int(datetime(2026, 11, 2, tzinfo=TZ).timestamp() * 1000)


def readings() -> list[Reading]:
    out = []
    values = dict.fromkeys(RATES, 1000.0)
    day = date(2025, 9, 1)
    while day <= date(2026, 11, 1):
        ts = int(datetime(day.year, day.month, day.day, tzinfo=TZ).timestamp() * 1000)
        for dev, rate in RATES.items():
            d = next(d for d in CAMPUS.devices if d.id == dev)
            field = "energy_kwh" if d.kind is Kind.ELECTRICITY else "volume_m3"
            dept = "office" if d.building == "b1" else "canteen"
            out.append(Reading(dev, ts, d.kind, "s", d.building, dept, "default", {field: values[dev]}))
            values[dev] += rate if rate is not None else (20 if day < date(2025, 12, 31) else 30)
        day += timedelta(days=1)
    return out
