"""``meterwatch simulate``: publish a simulated campus over MQTT."""

from __future__ import annotations

import argparse
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from app.samples import sample_campus
from campus.durations import parse_seconds
from campus.errors import ConfigError


def parse_duration(text: str) -> timedelta:
    """``--duration``: the one duration grammar (campus.durations), e.g. 90m, 12h, 7d, 2w, 1d12h."""
    try:
        return timedelta(seconds=parse_seconds(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = sub.add_parser("simulate", help="publish a simulated campus over MQTT",
                         description="Publishes readings of a realistic campus (school calendar, meal times, "
                                     "dorm evenings) with optional faults. Deterministic for a seed.")
    sim.add_argument("--broker", default="mqtt://127.0.0.1:1883",
                     help="mqtt://HOST:PORT, or mqtts://HOST:PORT for TLS (default %(default)s)")
    sim.add_argument("--credentials", type=Path, default=None, metavar="FILE",
                     help="YAML of gateway (or device) id: secret; each gateway then publishes as itself")
    sim.add_argument("--cafile", type=Path, default=None, help="mqtts: the CA of the broker's certificate")
    sim.add_argument("--campus", type=Path, default=None, help="campus YAML (default: the sample campus)")
    sim.add_argument("--speed", type=float, default=0.0,
                     help="simulated seconds per second; 0 = as fast as possible (default)")
    sim.add_argument("--live", action="store_true", help="backfill up to now at full speed, then follow the clock")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--duration", type=parse_duration, default=timedelta(days=1), help="e.g. 12h, 7d (default 1d)")
    sim.add_argument("--start", default=None, help="ISO date/time in the site timezone (default: now − duration)")
    sim.add_argument("--topic-prefix", default="campus")
    sim.add_argument("--fault", action="append", default=[], metavar="NAME[:DEVICE]",
                     help="inject a fault; repeatable; --list-faults shows them")
    sim.add_argument("--list-faults", action="store_true", help="list the faults and exit")
    sim.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from simulators.faults import FAULTS
    from simulators.model import Simulation, load_campus_doc
    from simulators.publisher import publish

    if args.list_faults:
        for name, text in FAULTS.items():
            print(f"{name:22} {text}")
        return 0
    doc = load_campus_doc(args.campus or sample_campus())
    tz = ZoneInfo(doc["site"].get("timezone", "Asia/Shanghai"))
    if args.start:
        start = datetime.fromisoformat(args.start)
        start = start if start.tzinfo else start.replace(tzinfo=tz)
    else:
        start = datetime.now(tz) - args.duration
    try:
        sim = Simulation(doc, start=start, end=start + args.duration, seed=args.seed, faults=args.fault,
                         prefix=args.topic_prefix)
    except ValueError as exc:
        print(f"meterwatch simulate: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    with tqdm(desc="发布 publishing", unit="reading") as bar:
        try:
            tally = publish(sim, args.broker, speed=args.speed, live=args.live, progress=bar.update, stop=stop,
                            credentials=_secrets(args.credentials), cafile=str(args.cafile) if args.cafile else None)
        except OSError as exc:
            print(f"meterwatch simulate: cannot reach broker {args.broker}: {exc}", file=sys.stderr)
            return 2
        except ValueError as exc:
            print(f"meterwatch simulate: {exc}", file=sys.stderr)
            return 2
    print(f"已发布 {tally.published} 条消息, 含 {tally.readings} 条读数 · published {tally.published} messages "
          f"carrying {tally.readings} readings: {tally.by_what}")
    return 0


def _secrets(path: Path | None) -> dict[str, str] | None:
    if path is None:
        return None
    import yaml

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read credentials file {path}: {exc}") from exc
    if not isinstance(doc, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in doc.items()):
        raise ConfigError(f"{path}: expected lines of 'gateway-id: secret'")
    return doc
