#!/usr/bin/env python3
"""A bus's poll cycle against its wire time, and the gateway's footprint per meter.

Cycle: 64 simulated DL/T 645-2007 meters on one 2400-baud 8E1 line (a pty paced at the baud by
``meterwatch meters simulate``, run as its own process), polled once each through the gateway's
``FieldBus``: first only the energy register (one transaction a meter), then every field the gateway reads
(energy, power, voltage, current, power factor: five). The wire time is what the line itself needs:
(request + answer bytes) × 11 bits ÷ baud + each meter's answer delay, summed over the transactions. Goal:
cycle ≤ 1.2 × wire time. The cycle also holds the gateway's inter-frame gap (DL/T 645-2007 §7.2: ≥ 20 ms
before each request), which the wire time leaves out.

Footprint: a fresh gateway process (this module, ``footprint``) opens 8 such lines with 63 meters each
(504 meters, the simulator in another process) and reads every meter fully once, a thread per bus as the
gateway does; it reports its RSS (VmRSS, and the peak VmHWM) and the CPU time per meter read. CPU per meter
per hour is that × 4 (a meter read every 15 minutes). Goal: under 60 MiB for 500 meters on one box.

Usage: python -m bench.gateway [--runs 5] [--meters 64] [--baud 2400] [--delay 0.03] [--buses 8]
Prints medians of --runs runs. A script, never a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import selectors
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
GATEWAY = "gw-bench"
BITS = 11  # 8E1: start, 8 data, parity, stop
READS_PER_HOUR = 4  # a meter read every 15 minutes


def campus(buses: int, meters: int, baud: int, serial_dir: Path) -> dict[str, Any]:
    return {
        "site": {"id": "bench", "name": "bench"},
        "buildings": [{"id": "dorm-1", "name": "1号楼", "department": "dormitory", "floor_area_m2": 5000}],
        "gateways": [{"id": GATEWAY, "buses": [
            {"name": f"rs485-{b}", "serial": str(serial_dir / f"ttyBENCH{b}"), "baud": baud, "parity": "E",
             "timeout_ms": 500, "retries": 1} for b in range(buses)]}],
        "devices": [
            {"id": f"m-{b}-{i}", "kind": "electricity", "building": "dorm-1", "gateway": GATEWAY,
             "initial_register": 1000 + i, "role": "dorm_room",
             "meter": {"bus": f"rs485-{b}", "protocol": "dlt645", "address": f"{b + 1:04d}{i + 1:08d}"}}
            for b in range(buses) for i in range(meters)],
    }


class Simulator:
    """``meterwatch meters simulate`` for the bench's gateway, in its own process."""

    def __init__(self, path: Path, serial_dir: Path, delay: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "meters", "simulate", "--campus", str(path), "--gateway", GATEWAY,
             "--serial-dir", str(serial_dir), "--answer-delay", str(delay)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        out = b""
        deadline = time.monotonic() + 120
        stdout = self.proc.stdout
        with selectors.DefaultSelector() as sel:
            if stdout is not None:
                sel.register(stdout, selectors.EVENT_READ)
            while stdout is not None and b"Ctrl-C" not in out and time.monotonic() < deadline:
                if sel.select(1.0):
                    chunk = os.read(stdout.fileno(), 4096)
                    if not chunk:
                        break
                    out += chunk
        if b"Ctrl-C" not in out:
            self.stop()
            raise RuntimeError(f"the simulator did not start: {out.decode(errors='replace')}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _load(path: Path) -> tuple[Any, list[Any]]:
    from campus.model import load_campus

    site = load_campus(path)
    gateway = next(g for g in site.gateways if g.id == GATEWAY)
    return gateway, [d for d in site.devices if d.gateway == GATEWAY]


def cycles(path: Path, runs: int, baud: int, delay: float) -> dict[str, list[tuple[float, float]]]:
    """(cycle s, wire s) of each run: energy only, and every field."""
    from gateway.bus import FieldBus
    from gateway.protocols import dlt645
    from gateway.reading import dlt645_value

    gateway, devices = _load(path)
    bus = FieldBus(GATEWAY, gateway.buses[0], devices)
    di = dlt645.FIELDS["energy_kwh"]
    out: dict[str, list[tuple[float, float]]] = {"energy": [], "all": []}
    with bus:
        bus.read(devices[0])  # warm up: the port opened, the first answer in
        for _ in range(runs):
            wire = 0.0
            start = time.monotonic()
            for device in devices:
                _, raw = dlt645_value(bus.ask, bus.name, device.meter.address, di, 2007)
                wire += (len(dlt645.read_request(device.meter.address, di)) + len(raw)) * BITS / baud + delay
            out["energy"].append((time.monotonic() - start, wire))
            wire = 0.0
            start = time.monotonic()
            for device in devices:
                answer = bus.read(device)
                wire += sum(len(q) + len(a) for q, a in answer.raw) * BITS / baud + delay * len(answer.raw)
            out["all"].append((time.monotonic() - start, wire))
        counters = bus.counters()
    failed = {k: v for k, v in counters.items() if k not in ("frames", "link_opens") and v}
    if failed:
        print(f"  (the bus counted {failed})", file=sys.stderr)
    return out


def _status(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB → MiB
    return 0.0


def footprint(path: Path) -> dict[str, float]:
    """In a fresh process: every meter of every bus read fully once, a thread per bus."""
    from gateway.bus import FieldBus

    rss_start = _status("VmRSS")
    gateway, devices = _load(path)
    buses = [FieldBus(GATEWAY, bus, devices) for bus in gateway.buses]
    failures: list[str] = []

    def poll(bus: FieldBus) -> None:
        for device in bus.devices:
            try:
                bus.read(device)
            except Exception as exc:  # noqa: BLE001 - counted and shown, the bench goes on
                failures.append(str(exc))

    cpu = resource.getrusage(resource.RUSAGE_SELF)
    start = time.monotonic()
    threads = [threading.Thread(target=poll, args=(bus,)) for bus in buses]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    elapsed = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    rss, peak = _status("VmRSS"), _status("VmHWM")
    for bus in buses:
        bus.close()
    cpu_s = (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime)
    return {"meters": len(devices), "buses": len(buses), "rss_mib": rss, "peak_mib": peak,
            "rss_at_start_mib": rss_start, "cpu_s": cpu_s, "elapsed_s": elapsed, "failures": len(failures)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--meters", type=int, default=64, help="meters on the cycle's line (default 64)")
    p.add_argument("--baud", type=int, default=2400)
    p.add_argument("--delay", type=float, default=0.03, help="each meter's answer delay, s (default 0.03)")
    p.add_argument("--buses", type=int, default=8, help="lines of 63 meters for the footprint (default 8)")
    p.add_argument("--footprint", type=Path, default=None, help=argparse.SUPPRESS)  # the child process
    args = p.parse_args()
    if args.footprint is not None:
        print(json.dumps(footprint(args.footprint)))
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        base = Path(tmp)
        path = base / "cycle.yaml"
        path.write_text(yaml.safe_dump(campus(1, args.meters, args.baud, base / "dev")), encoding="utf-8")
        sim = Simulator(path, base / "dev", args.delay)
        try:
            measured = cycles(path, args.runs, args.baud, args.delay)
        finally:
            sim.stop()
        print(f"poll cycle, {args.meters} DL/T 645-2007 meters on one {args.baud}-baud 8E1 pty, "
              f"answer delay {args.delay * 1000:.0f} ms, medians of {args.runs} runs:")
        print(f"{'':28} {'cycle s':>9} {'wire s':>9} {'ratio':>7}  runs")
        for name, label in (("energy", "energy only (1 DI a meter)"), ("all", "every field (5 DIs a meter)")):
            runs = measured[name]
            ratios = [c / w for c, w in runs]
            print(f"{label:28} {statistics.median(c for c, _ in runs):9.2f} "
                  f"{statistics.median(w for _, w in runs):9.2f} {statistics.median(ratios):7.3f}  "
                  f"{min(ratios):.3f}–{max(ratios):.3f}")

        path = base / "footprint.yaml"
        path.write_text(yaml.safe_dump(campus(args.buses, 63, args.baud, base / "fp")), encoding="utf-8")
        sim = Simulator(path, base / "fp", args.delay)
        try:
            child = subprocess.run([sys.executable, "-m", "bench.gateway", "--footprint", str(path)], cwd=ROOT,
                                   capture_output=True, text=True, timeout=900, check=True)
        finally:
            sim.stop()
        fp = json.loads(child.stdout.strip().splitlines()[-1])
        meters = fp["meters"]
        per_read = fp["cpu_s"] / meters
        print(f"\nfootprint: a gateway process reading {meters} meters on {fp['buses']} buses once "
              f"({fp['elapsed_s']:.0f} s, {fp['failures']} failed):")
        print(f"  RSS {fp['rss_mib']:.1f} MiB (peak {fp['peak_mib']:.1f}; {fp['rss_at_start_mib']:.1f} at start), "
              f"{(fp['rss_mib'] - fp['rss_at_start_mib']) * 1024 / meters:.1f} KiB a meter")
        print(f"  CPU {per_read * 1000:.2f} ms a meter read (5 DIs) → {per_read * READS_PER_HOUR * 1000:.1f} ms "
              f"a meter an hour at 15-minute reads; 500 meters: {per_read * READS_PER_HOUR * 500:.1f} CPU-s an "
              f"hour ({per_read * READS_PER_HOUR * 500 / 36:.3f} % of a core)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
