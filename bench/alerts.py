#!/usr/bin/env python3
"""Alert latency: from publishing a reading that breaks a rule to the webhook arriving at a local
HTTP server, with ingest and the alert service running as in production on one Mosquitto.

A probe publishes drinking-water pH 9.5 on a fountain (the default pH rule, with ``count: 1`` so
one reading suffices), waits for the webhook, then publishes pH 7.2 and waits for the resolve.
Measured idle and under a steady background of single-reading messages from other meters
(another process publishes them, --rate per second). Prints p50/p99 per phase, the medians of
--runs runs; the target is p99 < 500 ms.

Usage: python bench/alerts.py [--probes 100] [--rate 5000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

import paho.mqtt.client as paho
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alerts.config import AlertSettings  # noqa: E402
from alerts.service import AlertService  # noqa: E402
from ingest.campus import Building, Device, load_campus  # noqa: E402
from ingest.config import IngestSettings, MqttSettings, StoreSettings  # noqa: E402
from ingest.service import IngestService  # noqa: E402
from tests.peers import WebhookServer  # noqa: E402
from tests.servers import Mosquitto  # noqa: E402

SAMPLE = ROOT / "simulators" / "sample_campus.yaml"
PROBE = "ta-fountain"
BACKGROUND_METERS = 500


def background(port: int, rate: int, stop: mp.Event, sent: mp.Value) -> None:  # type: ignore[valid-type]
    """Publish single readings from the bench meters at ``rate`` per second until ``stop``."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-background")
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    register = [1000.0] * BACKGROUND_METERS
    start, n = time.monotonic(), 0
    while not stop.is_set():  # type: ignore[attr-defined]
        due = int((time.monotonic() - start) * rate)
        while n < due:
            i = n % BACKGROUND_METERS
            register[i] += 0.01
            body = json.dumps({"ts": time.time_ns() // 1_000_000, "values": {"energy_kwh": round(register[i], 3),
                                                                               "power_kw": 2.4}})
            client.publish(f"campus/yucai/bench-{i}/reading", body, qos=1)
            n += 1
        time.sleep(0.002)
    sent.value = n  # type: ignore[attr-defined]
    client.disconnect()
    client.loop_stop()


def setup(tmp: Path, webhook_port: int) -> tuple[Path, Path, object]:
    campus = load_campus(SAMPLE)
    campus = campus.model_copy(update={
        "buildings": [*campus.buildings, Building(id="bench-hall", name="压测楼", department="other")],
        "devices": [*campus.devices, *(Device(id=f"bench-{i}", kind="electricity", building="bench-hall",
                                              zone="zone-south", interval_s=60, rated_capacity=10)
                                       for i in range(BACKGROUND_METERS))]})
    rules = yaml.safe_load((ROOT / "alerts" / "default_rules.yaml").read_text(encoding="utf-8"))
    for r in rules["rules"]:
        if r["id"] == "drinking-ph":
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


def one_run(n_probes: int, rate: int) -> dict[str, tuple[float, float]]:
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
        alerts = AlertService(data_dir=tmp / "data", mqtt=mqtt,
                              settings=AlertSettings(rules_file=rules, roster_file=roster, mqtt_publish=False))
        alerts.start()
        try:
            assert ingest.mqtt and ingest.mqtt.wait_connected(10) and alerts.mqtt and alerts.mqtt.wait_connected(10)
            results["idle"] = summarise(probes(broker.port, hooks, n_probes, "idle"))
            stop, sent = mp.Event(), mp.Value("q", 0)
            bg = mp.Process(target=background, args=(broker.port, rate, stop, sent), daemon=True)
            before = alerts.evaluated
            t0 = time.monotonic()
            bg.start()
            time.sleep(3)  # let the background settle
            lat = probes(broker.port, hooks, n_probes, f"{rate}/s background")
            stop.set()
            bg.join(30)
            elapsed = time.monotonic() - t0
            results[f"{rate}/s"] = summarise(lat)
            results["background achieved /s"] = (sent.value / elapsed, (alerts.evaluated - before) / elapsed)
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
    p.add_argument("--runs", type=int, default=3, help="runs; medians are printed (default %(default)s)")
    args = p.parse_args()
    runs = [one_run(args.probes, args.rate) for _ in tqdm(range(args.runs), desc="runs", unit="run")]
    print(f"\nalert latency, publish → webhook received ({args.probes} probes a phase, median of {args.runs} runs)")
    for phase in runs[0]:
        a = statistics.median(r[phase][0] for r in runs)
        b = statistics.median(r[phase][1] for r in runs)
        if phase.startswith("background"):
            print(f"  {phase:<26} published {a:8.0f}   evaluated by alerts {b:8.0f}")
        else:
            ok = "ok" if b < 500 else "OVER TARGET"
            print(f"  {phase:<26} p50 {a:7.1f} ms   p99 {b:7.1f} ms   ({ok}: p99 < 500 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
