"""The other ways to a bus, each with real sockets: a serial server (CJ/T 188 meters, checked against the
worked example of shared/METERS.md), a DTU that dials in, a 4G DTU over a real Mosquitto, Modbus TCP read
with pymodbus's client, Modbus RTU on a pty; and nothing left open after stop()."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.client as paho
import pytest
import serial
from paho.mqtt.enums import CallbackAPIVersion
from pymodbus.client import ModbusTcpClient

from gateway.protocols import cjt188, dlt645, modbus
from gateway.protocols.frames import Garbled
from gateway.protocols.profiles import PROFILES
from simulators.meters import SimulatedGateway
from simulators.meters.register import EPOCH
from tests.support.servers import Mosquitto, free_port

TZ = ZoneInfo("Asia/Shanghai")
INLINE = {"energy_kwh": {"address": 0, "type": "uint32", "scale": 0.01, "word_order": "CDAB"},
          "power_kw": {"address": 2, "type": "float32"}, "voltage_v": {"address": 10, "type": "uint16",
                                                                        "scale": 0.1, "function": 4}}


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def campus(tmp: Path, ports: dict[str, int]) -> dict[str, Any]:
    def dev(i: str, kind: str, gateway: str, meter: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"id": i, "kind": kind, "building": "dorm-1", "gateway": gateway, "meter": meter, **extra}

    return {
        "site": {"id": "s1", "name": "test"},
        "buildings": [{"id": "dorm-1", "name": "1号楼", "department": "dormitory", "floor_area_m2": 5000}],
        "gateways": [
            {"id": "gw-2", "buses": [
                {"name": "dtu-2", "tcp": f"127.0.0.1:{ports['tcp']}"},
                {"name": "dtu-3", "listen": f"0.0.0.0:{ports['listen']}", "register": "hex:4757330d0a",
                 "heartbeat": "HB"},
                {"name": "pm-1", "modbus_tcp": f"127.0.0.1:{ports['modbus']}"},
                {"name": "rtu-1", "serial": str(tmp / "ttyUSB5"), "baud": 9600, "parity": "N"},
            ]},
            {"id": "gw-4", "buses": [{"name": "dtu-4", "mqtt": {"up": "dtu/GW4/up", "down": "dtu/GW4/down"}}]},
        ],
        "devices": [
            dev("w-1", "water", "gw-2", {"bus": "dtu-2", "protocol": "cjt188", "address": "12345678901234"},
                initial_register=1234.56),
            dev("g-1", "gas", "gw-2", {"bus": "dtu-2", "protocol": "cjt188", "address": "000000000100AB"},
                initial_register=10),
            dev("e-3", "electricity", "gw-2", {"bus": "dtu-3", "protocol": "dlt645", "address": "000000000003"}),
            dev("pm-3", "electricity", "gw-2", {"bus": "pm-1", "protocol": "modbus", "unit": 3,
                                                "profile": "eastron-sdm630"}, initial_register=4321.5),
            dev("pm-4", "electricity", "gw-2", {"bus": "pm-1", "protocol": "modbus", "unit": 4,
                                                "registers": INLINE}, initial_register=99.99),
            dev("pm-5", "electricity", "gw-2", {"bus": "rtu-1", "protocol": "modbus", "unit": 5,
                                                "registers": INLINE}, initial_register=7),
            dev("e-4", "electricity", "gw-4", {"bus": "dtu-4", "protocol": "dlt645", "address": "000000000004"},
                initial_register=40),
        ],
    }


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(datetime.combine(EPOCH, datetime.min.time(), TZ))


@pytest.fixture(scope="module")
def listener() -> Iterator[socket.socket]:
    """The gateway's side of the dial-in bus: a listening socket the DTU dials."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(5)
    yield server
    server.close()


@pytest.fixture(scope="module")
def doc(tmp_path_factory: pytest.TempPathFactory, listener: socket.socket) -> dict[str, Any]:
    ports = {"tcp": free_port(), "listen": listener.getsockname()[1], "modbus": free_port()}
    return campus(tmp_path_factory.mktemp("lines"), ports)


@pytest.fixture(scope="module")
def sim(doc: dict[str, Any], clock: Clock) -> Iterator[SimulatedGateway]:
    with SimulatedGateway(doc, "gw-2", now=clock, answer_delay_s=0.02, heartbeat_s=0.2) as gateway:
        yield gateway


def read_frames(sock: socket.socket, deframer: Any, wait: float = 1.5) -> list[Any]:
    """Read until a whole frame came (returning what came with it) or ``wait`` ends."""
    got: list[Any] = []
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            chunk = sock.recv(256)
        except TimeoutError:
            break
        if not chunk:
            break
        got += deframer.feed(chunk)
        if any(not isinstance(g, Garbled) for g in got):
            break
    return got


