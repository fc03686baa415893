"""Simulated DL/T 645 meters on a pty, read through pyserial exactly as the gateway reads /dev/ttyUSB0.

Frames are checked with h1's codec (gateway.protocols.dlt645) and, for the standard's worked example,
byte for byte against the frame computed by hand (shared/METERS.md: 000000001234 at 12345.67 kWh).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import serial

from gateway.protocols import dlt645
from gateway.protocols.frames import Garbled
from simulators.meters import SimulatedGateway
from simulators.meters.register import EPOCH

TZ = ZoneInfo("Asia/Shanghai")
BAUD = 2400
BYTE_S = 11 / BAUD  # 8E1: start, 8 data, parity, stop
DELAY = 0.03


class Clock:
    """The simulation's true time, set by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def campus(tmp: Path) -> dict[str, Any]:
    def elec(i: str, address: str, bus: str, protocol: str = "dlt645", **extra: Any) -> dict[str, Any]:
        return {"id": i, "kind": "electricity", "building": "canteen-1", "gateway": "gw-1", **extra,
                "meter": {"bus": bus, "protocol": protocol, "address": address}}

    return {
        "site": {"id": "s1", "name": "test", "timezone": "Asia/Shanghai"},
        "buildings": [{"id": "canteen-1", "name": "一食堂", "department": "canteen", "floor_area_m2": 3000}],
        "gateways": [{"id": "gw-1", "buses": [
            {"name": "rs485-1", "serial": str(tmp / "ttyUSB0"), "baud": BAUD, "parity": "E"},
            {"name": "rs485-2", "serial": str(tmp / "ttyUSB1"), "baud": BAUD, "parity": "E"},
        ]}],
        "devices": [
            elec("m-1234", "000000001234", "rs485-1", initial_register=12345.67),
            elec("m-5678", "000000005678", "rs485-1", initial_register=500, multiplier=20),
            elec("m-old", "000000009999", "rs485-1", protocol="dlt645_1997", initial_register=77),
            elec("m-alone", "112233445566", "rs485-2", initial_register=1),
        ],
    }


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(datetime.combine(EPOCH, datetime.min.time(), TZ))


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory, clock: Clock) -> Iterator[SimulatedGateway]:
    tmp = tmp_path_factory.mktemp("dlt645")
    with SimulatedGateway(campus(tmp), "gw-1", now=clock, answer_delay_s=DELAY) as gateway:
        yield gateway


@pytest.fixture
def port(sim: SimulatedGateway) -> Iterator[serial.Serial]:
    line = sim.lines["rs485-1"]
    with serial.Serial(str(line.link), BAUD, parity=serial.PARITY_EVEN, timeout=0.05) as p:  # type: ignore[union-attr]
        p.reset_input_buffer()
        yield p


@pytest.fixture
def port2(sim: SimulatedGateway) -> Iterator[serial.Serial]:
    with serial.Serial(str(sim.lines["rs485-2"].link), BAUD, parity=serial.PARITY_EVEN,  # type: ignore[union-attr]
                       timeout=0.05) as p:
        p.reset_input_buffer()
        yield p


def transact(port: serial.Serial, request: bytes, wait: float = 1.0) -> tuple[list[Any], float, bytes]:
    """Send ``request``; read until a whole frame (or garbage) came and the line is quiet, or ``wait`` ends."""
    deframer = dlt645.Deframer()
    start = time.monotonic()
    port.write(request)
    got: list[Any] = []
    raw = b""
    while time.monotonic() - start < wait:
        chunk = port.read(64)
        raw += chunk
        got += deframer.feed(chunk)
        if any(isinstance(g, dlt645.Frame) for g in got) and not chunk:
            break
    return got, time.monotonic() - start, raw


def frames_of(got: list[Any]) -> list[dlt645.Frame]:
    return [g for g in got if isinstance(g, dlt645.Frame)]


def test_the_worked_example_byte_for_byte(sim: SimulatedGateway, port: serial.Serial, clock: Clock) -> None:
    """At the epoch the register is its initial value: 12345.67 kWh, the answer of shared/METERS.md."""
    clock.at = datetime.combine(EPOCH, datetime.min.time(), TZ)
    request = bytes.fromhex("68 34 12 00 00 00 00 68 11 04 33 33 34 33 F8 16")
    assert dlt645.read_request("000000001234", 0x00010000, preamble=0) == request
    _, _, raw = transact(port, request)
    assert raw == bytes.fromhex("FE FE FE FE 68 34 12 00 00 00 00 68 91 08 33 33 34 33 9A 78 56 34 18 16")


