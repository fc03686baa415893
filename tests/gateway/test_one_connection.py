"""One MQTT connection per gateway process: the buses behind 4G DTUs over MQTT talk over the publisher's connection.

The broker meterwatch deploys makes the username the client id (``use_username_as_clientid``): a second connection
of the gateway's account takes the first one's place, and the two take each other's place again and again. Here a
Mosquitto with exactly that setting, the real gateway process (a child, ``[mqtt] username`` set) and h2's simulated
MQTT DTUs (each with an account of its own); and, below, the publisher's PUBACK bookkeeping and a bus's close
against a plain Mosquitto."""

from __future__ import annotations

import copy
import getpass
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from campus.model import load_campus
from gateway.buffer import Buffer
from gateway.bus import FieldBus
from gateway.publisher import Publisher
from ingest.config import MqttSettings
from ingest.mqtt import MqttPublisher, shut
from simulators.meters import SimulatedGateway
from tests.support.paths import ROOT
from tests.support.servers import ConfiguredMosquitto, Mosquitto, free_port, stop_process, wait_for

pytestmark = pytest.mark.integration

SITE, GW = "one", "gw-one"
METERS = {"dtu-a": ("e1", "000000000011"), "dtu-b": ("e2", "000000000012")}  # bus → (device, address)
READINGS = 3  # of each meter, through the broker


def campus_doc(buses: dict[str, tuple[str, str]] = METERS) -> dict[str, Any]:
    return {
        "site": {"id": SITE, "name": "一个连接", "timezone": "Asia/Shanghai"},
        "buildings": [{"id": "b1", "name": "一食堂", "department": "canteen"}],
        "gateways": [{"id": GW, "building": "b1", "buses": [
            {"name": bus, "mqtt": {"up": f"dtu/{bus}/up", "down": f"dtu/{bus}/down"}, "timeout_ms": 1500,
             "retries": 1} for bus in buses]}],
        "devices": [{"id": device, "kind": "electricity", "building": "b1", "gateway": GW, "interval_s": 3,
                     "meter": {"bus": bus, "protocol": "dlt645", "address": address}}
                    for bus, (device, address) in buses.items()],
    }


def only(doc: dict[str, Any], bus: str) -> dict[str, Any]:
    """The document with one bus of the gateway and its meters (one simulated DTU, one account)."""
    out = copy.deepcopy(doc)
    out["gateways"][0]["buses"] = [b for b in out["gateways"][0]["buses"] if b["name"] == bus]
    out["devices"] = [d for d in out["devices"] if d["meter"]["bus"] == bus]
    return out


class Watcher:
    """A subscriber with an account of its own: every message on ``topic``, in order."""

    def __init__(self, port: int, topic: str, username: str = "watcher") -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=username, protocol=paho.MQTTv311)
        c.username_pw_set(username)
        c.on_message = self._message
        c.on_subscribe = lambda *a: subscribed.set()
        c.on_connect = lambda cl, *a: cl.subscribe(topic, qos=1)
        c.connect("127.0.0.1", port)
        c.loop_start()
        self.client = c
        assert subscribed.wait(10), "the watcher did not subscribe"

    def _message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    def on(self, topic: str) -> list[bytes]:
        with self._lock:
            return [p for t, p in self.messages if t == topic]

    def readings(self, device: str) -> int:
        bodies = [json.loads(p) for p in self.on(f"campus/{SITE}/{device}/reading")]
        return sum(len(b) if isinstance(b, list) else 1 for b in bodies)

    def close(self) -> None:
        shut(self.client)


@pytest.fixture
def deployed_broker(tmp_path: Path) -> Iterator[ConfiguredMosquitto]:
    """Mosquitto as meterwatch deploys it where it matters here: the username is the client id."""
    where = tmp_path / "broker"
    where.mkdir()
    port = free_port()
    conf = where / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\n"
                    f"user {getpass.getuser()}\n"  # as root, mosquitto would switch to 'mosquitto'
                    "allow_anonymous true\n"
                    "use_username_as_clientid true\n"
                    "connection_messages true\n"
                    f"log_dest file {where}/mosquitto.log\n", encoding="utf-8")
    broker = ConfiguredMosquitto(where, conf, port)
    broker.start()
    yield broker
    broker.stop()


