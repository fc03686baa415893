"""The gateway's store and forward: readings leave the buffer only on the broker's PUBACK, in order, as
per-device batches; the buffer is bounded (the oldest go, counted) and survives kill -9."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.buffer import Buffer
from gateway.publisher import Publisher, batches, payload
from ingest.config import MqttSettings
from ingest.mqtt import shut
from tests.support.servers import Mosquitto, wait_for


@pytest.fixture
def buffer(tmp_path: Path) -> Iterator[Buffer]:
    b = Buffer(tmp_path / "buffer.db", max_readings=1000)
    yield b
    b.close()


def test_readings_leave_in_order_only_when_removed(buffer: Buffer) -> None:
    buffer.add_many([("m1", 1_000, {"energy_kwh": 1.0}), ("m2", 1_000, {"volume_m3": 2.0}),
                     ("m1", 2_000, {"energy_kwh": 1.5})])
    rows = buffer.take(0, 10)
    assert [(r.device, r.ts) for r in rows] == [("m1", 1_000), ("m2", 1_000), ("m1", 2_000)]
    assert [[r.device for r in g] for g in batches(rows, 10)] == [["m1", "m1"], ["m2"]]
    assert json.loads(payload(rows[:1])) == {"ts": 1_000, "seq": rows[0].id, "values": {"energy_kwh": 1.0}}
    assert isinstance(json.loads(payload([rows[0], rows[2]])), list)
    buffer.remove([rows[1].id, 999_999])  # an id already gone is skipped
    assert buffer.depth == 2
    assert [r.device for r in buffer.take(0, 10)] == ["m1", "m1"]


def test_batches_keep_to_their_limits(buffer: Buffer) -> None:
    buffer.add_many([("m1", i, {"energy_kwh": float(i)}) for i in range(1, 26)])
    groups = batches(buffer.take(0, 100), 10)
    assert [len(g) for g in groups] == [10, 10, 5]
    assert [r.ts for g in groups for r in g] == list(range(1, 26))


def test_a_full_buffer_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    b = Buffer(tmp_path / "small.db", max_readings=1000)
    try:
        b.add_many([("m1", i, {"energy_kwh": float(i)}) for i in range(1000)])
        b.add_many([("m1", 5000 + i, {"energy_kwh": 1.0}) for i in range(3)])
        assert b.depth == 1000
        assert b.dropped == 3
        assert b.take(0, 1)[0].ts == 3  # 0, 1, 2 went
    finally:
        b.close()
    again = Buffer(tmp_path / "small.db", max_readings=1000)
    try:
        assert (again.depth, again.dropped) == (1000, 3)
    finally:
        again.close()


def test_what_the_meters_said_is_remembered(tmp_path: Path) -> None:
    b = Buffer(tmp_path / "b.db")
    b.add_many([("m1", 5_000, {"energy_kwh": 1.0})], last_ok=True)
    b.set_last_ok("m1", 4_000)  # never back in time
    b.add_freezes("m1", [("2026-12-01", 3_000, {"energy_kwh": 0.5})])
    b.set("time_sync:rs485-1", "2026-12-05")
    b.close()
    b = Buffer(tmp_path / "b.db")
    try:
        assert b.last_ok("m1") == 5_000
        assert b.last_ok("m2") is None
        assert b.filled_days("m1") == {"2026-12-01"}
        assert b.get("time_sync:rs485-1") == "2026-12-05"
        assert b.depth == 2
    finally:
        b.close()


WRITER = """
import sys
from pathlib import Path
from gateway.buffer import Buffer
b = Buffer(Path(sys.argv[1]))
i = 0
while True:
    i += 1
    b.add("m1", i, {"energy_kwh": float(i)})
    print(i, flush=True)
"""


def test_kill_9_loses_no_reading_that_was_added(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    added = 0
    try:
        while added < 200:  # each printed number was committed before it was printed
            line = proc.stdout.readline()
            assert line, "the writer stopped"
            added = int(line)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
    b = Buffer(path)
    try:
        got = [r.ts for r in b.take(0, 1_000_000)]
        assert got[:added] == list(range(1, added + 1))
        assert got == list(range(1, len(got) + 1))  # nothing half-written
    finally:
        b.close()


class Listener:
    """A subscriber on a real broker: every reading item received, in order, per topic."""

    def __init__(self, port: int, topic: str) -> None:
        self.items: list[tuple[str, dict[str, object]]] = []
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id="", protocol=paho.MQTTv311)
        c.on_message = self._message
        c.on_subscribe = lambda *a: self._subscribed.set()
        c.on_connect = lambda cl, *a: cl.subscribe(topic, qos=1)
        c.connect("127.0.0.1", port)
        c.loop_start()
        self.client = c
        assert self._subscribed.wait(10)

    def _message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))
            if msg.topic.endswith("/reading"):
                body = json.loads(msg.payload)
                for item in body if isinstance(body, list) else [body]:
                    self.items.append((msg.topic, item))

    def close(self) -> None:
        shut(self.client)


def test_the_publisher_forwards_in_order_and_deletes_on_puback(tmp_path: Path, mosquitto: Mosquitto) -> None:
    buffer = Buffer(tmp_path / "buffer.db")
    listener = Listener(mosquitto.port, "campus/#")
    publisher = Publisher(MqttSettings(url=mosquitto.url, client_id="gw-test"), "yucai", "gw-test", buffer,
                          batch_max=7)
    try:
        buffer.add_many([("m1", 1_795_000_000_000 + i * 1000, {"energy_kwh": float(i)}) for i in range(20)]
                        + [("m2", 1_795_000_000_000, {"volume_m3": 3.0})])
        publisher.start()
        wait_for(lambda: publisher.wait_drained(0.1), 15, "the buffer drained")
        wait_for(lambda: len(listener.items) == 21, 10, "21 readings received")
        m1 = [item["values"]["energy_kwh"] for topic, item in listener.items  # type: ignore[index]
              if topic == "campus/yucai/m1/reading"]
        assert m1 == [float(i) for i in range(20)]
        assert publisher.acked == 21
        publisher.health("m1", {"ts": 1, "ok": True})
        wait_for(lambda: any(t == "campus/yucai/m1/health" for t, _, _ in listener.messages), 10, "health")
        assert ("campus/yucai/gw-test/status", b"online") in [(t, p) for t, p, _ in listener.messages]
        mosquitto.stop()  # readings taken while the broker is away stay in the buffer
        wait_for(lambda: not publisher.connected, 10, "the publisher saw the broker go")
        buffer.add("m1", 1_795_000_100_000, {"energy_kwh": 99.0})
        publisher.wake()
        assert buffer.depth == 1
        mosquitto.start()
        wait_for(lambda: buffer.depth == 0, 30, "the buffer drained after the broker came back")
    finally:
        publisher.stop()
        listener.close()
        buffer.close()
    assert publisher.acked == 22