def test_every_field_agrees_with_the_true_register(sim: SimulatedGateway, port: serial.Serial,
                                                  clock: Clock) -> None:
    clock.at = datetime(2025, 3, 4, 11, 20, 10, tzinfo=TZ)  # a school day, lunch being cooked
    meter = sim.meter("m-5678")
    truth = meter.values_at(clock.at)
    assert truth["energy_kwh"] == pytest.approx(meter.register_at(clock.at))
    assert truth["power_kw"] > 0
    for name, di in dlt645.FIELDS.items():
        got, _, _ = transact(port, dlt645.read_request("000000005678", di))
        (frame,) = frames_of(got)
        value = dlt645.decode_answer(frame, di)
        assert isinstance(value, float)
        assert value == pytest.approx(truth[name], abs=0.01), name
    # the register moves with the power: 1 minute later it grew by power × 1/60 h
    later = meter.register_at(clock.at + timedelta(minutes=1))
    assert later - truth["energy_kwh"] == pytest.approx(truth["power_kw"] / 60, rel=1e-6)


def test_no_such_data_and_silence_for_other_addresses(port: serial.Serial) -> None:
    got, _, raw = transact(port, dlt645.read_request("000000001234", 0x04000401))  # not one it keeps
    (frame,) = frames_of(got)
    assert frame.control == 0xD1
    assert raw.endswith(bytes.fromhex("68 34 12 00 00 00 00 68 D1 01 35 1D 16"))  # 02 + 33 = 35; CS by hand
    with pytest.raises(dlt645.Abnormal, match="no such data"):
        dlt645.decode_answer(frame, 0x04000401)
    got, _, raw = transact(port, dlt645.read_request("000000004321", 0x00010000), wait=0.5)
    assert got == []
    assert raw == b""


def test_the_1997_meter(sim: SimulatedGateway, port: serial.Serial, clock: Clock) -> None:
    clock.at = datetime(2025, 3, 4, 20, 0, tzinfo=TZ)
    got, _, _ = transact(port, dlt645.read_request("000000009999", 0x9010, version=1997))
    (frame,) = frames_of(got)
    assert frame.control == 0x81
    value = dlt645.decode_answer(frame, 0x9010, version=1997)
    assert value == pytest.approx(sim.meter("m-old").register_at(clock.at), abs=0.006)
    got, _, _ = transact(port, dlt645.read_request("000000009999", dlt645.freeze_time_di(1) & 0xFFFF,
                                                   version=1997))
    assert frames_of(got)[0].control == 0xC1  # 1997 keeps no daily freezes: no such data


def test_read_address_alone_and_collision(port: serial.Serial, port2: serial.Serial) -> None:
    got, _, _ = transact(port2, dlt645.read_address_request())
    (frame,) = frames_of(got)
    assert dlt645.decode_address_answer(frame) == "112233445566"
    got, _, _ = transact(port, dlt645.read_address_request(), wait=0.8)
    assert frames_of(got) == []  # two DL/T 645-2007 meters answered at once: garbage
    assert any(isinstance(g, Garbled) for g in got)


def test_freezes_at_the_meter_clock_midnight(sim: SimulatedGateway, port: serial.Serial, clock: Clock) -> None:
    clock.at = datetime(2025, 3, 5, 9, 30, tzinfo=TZ)
    meter = sim.meter("m-1234")
    meter.drift(-120)  # its clock is two minutes slow
    try:
        for n in (1, 2, 62):
            stamp, total = meter.freeze(n)
            assert stamp == datetime(2025, 3, 5, tzinfo=TZ) - timedelta(days=n - 1)
            assert total == pytest.approx(meter.register_at(stamp + timedelta(minutes=2)))
            got, _, _ = transact(port, dlt645.read_request("000000001234", dlt645.freeze_time_di(n)))
            assert dlt645.decode_answer(frames_of(got)[0], dlt645.freeze_time_di(n)) == stamp.replace(tzinfo=None)
            got, _, _ = transact(port, dlt645.read_request("000000001234", dlt645.freeze_energy_di(n)))
            energies = dlt645.decode_answer(frames_of(got)[0], dlt645.freeze_energy_di(n))
            assert isinstance(energies, list)
            assert energies[0] == pytest.approx(total, abs=0.006)
            assert sum(energies[1:]) == pytest.approx(energies[0], abs=0.011)  # the tariffs add up
        got, _, _ = transact(port, dlt645.read_request("000000001234", 0x0506003F))  # there is no 63rd
        assert frames_of(got)[0].control == 0xD1
    finally:
        meter.drift(0)


