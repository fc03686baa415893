"""A small campus whose October 2026 statements were worked out by hand, to the fen (tests/billing).

Readings every quarter hour on the quarter hour (water: hourly at half past), from 2026-09-30 to 2026-11-01,
constant power, so each band's use is power × its hours:

  e2   canteen electricity 40 kW; the meter is replaced on Oct 20 at 12:00 (the new one starts at 0)
  e1   office-building electricity 20 kW, shared by floor area: office 1000 m², shop 250 m² (0.8 / 0.2)
  w2   canteen water 0.5 m³/h, read at half past the hour (its midnight registers are interpolated)
  inc  the incomer 100 kW, and 180 kW in the quarter hour from Oct 20 10:00 (the month's maximum demand)

Tariff ``tou`` (canteen, shop): a summer schedule (months 7-10) with a sharp window 19:00-21:00 inside the peak
in October, deep valley 10:00-14:00 on public holidays (Oct 1-7, 国庆), and a price change on Oct 15.
Per ordinary day: sharp 2 h, peak 5 h, flat 9 h, valley 8 h; per holiday: sharp 2, peak 4, flat 6, valley 8,
deep valley 4.

Canteen electricity, 40 kW:
  Oct 1-14  sharp 2×14×40 = 1120 × 1.30 = 1456.00   peak 63×40 = 2520 × 1.00 = 2520.00
            flat 105×40 = 4200 × 0.60 = 2520.00    valley 112×40 = 4480 × 0.30 = 1344.00
            deep valley 28×40 = 1120 × 0.20 = 224.00                                      → 8064.00
  Oct 15-31 sharp 34×40 = 1360 × 1.40 = 1904.00    peak 85×40 = 3400 × 1.10 = 3740.00
            flat 153×40 = 6120 × 0.65 = 3978.00    valley 136×40 = 5440 × 0.32 = 1740.80  → 11362.80
  water 12 m³/day × 31 = 372 × 5.00 = 1860.00                         canteen total        21286.80
Office: 0.8 × 20 kW × 744 h = 11904 kWh × 0.5588 = 6651.9552 → 6651.96
Shop: 0.2 × 20 kW = 4 kW:
  Oct 1-14  112 × 1.30 = 145.60, 252 × 1.00 = 252.00, 420 × 0.60 = 252.00, 448 × 0.30 = 134.40,
            112 × 0.20 = 22.40                                                            → 806.40
  Oct 15-31 136 × 1.40 = 190.40, 340 × 1.10 = 374.00, 612 × 0.65 = 397.80, 544 × 0.32 = 174.08 → 1136.28
                                                                       shop total         1942.68
Incomer: 100 × 744 + (180 − 100) × 0.25 = 74420 kWh × 0.60 = 44652.00; monthly fee 100.00;
  demand 180 kW × 40.00 = 7200.00                                     incomer total       51952.00
Payers 21286.80 + 6651.96 + 1942.68 = 29881.44; the school's share 51952.00 − 29881.44 = 22070.56.
Remainder (losses, unmetered): 74420 − (14880 + 29760) = 29780 kWh.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from campus.contract import Kind, Reading
from campus.model import parse_campus

TZ = ZoneInfo("Asia/Shanghai")
CAMPUS_YAML = """
site: {id: s, name: 测试中学, timezone: Asia/Shanghai}
buildings:
  - {id: b1, name: 行政楼, department: office, floor_area_m2: 1250, occupants: 50}
  - {id: b2, name: 第一食堂, department: canteen, floor_area_m2: 800, occupants: 20}
  - {id: b0, name: 配电房, department: power_room}
devices:
  - {id: e1, kind: electricity, building: b1, name: 行政楼电表, interval_s: 900}
  - {id: e2, kind: electricity, building: b2, name: 食堂电表, interval_s: 900, rated_capacity: 100}
  - {id: w2, kind: water, building: b2, name: 食堂水表, interval_s: 3600}
  - {id: inc, kind: electricity, building: b0, name: 10kV进线, interval_s: 900, role: incomer}
