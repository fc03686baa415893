"""Commissioning against h2's simulated meters: scan finds what is on a bus and prints lines that paste into the
campus file and the ledger; read_once shows every byte both ways and the decoded values, or the error in words."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from campus.model import Bus, Campus, Device
from gateway.commission import read_once, scan
from simulators.meters import SimulatedGateway
from simulators.meters.register import EPOCH
from tests.support.servers import free_port

TZ = ZoneInfo("Asia/Shanghai")
INLINE = {"energy_kwh": {"address": 0, "type": "uint32", "scale": 0.01}}


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def campus_doc(tmp: Path, modbus_port: int) -> dict[str, Any]:
    def dev(i: str, kind: str, meter: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"id": i, "kind": kind, "building": "dorm-1", "gateway": "gw-1", "meter": meter, **extra}

    fast = {"baud": 9600, "timeout_ms": 150, "retries": 1}
    return {
        "site": {"id": "s1", "name": "test"},
        "buildings": [{"id": "dorm-1", "name": "1号楼", "department": "dormitory"}],
        "gateways": [{"id": "gw-1", "buses": [
            {"name": "one", "serial": str(tmp / "ttyS0"), "parity": "E", **fast},
            {"name": "many", "serial": str(tmp / "ttyS1"), "parity": "E", **fast},
            {"name": "water", "serial": str(tmp / "ttyS2"), "parity": "E", **fast},
            {"name": "rtu", "serial": str(tmp / "ttyS3"), "parity": "N", **fast},
            {"name": "pm", "modbus_tcp": f"127.0.0.1:{modbus_port}", "timeout_ms": 150, "retries": 1},
        ]}],
        "devices": [
            dev("e-1", "electricity", {"bus": "one", "protocol": "dlt645", "address": "000012345678"},
                initial_register=12345.67),
            *(dev(f"e-m{i}", "electricity", {"bus": "many", "protocol": "dlt645", "address": f"00000000000{i}"},
                  initial_register=i) for i in (1, 2, 3)),
            dev("w-1", "water", {"bus": "water", "protocol": "cjt188", "address": "12345678901234"},
                initial_register=1234.56),
            *(dev(f"pm-{u}", "electricity", {"bus": "rtu", "protocol": "modbus", "unit": u, "registers": INLINE},
                  initial_register=u) for u in (5, 6)),
            dev("pm-t", "electricity", {"bus": "pm", "protocol": "modbus", "unit": 3, "registers": INLINE},
                initial_register=3),
        ],
    }


@pytest.fixture(scope="module")
def doc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return campus_doc(tmp_path_factory.mktemp("commission"), free_port())


@pytest.fixture(scope="module")
def campus(doc: dict[str, Any]) -> Campus:
    return Campus.model_validate(doc)


@pytest.fixture(scope="module")
def sim(doc: dict[str, Any]) -> Iterator[SimulatedGateway]:
    clock = Clock(datetime.combine(EPOCH, datetime.min.time(), TZ) + timedelta(days=3, hours=9))
    with SimulatedGateway(doc, "gw-1", now=clock, answer_delay_s=0.01) as gateway:
        yield gateway


def bus(campus: Campus, name: str) -> Bus:
    found = campus.gateways[0].bus(name)
    assert found is not None
    return found


def _pasted(lines: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The campus-file lines as YAML, and the ledger rows as CSV."""
    meters = [yaml.safe_load(line)[0] for line in lines if line.startswith("- {")]
    start = lines.index("# 台账 / ledger (CSV):") if "# 台账 / ledger (CSV):" in lines else len(lines)
    rows = list(csv.DictReader(lines[start + 1:]))
    return meters, rows


def test_scan_reads_the_address_of_the_one_meter(sim: SimulatedGateway, campus: Campus) -> None:
    lines = list(scan("gw-1", bus(campus, "one"), "dlt645"))
    meters, rows = _pasted(lines)
    assert meters == [{"id": "elec-000012345678", "kind": "electricity", "building": "BUILDING", "gateway": "gw-1",
                       "meter": {"bus": "one", "protocol": "dlt645", "address": "000012345678"}}]
    assert rows == [{"id": "elec-000012345678", "kind": "electricity", "building": "BUILDING", "gateway": "gw-1",
                     "bus": "one", "protocol": "dlt645", "address": "000012345678", "unit": "", "meter_type": ""}]
    # with the building filled in, the line is a device the campus file takes
    meters[0]["building"] = "dorm-1"
    Device.model_validate(meters[0])


