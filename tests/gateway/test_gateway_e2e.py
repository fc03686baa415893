"""End to end through the real gateway process (``python -m cli gateway --config …``, a child process), a real
Mosquitto, h2's simulated meters on a pty, a serial server, a dialling DTU, an MQTT DTU and Modbus TCP, and
meterwatch's ingest storing into SQLite.

One simulated gateway (five buses, seven meters, a reading every 3 s) and one broker and ingest serve every
test; each test runs its own gateway process with its own data directory, one at a time (they share the
hardware). Every wait is for an exact condition in the store or the buffer, bounded."""

from __future__ import annotations

import signal
import sqlite3
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from campus.contract import Kind
from campus.model import load_campus
from campus.registers import consumption
from gateway.buffer import Buffer
from gateway.schedule import local_midnight_ms
from ingest.config import IngestSettings, MqttSettings, StoreSettings
from ingest.service import IngestService
from simulators.meters import SimulatedGateway
from tests.gateway.test_buffer import Listener
from tests.support.paths import ROOT
from tests.support.servers import Mosquitto, free_port, stop_process, wait_for

pytestmark = pytest.mark.integration

TZ = ZoneInfo("Asia/Shanghai")
SITE, GW = "e2e", "gw-e2e"
INTERVAL_S = 3
TIMEOUT_MS, RETRIES = 300, 1
ELEC = {"e1": "000000001234", "e2": "000000005678", "e3": "000000000003", "e5": "000000000005",
        "e6": "000000000006"}
BUS_OF = {"e1": "rs485-1", "e2": "rs485-1", "w1": "rs485-1", "e3": "dtu-2", "e4": "dtu-2", "e5": "dtu-3",
          "e6": "dtu-4", "p1": "pm-1"}
# DL/T 645-2007 appendix A data formats: XXXXXX.XX kWh, XX.XXXX kW, XXX.X V, XXX.XXX A, X.XXX
DLT645_DECIMALS = {"energy_kwh": 2, "power_kw": 4, "voltage_v": 1, "current_a": 3, "power_factor": 3}
# DL/T 645-1997 appendix (数据标识): XXXXXX.XX kWh, XX.XXXX kW, XXX V, XX.XX A, X.XXX
DLT645_1997_DECIMALS = {"energy_kwh": 2, "power_kw": 4, "voltage_v": 0, "current_a": 2, "power_factor": 3}
MODBUS = {"energy_kwh": {"address": 0, "type": "uint32", "scale": 0.01, "word_order": "CDAB"},
          "power_kw": {"address": 2, "type": "float32"}}


class SimClock:
    """The simulated meters' true time: the real clock, or frozen (values that do not move while read)."""

    def __init__(self) -> None:
        self.frozen: datetime | None = None

    def __call__(self) -> datetime:
        return self.frozen or datetime.now(UTC)


def campus_doc(tmp: Path, ports: dict[str, int]) -> dict[str, Any]:
    def elec(i: str, bus: str, **extra: Any) -> dict[str, Any]:
        return {"id": i, "kind": "electricity", "building": "b1", "gateway": GW, "interval_s": INTERVAL_S,
                "multiplier": 40, "initial_register": 1200, **extra,
                "meter": {"bus": bus, "protocol": "dlt645", "address": ELEC[i]}}

    limits = {"timeout_ms": TIMEOUT_MS, "retries": RETRIES}
    return {
        "site": {"id": SITE, "name": "端到端", "timezone": "Asia/Shanghai"},
        "buildings": [{"id": "b1", "name": "一食堂", "department": "canteen", "floor_area_m2": 3200}],
        "zones": [{"id": "z1", "name": "北区", "buildings": ["b1"]}],
        "gateways": [{"id": GW, "building": "b1", "buses": [
            {"name": "rs485-1", "serial": str(tmp / "ttyE2E"), "baud": 9600, "parity": "E", **limits},
            {"name": "dtu-2", "tcp": f"127.0.0.1:{ports['tcp']}", **limits},
            {"name": "dtu-3", "listen": f"127.0.0.1:{ports['listen']}", "register": "GW3", **limits},
            {"name": "dtu-4", "mqtt": {"up": "dtu/GW4/up", "down": "dtu/GW4/down"}, "timeout_ms": 1500,
             "retries": RETRIES},
            {"name": "pm-1", "modbus_tcp": f"127.0.0.1:{ports['modbus']}", **limits},
        ]}],
        "devices": [
            elec("e1", "rs485-1"), elec("e2", "rs485-1"),
            {"id": "w1", "kind": "water", "building": "b1", "gateway": GW, "interval_s": INTERVAL_S,
             "initial_register": 5300, "meter": {"bus": "rs485-1", "protocol": "cjt188", "address": "12345678901234"}},
            elec("e3", "dtu-2"), elec("e5", "dtu-3"), elec("e6", "dtu-4"),
            {"id": "e4", "kind": "electricity", "building": "b1", "gateway": GW, "interval_s": INTERVAL_S,
             "multiplier": 40, "initial_register": 700,
             "meter": {"bus": "dtu-2", "protocol": "dlt645_1997", "address": "000000000004"}},
            {"id": "p1", "kind": "electricity", "building": "b1", "gateway": GW, "interval_s": INTERVAL_S,
             "multiplier": 40, "initial_register": 900,
             "meter": {"bus": "pm-1", "protocol": "modbus", "unit": 3, "registers": MODBUS}},
        ],
    }