def test_serial_server_with_cjt188_meters(sim: SimulatedGateway, doc: dict[str, Any], clock: Clock) -> None:
    clock.at = datetime.combine(EPOCH, datetime.min.time(), TZ)
    port = int(doc["gateways"][0]["buses"][0]["tcp"].rsplit(":", 1)[1])
    request = bytes.fromhex("FE FE FE FE 68 10 34 12 90 78 56 34 12 01 03 1F 90 00 15 16")  # CS by hand
    assert cjt188.read_request(0x10, "12345678901234") == request
    with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
        conn.sendall(request)
        (frame,) = read_frames(conn, cjt188.Deframer())
        assert bytes.fromhex("56 34 12 00 2C") in frame.data  # 1234.56 m³, as METERS.md works it out
        volume = cjt188.decode_answer(frame)
        assert volume.volume_m3 == 1234.56
        assert volume.meter_time == datetime(2025, 1, 1)
        # the gas meter's type, and the broadcast address reaching both meters: they collide
        conn.sendall(cjt188.read_request(0x30, "000000000100AB", ser=7))
        (frame,) = read_frames(conn, cjt188.Deframer())
        assert frame.meter_type == 0x30
        assert cjt188.decode_answer(frame).volume_m3 == 10.0
        conn.sendall(cjt188.read_request(0x30, "12345678901234"))  # a water meter does not answer type 30
        assert read_frames(conn, cjt188.Deframer(), wait=0.4) == []
        conn.sendall(cjt188.read_request(0xAA, cjt188.BROADCAST))
        got = read_frames(conn, cjt188.Deframer(), wait=0.6)
        assert got
        assert all(isinstance(g, Garbled) for g in got)
    # a new connection is served as the old one was
    with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
        conn.sendall(cjt188.read_request(0x10, "12345678901234"))
        assert len(read_frames(conn, cjt188.Deframer())) == 1


def test_a_dtu_dials_in_registers_and_heartbeats(sim: SimulatedGateway, listener: socket.socket) -> None:
    conn, _ = listener.accept()
    with conn:
        conn.settimeout(2)
        first = b""
        while len(first) < 5:
            first += conn.recv(5 - len(first))
        assert first == b"GW3\r\n"  # the registration packet, written hex:4757330d0a
        beats = b""
        while b"HB" not in beats:
            beats += conn.recv(16)
        conn.sendall(dlt645.read_request("000000000003", dlt645.FIELDS["energy_kwh"]))
        got = read_frames(conn, dlt645.Deframer())
        frames = [g for g in got if isinstance(g, dlt645.Frame)]
        assert frames
        assert dlt645.decode_answer(frames[0], dlt645.FIELDS["energy_kwh"]) == 0.0
    # dropped by the gateway: it dials again, and registers again
    again, _ = listener.accept()
    with again:
        again.settimeout(2)
        assert again.recv(5) == b"GW3\r\n"
        sim.bus_down("dtu-3")
        try:
            again.settimeout(2)
            assert again.recv(16) in (b"", b"HB")  # it hangs up (a heartbeat may have left first)
        finally:
            sim.bus_down("dtu-3", on=False)
    third, _ = listener.accept()
    third.close()


def _mqtt_client(url: str) -> paho.Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="test-gateway", protocol=paho.MQTTv311)
    host, port = url.removeprefix("mqtt://").split(":")
    client.connect(host, int(port))
    client.loop_start()
    return client


def _close(client: paho.Client) -> None:
    client.disconnect()
    client.loop_stop()
    client._reset_sockets()  # paho closes its sockets only when collected, which warns


def test_a_4g_dtu_over_mqtt(doc: dict[str, Any], mosquitto: Mosquitto, clock: Clock) -> None:
    clock.at = datetime.combine(EPOCH, datetime.min.time(), TZ)
    answers: list[bytes] = []
    came = threading.Event()
    subscribed = threading.Event()
    with SimulatedGateway(doc, "gw-4", now=clock, mqtt_url=mosquitto.url) as sim:
        client = _mqtt_client(mosquitto.url)
        try:
            client.on_subscribe = lambda *a: subscribed.set()
            client.on_message = lambda c, u, m: (answers.append(bytes(m.payload)), came.set())
            client.subscribe("dtu/GW4/up", qos=1)
            assert subscribed.wait(5)
            client.publish("dtu/GW4/down", dlt645.read_request("000000000004", 0x00010000), qos=1)
            assert came.wait(5)
            (frame,) = dlt645.Deframer().feed(answers[0])  # one message carries one whole answer
            assert isinstance(frame, dlt645.Frame)
            assert dlt645.decode_answer(frame, 0x00010000) == sim.meter("e-4").register_at(clock.at) == 40.0
        finally:
            _close(client)