def test_scan_probes_addresses_where_several_meters_collide(sim: SimulatedGateway, campus: Campus) -> None:
    lines = list(scan("gw-1", bus(campus, "many"), devices=campus.devices,
                      addresses=["000000000001", "000000000003", "000000000009", "nonsense"]))
    meters, rows = _pasted(lines)
    assert [m["meter"]["address"] for m in meters] == ["000000000001", "000000000003"]
    assert len(rows) == 2
    assert any("no answer from 000000000009 on many after 1 try" in line for line in lines)
    assert any("'nonsense'" in line for line in lines)
    assert "# 2 块表 / meters found on many" in lines


def test_scan_probes_the_campus_files_addresses_by_default(sim: SimulatedGateway, campus: Campus) -> None:
    meters, _ = _pasted(list(scan("gw-1", bus(campus, "many"), devices=campus.devices)))
    assert sorted(m["meter"]["address"] for m in meters) == ["000000000001", "000000000002", "000000000003"]


def test_scan_finds_the_water_meter_at_the_broadcast_address(sim: SimulatedGateway, campus: Campus) -> None:
    meters, _ = _pasted(list(scan("gw-1", bus(campus, "water"), "cjt188")))
    assert meters == [{"id": "wate-12345678901234", "kind": "water", "building": "BUILDING", "gateway": "gw-1",
                       "meter": {"bus": "water", "protocol": "cjt188", "address": "12345678901234"}}]


def test_scan_finds_modbus_units_rtu_and_tcp(sim: SimulatedGateway, campus: Campus) -> None:
    meters, rows = _pasted(list(scan("gw-1", bus(campus, "rtu"), "modbus", units=range(1, 9), timeout_ms=150,
                                     profile="eastron-sdm630")))
    assert [m["meter"]["unit"] for m in meters] == [5, 6]
    assert meters[0]["meter"]["profile"] == "eastron-sdm630"
    assert [r["unit"] for r in rows] == ["5", "6"]
    meters, _ = _pasted(list(scan("gw-1", bus(campus, "pm"), units=range(1, 6), timeout_ms=150)))
    assert [m["meter"]["unit"] for m in meters] == [3]


def test_read_once_shows_the_bytes_and_the_values(sim: SimulatedGateway, campus: Campus) -> None:
    text = read_once("gw-1", bus(campus, "one"), "000012345678", devices=campus.devices)
    lines = text.splitlines()
    assert lines[0].startswith("总线 bus one (serial) · 表 meter 000012345678 · dlt645 · ")
    assert lines[1] == "→ FE FE FE FE 68 78 56 34 12 00 00 68 11 04 33 33 34 33 C6 16"
    assert lines[2].startswith("← FE FE FE FE 68 78 56 34 12 00 00 68 91 08 33 33 34 33")
    energy = sim.meter("e-1").values_at(sim.meter("e-1").now())["energy_kwh"]
    assert f"energy_kwh = {round(energy * 100) / 100:g}" in lines
    assert any(line.startswith("power_kw = ") for line in lines)
    assert lines[-1].startswith("计数 / counters: ")


def test_read_once_of_a_meter_not_in_the_campus_file_and_of_a_silent_one(sim: SimulatedGateway,
                                                                          campus: Campus) -> None:
    text = read_once("gw-1", bus(campus, "water"), "12345678901234")  # by its 14 hex digits: CJ/T 188
    assert "volume_m3 = " in text
    text = read_once("gw-1", bus(campus, "one"), "000000000077")
    assert "读表失败 / read failed [no_answer]: no answer from 000000000077 on one after 2 tries" in text
    assert text.count("→ ") == 2
    text = read_once("gw-1", bus(campus, "rtu"), "5", devices=campus.devices)
    assert "energy_kwh = " in text
