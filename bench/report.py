"""The monthly energy report over a year of 15-minute readings from 1,000 meters (≈ 35 million readings).

For each store (SQLite, and InfluxDB 1.x started here on a free loopback port):
  1. load      a year of readings through the store's own write path (not timed against the target);
  2. roll up   the one-off daily roll-up build over the whole history (``meterwatch report`` and the API
               do this the first time, with a progress bar; afterwards only changes are rolled up);
  3. report    each run: one more 15-minute reading arrives for every meter (as ingest writes it, with
               its change note), then the full monthly report is built: roll-ups brought up to date
               for the 1,000 changed meters + the report over 13 months (M, M-1, M-12, year to date).
               Target: < 5 s. The XLSX and PDF renders are timed on their own.
  4. statements each run: every payer's statement for the month (one payer per building, time-of-use
               electricity from the quarter-hour profiles, water and gas at one price) and their summary,
               from the roll-ups. Target: < 3 s.
Medians of --runs. Shared, noisy 2-core machines: compare figures from one run of this script.

  python -m bench.report                       # 1,000 meters × 365 days, SQLite and InfluxDB
  python -m bench.report --meters 100 --days 60 --stores sqlite   # a quick look
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tqdm import tqdm

from billing.config import BillingSettings
from billing.desk import BillingDesk
from campus.contract import Kind, Reading
from campus.db import DataDir
from campus.model import Campus
from ingest.config import StoreSettings
from ingest.status import PresenceStore
from ingest.stores import ReadingStore, open_store
from reports.config import ReportSettings
from reports.energy import build
from reports.render import render
from reports.usage import Usage
from tests.support.servers import Influx

TZ = ZoneInfo("Asia/Shanghai")
STEP_MS = 900_000
DEPTS = ["teaching", "dormitory", "canteen", "office", "boiler_room"]
FIELD = {Kind.ELECTRICITY: "energy_kwh", Kind.WATER: "volume_m3", Kind.GAS: "volume_m3"}


def campus(meters: int) -> Campus:
    n_buildings = max(1, meters // 25)
    buildings = [{"id": f"b{i}", "name": f"楼{i}", "department": DEPTS[i % len(DEPTS)], "floor_area_m2": 5000,
                  "occupants": 300} for i in range(n_buildings)]
    devices = []
    for i in range(meters):
        kind = "electricity" if i % 10 < 6 else "water" if i % 10 < 9 else "gas"
        devices.append({"id": f"m{i}", "kind": kind, "building": f"b{i % n_buildings}", "interval_s": 900,
                        "rated_capacity": 500})
    return Campus.model_validate({"site": {"id": "bench", "name": "基准校园"}, "buildings": buildings,
                                  "devices": devices,
                                  "targets": {d: {"electricity": 50000, "water": 3000} for d in DEPTS}})


BILLING = """
tariffs:
  - id: tou
    name: 一般工商业分时
    kind: electricity
    versions:
      - from: 2024-01-01
        bands:
          peak:   {price: 1.2950, hours: ["16:00-23:00"]}
          flat:   {price: 0.7000, hours: ["07:00-11:00", "14:00-16:00", "23:00-24:00"]}
          valley: {price: 0.2800, hours: ["00:00-07:00", "11:00-14:00"]}
        sharp: {price: 1.4350, hours: ["18:00-22:00"], months: [1, 7, 8, 12]}
        windows: [{name: deep_valley, price: 0.14, hours: ["09:00-15:00"], days: holiday}]
  - {id: water, name: 非居民用水, kind: water, versions: [{from: 2024-01-01, price: 5.20}]}
  - {id: gas, name: 非居民天然气, kind: gas, versions: [{from: 2024-01-01, price: 3.90}]}