@dataclass
class Field:
    tmp: Path
    broker: Mosquitto
    campus_file: Path
    service: IngestService
    sim: SimulatedGateway
    clock: SimClock
    kinds: dict[str, Kind]

    def readings(self, device: str, since_ms: int = 0) -> list[Any]:
        return self.service.store.readings(SITE, device, self.kinds[device], since_ms, 2**62, limit=1_000_000)

    def count_since(self, device: str, since_ms: int) -> int:
        return len(self.readings(device, since_ms))


@pytest.fixture(scope="module")
def field(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Field]:
    tmp = tmp_path_factory.mktemp("e2e")
    doc = campus_doc(tmp, {"tcp": free_port(), "listen": free_port(), "modbus": free_port()})
    campus_file = tmp / "campus.yaml"
    campus_file.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    campus = load_campus(campus_file)
    broker = Mosquitto(tmp / "mosquitto")
    clock = SimClock()
    sim = SimulatedGateway(doc, GW, now=clock, mqtt_url=broker.url, answer_delay_s=0.02)
    broker.start()
    service: IngestService | None = None
    try:
        service = IngestService(data_dir=tmp / "server", mqtt=MqttSettings(url=broker.url, client_id="e2e-ingest"),
                                store=StoreSettings(), ingest=IngestSettings(retry_max_s=2.0), campus=campus)
        service.start()
        assert service.mqtt is not None
        assert service.mqtt.wait_connected(10)
        sim.start()
        yield Field(tmp, broker, campus_file, service, sim, clock, {d.id: d.kind for d in campus.devices})
    finally:
        sim.stop()
        if service is not None:
            service.stop()
        broker.stop()


class GatewayChild:
    """``python -m cli gateway --config FILE`` in a data directory of its own; its log in ``gateway.log``."""

    def __init__(self, field: Field, name: str, **gateway: Any) -> None:
        self.dir = field.tmp / name
        self.dir.mkdir(exist_ok=True)
        self.config = self.dir / "gateway.toml"
        options = {"id": GW, "backfill_days": 0, **gateway}
        lines = [f'data_dir = "{self.dir / "data"}"', "[mqtt]", f'url = "{field.broker.url}"',
                 "[campus]", f'file = "{field.campus_file}"', "[gateway]"]
        lines += [f"{k} = {_toml(v)}" for k, v in options.items()]
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def buffer_file(self) -> Path:
        return self.dir / "data" / "buffer.db"

    def start(self) -> GatewayChild:
        with (self.dir / "gateway.log").open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "cli", "gateway", "--config", str(self.config)],
                                         cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> int:
        if self.proc is None:
            return 0
        stop_process(self.proc, signal.SIGTERM, 30)
        code = self.proc.returncode
        self.proc = None
        return code

    def buffered(self, sql: str = "SELECT count(*) FROM readings", args: tuple[Any, ...] = ()) -> int:
        """A number from the gateway's buffer, read while it runs (WAL: readers never block it)."""
        if not self.buffer_file.exists():
            return 0
        conn = sqlite3.connect(f"file:{self.buffer_file}?mode=ro", uri=True, timeout=10)
        try:
            return int(conn.execute(sql, args).fetchone()[0] or 0)
        except sqlite3.OperationalError:  # not made yet
            return 0
        finally:
            conn.close()

    def log_tail(self) -> str:
        path = self.dir / "gateway.log"
        return path.read_text(encoding="utf-8", errors="replace")[-3000:] if path.exists() else ""


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _decimals(value: float, want: float, decimals: int) -> float:
    """The value a frame of ``decimals`` BCD digits after the point carries (round to the last digit)."""
    return round(want * 10**decimals) / 10**decimals


# --- (a) and (e): one gateway process, live ---------------------------------------------------------------------

