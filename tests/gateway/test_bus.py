"""FieldBus against h2's simulated meters, every way to a bus: DL/T 645-2007 and 1997, CJ/T 188 and Modbus RTU on
ptys paced at the baud, a serial server over TCP, a DTU that dials in with a registration packet and heartbeats,
a 4G DTU over a real Mosquitto, Modbus TCP. Every value exactly what the simulated meter shows at that moment;
faults counted and said in words; a silent meter bounded by its timeout × tries; dropped links come back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from campus.model import Campus, Device
from gateway.bus import FieldBus, ReadFailed
from gateway.dtu import ListenLink
from gateway.links import TcpLink
from gateway.protocols import modbus
from gateway.protocols.profiles import PROFILES
from ingest.config import MqttSettings
from simulators.meters import SimulatedGateway
from simulators.meters.register import EPOCH
from tests.support.servers import Mosquitto, free_port

TZ = ZoneInfo("Asia/Shanghai")
TIMEOUT_MS = 150
RETRIES = 2
INLINE = {"energy_kwh": {"address": 0, "type": "uint32", "scale": 0.01, "word_order": "CDAB"},
          "power_kw": {"address": 2, "type": "float32"},
          "voltage_v": {"address": 10, "type": "uint16", "scale": 0.1, "function": 4}}
DLT645_DECIMALS = {"energy_kwh": 2, "power_kw": 4, "voltage_v": 1, "current_a": 3, "power_factor": 3}
DLT645_1997_DECIMALS = {"energy_kwh": 2, "power_kw": 4, "voltage_v": 0, "current_a": 2, "power_factor": 3}


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def campus_doc(tmp: Path, ports: dict[str, int]) -> dict[str, Any]:
    common = {"timeout_ms": TIMEOUT_MS, "retries": RETRIES}

    def dev(i: str, kind: str, meter: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"id": i, "kind": kind, "building": "dorm-1", "gateway": "gw-1", "meter": meter, **extra}

    def elec(i: str, bus: str, address: str, protocol: str = "dlt645", **extra: Any) -> dict[str, Any]:
        return dev(i, "electricity", {"bus": bus, "protocol": protocol, "address": address}, **extra)

    return {
        "site": {"id": "s1", "name": "test", "timezone": "Asia/Shanghai"},
        "buildings": [{"id": "dorm-1", "name": "1号楼", "department": "dormitory", "floor_area_m2": 5000}],
        "gateways": [{"id": "gw-1", "buses": [
            {"name": "rs485-1", "serial": str(tmp / "ttyUSB0"), "baud": 9600, "parity": "E", **common},
            {"name": "rs485-2", "serial": str(tmp / "ttyUSB1"), "baud": 9600, "parity": "E", **common},
            {"name": "rtu-1", "serial": str(tmp / "ttyUSB2"), "baud": 9600, "parity": "N", **common},
            {"name": "dtu-2", "tcp": f"127.0.0.1:{ports['tcp']}", **common},
            {"name": "dtu-3", "listen": f"127.0.0.1:{ports['listen']}", "register": "hex:4757330d0a",
             "heartbeat": "HB", **common},
            {"name": "dtu-4", "mqtt": {"up": "dtu/GW4/up", "down": "dtu/GW4/down"}, "timeout_ms": 500,
             "retries": 1},
            {"name": "pm-1", "modbus_tcp": f"127.0.0.1:{ports['modbus']}", **common},
        ]}],
        "devices": [
            elec("e-1", "rs485-1", "000012345678", initial_register=12345.67),
            elec("e-2", "rs485-1", "000000000002", initial_register=500),
            elec("e-3", "rs485-1", "000000000003", initial_register=3),
            elec("e-97", "rs485-1", "000000000097", protocol="dlt645_1997", initial_register=97),
            dev("w-1", "water", {"bus": "rs485-2", "protocol": "cjt188", "address": "12345678901234"},
                initial_register=1234.56),
            dev("g-1", "gas", {"bus": "rs485-2", "protocol": "cjt188", "address": "000000000100AB"},
                initial_register=10),
            dev("pm-5", "electricity", {"bus": "rtu-1", "protocol": "modbus", "unit": 5, "registers": INLINE},
                initial_register=7),
            dev("pm-6", "electricity", {"bus": "rtu-1", "protocol": "modbus", "unit": 6,
                                        "profile": "eastron-sdm630"}, initial_register=4321.5),
            dev("w-2", "water", {"bus": "dtu-2", "protocol": "cjt188", "address": "00000000020000"},
                initial_register=20),
            elec("e-20", "dtu-2", "000000000020", initial_register=200),
            elec("e-30", "dtu-3", "000000000030", initial_register=300),
            elec("e-40", "dtu-4", "000000000040", initial_register=400),
            dev("pm-3", "electricity", {"bus": "pm-1", "protocol": "modbus", "unit": 3,
                                        "profile": "eastron-sdm630"}, initial_register=4321.5),
            dev("pm-4", "electricity", {"bus": "pm-1", "protocol": "modbus", "unit": 4, "registers": INLINE},
                initial_register=99.99),
        ],
    }


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(datetime.combine(EPOCH, datetime.min.time(), TZ) + timedelta(days=40, hours=13, minutes=7))


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    server = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def doc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return campus_doc(tmp_path_factory.mktemp("buses"),
                      {"tcp": free_port(), "listen": free_port(), "modbus": free_port()})


@pytest.fixture(scope="module")
def devices(doc: dict[str, Any]) -> dict[str, Device]:
    return {d.id: d for d in Campus.model_validate(doc).devices}


@pytest.fixture(scope="module")
def sim(doc: dict[str, Any], broker: Mosquitto, clock: Clock) -> Iterator[SimulatedGateway]:
    with SimulatedGateway(doc, "gw-1", now=clock, mqtt_url=broker.url, answer_delay_s=0.01,
                          heartbeat_s=0.2) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def buses(doc: dict[str, Any], devices: dict[str, Device], broker: Mosquitto,
          sim: SimulatedGateway) -> Iterator[dict[str, FieldBus]]:
    """One FieldBus per bus, opened once the simulated hardware is there (the dialling DTU redials)."""
    campus = Campus.model_validate(doc)
    settings = MqttSettings(url=broker.url, client_id="gw-1")
    out = {b.name: FieldBus("gw-1", b, list(devices.values()), mqtt=settings, zone="Asia/Shanghai")
           for b in campus.gateways[0].buses}
    try:
        for fb in out.values():
            fb.open()
        for fb in out.values():
            assert fb.wait_ready(10), fb.name
        yield out
    finally:
        for fb in out.values():
            fb.close()


@pytest.fixture(autouse=True)
def healthy(sim: SimulatedGateway) -> Iterator[None]:
    """Every test starts and ends with every meter and bus healthy."""
    yield
    for meter in sim.meters.values():
        meter.no_answer(False)
        meter.garbled(False)
        meter.noise(False)
        meter.slow(None)
    for name in sim.lines:
        sim.bus_down(name, False)


def _round(value: float, decimals: int) -> float:
    magnitude = round(abs(value) * 10**decimals) / 10**decimals
    return -magnitude if value < 0 else magnitude


def dlt645_truth(sim: SimulatedGateway, device_id: str, decimals: dict[str, int]) -> dict[str, float]:
    meter = sim.meter(device_id)
    return {name: _round(meter.value_of(di), decimals[name])  # type: ignore[attr-defined, arg-type]
            for di, name in meter._by_di.items()}  # type: ignore[attr-defined]  # noqa: SLF001


def modbus_truth(sim: SimulatedGateway, device_id: str) -> dict[str, float]:
    meter = sim.meter(device_id)
    regs = meter.registers  # type: ignore[attr-defined]
    values = meter.values_at(meter.now())
    out = {}
    for name, reg in regs.items():
        block = modbus.Block(reg.function, reg.address, modbus.words(reg.type))
        out[name] = modbus.decode({name: reg}, {block: modbus.encode(reg, values[name])})[name]
    return out


@pytest.mark.parametrize(("device_id", "bus"), [("e-1", "rs485-1"), ("e-2", "rs485-1"), ("e-20", "dtu-2"),
                                                 ("e-30", "dtu-3"), ("e-40", "dtu-4")])
def test_dlt645_every_field_exactly_on_every_way(sim: SimulatedGateway, buses: dict[str, FieldBus],
                                                 devices: dict[str, Device], device_id: str, bus: str) -> None:
    answer = buses[bus].read(devices[device_id])
    assert answer.values == dlt645_truth(sim, device_id, DLT645_DECIMALS)
    assert len(answer.raw) == 5


def test_dlt645_1997_with_its_own_identifiers(sim: SimulatedGateway, buses: dict[str, FieldBus],
                                              devices: dict[str, Device]) -> None:
    answer = buses["rs485-1"].read(devices["e-97"])
    assert answer.values == dlt645_truth(sim, "e-97", DLT645_1997_DECIMALS)
    assert answer.raw[0][0][4:6] == b"\x68\x97"  # the 1997 meter's address on the wire


@pytest.mark.parametrize(("device_id", "bus"), [("w-1", "rs485-2"), ("g-1", "rs485-2"), ("w-2", "dtu-2")])
def test_cjt188_volume_exactly(sim: SimulatedGateway, buses: dict[str, FieldBus], devices: dict[str, Device],
                               device_id: str, bus: str, clock: Clock) -> None:
    answer = buses[bus].read(devices[device_id])
    meter = sim.meter(device_id)
    assert answer.values == {"volume_m3": round(meter.register_at(clock()) * 100) / 100}


@pytest.mark.parametrize(("device_id", "bus"), [("pm-5", "rtu-1"), ("pm-6", "rtu-1"), ("pm-3", "pm-1"),
                                                 ("pm-4", "pm-1")])
def test_modbus_the_map_exactly_over_rtu_and_tcp(sim: SimulatedGateway, buses: dict[str, FieldBus],
                                                 devices: dict[str, Device], device_id: str, bus: str) -> None:
    answer = buses[bus].read(devices[device_id])
    assert answer.values == modbus_truth(sim, device_id)
    assert answer.raw
    assert all(req for req, _ in answer.raw)


def test_profiles_exist_for_the_tests() -> None:
    assert "eastron-sdm630" in PROFILES


def test_freezes_at_the_meters_midnight_in_the_site_zone(sim: SimulatedGateway, buses: dict[str, FieldBus],
                                                         devices: dict[str, Device]) -> None:
    meter = sim.meter("e-1")
    meter.drift(-120)  # the meter's clock two minutes behind: its freezes are at its own midnight
    try:
        got = buses["rs485-1"].freezes(devices["e-1"], [1, 2, 3])
    finally:
        meter.drift(0)
    want = []
    for n in (1, 2, 3):
        meter.drift(-120)
        at, total = meter.freeze(n)
        meter.drift(0)
        want.append((int(at.timestamp() * 1000), {"energy_kwh": round(total * 100) / 100}))
    assert got == want
    assert datetime.fromtimestamp(got[0][0] / 1000, TZ).hour == 0
    assert buses["rs485-2"].freezes(devices["w-1"], [1]) == []  # CJ/T 188 keeps none we read


def test_broadcast_time_sets_the_meters_clocks(sim: SimulatedGateway, buses: dict[str, FieldBus],
                                               devices: dict[str, Device], clock: Clock) -> None:
    meter = sim.meter("e-2")
    meter.drift(600)
    buses["rs485-1"].sync_time(clock())
    buses["rs485-1"].read(devices["e-2"])  # the next transaction: the broadcast has crossed the line by then
    assert abs((meter.clock() - clock()).total_seconds()) < 1


def test_a_silent_meter_costs_its_timeout_times_tries_and_the_next_answers(
        sim: SimulatedGateway, buses: dict[str, FieldBus], devices: dict[str, Device]) -> None:
    bus = buses["rs485-1"]
    sim.meter("e-3").no_answer()
    before = bus.counters()["timeouts"]
    t0 = time.monotonic()
    with pytest.raises(ReadFailed, match=r"^no answer from 000000000003 on rs485-1 after 3 tries$") as exc:
        bus.read(devices["e-3"])
    spent = time.monotonic() - t0
    assert exc.value.code == "no_answer"
    # per try: the request's 16 bytes at 9600 baud (18 ms), the timeout, the gap (20 ms)
    assert spent < (RETRIES + 1) * (0.018 + TIMEOUT_MS / 1000 + 0.02) + 0.4, spent
    assert bus.counters()["timeouts"] - before == 3
    t0 = time.monotonic()
    assert bus.read(devices["e-1"]).values == dlt645_truth(sim, "e-1", DLT645_DECIMALS)
    assert time.monotonic() - t0 < 1.5  # five fields at 9600 baud, each answered in 10 ms


def test_a_slow_meter_beyond_the_timeout_is_no_answer(sim: SimulatedGateway, buses: dict[str, FieldBus],
                                                      devices: dict[str, Device]) -> None:
    sim.meter("w-1").slow(0.5)
    with pytest.raises(ReadFailed, match="no answer from 12345678901234 on rs485-2 after 3 tries"):
        buses["rs485-2"].read(devices["w-1"])
    sim.meter("w-1").slow(None)
    assert "volume_m3" in buses["rs485-2"].read(devices["w-1"]).values  # the late answers were dropped


def test_garbled_checksums_are_counted_never_read(sim: SimulatedGateway, buses: dict[str, FieldBus],
                                                  devices: dict[str, Device]) -> None:
    bus = buses["rs485-1"]
    sim.meter("e-2").garbled()
    before = bus.counters()["checksum"]
    with pytest.raises(ReadFailed, match=r"^checksum error from 000000000002 on rs485-1 after 3 tries$") as exc:
        bus.read(devices["e-2"])
    assert exc.value.code == "checksum"
    assert bus.counters()["checksum"] - before == 3


def test_noise_before_answers_is_counted_and_the_values_are_exact(
        sim: SimulatedGateway, buses: dict[str, FieldBus], devices: dict[str, Device]) -> None:
    bus = buses["rs485-2"]
    sim.meter("g-1").noise()
    before = bus.counters()["noise"]
    answer = bus.read(devices["g-1"])
    assert answer.values == {"volume_m3": round(sim.meter("g-1").register_at(sim.meter("g-1").now()) * 100) / 100}
    assert bus.counters()["noise"] > before


def test_modbus_rtu_silent_unit_and_tcp_gateway_silence(sim: SimulatedGateway, buses: dict[str, FieldBus],
                                                        devices: dict[str, Device]) -> None:
    sim.meter("pm-5").no_answer()
    with pytest.raises(ReadFailed, match=r"^no answer from unit 5 on rtu-1 after 3 tries$"):
        buses["rtu-1"].read(devices["pm-5"])
    assert buses["rtu-1"].read(devices["pm-6"]).values == modbus_truth(sim, "pm-6")
    sim.meter("pm-3").no_answer()  # behind Modbus TCP: exception 0B, "target device failed to respond"
    with pytest.raises(ReadFailed, match=r"^no answer from unit 3 on pm-1 after 3 tries$"):
        buses["pm-1"].read(devices["pm-3"])
    sim.meter("pm-3").garbled()  # exception 04, server device failure
    sim.meter("pm-3").no_answer(False)
    with pytest.raises(ReadFailed, match=r"abnormal reply from unit 3 on pm-1: server device failure") as exc:
        buses["pm-1"].read(devices["pm-3"])
    assert exc.value.code == "abnormal"


def test_a_replaced_meter_no_longer_answers_at_the_old_address(
        sim: SimulatedGateway, buses: dict[str, FieldBus], devices: dict[str, Device], doc: dict[str, Any],
        broker: Mosquitto) -> None:
    meter = sim.meter("e-20")
    meter.replace("000000000021")
    try:
        with pytest.raises(ReadFailed, match="no answer from 000000000020 on dtu-2"):
            buses["dtu-2"].read(devices["e-20"])
        moved = devices["e-20"].model_copy(update={"meter": devices["e-20"].meter.model_copy(  # type: ignore[union-attr]
            update={"address": "000000000021"})})
        assert buses["dtu-2"].read(moved).values["energy_kwh"] == 0.0  # a new meter, from zero
    finally:
        meter.replace("000000000020")


def test_the_serial_server_drops_and_the_bus_connects_again(sim: SimulatedGateway, buses: dict[str, FieldBus],
                                                            devices: dict[str, Device]) -> None:
    bus = buses["dtu-2"]
    sim.bus_down("dtu-2")
    with pytest.raises(ReadFailed) as exc:
        bus.read(devices["w-2"])
    assert exc.value.code in ("link_down", "no_answer")
    sim.bus_down("dtu-2", False)
    link = bus.link
    assert isinstance(link, TcpLink)
    with pytest.raises(ReadFailed, match="cannot connect|closed the connection"):  # within the backoff: at once
        bus.read(devices["w-2"])
    assert 0 < link.retry_at - time.monotonic() <= 2
    time.sleep(max(0.0, link.retry_at - time.monotonic()))  # the backoff's known end, not a guess
    assert "volume_m3" in bus.read(devices["w-2"]).values
    assert bus.counters()["link_drops"] >= 1


def test_the_dialling_dtu_comes_back_after_its_line_drops(sim: SimulatedGateway, buses: dict[str, FieldBus],
                                                          devices: dict[str, Device]) -> None:
    bus = buses["dtu-3"]
    dialled = bus.counters()["link_opens"]
    sim.bus_down("dtu-3")
    with pytest.raises(ReadFailed) as exc:
        bus.read(devices["e-30"])
    assert exc.value.code == "link_down"
    assert "dtu-3" in exc.value.words
    sim.bus_down("dtu-3", False)
    link = bus.link
    assert isinstance(link, ListenLink)
    assert link.wait_dialled(dialled + 1, 10)
    assert bus.read(devices["e-30"]).values == dlt645_truth(sim, "e-30", DLT645_DECIMALS)
    assert bus.counters()["heartbeats"] >= 1


def test_counters_name_everything(buses: dict[str, FieldBus]) -> None:
    for name in ("frames", "garbled", "checksum", "noise", "wrong_address", "echo", "stale", "timeouts",
                 "abnormal", "link_down"):
        assert name in buses["rs485-1"].counters()