payers:
"""


def billing_file(site: Campus, path: Path) -> Path:
    """One payer per building, paying for its main meters."""
    lines = [BILLING]
    for b in site.buildings:
        lines.append(f"  - {{id: p-{b.id}, name: {b.name}承包方, buildings: [{b.id}], "
                     "tariffs: {electricity: tou, water: water, gas: gas}}\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


def series(i: int, start_ms: int, n: int) -> list[tuple[int, float]]:
    rng = random.Random(i)
    base = rng.uniform(1, 20)
    value = rng.uniform(1000, 50000)
    out = []
    for k in range(n):
        ts = start_ms + k * STEP_MS
        hour = (ts // 3_600_000 + 8) % 24
        value += base * (1.2 + math.sin((hour - 8) / 24 * 2 * math.pi)) * rng.uniform(0.8, 1.2) / 4
        out.append((ts, round(value, 3)))
    return out


def load(store: ReadingStore, site: Campus, start_ms: int, n: int) -> int:
    total = 0
    for i, dev in enumerate(tqdm(site.devices, desc=f"load {store.backend}", unit="meter")):
        points = series(i, start_ms, n)
        readings = [Reading(dev.id, ts, dev.kind, "bench", dev.building, "x", "default", {FIELD[dev.kind]: v})
                    for ts, v in points]
        for j in range(0, len(readings), 20_000):
            store.write(readings[j:j + 20_000])
        total += len(readings)
    return total


def one_more_cycle(store: ReadingStore, presence: PresenceStore, site: Campus, ts: int) -> None:
    """Every meter reports once more, written and noted as ingest does."""
    readings = []
    for dev in site.devices:
        last = store.series("bench", dev.id, dev.kind, FIELD[dev.kind], ts - 2 * STEP_MS, ts)
        value = (last[-1][1] if last else 0.0) + 1.0
        readings.append(Reading(dev.id, ts, dev.kind, "bench", dev.building, "x", "default", {FIELD[dev.kind]: value}))
    store.write(readings)
    presence.record({}, {}, [(r.site, r.device, r.ts) for r in readings])


def run_store(name: str, settings: StoreSettings, work: Path, site: Campus, args: argparse.Namespace,
              results: dict[str, list[float]]) -> None:
    data_dir = work / name
    data_dir.mkdir()
    store = open_store(settings, data_dir)
    presence = PresenceStore(DataDir(data_dir).state)
    usage = Usage(data_dir, store, lambda: {"bench": site}, presence)
    one = usage.site("bench")
    end = datetime(2026, 11, 1, tzinfo=TZ)
    start_ms = int((end - timedelta(days=args.days)).timestamp() * 1000)
    n = args.days * 96
    t = time.perf_counter()
    total = load(store, site, start_ms, n)
    results[f"{name}: load {total:,} readings (s)"] = [time.perf_counter() - t]
    t = time.perf_counter()
    usage.refresh(progress=lambda devs: tqdm(devs, desc=f"roll up {name}", unit="meter"))
    results[f"{name}: one-off roll-up build (s)"] = [time.perf_counter() - t]
    report_settings = ReportSettings()
    desk = BillingDesk(data_dir, BillingSettings(file=billing_file(site, data_dir / "billing.yaml")),
                       lambda: {"bench": site}, usage)
    next_ts = start_ms + n * STEP_MS
    for _ in tqdm(range(args.runs), desc=f"report {name}", unit="run"):
        one_more_cycle(store, presence, site, next_ts)
        next_ts += STEP_MS
        t = time.perf_counter()
        report = build(one, "2026-10", report_settings)
        results.setdefault(f"{name}: monthly report incl. refresh of {len(site.devices)} changed meters (s)",
                           []).append(time.perf_counter() - t)
        t = time.perf_counter()
        report = build(one, "2026-10", report_settings)
        results.setdefault(f"{name}: monthly report, nothing new (s)", []).append(time.perf_counter() - t)
        for fmt in ("xlsx", "pdf"):
            t = time.perf_counter()
            render(report, fmt, report_settings)
            results.setdefault(f"{name}: render {fmt} (s)", []).append(time.perf_counter() - t)
        t = time.perf_counter()
        summary, statements = desk.summary(desk.biller("bench", "2026-10", refresh=False))
        results.setdefault(f"{name}: statements of {len(statements)} payers + summary, from the roll-ups (s)",
                           []).append(time.perf_counter() - t)
    print(f"{name}: site electricity 2026-10 = {report.site_total.figures.electricity_kwh:,.0f} kWh, "
          f"{len(report.completeness)} meters; payers' total {summary.payers_total} 元")
    desk.close()
    usage.close()
    presence.close()
    store.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--meters", type=int, default=1000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--stores", default="sqlite,influxdb")
    ap.add_argument("--workdir", type=Path, default=None, help="default: a temporary directory (removed)")
    args = ap.parse_args()
    site = campus(args.meters)
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        for name in args.stores.split(","):
            if name == "sqlite":
                run_store(name, StoreSettings(), work, site, args, results)
            elif name == "influxdb":
                influx = Influx(work / "influxd")
                influx.start()
                try:
                    run_store(name, StoreSettings(backend="influxdb", url=influx.url, database="bench",
                                                  timeout_s=120), work, site, args, results)
                finally:
                    influx.stop()
    print(f"\n{args.meters} meters × {args.days} days of 15-minute readings; medians of {args.runs} runs")
    for key, values in results.items():
        spread = f"  (runs {min(values):.2f}–{max(values):.2f})" if len(values) > 1 else ""
        print(f"  {key:75} {statistics.median(values):8.2f}{spread}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
