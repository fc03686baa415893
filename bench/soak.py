#!/usr/bin/env python3
"""Soak: meterwatch under steady load for a long time, to show that memory stays flat and nothing is lost.

Starts a real Mosquitto on a free loopback port and `meterwatch serve` (ingest with its worker process, the
alert process, the HTTP API; SQLite store) on a generated campus of --meters meters, then publishes
--rate readings/s in --batch-reading messages (a gateway's batch) for --minutes. Simulated time runs fast
(each meter's readings are --step-s apart, ending now), so alerts see days of data. Every minute it prints
the RSS and open files of every meterwatch process and of Mosquitto, ingest's backlog and spool depth, and
readings stored. At the end it stops the load, waits for the store to hold every reading, and prints a
summary: memory growth after the first 10 minutes and readings lost (must be 0).

Usage: python -m bench.soak [--minutes 60] [--rate 2000] [--meters 1000] [--batch 10]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import paho.mqtt.client as paho
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from campus.db import DataDir
from tests.support.paths import ROOT
from tests.support.servers import Mosquitto, free_port, stop_process, wait_for

KINDS = [("electricity", "energy_kwh", 0.6, 60), ("water", "volume_m3", 0.02, 10),
         ("gas", "volume_m3", 0.01, 20), ("water_quality", None, 0.0, None)]


def campus(meters: int) -> dict[str, object]:
    """The sample campus's buildings with ``meters`` meters spread over them (its mix of kinds)."""
    doc = yaml.safe_load((ROOT / "simulators" / "sample_campus.yaml").read_text(encoding="utf-8"))
    buildings = [b["id"] for b in doc["buildings"]]
    devices = []
    for i in range(meters):
        kind, _, _, cap = KINDS[i % len(KINDS)]
        dev: dict[str, object] = {"id": f"m{i:05d}", "kind": kind, "building": buildings[i % len(buildings)],
                                  "name": f"soak {kind} {i}", "interval_s": 900}
        if kind == "water_quality":
            dev["role"] = "drinking"
        else:
            dev["rated_capacity"] = cap
        devices.append(dev)
    doc["devices"] = devices
    return doc


def body(kind_index: int, meter: int, k0: int, n: int, t_end: int, total: int, step_s: int) -> bytes:
    kind, register, per_step, _ = KINDS[kind_index]
    items = []
    for k in range(k0, k0 + n):
        ts = t_end - (total - k) * step_s
        if register is None:
            values = {"ph": 7.2 + (k % 5) * 0.02, "free_chlorine_mgl": 0.4, "turbidity_ntu": 0.3}
        else:
            values = {register: 1000 + meter + k * per_step}
        items.append({"ts": ts, "seq": k, "values": values})
    return json.dumps(items).encode()