"""
CAMPUS = parse_campus(CAMPUS_YAML)

BILLING = """
tariffs:
  - id: tou
    name: 一般工商业分时
    kind: electricity
    versions:
      - from: 2026-01-01
        bands:
          peak:   {price: 0.90, hours: ["08:00-11:00", "18:00-22:00"]}
          flat:   {price: 0.55, hours: ["07:00-08:00", "11:00-18:00", "22:00-23:00"]}
          valley: {price: 0.25, hours: ["23:00-07:00"]}
        seasons:
          - months: [7, 8, 9, 10]
            bands:
              peak:   {price: 1.00, hours: ["08:00-11:00", "18:00-22:00"]}
              flat:   {price: 0.60, hours: ["07:00-08:00", "11:00-18:00", "22:00-23:00"]}
              valley: {price: 0.30, hours: ["23:00-07:00"]}
        sharp: {price: 1.30, hours: ["19:00-21:00"], months: [7, 8, 10]}
        windows: [{name: deep_valley, price: 0.20, hours: ["10:00-14:00"], days: holiday}]
      - from: 2026-10-15
        bands:
          peak:   {price: 1.10, hours: ["08:00-11:00", "18:00-22:00"]}
          flat:   {price: 0.65, hours: ["07:00-08:00", "11:00-18:00", "22:00-23:00"]}
          valley: {price: 0.32, hours: ["23:00-07:00"]}
        sharp: {price: 1.40, hours: ["19:00-21:00"], months: [7, 8, 10]}
        windows: [{name: deep_valley, price: 0.22, hours: ["10:00-14:00"], days: holiday}]
  - id: school
    name: 学校合表
    kind: electricity
    versions: [{from: 2024-01-01, price: 0.5588}]
  - id: water
    name: 非居民用水
    kind: water
    versions: [{from: 2024-01-01, price: 5.00}]
  - id: utility
    name: 两部制
    kind: electricity
    versions: [{from: 2024-01-01, price: 0.60, monthly_fee: 100, demand: {per_kw: 40}}]
incomer:
  electricity: {meter: inc, tariff: utility}
payers:
  - {id: canteen, name: 食堂承包方, type: canteen, meters: [e2, w2], tariffs: {electricity: tou, water: water}}
  - {id: office, name: 行政办公, buildings: [], floor_area_m2: 1000, tariffs: {electricity: school}}
  - {id: shop, name: 小卖部, type: shop, floor_area_m2: 250, tariffs: {electricity: tou}}
shared:
  - {meter: e1, by: area, payers: [office, shop]}
"""

POWER_KW = {"e1": 20.0, "e2": 40.0, "inc": 100.0}
WATER_M3H = 0.5
START = datetime(2026, 9, 30, tzinfo=TZ)
END = datetime(2026, 11, 1, 1, tzinfo=TZ)
REPLACED = datetime(2026, 10, 20, 12, tzinfo=TZ)
SPIKE = datetime(2026, 10, 20, 10, 15, tzinfo=TZ)   # the reading ending the 10:00-10:15 quarter hour
NOW_MS = int(datetime(2026, 11, 2, tzinfo=TZ).timestamp() * 1000)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def readings() -> list[Reading]:
    out: list[Reading] = []
    regs = {"e1": 5000.0, "e2": 8000.0, "inc": 20000.0}
    at = START
    while at <= END:
        for dev, kw in POWER_KW.items():
            if at > START:
                regs[dev] += kw / 4 if not (dev == "inc" and at == SPIKE) else 180 / 4
            if dev == "e2" and at == REPLACED + timedelta(minutes=15):
                regs[dev] = kw / 4   # the new meter, started at 0 at 12:00
            b = "b1" if dev == "e1" else "b2" if dev == "e2" else "b0"
            out.append(Reading(dev, _ms(at), Kind.ELECTRICITY, "s", b, "office", "default", {"energy_kwh": regs[dev]}))
        at += timedelta(minutes=15)
    at, vol = START + timedelta(minutes=30), 300.0
    while at <= END:
        out.append(Reading("w2", _ms(at), Kind.WATER, "s", "b2", "canteen", "default", {"volume_m3": vol}))
        vol += WATER_M3H
        at += timedelta(hours=1)
    return out
