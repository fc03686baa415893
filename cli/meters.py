"""``meterwatch meters simulate``: the meters of one gateway as hardware — ptys, serial servers, DTUs and
Modbus TCP — for a real gateway (``meterwatch gateway``) to read. Runs until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

FAULTS: dict[str, str] = {
    "no_answer": "the meter does not answer / 表计不应答",
    "garbled": "its answers have a wrong checksum / 应答校验和错误",
    "noise": "noise bytes on the line before each answer / 应答前线路噪声",
    "slow": "answers after 0.6 s instead of the usual delay / 应答慢 (0.6 s)",
    "replaced": "replaced by a meter with the next address and a register from 0 / 换表: 新地址, 读数从 0 起",
    "bus_down": "the whole bus is down (DEVICE is the bus name) / 整条总线断开 (填总线名)",
}
SLOW_S = 0.6

EPILOG = """faults (--fault NAME:DEVICE, repeatable) / 故障:
""" + "\n".join(f"  {name:10} {words}" for name, words in FAULTS.items()) + """

examples:
  meterwatch meters simulate --campus campus.yaml --gateway gw-canteen-1 --serial-dir /tmp/meters
  meterwatch meters simulate --campus campus.yaml --gateway gw-dorm-1 --broker mqtt://127.0.0.1:1883 \\
      --fault no_answer:d1-r101 --fault bus_down:rs485-2
then point `meterwatch gateway` (or `meterwatch gateway read`) at the same campus file.
"""


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    meters = sub.add_parser("meters", help="simulated meter hardware (DL/T 645, CJ/T 188, Modbus)",
                            description="模拟表计硬件 / simulated meter hardware for a gateway to read.")
    cmds = meters.add_subparsers(dest="meters_command", required=True, metavar="COMMAND")
    sim = cmds.add_parser(
        "simulate", help="run one gateway's buses and meters until Ctrl-C",
        description="运行一个网关的全部总线与表计, 直到 Ctrl-C。/ Runs every bus of one gateway of the campus "
                    "file with its meters: a serial bus is a pty (a symlink at its serial: path, or in "
                    "--serial-dir), a tcp bus a serial server listening there, a listen bus a DTU dialling "
                    "in, an mqtt bus a 4G DTU on --broker, a modbus_tcp bus a Modbus TCP server. The meters "
                    "answer with the registers of the simulated campus (deterministic for --seed), keep "
                    "62 daily freezes and can be made to fail (--fault).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sim.add_argument("--campus", type=Path, required=True, metavar="FILE", help="the campus YAML file")
    sim.add_argument("--gateway", required=True, metavar="ID", help="which gateway's buses to simulate")
    sim.add_argument("--broker", default=None, metavar="URL",
                     help="mqtt://HOST:PORT, for the buses reached through an MQTT DTU")
    sim.add_argument("--serial-dir", type=Path, default=None, metavar="DIR",
                     help="make each serial bus's symlink in DIR (named as its serial: path's last part) "
                          "instead of at the path itself, e.g. to leave /dev alone")
    sim.add_argument("--fault", action="append", default=[], metavar="NAME:DEVICE",
                     help="a fault from the start; repeatable (see below)")
    sim.add_argument("--seed", type=int, default=1, help="the simulated campus's seed (default %(default)s)")
    sim.add_argument("--answer-delay", type=float, default=0.03, metavar="SECONDS",
                     help="how long a meter takes to answer (default %(default)s s; real meters 0.02-0.1)")
    sim.set_defaults(run=run)


def _next_address(address: str) -> str:
    """The address one above (DL/T 645: decimal digits; CJ/T 188: hex digits), same width."""
    base = 10 if address.isdigit() and len(address) == 12 else 16
    width = len(address)
    value = (int(address, base) + 1) % (base ** width)
    return f"{value:0{width}d}" if base == 10 else f"{value:0{width}X}"


def _apply(gateway: Any, spec: str) -> None:
    name, _, target = spec.partition(":")
    if name not in FAULTS or not target:
        raise ValueError(f"--fault {spec!r}: write NAME:DEVICE with NAME one of {', '.join(FAULTS)}")
    if name == "bus_down":
        gateway.bus_down(target)
        return
    meter = gateway.meter(target)
    if name == "no_answer":
        meter.no_answer()
    elif name == "garbled":
        meter.garbled()
    elif name == "noise":
        meter.noise()
    elif name == "slow":
        meter.slow(SLOW_S)
    elif name == "replaced":
        meter.replace(_next_address(meter.address) if meter.address else meter.address)


def run(args: argparse.Namespace) -> int:
    from simulators.meters import SimulatedGateway
    from simulators.model import load_campus_doc

    try:
        doc = load_campus_doc(args.campus)
    except (OSError, ValueError) as exc:
        print(f"meterwatch meters simulate: {exc}", file=sys.stderr)
        return 2
    if args.serial_dir is not None:
        for gw in doc.get("gateways") or []:
            for bus in gw.get("buses") or []:
                if bus.get("serial"):
                    bus["serial"] = str(args.serial_dir / Path(str(bus["serial"])).name)
    try:
        gateway = SimulatedGateway(doc, args.gateway, seed=args.seed, mqtt_url=args.broker,
                                   answer_delay_s=args.answer_delay)
        for spec in args.fault:
            _apply(gateway, spec)
    except (KeyError, ValueError) as exc:
        print(f"meterwatch meters simulate: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        try:
            gateway.start()
        except (OSError, TimeoutError) as exc:
            print(f"meterwatch meters simulate: cannot start the buses: {exc}", file=sys.stderr)
            return 2
        print(f"模拟表计 / simulated meters of {args.gateway}:", flush=True)
        for name, where in gateway.where().items():
            meters = gateway.buses[name].meters
            listed = ", ".join(f"{m.device_id} {m.protocol} {m.address or m.link.get('unit', '')}".strip()
                               for m in meters) or "no meters / 无表计"
            print(f"  {name}: {where}\n      {listed}", flush=True)
        if args.fault:
            print(f"  故障 / faults: {', '.join(args.fault)}", flush=True)
        print("按 Ctrl-C 停止 / Ctrl-C to stop", flush=True)
        try:
            while not stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
        print("停止 / stopping", flush=True)
        return 0
    finally:
        gateway.stop()
        signal.signal(signal.SIGTERM, previous)