class Load:
    """Publishes the readings at a steady rate from one QoS 1 client (paced per second)."""

    def __init__(self, port: int, meters: int, rate: int, batch: int, minutes: float, step_s: int) -> None:
        self.port, self.meters, self.rate, self.batch = port, meters, rate, batch
        self.per_meter = int(rate * minutes * 60 / meters / batch) * batch
        self.step_s = step_s
        self.sent = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id="soak-load", protocol=paho.MQTTv311)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.connect("127.0.0.1", self.port)
        client.loop_start()
        t_end = int(time.time()) - 60
        msgs_per_s = max(1, self.rate // self.batch)
        start = time.monotonic()
        sent_msgs = 0
        try:
            for k0 in range(0, self.per_meter, self.batch):
                for m in range(self.meters):
                    if self.stop.is_set():
                        return
                    payload = body(m % len(KINDS), m, k0, self.batch, t_end, self.per_meter, self.step_s)
                    client.publish(f"campus/yucai/m{m:05d}/reading", payload, qos=1)
                    sent_msgs += 1
                    self.sent += self.batch
                    due = start + sent_msgs / msgs_per_s
                    delay = due - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
        finally:
            time.sleep(2)
            client.disconnect()
            client.loop_stop()


def processes(root_pid: int) -> dict[int, str]:
    """The process tree under ``root_pid``: pid → name (Linux /proc)."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        pid, ppid = int(entry.name), int(stat.rsplit(")", 1)[1].split()[1])
        comm = stat.split("(", 1)[1].rsplit(")", 1)[0]  # the children name themselves (campus.children)
        children.setdefault(ppid, []).append(pid)
        names[pid] = ("worker" if comm == "ingest-worker" else "alerts" if comm == "alerts" else
                      "serve" if " serve " in cmd else comm)
    out, todo = {}, [root_pid]
    while todo:
        pid = todo.pop()
        out[pid] = names.get(pid, "?")
        todo += children.get(pid, [])
    return out


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def stored(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute("SELECT count(*) FROM readings").fetchone()[0])
    finally:
        conn.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60, help="how long the load runs (default 60)")
    ap.add_argument("--rate", type=int, default=2000, help="readings per second (default 2000)")
    ap.add_argument("--meters", type=int, default=1000, help="simulated meters (default 1000)")
    ap.add_argument("--batch", type=int, default=10, help="readings per MQTT message (default 10)")
    ap.add_argument("--step-s", type=int, default=60, help="simulated seconds between a meter's readings")
    ap.add_argument("--every-s", type=float, default=60, help="seconds between report lines (default 60)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mw-soak-"))
    data = work / "data"
    (work / "campus.yaml").write_text(yaml.safe_dump(campus(args.meters), allow_unicode=True), encoding="utf-8")
    broker = Mosquitto(work / "mosquitto")
    broker.start()
    port = free_port()
    (work / "meterwatch.toml").write_text(
        f'data_dir = "{data}"\nlog_level = "WARNING"\n'
        f'[mqtt]\nurl = "{broker.url}"\n[store]\nbackend = "sqlite"\n'
        f'[api]\nport = {port}\n[campus]\nfile = "{work / "campus.yaml"}"\n'
        '[alerts]\nclock = "stream"\nmqtt_publish = true\n[report]\nrefresh_s = 300\n', encoding="utf-8")
    log = (work / "serve.log").open("wb")
    serve = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--config", str(work / "meterwatch.toml")],
                             cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    try:
        wait_for(lambda: api.get("/api/v1/health").json()["mqtt_connected"], 120, "meterwatch serve")
        load = Load(broker.port, args.meters, args.rate, args.batch, args.minutes, args.step_s)
        print(f"soak: {args.meters} meters, {args.rate} readings/s in {args.batch}-reading messages, "
              f"{args.minutes:g} min; work dir {work}", flush=True)
        header = "min  sent       stored     backlog spool " + " ".join(f"{n:>16}" for n in
                                                                     ("serve", "worker", "alerts", "mosquitto"))
        print(header + "   (RSS MiB / open files)", flush=True)
        rows: list[dict[str, float]] = []
        for sig in (signal.SIGINT, signal.SIGTERM):  # stop the load early: the summary still checks nothing was lost
            signal.signal(sig, lambda *_: load.stop.set())
        load.thread.start()
        start = time.monotonic()
        while load.thread.is_alive():
            next_line = time.monotonic() + args.every_s
            while load.thread.is_alive() and time.monotonic() < next_line:
                load.thread.join(0.5)
            health = api.get("/api/v1/health").json()
            tree = processes(serve.pid)
            by_name = {name: pid for pid, name in tree.items()}
            if broker.proc is not None:
                by_name["mosquitto"] = broker.proc.pid
            row = {"min": (time.monotonic() - start) / 60}
            cells = []
            for name in ("serve", "worker", "alerts", "mosquitto"):
                pid = by_name.get(name)
                if pid is None:
                    cells.append(f"{'-':>16}")
                    continue
                row[name] = rss_mib(pid)
                cells.append(f"{row[name]:>9.1f} / {open_files(pid):<4}")
            rows.append(row)
            print(f"{row['min']:>4.0f} {load.sent:>10} {health['stored']:>10} {health['backlog']:>7} "
                  f"{health['spool_depth']:>5} " + " ".join(cells), flush=True)
        expected = load.sent
        wait_for(lambda: stored(DataDir(data).readings) >= expected, 600, f"{expected} readings stored", interval=2)
        final = stored(DataDir(data).readings)
        letters = api.get("/api/v1/dead-letters", headers=_admin(data)).json()
        print(f"\nsent {expected} readings; stored {final}; lost {expected - final}; dead letters {len(letters)}")
        after10 = [r for r in rows if r["min"] >= 10] or rows
        for name in ("serve", "worker", "alerts", "mosquitto"):
            series = [r[name] for r in after10 if name in r]
            if series:
                growth = (series[-1] - series[0]) / series[0] * 100
                print(f"{name:>9}: RSS {series[0]:.1f} MiB at {after10[0]['min']:.0f} min → {series[-1]:.1f} MiB at "
                      f"{after10[-1]['min']:.0f} min ({growth:+.1f}%), peak {max(series):.1f} MiB")
        return 0 if final == expected and not letters else 1
    finally:
        stop_process(serve, signal.SIGTERM, 60)
        broker.stop()
        log.close()


def _admin(data: Path) -> dict[str, str]:
    from api.tokens import TokenStore

    tokens = TokenStore(DataDir(data).state)
    try:
        return {"Authorization": f"Bearer {tokens.create(f'soak-{time.time_ns()}', 'admin')}"}
    finally:
        tokens.close()


if __name__ == "__main__":
    sys.exit(main())
