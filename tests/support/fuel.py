"""A small campus for the canteens' fuel account (tests/billing/test_fuel.py), October 2026.

Two canteens, each in a zone of its own:

  canteen-1 (一食堂承包方)  gas meter g1 in 一食堂 (zone north), 2 m³ every hour, read hourly on the hour from
                              2026-09-30 to 2026-11-01 01:00; gas tariff 3.45 元/m³; target 0.30 元 per meal
  canteen-2 (二食堂承包方)  no gas: bottled LPG only; its building 二食堂 is in zone south; target 0.50 元/meal

So canteen-1's October gas is 2 × 24 × 31 = 1488 m³ × 3.45 = 5133.60 元. The readings start on 2026-09-30, so
October 2025 has none: last year is "—".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from campus.contract import Kind, Reading
from campus.model import parse_campus

TZ = ZoneInfo("Asia/Shanghai")
SITE = "fs"
CAMPUS_YAML = """
site: {id: fs, name: 燃料测试中学, timezone: Asia/Shanghai}
zones:
  - {id: north, name: 北区, buildings: [cant-1]}
  - {id: south, name: 南区, buildings: [cant-2, office]}
buildings:
  - {id: cant-1, name: 一食堂, department: canteen, floor_area_m2: 900, occupants: 30}
  - {id: cant-2, name: 二食堂, department: canteen, floor_area_m2: 600, occupants: 20}
  - {id: office, name: 行政楼, department: office, floor_area_m2: 1000, occupants: 40}
devices:
  - {id: g1, kind: gas, building: cant-1, name: 一食堂燃气表, interval_s: 3600}
  - {id: e2, kind: electricity, building: cant-2, name: 二食堂电表, interval_s: 900}
  - {id: e3, kind: electricity, building: office, name: 行政楼电表, interval_s: 900}
"""
CAMPUS = parse_campus(CAMPUS_YAML)

BILLING = """
tariffs:
  - {id: gas, name: 非居民用气, kind: gas, versions: [{from: 2024-01-01, price: 3.45}]}
  - {id: power, name: 一般工商业, kind: electricity, versions: [{from: 2024-01-01, price: 0.70}]}
payers:
  - {id: canteen-1, name: 一食堂承包方, type: canteen, meters: [g1], tariffs: {gas: gas}}
  - {id: canteen-2, name: 二食堂承包方, type: canteen, meters: [e2], tariffs: {electricity: power}}
  - {id: office, name: 行政办公, meters: [e3], tariffs: {electricity: power}}
fuel_targets:
  - {payer: canteen-1, cost_per_meal: 0.30}
  - {payer: canteen-2, cost_per_meal: 0.50}
"""

GAS_M3H = 2.0
START = datetime(2026, 9, 30, tzinfo=TZ)
END = datetime(2026, 11, 1, 1, tzinfo=TZ)
NOW = datetime(2026, 11, 2, 9, tzinfo=TZ)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def readings() -> list[Reading]:
    out: list[Reading] = []
    at, vol = START, 1000.0
    while at <= END:
        out.append(Reading("g1", _ms(at), Kind.GAS, SITE, "cant-1", "canteen", "north", {"volume_m3": vol}))
        vol += GAS_M3H
        at += timedelta(hours=1)
    return out
