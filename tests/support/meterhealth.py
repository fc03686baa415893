"""A small campus with gateway buses and meters for the health tests, and health payloads as a gateway sends them."""

from __future__ import annotations

import orjson

from campus.model import Campus, parse_campus

CAMPUS_YAML = """
site: {id: s1, name: 测试校园, timezone: Asia/Shanghai}
buildings:
  - {id: canteen-1, name: 第一食堂, department: canteen}
  - {id: dorm-1, name: 1号宿舍楼, department: dormitory}
zones:
  - {id: zone-north, name: 北区责任区, buildings: [canteen-1, dorm-1]}
gateways:
  - id: gw-canteen-1
    name: 一食堂集中器
    building: canteen-1
    buses:
      - {name: rs485-1, serial: /dev/ttyUSB0}
      - {name: rs485-2, serial: /dev/ttyUSB1}
  - id: gw-dorm-1
    name: 1号楼集中器
    building: dorm-1
    buses:
      - {name: rs485-1, serial: /dev/ttyUSB0}
devices:
  - {id: c1-elec, kind: electricity, building: canteen-1, name: 一食堂总电表, gateway: gw-canteen-1,
     meter: {bus: rs485-1, protocol: dlt645, address: "000012345678"}}
  - {id: c1-kitchen, kind: electricity, building: canteen-1, name: 一食堂厨房电表, gateway: gw-canteen-1,
     meter: {bus: rs485-1, protocol: dlt645, address: "000012345679"}}
  - {id: c1-water, kind: water, building: canteen-1, name: 一食堂水表, gateway: gw-canteen-1,
     meter: {bus: rs485-1, protocol: cjt188, address: "12345678901234"}}
  - {id: c1-gas, kind: gas, building: canteen-1, name: 一食堂燃气表, gateway: gw-canteen-1,
     meter: {bus: rs485-2, protocol: cjt188, address: "12345678905678"}}
  - {id: d1-elec, kind: electricity, building: dorm-1, name: 1号宿舍楼电表, gateway: gw-dorm-1,
     meter: {bus: rs485-1, protocol: dlt645, address: "000000001234"}}
"""
ADDRESS = {"c1-elec": "000012345678", "c1-kitchen": "000012345679", "c1-water": "12345678901234",
           "c1-gas": "12345678905678", "d1-elec": "000000001234"}
BUS = {"c1-elec": ("gw-canteen-1", "rs485-1"), "c1-kitchen": ("gw-canteen-1", "rs485-1"),
       "c1-water": ("gw-canteen-1", "rs485-1"), "c1-gas": ("gw-canteen-1", "rs485-2"),
       "d1-elec": ("gw-dorm-1", "rs485-1")}


def campus() -> Campus:
    return parse_campus(CAMPUS_YAML)


def failed(device: str, ts_s: int, *, last_answer: int | None = None, rate: float = 0.82, tries: int = 3) -> bytes:
    """The health a gateway publishes after a poll the meter did not answer."""
    gw, bus = BUS[device]
    return orjson.dumps({"ts": ts_s, "ok": False, "code": "no_answer",
                         "error": f"no answer from {ADDRESS[device]} on {bus} after {tries} tries",
                         "last_answer": last_answer, "success_rate": rate, "gateway": gw, "bus": bus})


def answered(device: str, ts_s: int, rate: float = 1.0) -> bytes:
    gw, bus = BUS[device]
    return orjson.dumps({"ts": ts_s, "ok": True, "code": None, "error": None, "last_answer": ts_s,
                         "success_rate": rate, "gateway": gw, "bus": bus})