def test_modbus_tcp(sim: SimulatedGateway, doc: dict[str, Any], clock: Clock) -> None:
    clock.at = datetime(2025, 3, 4, 21, 0, tzinfo=TZ)  # a school evening: the dormitory is lit
    port = int(doc["gateways"][0]["buses"][2]["modbus_tcp"].rsplit(":", 1)[1])
    with ModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0) as client:
        for unit, registers in ((3, dict(PROFILES["eastron-sdm630"].registers)),
                                (4, {k: modbus.Register(**v) for k, v in INLINE.items()})):
            blocks = {}
            for block in modbus.plan(registers):
                read = client.read_input_registers if block.function == 4 else client.read_holding_registers
                answer = read(block.start, count=block.count, device_id=unit)
                assert not answer.isError(), answer
                blocks[block] = answer.registers
            values = modbus.decode(registers, blocks)
            truth = sim.meter(f"pm-{unit}").values_at(clock.at)
            assert values["energy_kwh"] == pytest.approx(truth["energy_kwh"], abs=0.01)
            assert values["power_kw"] == pytest.approx(truth["power_kw"], rel=1e-5)
            assert truth["power_kw"] > 0
            assert values["voltage_v"] == pytest.approx(truth["voltage_v"], abs=0.06)
        # by hand: 99.99 kWh at the epoch is 9999 = 0x0000270F, low word first (CDAB)
        clock.at = datetime.combine(EPOCH, datetime.min.time(), TZ)
        assert client.read_holding_registers(0, count=2, device_id=4).registers == [0x270F, 0x0000]
        assert client.read_holding_registers(50, count=2, device_id=4).exception_code == 0x02
        assert client.read_holding_registers(0, count=2, device_id=9).exception_code == 0x0B  # nobody
        sim.meter("pm-4").no_answer()
        try:
            assert client.read_holding_registers(0, count=2, device_id=4).exception_code == 0x0B
        finally:
            sim.meter("pm-4").no_answer(False)
    sim.bus_down("pm-1")
    try:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        sim.bus_down("pm-1", on=False)
    with ModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0) as client:
        assert client.read_holding_registers(0, count=2, device_id=4).registers == [0x270F, 0x0000]


def test_modbus_rtu_on_a_pty(sim: SimulatedGateway, clock: Clock) -> None:
    clock.at = datetime.combine(EPOCH, datetime.min.time(), TZ)
    with serial.Serial(str(sim.lines["rtu-1"].link), 9600, timeout=0.05) as port:  # type: ignore[union-attr]
        block = modbus.Block(3, 0, 4)
        request = modbus.rtu_request(5, block)
        assert request == bytes.fromhex("05 03 00 00 00 04") + modbus.crc16(bytes.fromhex("050300000004")) \
            .to_bytes(2, "little")
        port.write(request)
        deframer = modbus.RtuDeframer()
        got: list[Any] = []
        deadline = time.monotonic() + 1.5
        while not got and time.monotonic() < deadline:
            got = deframer.feed(port.read(32))
        (frame,) = got
        words = modbus.decode_rtu_answer(frame, 5, block)
        assert words[:2] == [700, 0]  # 7.00 kWh in 0.01 kWh, CDAB
        port.write(modbus.rtu_request(5, modbus.Block(3, 100, 2)))
        got = []
        deadline = time.monotonic() + 1.5
        while not got and time.monotonic() < deadline:
            got = deframer.feed(port.read(32))
        with pytest.raises(modbus.ModbusError, match="02"):
            modbus.decode_rtu_answer(got[0], 5, modbus.Block(3, 100, 2))


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_stop_leaves_nothing_open(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as own:
        own.settimeout(5)
        ports = {"tcp": free_port(), "listen": own.getsockname()[1], "modbus": free_port()}
        fresh = campus(tmp_path, ports)
        fds, threads = _open_fds(), threading.active_count()
        sim = SimulatedGateway(fresh, "gw-2")
        sim.start()
        with socket.create_connection(("127.0.0.1", ports["tcp"]), timeout=2):
            pass
        conn, _ = own.accept()
        conn.close()
        sim.stop()
        sim.stop()  # idempotent
        assert threading.active_count() == threads
        assert _open_fds() == fds
    assert not (tmp_path / "ttyUSB5").exists()  # the symlink goes with the pty