@pytest.fixture(scope="class")
def live(field: Field) -> Iterator[GatewayChild]:
    field.sim.meter("e3").drift(-300)  # five minutes slow: the daily time broadcast sets it right
    gw = GatewayChild(field, "gw-live", time_sync=True, time_sync_hour=0).start()
    try:
        since = now_ms()
        wait_for(lambda: all(field.count_since(d, since) >= 1 for d in BUS_OF), 30,
                 "a reading of every meter")
        yield gw
    except BaseException:
        print(gw.log_tail())
        raise
    finally:
        assert gw.stop() == 0

class TestLive:
    """One gateway process (the class's), read while the tests change the meters."""

    def test_values_decoded_exactly_reach_the_store(self, field: Field, live: GatewayChild) -> None:
        """With the meters' time frozen, every stored value is the true value to the last digit its frame
        carries: DL/T 645-2007 and -1997 BCD (0x33 offset) per their data formats, CJ/T 188 XXXXXX.XX m³ (unit
        2C), Modbus uint32 × 0.01 in word order CDAB and float32 in ABCD."""
        at = datetime.now(TZ).replace(microsecond=0)
        field.clock.frozen = at
        try:
            after = now_ms() + 1000  # read after the freeze took effect (a read under way may straddle it)
            wait_for(lambda: all(field.count_since(d, after) >= 1 for d in BUS_OF), 30, "fresh readings")
        finally:
            field.clock.frozen = None
        for device in BUS_OF:
            meter = field.sim.meter(device)
            true = meter.values_at(at)
            got = field.readings(device, after)[0].values
            if device == "w1":
                assert got == {"volume_m3": _decimals(got["volume_m3"], true["volume_m3"], 2)}
            elif device == "p1":
                f32 = struct.unpack(">f", struct.pack(">f", true["power_kw"]))[0]
                assert got == {"energy_kwh": pytest.approx(round(true["energy_kwh"] / 0.01) * 0.01, rel=1e-12),
                               "power_kw": pytest.approx(f32, rel=1e-7)}
            else:
                decimals = DLT645_1997_DECIMALS if device == "e4" else DLT645_DECIMALS
                assert set(got) == set(decimals), device
                for name, value in got.items():
                    assert value == _decimals(value, true[name], decimals[name]), (device, name)

    def test_a_meter_that_stops_answering_delays_no_other(self, field: Field, live: GatewayChild) -> None:
        listener = Listener(field.broker.port, f"campus/{SITE}/e2/health")
        dead = field.sim.meter("e2")
        dead.no_answer(True)
        try:
            since = now_ms() + INTERVAL_S * 1000
            others = [d for d in BUS_OF if d != "e2"]
            wait_for(lambda: all(field.count_since(d, since) >= 3 for d in others), 30,
                     "three readings of every other meter while e2 is silent")
            wait_for(lambda: any(b'"no_answer"' in p for _, p, _ in listener.messages), 10, "e2's health")
        finally:
            dead.no_answer(False)
            listener.close()
        # a dead meter costs its bus at most its tries × (timeout + wire); every other meter on the bus is read
        # within that of its slot, and the meters on other buses as if nothing happened
        budget_ms = (RETRIES + 1) * (TIMEOUT_MS + 100) + 1000
        for device in others:
            for r in field.readings(device, since):
                late = r.ts - (r.ts // (INTERVAL_S * 1000)) * INTERVAL_S * 1000
                # on the other buses: the meters before it on its bus and its own first answer (e4 follows e3 on
                # dtu-2; e6 answers through the broker)
                limit = budget_ms if BUS_OF[device] == "rs485-1" else 2500
                assert late <= limit, (device, late)
        words = [p for _, p, _ in listener.messages if b'"no_answer"' in p][-1].decode()
        assert "000000005678" in words
        assert "rs485-1" in words


    def test_the_daily_time_broadcast_sets_the_meters_clocks_once(self, field: Field, live: GatewayChild) -> None:
        meter = field.sim.meter("e3")
        wait_for(lambda: abs((meter.clock() - meter.now()).total_seconds()) < 5, 20, "e3's clock set")
        today = datetime.now(TZ).date().isoformat()
        assert live.buffered("SELECT count(*) FROM state WHERE key LIKE 'time_sync:%' AND value = ?",
                             (today,)) == 4  # the buses with DL/T 645 meters, once each, remembered
        assert live.buffered("SELECT count(*) FROM state WHERE key = 'time_sync:pm-1'") == 0


# --- commissioning: the electrician's two commands ------------------------------------------------------------

def test_scan_and_read_from_the_command_line(field: Field) -> None:
    config = GatewayChild(field, "gw-commission").config

    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "cli", "gateway", *args, "--config", str(config)], cwd=ROOT,
                              capture_output=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()

    read = run("read", "--bus", "dtu-2", "--meter", ELEC["e3"])
    assert "energy_kwh = " in read
    assert "68 03 00 00 00 00 00 68 11 04 33 33 34 33" in read.upper()  # the request, as sent
    assert "volume_m3 = " in run("read", "--bus", "rs485-1", "--meter", "w1")  # by device id
    scan = run("scan", "--bus", "dtu-2", "--protocol", "dlt645")
    assert f'address: "{ELEC["e3"]}"' in scan or ELEC["e3"] in scan


