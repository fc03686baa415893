#!/usr/bin/env python3
"""Alert latency: from publishing a reading that breaks a rule to the webhook arriving at a local
HTTP server, with ingest and the alert service running as in production on one Mosquitto.

A probe publishes drinking-water pH 9.5 on a fountain (the default pH rule, with ``count: 1`` so
one reading suffices), waits for the webhook, then publishes pH 7.2 and waits for the resolve.
Measured idle and under a steady background of single-reading messages from other meters
(another process publishes them, --rate per second). Prints p50/p99 per phase, the medians of
--runs runs; the target is p99 < 500 ms.

Usage: python -m bench.alerts [--probes 100] [--rate 5000] [--batch 1] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import socket
import statistics
import tempfile
import time
from pathlib import Path

import paho.mqtt.client as paho
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from tqdm import tqdm

from alerts.config import AlertSettings
from alerts.process import AlertProcess, AlertProcessConfig
from campus.model import Building, Device, load_campus
from ingest.config import IngestSettings, MqttSettings, StoreSettings
from ingest.service import IngestService
from tests.support.paths import ROOT
from tests.support.peers import WebhookServer
from tests.support.servers import Mosquitto

SAMPLE = ROOT / "simulators" / "sample_campus.yaml"
PROBE = "ta-fountain"
BACKGROUND_METERS = 500


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = n >> 7, n & 0x7F
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def background(port: int, rate: int, batch: int, stop: mp.Event, sent: mp.Value) -> None:  # type: ignore[valid-type]
    """Publish ``rate`` readings per second (QoS 1) from the bench meters until ``stop``: one reading per
    message, or gateway-style messages of ``batch`` readings (a JSON array, one meter's last minutes).

    A lean MQTT 3.1.1 publisher on a raw socket (packets built by hand, PUBACKs counted in bulk), so
    that on a 2-core machine the load generator takes little of the CPU that is being measured.
    """
    sock = socket.create_connection(("127.0.0.1", port))
    cid = b"bench-background"
    var = b"\x00\x04MQTT\x04\x02\x00\x00" + len(cid).to_bytes(2, "big") + cid  # clean session, no keepalive
    sock.sendall(b"\x10" + _varint(len(var)) + var)
    if sock.recv(4)[:2] != b"\x20\x02":
        raise SystemExit("background publisher: no CONNACK")
    sock.setblocking(False)
    topics = [f"campus/yucai/bench-{i}/reading".encode() for i in range(BACKGROUND_METERS)]
    start, n, acked = time.monotonic(), 0, 0
    t0_ms = time.time_ns() // 1_000_000
    while not stop.is_set():  # type: ignore[attr-defined]
        due = int((time.monotonic() - start) * rate)
        chunk = []
        ts = time.time_ns() // 1_000_000
        energy = 1000 + 2.4 * (ts - t0_ms) / 3_600_000  # a steady 2.4 kW load
        while n < due:
            topic = topics[(n // batch) % BACKGROUND_METERS]
            items = [b'{"ts": %d, "values": {"energy_kwh": %.6f, "power_kw": 2.4}}' % (ts - (batch - k) * 10, energy)
                     for k in range(batch)]
            payload = items[0] if batch == 1 else b"[" + b",".join(items) + b"]"
            body = len(topic).to_bytes(2, "big") + topic + ((n // batch) % 65535 + 1).to_bytes(2, "big") + payload
            chunk.append(b"\x32" + _varint(len(body)) + body)
            n += batch
        if chunk:
            sock.setblocking(True)
            sock.sendall(b"".join(chunk))
            sock.setblocking(False)
        try:
            acked += len(sock.recv(1 << 20)) // 4
        except BlockingIOError:
            pass
        time.sleep(0.005)
    sent.value = n  # type: ignore[attr-defined]
    sock.setblocking(True)
    sock.sendall(b"\xe0\x00")  # DISCONNECT
    sock.close()


def setup(tmp: Path, webhook_port: int) -> tuple[Path, Path, object]:
    campus = load_campus(SAMPLE)
    campus = campus.model_copy(update={
        "buildings": [*campus.buildings, Building(id="bench-hall", name="压测楼", department="other")],
        "devices": [*campus.devices, *(Device(id=f"bench-{i}", kind="electricity", building="bench-hall",
                                              zone="zone-south", interval_s=60, rated_capacity=10)
                                       for i in range(BACKGROUND_METERS))]})
    rules = yaml.safe_load((ROOT / "alerts" / "default_rules.yaml").read_text(encoding="utf-8"))
    for r in rules["rules"]:
        if r["id"] in ("drinking-ph", "purified-ph"):  # the probe is a direct-drinking fountain: purified-ph
            r["count"], r["clear"] = 1, {"for": 0}
    (tmp / "rules.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    roster = {"channels": {"webhook": f"json://127.0.0.1:{webhook_port}/duty/{{id}}"},
              "people": [{"id": "bench", "name": "值班", "notify": ["webhook"]}],
              "shifts": [{"people": ["bench"]}], "routes": [{"id": "all", "levels": [{"to": ["on_duty"]}]}]}
    (tmp / "roster.yaml").write_text(yaml.safe_dump(roster, allow_unicode=True), encoding="utf-8")
    return tmp / "rules.yaml", tmp / "roster.yaml", campus


def probes(port: int, hooks: WebhookServer, n: int, label: str) -> list[float]:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-probe")
    client.connect("127.0.0.1", port)
    client.loop_start()
    out = []
    for _ in tqdm(range(n), desc=label, unit="probe", leave=False):
        for ph, event in ((9.5, "raised"), (7.2, "resolved")):
            seen = len(hooks.received)
            body = json.dumps({"ts": time.time_ns() // 1_000_000, "values": {"ph": ph}})
            t0 = time.monotonic()
            client.publish(f"campus/yucai/{PROBE}/reading", body, qos=1)
            deadline = t0 + 10
            while time.monotonic() < deadline:
                hit = next((h for h in hooks.received[seen:] if h.body.get("event") == event), None)
                if hit is not None:
                    if event == "raised":
                        out.append((hit.at - t0) * 1000)
                    break
                time.sleep(0.001)
            else:
                raise SystemExit(f"no {event} webhook within 10 s")
            time.sleep(0.05)
    client.disconnect()
    client.loop_stop()
    return out


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def one_run(n_probes: int, rate: int, batch: int) -> dict[str, tuple[float, float]]:
    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="mw-bench-alerts-") as d, WebhookServer() as hooks:
        tmp = Path(d)
        broker = Mosquitto(tmp / "mosquitto")
        broker.start()
        rules, roster, campus = setup(tmp, hooks.port)
        mqtt = MqttSettings(url=broker.url)
        ingest = IngestService(data_dir=tmp / "data", mqtt=mqtt, store=StoreSettings(), ingest=IngestSettings(),
                               campus=campus)  # type: ignore[arg-type]
        ingest.start()
        alerts = AlertProcess(AlertProcessConfig(tmp / "data", mqtt, AlertSettings(
            rules_file=rules, roster_file=roster, mqtt_publish=False), "zh-CN", "WARNING"))
        alerts.start()
        try:
            if ingest.mqtt is None or not ingest.mqtt.wait_connected(10):
                raise SystemExit("could not subscribe to the bench broker within 10 s")
            time.sleep(2)  # the alert process subscribes on its own

            results["idle"] = summarise(probes(broker.port, hooks, n_probes, "idle"))
            ctx = mp.get_context("spawn")
            stop, sent = ctx.Event(), ctx.Value("q", 0)
            bg = ctx.Process(target=background, args=(broker.port, rate, batch, stop, sent), daemon=True)
            t0 = time.monotonic()
            bg.start()
            time.sleep(3)  # let the background settle
            label = f"{rate}/s background, {batch}/msg"
            lat = probes(broker.port, hooks, n_probes, label)
            stop.set()
            bg.join(30)
            elapsed = time.monotonic() - t0
            results[label] = summarise(lat)
            results["background achieved /s"] = (sent.value / elapsed, ingest.counters.received / elapsed)
        finally:
            alerts.stop()
            ingest.stop()
            broker.stop()
    return results


def summarise(lat: list[float]) -> tuple[float, float]:
    return pct(lat, 0.5), pct(lat, 0.99)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--probes", type=int, default=100, help="probes per phase (default %(default)s)")
    p.add_argument("--rate", type=int, default=5000, help="background readings per second (default %(default)s)")
    p.add_argument("--batch", type=int, default=1,
                   help="background readings per message (1 = each meter publishes alone; default %(default)s)")
    p.add_argument("--runs", type=int, default=3, help="runs; medians are printed (default %(default)s)")
    args = p.parse_args()
    runs = [one_run(args.probes, args.rate, args.batch) for _ in tqdm(range(args.runs), desc="runs", unit="run")]
    print(f"\nalert latency, publish → webhook received ({args.probes} probes a phase, median of {args.runs} runs)")
    for phase in runs[0]:
        a = statistics.median(r[phase][0] for r in runs)
        b = statistics.median(r[phase][1] for r in runs)
        if phase.startswith("background"):
            print(f"  {phase:<32} readings {a:8.0f}   messages received by ingest {b:8.0f}")
        else:
            ok = "ok" if b < 500 else "OVER TARGET"
            print(f"  {phase:<32} p50 {a:7.1f} ms   p99 {b:7.1f} ms   ({ok}: p99 < 500 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