def test_broadcast_time_sets_every_clock_and_gets_no_answer(sim: SimulatedGateway, port: serial.Serial,
                                                            clock: Clock) -> None:
    clock.at = datetime(2025, 3, 5, 9, 30, tzinfo=TZ)
    meter = sim.meter("m-5678")
    meter.drift(300)
    got, _, raw = transact(port, dlt645.broadcast_time_request(datetime(2025, 3, 5, 9, 30, 0)), wait=0.5)
    assert raw == b""
    assert meter.clock() == clock.at
    assert sim.meter("m-old").clock() == clock.at


def test_paced_at_the_baud(port: serial.Serial) -> None:
    """A transaction takes the wire time: (request + answer bytes) × 11 bits ÷ 2400 baud + the answer delay."""
    request = dlt645.read_request("000000001234", 0x00010000)
    answer_len = 4 + 12 + 8  # FE×4, header and CS 16, DI and value
    wire = (len(request) + answer_len) * BYTE_S + DELAY
    elapsed = []
    for _ in range(3):
        deframer = dlt645.Deframer()
        start = time.monotonic()
        port.write(request)
        frames: list[Any] = []
        while not frames and time.monotonic() - start < 2:
            frames = deframer.feed(port.read(1))
        elapsed.append(time.monotonic() - start)
    assert min(elapsed) >= wire - BYTE_S
    assert sorted(elapsed)[1] < wire + 0.1


def test_faults(sim: SimulatedGateway, port: serial.Serial, clock: Clock) -> None:
    clock.at = datetime(2025, 3, 6, 12, 0, tzinfo=TZ)
    meter = sim.meter("m-1234")
    read = dlt645.read_request("000000001234", 0x00010000)
    meter.no_answer()
    try:
        got, _, raw = transact(port, read, wait=0.5)
        assert raw == b""
    finally:
        meter.no_answer(False)
    meter.garbled()
    try:
        got, _, _ = transact(port, read, wait=0.6)
        assert frames_of(got) == []
        assert any("checksum" in g.reason for g in got if isinstance(g, Garbled))
    finally:
        meter.garbled(False)
    meter.noise()
    try:
        got, _, raw = transact(port, read)
        assert not raw.startswith(b"\xfe")
        assert len(frames_of(got)) == 1  # the noise is skipped, the frame after it is whole
    finally:
        meter.noise(False)
    meter.slow(0.4)
    try:
        got, elapsed, _ = transact(port, read)
        assert frames_of(got)
        assert elapsed >= 0.4
    finally:
        meter.slow(None)


def test_a_replaced_meter(sim: SimulatedGateway, port2: serial.Serial, clock: Clock) -> None:
    clock.at = datetime(2025, 3, 6, 12, 0, tzinfo=TZ)
    meter = sim.meter("m-alone")
    before = meter.register_at(clock.at)
    assert before > 1
    replaced_at = clock.at
    meter.replace("665544332211")
    got, _, raw = transact(port2, dlt645.read_request("112233445566", 0x00010000), wait=0.5)
    assert raw == b""  # the old address is gone
    clock.at += timedelta(hours=1)
    got, _, _ = transact(port2, dlt645.read_request("665544332211", 0x00010000))
    value = dlt645.decode_answer(frames_of(got)[0], 0x00010000)
    assert 0 < value == pytest.approx(meter.register_at(clock.at), abs=0.006)
    assert value < before
    assert meter.register_at(replaced_at - timedelta(seconds=1)) == pytest.approx(before, abs=0.05)  # the old one's
    assert meter.freeze(2)[1] == 0.0  # the new meter's freeze records from before it was installed are empty


def test_a_whole_bus_down(sim: SimulatedGateway, port2: serial.Serial) -> None:
    sim.bus_down("rs485-2")
    try:
        _, _, raw = transact(port2, dlt645.read_address_request(), wait=0.5)
        assert raw == b""
    finally:
        sim.bus_down("rs485-2", on=False)
    got, _, _ = transact(port2, dlt645.read_address_request())
    assert len(frames_of(got)) == 1
