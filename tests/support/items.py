"""A small campus with itemised sub-meters (分项计量) whose October 2026 was worked out by hand (tests of
reports.items, GET /consumption?group_by=item and the report's 分项能耗 table).

Daily meters read at local midnight, 2026-09-30 to 2026-11-01, every register starting at 1000. October has 31
days, so a meter's October use is 31 × its daily rate:

  b1 教学楼A (code 330106D001)
    e1    main, item default 01000        100/day → 3100
    e1a   sub of e1,   01A00 照明插座       30/day →  930
    e1b   sub of e1,   01B00 空调           40/day → 1240
    e1b1  sub of e1b,  01B10 冷热站         10/day →  310
    w1    water main, 02000                20/day →  620
    w1s   sub of w1, 02000 (default)        5/day →  155
  b2 第一食堂 (canteen, code 330106D002)
    e2    main, default 01D20 厨房餐厅       50/day → 1550
    e2a   sub of e2,   01B20 空调末端        20/day →  620
    g2    gas, default 03A00 天然气           4/day →  124
  b3 学生宿舍 (no code)
    e3    main, 01000                      10/day →  310
    e3a   sub of e3,   01A10 (reads more!)  12/day →  372
  inc   the incomer (b1)                  300/day → in no building

Own shares (a meter's use less its direct sub-meters'):
  b1 electricity: e1 3100 − 930 − 1240 = 930 → 未分项; e1a 930 → 01A00; e1b 1240 − 310 = 930 → 01B00;
                  e1b1 310 → 01B10.  930 + 930 + 930 + 310 = 3100 = b1's electricity.
  b1 water:       w1 620 − 155 = 465 and w1s 155, both 02000 (water is not split): 620.
  b2 electricity: e2 1550 − 620 = 930 → 01D20; e2a 620 → 01B20; 未分项 0.  930 + 620 = 1550.
  b2 gas:         124 → 03A00; 未分项 0.
  b3 electricity: e3 310 − 372 = −62 → 未分项 (negative: the sub-meter reads more); e3a 372 → 01A10.
                  −62 + 372 = 310.
Site electricity by item: 01A00 930, 01A10 372, 01B00 930, 01B10 310, 01B20 620, 01D20 930,
  未分项 930 + 0 − 62 = 868; sum 4960 = 3100 + 1550 + 310.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from campus.contract import Kind, Reading
from campus.model import parse_campus

TZ = ZoneInfo("Asia/Shanghai")
CAMPUS_YAML = """
site: {id: s, name: 分项中学, timezone: Asia/Shanghai}
buildings:
  - {id: b1, name: 教学楼A, department: teaching, floor_area_m2: 1000, occupants: 100, code: 330106D001}
  - {id: b2, name: 第一食堂, department: canteen, floor_area_m2: 800, occupants: 20, code: 330106D002}
  - {id: b3, name: 学生宿舍, department: dormitory, floor_area_m2: 600, occupants: 60}
devices:
  - {id: e1, name: 教学楼A总表, kind: electricity, building: b1, interval_s: 86400}
  - {id: e1a, name: 教学楼A照明, kind: electricity, building: b1, interval_s: 86400, parent: e1, item: 01A00}
  - {id: e1b, name: 教学楼A空调, kind: electricity, building: b1, interval_s: 86400, parent: e1, item: 01B00}
  - {id: e1b1, name: 教学楼A冷热站, kind: electricity, building: b1, interval_s: 86400, parent: e1b, item: 01B10}
  - {id: w1, name: 教学楼A水表, kind: water, building: b1, interval_s: 86400}
  - {id: w1s, name: 教学楼A卫生间水表, kind: water, building: b1, interval_s: 86400, parent: w1}
  - {id: e2, name: 食堂总表, kind: electricity, building: b2, interval_s: 86400}
  - {id: e2a, name: 食堂空调, kind: electricity, building: b2, interval_s: 86400, parent: e2, item: 01B20}
  - {id: g2, name: 食堂燃气表, kind: gas, building: b2, interval_s: 86400}
  - {id: e3, name: 宿舍总表, kind: electricity, building: b3, interval_s: 86400}
  - {id: e3a, name: 宿舍照明, kind: electricity, building: b3, interval_s: 86400, parent: e3, item: 01A10}
  - {id: inc, name: 进线总表, kind: electricity, building: b1, interval_s: 86400, role: incomer}
"""
CAMPUS = parse_campus(CAMPUS_YAML)
RATES = {"e1": 100, "e1a": 30, "e1b": 40, "e1b1": 10, "w1": 20, "w1s": 5, "e2": 50, "e2a": 20, "g2": 4, "e3": 10,
         "e3a": 12, "inc": 300}
DEPARTMENT = {"b1": "teaching", "b2": "canteen", "b3": "dormitory"}
NOW_MS = int(datetime(2026, 11, 2, tzinfo=TZ).timestamp() * 1000)
SITE_ITEMS = {"01A00": 930, "01A10": 372, "01B00": 930, "01B10": 310, "01B20": 620, "01D20": 930,
              "unitemised": 930 + 0 - 62}


def days() -> list[date]:
    out, day = [], date(2026, 9, 30)
    while day <= date(2026, 11, 1):
        out.append(day)
        day += timedelta(days=1)
    return out


def field_of(kind: Kind) -> str:
    return "energy_kwh" if kind is Kind.ELECTRICITY else "volume_m3"


def readings() -> list[Reading]:
    out = []
    for i, day in enumerate(days()):
        ts = int(datetime(day.year, day.month, day.day, tzinfo=TZ).timestamp() * 1000)
        for d in CAMPUS.devices:
            out.append(Reading(d.id, ts, d.kind, "s", d.building, DEPARTMENT[d.building], "default",
                               {field_of(d.kind): 1000.0 + RATES[d.id] * i}))
    return out