def test_the_gateway_reads_mqtt_dtus_over_its_one_connection(tmp_path: Path,
                                                             deployed_broker: ConfiguredMosquitto) -> None:
    port = deployed_broker.port
    doc = campus_doc()
    campus_file = tmp_path / "campus.yaml"
    campus_file.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    config = tmp_path / "gateway.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[mqtt]\nurl = "mqtt://127.0.0.1:{port}"\n'
                      f'username = "{GW}"\n[campus]\nfile = "{campus_file}"\n[gateway]\nid = "{GW}"\n'
                      "backfill_days = 0\n", encoding="utf-8")
    status = f"campus/{SITE}/{GW}/status"
    watcher = Watcher(port, f"campus/{SITE}/#")
    sims = [SimulatedGateway(only(doc, bus), GW, mqtt_url=f"mqtt://sim-{bus}@127.0.0.1:{port}", answer_delay_s=0.02)
            for bus in METERS]
    log = tmp_path / "gateway.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        for sim in sims:
            sim.start()
        with log.open("ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", "cli", "gateway", "--config", str(config)], cwd=ROOT,
                                    stdout=out, stderr=subprocess.STDOUT)
        wait_for(lambda: all(watcher.readings(d) >= READINGS for d, _ in METERS.values()), 45,
                 f"{READINGS} readings of each meter on the broker")
        assert watcher.on(status) == [b"online"]  # said once; never the Last Will: never taken over
        stop_process(proc, signal.SIGTERM, 30)
        assert proc.returncode == 0
        proc = None
        wait_for(lambda: watcher.on(status)[-1:] == [b"offline"], 10, "offline on a clean stop")
    except BaseException:
        print(log.read_text(encoding="utf-8", errors="replace")[-4000:])
        raise
    finally:
        if proc is not None:
            stop_process(proc, signal.SIGTERM, 30)
        for sim in sims:
            sim.stop()
        watcher.close()
    assert watcher.on(status) == [b"online", b"offline"]
    broker_log = (deployed_broker.workdir / "mosquitto.log").read_text(encoding="utf-8", errors="replace")
    connects = [line for line in broker_log.splitlines() if "New client connected" in line and f"u'{GW}'" in line]
    assert len(connects) == 1, connects  # one connection of the gateway's account, from start to stop
    assert "already connected, closing old connection" not in broker_log
    said = log.read_text(encoding="utf-8", errors="replace")
    assert said.count("gateway connected to the broker") == 1
    dropped = [line for line in said.splitlines() if "gateway disconnected from the broker" in line]
    assert all("Normal disconnection" in line for line in dropped), dropped  # only its own, on the way out


def test_dtu_traffic_on_the_publishers_connection_never_touches_its_pubacks(tmp_path: Path,
                                                                             mosquitto: Mosquitto) -> None:
    """The bus's requests to the DTU go out on the publisher's connection, and their PUBACKs are not taken for a
    reading's (which would delete a reading the broker does not have, once the ids come round); closing the bus
    unsubscribes its ``up`` topic at the broker."""
    one = {"dtu-a": METERS["dtu-a"]}
    doc = campus_doc(one)
    campus_file = tmp_path / "campus.yaml"
    campus_file.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    campus = load_campus(campus_file)
    bus = campus.gateways[0].buses[0]
    device = campus.devices[0]
    buffer = Buffer(tmp_path / "buffer.db")
    publisher = Publisher(MqttSettings(url=mosquitto.url), SITE, GW, buffer, batch_max=1)
    sim = SimulatedGateway(doc, GW, mqtt_url=mosquitto.url, answer_delay_s=0.0)
    field = FieldBus(GW, bus, [device], channel=publisher.channel)
    other = Watcher(mosquitto.port, "nothing", username="other")
    client = publisher._client  # noqa: SLF001 - its subscriptions and unclaimed messages are the point
    try:
        sim.start()
        publisher.start()
        assert client.wait_connected(10)
        field.open()
        assert field.wait_ready(10)
        for _ in range(5):
            answer = field.read(device)
            buffer.add_many([(device.id, answer.at_ms, answer.values)], last_ok=True)
            publisher.wake()
        wait_for(lambda: publisher.wait_drained(0.1), 15, "every reading acknowledged")
        assert publisher.acked == 5
        assert not publisher._early  # noqa: SLF001 - no DTU message id waits to be taken for a reading's
        assert client.subscriptions == ["dtu/dtu-a/up"]

        field.close()
        marker = threading.Event()
        publisher.channel.subscribe("test/marker", lambda t, p: marker.set())
        # the broker takes one connection's packets in order: once it has granted the marker, it has the
        # UNSUBSCRIBE sent before it (waiting for the grant, not for time)
        assert publisher.channel.wait_subscribed("test/marker", 10)
        assert client.subscriptions == ["test/marker"]
        # one publisher, one subscriber: the broker delivers in order, so had it still held the up subscription,
        # the stray answer would arrive before the marker
        other.client.publish("dtu/dtu-a/up", b"\x68stray\x16", qos=1).wait_for_publish(5)
        other.client.publish("test/marker", b"x", qos=1).wait_for_publish(5)
        assert marker.wait(10)
        assert client.unclaimed == 0
    finally:
        field.close()
        publisher.stop()
        buffer.close()
        sim.stop()
        other.close()


def test_on_acked_sees_only_what_publish_returned(mosquitto: Mosquitto) -> None:
    """Requests (a channel's) and publishes from two threads at once: ``on_acked`` is called for exactly the ids
    publish() returned, once each."""
    acked: list[int] = []
    lock = threading.Lock()

    def on_acked(mid: int) -> None:
        with lock:
            acked.append(mid)

    client = MqttPublisher(MqttSettings(url=mosquitto.url, client_id="gw-acks"), will=None,
                           on_connected=lambda: None, on_acked=on_acked)
    returned: list[int] = []
    try:
        client.start()
        assert client.wait_connected(10)

        def requests() -> None:
            for i in range(100):
                client.channel.publish("dtu/x/down", b"%d" % i, timeout_s=5)

        worker = threading.Thread(target=requests)
        worker.start()
        returned += [client.publish("campus/s/d/reading", b"{}") for _ in range(100)]
        worker.join(30)
        assert not worker.is_alive()
        wait_for(lambda: len(acked) >= 100, 10, "100 PUBACKs")
        assert sorted(acked) == sorted(returned)
    finally:
        client.stop()
