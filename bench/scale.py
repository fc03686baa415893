#!/usr/bin/env python3
"""District scale on one box: N devices across 300 sites, through a real Mosquitto, with alerts on.

Each size builds a district of 300 sites with the sample campus's mix of devices (its buildings, zones,
meters and water-quality sensors; larger sites add per-room dorm meters, as real deployments do),
every device reporting once per 15 minutes. The production layout runs here: ingest with its worker
process (embedded SQLite store), the alert engine in a process of its own (every site), the API in
this process. The campus is published for ``--intervals`` reading intervals as fast as the broker
takes it (accelerated time), and measured:

  registry load      campus files parsed and validated, and seeded into the registry
  ingest             readings stored per second (first publish to the last stored), against the rate
                     the district produces in real time (N / 900 s): the headroom
  alerts             the alert process evaluated the last reading (seconds after it was published),
                     its engine state (rows, bytes) and its peak memory
  roll-ups           the first build over the stored intervals, then a refresh after one more interval
  district report    every site's month, ranked (JSON)
  console overview   the calls the console's overview makes for one site, median of 5
  memory             peak resident memory (VmHWM) of each process, and their sum
  CPU                CPU seconds per 1,000 devices per reading interval, for each process

and, across sizes, how each grows with the device count (the ratio of per-device costs to the
smallest size's: 1.0 is linear). Run ``python -m bench.scale [--sizes 5000,20000,50000] [--runs 1]``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from tqdm import tqdm

from alerts.config import AlertSettings
from alerts.process import AlertProcess, AlertProcessConfig
from campus.db import DataDir
from campus.model import load_sites
from campus.registry import Registry
from ingest.config import IngestSettings, MqttSettings, StoreSettings
from ingest.service import IngestService
from tests.support.drive import evaluated_up_to
from tests.support.paths import ROOT
from tests.support.servers import Mosquitto, wait_for

SAMPLE = ROOT / "simulators" / "sample_campus.yaml"
SITES = 300
INTERVAL_S = 900
TZ_OFFSET_S = 8 * 3600
VALUES: dict[str, float] = {"ph": 7.2, "turbidity_ntu": 0.3, "free_chlorine_mgl": 0.3, "tds_mgl": 180,
                            "temperature_c": 20}
HEATER: dict[str, float] = {"temperature_c": 58}


# -- the district ----------------------------------------------------------------------------
def site_doc(base: dict[str, Any], index: int, per_site: int) -> dict[str, Any]:
    """The sample campus as site ``index`` with ``per_site`` devices, all reporting every 15 minutes."""
    doc = copy.deepcopy(base)
    doc["site"] = {"id": f"s{index:03d}", "name": f"第{index}学校", "timezone": "Asia/Shanghai"}
    devices = [d for d in doc["devices"]]
    if per_site <= len(devices):  # an even spread over the sample's mix; sub-meters lose a parent not chosen
        step = len(devices) / per_site
        devices = [devices[int(i * step)] for i in range(per_site)]
        kept = {d["id"] for d in devices}
        for d in devices:
            if d.get("parent") not in kept:
                d.pop("parent", None)
    else:  # a larger school: more per-room meters in its dormitories
        dorms = [("dorm-1", "d1-elec", "gw-dorm-1"), ("dorm-2", "d2-elec", "gw-dorm-2"),
                 ("dorm-3", "d3-elec", "gw-dorm-3"), ("dorm-4", "d4-elec", "gw-dorm-4")]
        k = 0
        while len(devices) < per_site:
            building, parent, gw = dorms[k % 4]
            room = f"r{300 + k // 4}"
            devices.append({"id": f"{parent[:2]}-{room}", "kind": "electricity", "building": building,
                            "name": f"{building} {room}", "rated_capacity": 6, "initial_register": 500,
                            "role": "dorm_room", "parent": parent, "gateway": gw})
            k += 1
    for d in devices:
        d["interval_s"] = INTERVAL_S
    doc["devices"] = devices
    return doc


def write_district(out: Path, devices: int) -> tuple[Path, list[tuple[str, str, str]]]:
    """300 campus files in ``out``; the (site, device, kind) of every device."""
    base = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    out.mkdir(parents=True)
    every: list[tuple[str, str, str]] = []
    for i in range(SITES):
        per_site = devices // SITES + (1 if i < devices % SITES else 0)
        doc = site_doc(base, i + 1, per_site)
        (out / f"{doc['site']['id']}.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        every += [(doc["site"]["id"], d["id"], d["kind"]) for d in doc["devices"]]
    return out, every


def payload(kind: str, device: str, ts: int, k: int) -> bytes:
    values: dict[str, float]
    if kind == "electricity":
        values = {"energy_kwh": 500 + k * 1.5, "power_kw": 6.0}
    elif kind in ("water", "gas"):
        values = {"volume_m3": 1000 + k * 0.2, "flow_m3h": 0.8}
    else:
        values = HEATER if "heater" in device or "tank" == device[:4] else VALUES
    return json.dumps({"ts": ts, "values": values}).encode()


# -- processes ---------------------------------------------------------------------------------
def proc_stats(pid: int) -> tuple[float, float]:
    """(peak resident MiB, CPU seconds) of a process, from /proc."""
    peak = 0.0
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return peak, (int(parts[11]) + int(parts[12])) / ticks


@dataclass
class Result:
    devices: int
    numbers: dict[str, float] = field(default_factory=dict)


def publish(port: int, every: list[tuple[str, str, str]], start_s: int, intervals: range,
            bar: tqdm | None = None) -> float:
    """Every device's reading for each interval, QoS 1, waiting for the broker's acknowledgements; seconds."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-district")
    client.max_inflight_messages_set(2000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    t = time.perf_counter()
    infos = []
    for k in intervals:
        ts = start_s + k * INTERVAL_S
        for site, dev, kind in every:
            infos.append(client.publish(f"campus/{site}/{dev}/reading", payload(kind, dev, ts, k), qos=1))
            if len(infos) >= 20_000:
                for info in infos:
                    info.wait_for_publish(120)
                if bar is not None:
                    bar.update(len(infos))
                infos = []
    for info in infos:
        info.wait_for_publish(120)
    if bar is not None:
        bar.update(len(infos))
    elapsed = time.perf_counter() - t
    client.disconnect()
    client.loop_stop()
    return elapsed


def engine_state(data: Path) -> tuple[int, int]:
    import sqlite3

    with sqlite3.connect(DataDir(data).alerts) as conn:
        rows, size = 0, 0
        for table in ("engine_device_state", "engine_rule_state"):
            n, b = conn.execute(f"SELECT count(*), total(length(state)) FROM {table}").fetchone()  # noqa: S608
            rows, size = rows + n, size + int(b)
    return rows, size


def run_size(devices: int, intervals: int, work: Path) -> Result:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from app.settings import load_settings
    from reports.district import build_district
    from reports.usage import Usage
    from tests.support.harness import token_headers

    res = Result(devices)
    n = res.numbers
    campus_dir, every = write_district(work / "campus.d", devices)
    data = work / "data"
    t = time.perf_counter()
    campuses = load_sites(campus_dir)
    n["campus files parsed (s)"] = time.perf_counter() - t
    data.mkdir()
    registry = Registry(DataDir(data).state)
    t = time.perf_counter()
    registry.seed_all(campuses)
    n["registry seeded (s)"] = time.perf_counter() - t
    t = time.perf_counter()
    fresh = Registry(DataDir(data).state)
    fresh.tags("s001", every[0][1])
    n["registry read by another process (s)"] = time.perf_counter() - t
    fresh.close()
    registry.close()

    broker = Mosquitto(work / "mosquitto")
    broker.start()
    mqtt = MqttSettings(url=broker.url, client_id="bench-ingest")
    service = IngestService(data_dir=data, mqtt=mqtt, store=StoreSettings(),
                            ingest=IngestSettings(max_batch_messages=2000))
    alerts = AlertProcess(AlertProcessConfig(data, mqtt, AlertSettings(client_id="bench-alerts", tick_s=5.0,
                                                                       mqtt_publish=False), "zh-CN", "WARNING"))
    try:
        service.start(health_every_s=0)
        if service.mqtt is None or not service.mqtt.wait_connected(30):
            raise RuntimeError("ingest did not subscribe to the bench's Mosquitto within 30 s")
        alerts.start()
        pids = {"api+ingest (main)": os.getpid(), "mosquitto": broker.proc.pid}  # type: ignore[union-attr]
        pids["ingest worker"] = service.link._proc.pid  # type: ignore[union-attr]  # noqa: SLF001
        pids["alert process"] = alerts._proc.pid  # type: ignore[union-attr]  # noqa: SLF001
        cpu0 = {k: proc_stats(p)[1] for k, p in pids.items()}

        start = datetime.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=intervals + 2)
        start_s = int(start.timestamp()) // INTERVAL_S * INTERVAL_S
        total = devices * intervals
        with tqdm(total=total, desc=f"{devices:,} devices: publish", unit="msg", leave=False) as bar:
            t0 = time.perf_counter()
            pub_s = publish(broker.port, every, start_s, range(intervals), bar)
        wait_for(lambda: service.counters.stored >= total, 900, f"{total} readings stored", interval=0.2)
        stored_s = time.perf_counter() - t0
        last_site, last_dev, _ = every[-1]
        last_ts = (start_s + (intervals - 1) * INTERVAL_S) * 1000
        wait_for(lambda: evaluated_up_to(data, last_dev, last_ts, last_site), 900, "the alert engine caught up",
                 interval=0.5)
        alerts_s = time.perf_counter() - t0
        cpu1 = {k: proc_stats(p)[1] for k, p in pids.items()}
        n["publish rate (msg/s)"] = total / pub_s
        n["ingest rate (readings/s)"] = total / stored_s
        n["real-time rate (readings/s)"] = devices / INTERVAL_S
        n["ingest headroom (×)"] = n["ingest rate (readings/s)"] / n["real-time rate (readings/s)"]
        n["alerts caught up (s)"] = alerts_s
        n["alert rate (readings/s)"] = total / alerts_s
        rows, size = engine_state(data)
        n["alert state rows"] = rows
        n["alert state (MiB)"] = size / 2**20
        for k in pids:
            n[f"CPU s per 1,000 devices per interval: {k}"] = (cpu1[k] - cpu0[k]) / (devices / 1000) / intervals

        usage = Usage(data, service.store, lambda: service.registry.campuses, service.presence)
        t = time.perf_counter()
        usage.refresh()
        n["roll-up first build (s)"] = time.perf_counter() - t
        more = devices * (intervals + 1)
        publish(broker.port, every, start_s, range(intervals, intervals + 1))
        wait_for(lambda: service.counters.stored >= more, 600, "one more interval stored", interval=0.2)
        t = time.perf_counter()
        usage.refresh()
        n["roll-up refresh after one interval (s)"] = time.perf_counter() - t
        t = time.perf_counter()
        report = build_district(usage, start.strftime("%Y-%m"), load_settings(None).report, refresh=False)
        n["district report, 300 sites (s)"] = time.perf_counter() - t
        if len(report.sites) != SITES:
            raise RuntimeError(f"the district report has {len(report.sites)} sites, not {SITES}")
        usage.close()

        settings = load_settings(None, data_dir=data)
        app = create_app(settings, service=service, alerts=alerts)  # the alert process's store, as serve has
        with TestClient(app, headers=token_headers(data)) as client:
            day = start.strftime("%Y-%m-%d")
            calls = ["/api/v1/campus?site=s150", "/api/v1/water-quality?site=s150",
                     "/api/v1/alerts?status=open&site=s150&limit=50",
                     f"/api/v1/consumption?site=s150&kind=electricity&interval=hour&group_by=site&start={day}",
                     f"/api/v1/consumption?site=s150&kind=electricity&interval=day&group_by=department&start={day}",
                     "/api/v1/devices?site=s150&limit=1000"]
            times = []
            for _ in range(5):
                t = time.perf_counter()
                for path in calls:
                    r = client.get(path)
                    if r.status_code != 200:
                        raise RuntimeError(f"{path}: HTTP {r.status_code} {r.text[:200]}")
                times.append(time.perf_counter() - t)
            n["console overview, one site (s)"] = statistics.median(times)
            t = time.perf_counter()
            client.get("/api/v1/devices", params={"limit": 1000}).raise_for_status()
            n["device list page, all sites (s)"] = time.perf_counter() - t
        peaks = {k: proc_stats(p)[0] for k, p in pids.items()}
        for k, v in peaks.items():
            n[f"peak memory (MiB): {k}"] = v
        n["peak memory (MiB): all"] = sum(peaks.values())
    finally:
        alerts.stop()
        service.stop()
        broker.stop()
    return res


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="5000,20000,50000", help="device counts (comma-separated)")
    p.add_argument("--intervals", type=int, default=4, help="reading intervals published (15 min each)")
    p.add_argument("--runs", type=int, default=1, help="runs per size; medians are printed")
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[int, list[Result]] = {}
    for size in sizes:
        for run in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="mw-scale-") as tmp:
                print(f"— {size:,} devices, run {run + 1}/{args.runs}", file=sys.stderr, flush=True)
                results.setdefault(size, []).append(run_size(size, args.intervals, Path(tmp)))
    keys = list(results[sizes[0]][0].numbers)
    med = {s: {k: statistics.median(r.numbers[k] for r in results[s]) for k in keys} for s in sizes}
    width = max(len(k) for k in keys)
    print(f"\n{'devices':<{width}}  " + "  ".join(f"{s:>10,}" for s in sizes))
    for k in keys:
        print(f"{k:<{width}}  " + "  ".join(f"{med[s][k]:>10.{3 if med[s][k] < 10 else 1}f}" for s in sizes))
    print("\ngrowth per device against the smallest size (1.0 = linear; time and memory per device):")
    base = sizes[0]
    for k in ("campus files parsed (s)", "registry seeded (s)", "roll-up first build (s)",
              "roll-up refresh after one interval (s)", "district report, 300 sites (s)", "alert state (MiB)",
              "peak memory (MiB): all"):
        print(f"  {k:<{width}}  " + "  ".join(
            f"{(med[s][k] / s) / (med[base][k] / base):>10.2f}" for s in sizes))
    print(f"\n(median of {args.runs} run(s); {args.intervals} intervals published per size; one box, 2 cores)")
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench-scale"
    raise SystemExit(main())