# --- (c) and (d): down for three days, back, the days filled from the freezes over every way to a bus --------

def test_three_days_down_are_filled_from_the_freezes(field: Field) -> None:
    gw = GatewayChild(field, "gw-days", backfill_days=31)
    today = datetime.now(TZ).date()
    midnights = [local_midnight_ms(today - timedelta(days=k), TZ) for k in (3, 2, 1, 0)]
    gw.buffer_file.parent.mkdir(parents=True)
    buffer = Buffer(gw.buffer_file)
    for d in ELEC:  # the last answers this gateway remembers: 18:00 four days ago
        buffer.set_last_ok(d, midnights[0] - 6 * 3_600_000)
    buffer.close()
    meters = ["e1", "e3", "e5", "e6"]  # on the pty, the serial server, the dialling DTU, the MQTT DTU
    since = now_ms()
    gw.start()
    try:
        def filled() -> bool:
            return all({r.ts for r in field.readings(d, midnights[0])} >= set(midnights) for d in meters)

        wait_for(filled, 45, "the four midnights of every DL/T 645 meter")
        wait_for(lambda: all(field.count_since(d, since) >= 2 for d in meters), 20, "live readings on each way")
    except BaseException:
        print(gw.log_tail())
        raise
    finally:
        assert gw.stop() == 0
    campus = load_campus(field.campus_file)
    devices = {d.id: d for d in campus.devices}
    for d in meters:
        sim = field.sim.meter(d)
        series = [(r.ts, r.values["energy_kwh"]) for r in field.readings(d, midnights[0])]
        for start, end in zip(midnights, midnights[1:], strict=False):
            day = [p for p in series if start <= p[0] <= end]
            assert [p[0] for p in day] == [start, end], d  # the gateway was down: only the freezes
            used = consumption(day, multiplier=devices[d].multiplier).total
            t0, t1 = (datetime.fromtimestamp(t / 1000, TZ) for t in (start, end))
            want = (round(sim.register_at(t1) * 100) - round(sim.register_at(t0) * 100)) / 100 * 40
            assert used == pytest.approx(want, abs=1e-6), (d, t0.date())


# --- (b): SIGKILL mid-poll, the broker away for three intervals: every reading taken, stored once ------------

def test_kill_9_and_a_broker_away_lose_nothing_and_double_nothing(field: Field) -> None:
    gw = GatewayChild(field, "gw-kill")
    slow = field.sim.meter("e2")
    slow.slow(0.2)  # e2's read takes most of a second: the kill below lands in it
    local = [d for d in BUS_OF if d != "e6"]  # the MQTT DTU needs the broker itself
    since = now_ms()
    try:
        gw.start()
        wait_for(lambda: field.count_since("e1", since) >= 2, 30, "the gateway reading")
        seen = field.count_since("e1", since)
        wait_for(lambda: field.count_since("e1", since) > seen, 10, "e1 read again: e2 is being read now")
        gw.kill()
        gw.start()
        back = now_ms()
        wait_for(lambda: field.count_since("e1", back) >= 1, 30, "the gateway back")
        field.broker.stop()
        away = now_ms()
        wait_for(lambda: all(gw.buffered("SELECT count(*) FROM readings WHERE device = ? AND ts >= ?",
                                         (d, away)) >= 3 for d in local), 30, "three intervals buffered")
        field.broker.start()
        wait_for(lambda: gw.buffered() == 0, 30, "the buffer drained")
        taken = gw.buffered("SELECT seq FROM sqlite_sequence WHERE name = 'readings'")
        assert taken > 0

        def stored_seqs() -> list[int]:
            return sorted(r.seq for d in BUS_OF for r in field.readings(d, since) if r.seq is not None)

        wait_for(lambda: len(stored_seqs()) >= taken, 30, f"{taken} readings stored")
        assert gw.stop() == 0
    except BaseException:
        print(gw.log_tail())
        raise
    finally:
        slow.slow(None)
        gw.stop()
    seqs = stored_seqs()
    assert seqs[-1] >= taken
    taken = seqs[-1]  # a last poll may have been buffered and sent while the test read the sequence
    assert seqs == list(range(1, taken + 1))  # every reading taken, exactly once
