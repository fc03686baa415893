#!/usr/bin/env python3
"""Ingest throughput, measured in one run on the same Mosquitto (and InfluxDB) started here.

For each run: N messages are queued by the broker for a persistent session while the
subscriber is away, then the subscriber connects and drains them; the clock runs from CONNACK
to the last message handled (meterwatch: acknowledged after its durable commit). Compared on identical queues:

  raw paho     a plain paho-mqtt QoS 1 subscriber that does nothing (auto-ack)
  meterwatch   decode + validate + durable commit (SQLite fsync / InfluxDB write) + manual ack,
               single-reading messages and 100-reading batch messages, for each store

Prints the median of --runs runs and the ratio meterwatch / raw (target ≥ 0.8 for single readings).
Usage: python -m bench.ingest [--messages 20000] [--runs 3] [--stores sqlite,influxdb]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from tqdm import tqdm

from campus.model import load_campus
from ingest.config import IngestSettings, MqttSettings, StoreSettings
from ingest.service import IngestService
from tests.support.paths import ROOT
from tests.support.servers import Influx, Mosquitto, wait_for

SAMPLE = ROOT / "simulators" / "sample_campus.yaml"
T0 = int(time.time()) - 30 * 86400


def payloads(n_readings: int, batch: int) -> list[tuple[str, bytes]]:
    meters = [d for d in load_campus(SAMPLE).devices if d.kind.value in ("water", "gas")]
    out = []
    per_device: dict[str, int] = {}
    items: dict[str, list[dict[str, object]]] = {}
    for i in range(n_readings):
        dev = meters[i % len(meters)].id
        k = per_device[dev] = per_device.get(dev, 0) + 1
        item = {"ts": T0 + k * 60, "seq": k, "values": {"volume_m3": 1000 + k * 0.01, "flow_m3h": 0.6}}
        items.setdefault(dev, []).append(item)
        if len(items[dev]) == batch:
            body = items.pop(dev)
            out.append((f"campus/yucai/{dev}/reading", json.dumps(body[0] if batch == 1 else body).encode()))
    return out


def queue_for(broker: Mosquitto, client_id: str, messages: list[tuple[str, bytes]]) -> None:
    """Create the persistent session, go away, publish everything (broker-acknowledged)."""
    sub = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    done = threading.Event()
    sub.on_subscribe = lambda *a: done.set()
    sub.on_connect = lambda c, *a: c.subscribe([("campus/+/+/reading", 1), ("campus/+/+/status", 1)])
    sub.connect("127.0.0.1", broker.port)
    sub.loop_start()
    done.wait(10)
    sub.disconnect()
    sub.loop_stop()
    pub = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{client_id}-pub")
    pub.max_inflight_messages_set(1000)
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    infos = [pub.publish(t, p, qos=1) for t, p in messages]
    for info in infos:
        info.wait_for_publish(60)
    pub.disconnect()
    pub.loop_stop()


def forget_session(broker: Mosquitto, client_id: str) -> None:
    """Delete a persistent session, so later runs' messages are not queued for it too."""
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    time.sleep(0.2)
    c.disconnect()
    c.loop_stop()


def raw_rate(broker: Mosquitto, messages: list[tuple[str, bytes]], tag: str) -> float:
    cid = f"raw-{tag}"
    queue_for(broker, cid, messages)
    got = 0
    finished = threading.Event()

    def on_message(c: paho.Client, u: object, m: paho.MQTTMessage) -> None:
        nonlocal got
        got += 1
        if got == len(messages):
            finished.set()

    connected_at: list[float] = []
    sub = paho.Client(CallbackAPIVersion.VERSION2, client_id=cid, clean_session=False)
    sub.on_message = on_message
    sub.on_connect = lambda *a: connected_at.append(time.monotonic())
    sub.connect("127.0.0.1", broker.port)
    sub.loop_start()
    finished.wait(300)
    elapsed = time.monotonic() - connected_at[0]
    sub.disconnect()
    sub.loop_stop()
    forget_session(broker, cid)
    return len(messages) / elapsed


def meterwatch_rate(broker: Mosquitto, messages: list[tuple[str, bytes]], store: StoreSettings, tag: str,
                    workdir: Path) -> float:
    cid = f"mw-{tag}"
    queue_for(broker, cid, messages)
    svc = IngestService(data_dir=workdir / tag, mqtt=MqttSettings(url=broker.url, client_id=cid), store=store,
                        ingest=IngestSettings(), campus=load_campus(SAMPLE))
    svc.start()  # the clock starts at CONNACK, as for the raw subscriber (worker start-up is not counted)
    try:
        wait_for(lambda: svc.counters.acknowledged >= len(messages), 600, "meterwatch drain", 0.005)
        assert svc.mqtt is not None  # noqa: S101
        assert svc.mqtt.connected_at is not None  # noqa: S101
        elapsed = time.monotonic() - svc.mqtt.connected_at
        if svc.dead_letters.count():
            raise RuntimeError(f"benchmark payloads were refused: {svc.dead_letters.list(limit=3)}")
    finally:
        svc.stop()
        forget_session(broker, cid)
    return len(messages) / elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=20000, help="readings per measurement (default %(default)s)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--stores", default="sqlite,influxdb")
    args = ap.parse_args()
    stores = args.stores.split(",")
    single = payloads(args.messages, 1)
    batched = payloads(args.messages, 100)
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        broker = Mosquitto(work / "mosquitto")
        broker.start()
        influx = None
        if "influxdb" in stores:
            influx = Influx(work / "influxdb")
            influx.start()
        steps = args.runs * (1 + 2 * len(stores))
        try:
            with tqdm(total=steps, desc="bench", unit="step") as bar:
                for run in range(args.runs):
                    raw = raw_rate(broker, single, f"{run}")
                    results.setdefault("raw paho subscriber (msg/s)", []).append(raw)
                    bar.update()
                    for name in stores:
                        if name == "sqlite":
                            st = StoreSettings()
                        elif influx is not None:
                            st = StoreSettings(backend="influxdb", url=influx.url, database=f"bench{run}")
                        else:
                            continue
                        r1 = meterwatch_rate(broker, single, st, f"{name}-1-{run}", work)
                        bar.update()
                        rb = meterwatch_rate(broker, batched, st, f"{name}-100-{run}", work) * 100
                        bar.update()
                        results.setdefault(f"meterwatch {name}, 1 reading/msg (readings/s)", []).append(r1)
                        results.setdefault(f"meterwatch {name}, 100 readings/msg (readings/s)", []).append(rb)
                        results.setdefault(f"ratio {name} single / raw", []).append(r1 / raw)
                        results.setdefault(f"ratio {name} batch readings / raw msgs", []).append(rb / raw)
        finally:
            broker.stop()
            if influx is not None:
                influx.stop()
    print(f"\ningest benchmark: {args.messages} readings per measurement, median of {args.runs} runs "
          f"(all runs shown)")
    for key, values in results.items():
        fmt = "{:.2f}" if key.startswith("ratio") else "{:,.0f}"
        print(f"  {key:52} {fmt.format(statistics.median(values)):>10}   "
              f"[{', '.join(fmt.format(v) for v in values)}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
