"""A small campus for the water balance, its readings worked out by hand, and a hidden leak added to them.

育英校区 (site ``ying``): a pump house with the site's water incomer, dormitory A with a main meter and two
sub-meters, teaching building B with a main meter. Every meter reads every 15 minutes; each quarter hour's use is
its flow (m³/h) × 0.25 h, summed in units of 0.005 m³ so the registers are exact:

| meter | flow | a day |
|---|---|---:|
| a-sub1 (A's washrooms) | 1.0 m³/h 06:00-22:00 | 16 m³ |
| a-sub2 (A's laundry) | 0.5 m³/h 06:00-22:00 | 8 m³ |
| a-main (A's main) | a-sub1 + a-sub2 | 24 m³ |
| b-main (B's main) | 2.0 m³/h 08:00-18:00 | 20 m³ |
| in (the incomer) | a-main + b-main + 0.1 m³/h all day (the site's pipes) | 46.4 m³ |

The hidden leak: ``m3h`` (0.2) more through a-main, and so through the incomer, from ``since`` on (between A's
main and its sub-meters: A's balance shows it, and the site's does not).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from ingest.decode import Inbound

TZ = ZoneInfo("Asia/Shanghai")
CAMPUS = """
site: {id: ying, name: 育英校区, timezone: Asia/Shanghai}
calendar:
  terms:
    - {name: 2026秋季学期, start: 2026-09-01, end: 2027-01-20}
zones:
  - {id: north, name: 北区, buildings: [dorm-a]}
  - {id: south, name: 南区, buildings: [pump, teach-b]}
buildings:
  - {id: pump, name: 泵房, department: other, floor_area_m2: 100, occupants: 0}
  - {id: dorm-a, name: 学生宿舍A栋, department: dormitory, floor_area_m2: 6000, occupants: 600}
  - {id: teach-b, name: 教学楼B栋, department: teaching, floor_area_m2: 8000, occupants: 900}
devices:
  - {id: in, kind: water, building: pump, name: 校区进水总表, interval_s: 900, rated_capacity: 40, role: incomer}
  - {id: a-main, kind: water, building: dorm-a, name: A栋总表, interval_s: 900, rated_capacity: 20}
  - {id: a-sub1, kind: water, building: dorm-a, name: A栋盥洗分表, interval_s: 900, rated_capacity: 20, parent: a-main}
  - {id: a-sub2, kind: water, building: dorm-a, name: A栋洗衣房分表, interval_s: 900, rated_capacity: 20,
     parent: a-main}
  - {id: b-main, kind: water, building: teach-b, name: B栋总表, interval_s: 900, rated_capacity: 20}
"""

UNIT = 0.005  # m³: every quarter hour's use is a whole number of these


def write_campus(tmp: Path) -> Path:
    path = tmp / "ying.yaml"
    path.write_text(CAMPUS, encoding="utf-8")
    return path


def flows(at: datetime, leak: bool, m3h: float) -> dict[str, float]:
    """Each meter's flow (m³/h) over the quarter hour starting at ``at`` (local)."""
    h = at.hour
    sub1 = 1.0 if 6 <= h < 22 else 0.0
    sub2 = 0.5 if 6 <= h < 22 else 0.0
    main_a = sub1 + sub2 + (m3h if leak else 0.0)
    main_b = 2.0 if 8 <= h < 18 else 0.0
    return {"a-sub1": sub1, "a-sub2": sub2, "a-main": main_a, "b-main": main_b, "in": main_a + main_b + 0.1}


def readings(start: datetime, end: datetime, *, leak_since: datetime | None = None, leak_until: datetime | None = None,
             m3h: float = 0.2) -> Iterator[Inbound]:
    """Every meter's reading every 15 minutes from ``start`` to ``end`` (both included), registers from 1000; the
    leak from ``leak_since`` until ``leak_until`` (mended then; None: never)."""
    units = {d: 200_000 for d in ("in", "a-main", "a-sub1", "a-sub2", "b-main")}  # 1000 m³
    at = start
    while True:
        for device, n in units.items():
            body = {"ts": int(at.timestamp()), "values": {"volume_m3": round(n * UNIT, 6)}}
            yield Inbound(f"campus/ying/{device}/reading", json.dumps(body).encode(), int(at.timestamp() * 1000))
        if at >= end:
            return
        leak = leak_since is not None and at >= leak_since and (leak_until is None or at < leak_until)
        for device, f in flows(at, leak, m3h).items():
            units[device] += round(f * 0.25 / UNIT)
        at += timedelta(minutes=15)
