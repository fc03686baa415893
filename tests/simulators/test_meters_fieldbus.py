"""The simulated hardware read by the real gateway's buses (h3's ``FieldBus``) over every way to a bus: a pty,
a serial server, a DTU dialling in, a 4G DTU over a real Mosquitto, Modbus TCP. What the gateway decodes is
exactly what the simulated meters hold (their true registers, freezes and clocks)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from campus.model import Campus, Device
from gateway.bus import FieldBus, ReadFailed
from ingest.config import MqttSettings
from simulators.meters import SimulatedGateway
from tests.support.servers import Mosquitto, free_port, wait_for

TZ = ZoneInfo("Asia/Shanghai")


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def doc(tmp: Path) -> dict[str, Any]:
    def dev(i: str, kind: str, meter: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"id": i, "kind": kind, "building": "canteen-1", "gateway": "gw-1", "meter": meter, **extra}

    return {
        "site": {"id": "s1", "name": "test", "timezone": "Asia/Shanghai"},
        "buildings": [{"id": "canteen-1", "name": "一食堂", "department": "canteen", "floor_area_m2": 2500}],
        "gateways": [{"id": "gw-1", "buses": [
            {"name": "rs485-1", "serial": str(tmp / "ttyUSB0"), "baud": 2400, "parity": "E", "timeout_ms": 300,
             "retries": 1},
            {"name": "dtu-2", "tcp": f"127.0.0.1:{free_port()}"},
            {"name": "dtu-3", "listen": f"127.0.0.1:{free_port()}", "register": "GW3", "heartbeat": "hex:00ff"},
            {"name": "dtu-4", "mqtt": {"up": "dtu/GW4/up", "down": "dtu/GW4/down"}},
            {"name": "pm-1", "modbus_tcp": f"127.0.0.1:{free_port()}"},
        ]}],
        "devices": [
            dev("c1-elec", "electricity", {"bus": "rs485-1", "protocol": "dlt645", "address": "000012345678"},
                multiplier=40, initial_register=12000),
            dev("c1-old", "electricity", {"bus": "rs485-1", "protocol": "dlt645_1997", "address": "000000000077"}),
            dev("c1-water", "water", {"bus": "dtu-2", "protocol": "cjt188", "address": "12345678901234"},
                initial_register=5300),
            dev("c1-gas", "gas", {"bus": "dtu-2", "protocol": "cjt188", "address": "00000000300001"}),
            dev("c1-dial", "electricity", {"bus": "dtu-3", "protocol": "dlt645", "address": "000000000003"}),
            dev("c1-4g", "electricity", {"bus": "dtu-4", "protocol": "dlt645", "address": "000000000004"}),
            dev("c1-pm", "electricity", {"bus": "pm-1", "protocol": "modbus", "unit": 3,
                                         "profile": "eastron-sdm630"}, initial_register=800),
        ],
    }


Setup = tuple[Campus, SimulatedGateway, dict[str, FieldBus], Clock]


@pytest.fixture
def setup(tmp_path: Path, mosquitto: Mosquitto) -> Iterator[Setup]:
    raw = doc(tmp_path)
    campus = Campus.model_validate(raw)
    clock = Clock(datetime(2025, 3, 4, 11, 40, 12, tzinfo=TZ))  # lunch is cooking
    mqtt = MqttSettings(url=mosquitto.url, client_id="gw-1")
    devices = campus.devices
    buses = {b.name: FieldBus("gw-1", b, devices, mqtt=mqtt, zone="Asia/Shanghai") for b in campus.gateways[0].buses}
    try:
        buses["dtu-3"].open()  # the gateway listens before the DTU dials
        with SimulatedGateway(raw, "gw-1", now=clock, mqtt_url=mosquitto.url, heartbeat_s=0.3) as sim:
            for bus in buses.values():
                bus.open()
            assert buses["dtu-4"].wait_ready(10)
            yield campus, sim, buses, clock
    finally:
        for bus in buses.values():
            bus.close()


def _device(campus: Campus, device_id: str) -> Device:
    return next(d for d in campus.devices if d.id == device_id)


def test_the_gateway_reads_what_the_meters_hold(setup: Setup) -> None:
    campus, sim, buses, clock = setup
    for device_id, bus in (("c1-elec", "rs485-1"), ("c1-old", "rs485-1"), ("c1-water", "dtu-2"),
                           ("c1-gas", "dtu-2"), ("c1-dial", "dtu-3"), ("c1-4g", "dtu-4"), ("c1-pm", "pm-1")):
        device = _device(campus, device_id)
        if bus == "dtu-3":  # the DTU dials in when it will: read once it has
            answer = wait_for(lambda d=device: _try(buses["dtu-3"], d), 10, "the DTU to dial in")
        else:
            answer = buses[bus].read(device)
        truth = sim.meter(device_id).values_at(clock.at)
        register = "energy_kwh" if device.kind.value == "electricity" else "volume_m3"
        assert answer.values[register] == pytest.approx(truth[register], abs=0.006), device_id
        if device_id in ("c1-elec", "c1-pm"):
            assert answer.values["power_kw"] == pytest.approx(truth["power_kw"], abs=0.0001)
            assert answer.values["power_kw"] > 0


def _try(bus: FieldBus, device: Device) -> Any:
    try:
        return bus.read(device)
    except ReadFailed:
        return None


def test_freezes_clock_and_faults_through_the_gateway(setup: Setup) -> None:
    campus, sim, buses, clock = setup
    device, bus, meter = _device(campus, "c1-elec"), buses["rs485-1"], sim.meter("c1-elec")
    got = bus.freezes(device, [1, 2, 3])
    assert [ms for ms, _ in got] == [int((datetime(2025, 3, 4, tzinfo=TZ) - timedelta(days=n - 1)).timestamp() * 1000)
                                     for n in (1, 2, 3)]
    for n, (_, values) in zip((1, 2, 3), got, strict=True):
        assert values["energy_kwh"] == pytest.approx(meter.freeze(n)[1], abs=0.006)
    meter.drift(-600)
    bus.sync_time(clock.at)  # a broadcast: nobody answers, the meter sets its clock once the frame has crossed
    assert wait_for(lambda: meter.clock() == clock.at, 5, "the meter's clock set by the broadcast")
    meter.no_answer()
    try:
        with pytest.raises(ReadFailed) as failed:
            bus.read(device)
        assert failed.value.code == "no_answer"
        assert "000012345678 on rs485-1" in failed.value.words
        assert bus.read(_device(campus, "c1-old")).values["energy_kwh"] >= 0  # the others still answer
    finally:
        meter.no_answer(False)
    meter.garbled()
    try:
        with pytest.raises(ReadFailed) as failed:
            bus.read(device)
        assert failed.value.code == "checksum"
    finally:
        meter.garbled(False)
    meter.noise()
    try:
        assert bus.read(device).values["energy_kwh"] == pytest.approx(meter.register_at(clock.at), abs=0.006)
    finally:
        meter.noise(False)
    sim.bus_down("dtu-2")
    try:
        with pytest.raises(ReadFailed):
            buses["dtu-2"].read(_device(campus, "c1-water"))
    finally:
        sim.bus_down("dtu-2", on=False)
    assert wait_for(lambda: _try(buses["dtu-2"], _device(campus, "c1-water")), 10, "the serial server back")
