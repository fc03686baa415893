"""``meterwatch demo`` and ``meterwatch serve``: the registration; what they start is in ``cli.run``."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    d = sub.add_parser("demo", help="run everything in one process on the sample campus (no setup)",
                       description="Starts an in-process MQTT broker, the SQLite store, ingest, the HTTP API "
                                   "and a simulated campus that first backfills the past days, then runs live.")
    d.add_argument("--data-dir", type=Path, default=Path("meterwatch-data"),
                   help="where files go (default %(default)s)")
    d.add_argument("--port", type=int, default=8000, help="HTTP port on 127.0.0.1 (default %(default)s)")
    d.add_argument("--mqtt-port", type=int, default=1883, help="embedded broker port; a free one if taken")
    d.add_argument("--days", type=float, default=None,
                   help="days of history to backfill first (default: from the 1st of last month, at least 35)")
    d.add_argument("--verbose", action="store_true", help="JSON log lines on the terminal (default: DATA_DIR/"
                                                          "meterwatch.log; the terminal shows progress and status)")
    d.add_argument("--campus", type=Path, default=None, help="campus YAML (default: the sample campus)")
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("--gateway", action="store_true",
                   help="read the first canteen's meters through the real gateway process: simulated DL/T 645 and "
                        "CJ/T 188 meters on an RS-485 line (a pty) → meterwatch gateway → broker → meterwatch; "
                        "its gas meter does not answer")
    d.add_argument("--fault", action="append", default=[], metavar="NAME",
                   help="inject a fault (see simulate --list-faults); default water_leak, ph_excursion, over_budget "
                        "and dorm_appliance; "
                        "'none' for a quiet campus")

    s = sub.add_parser("serve", help="run ingest and the HTTP API against a real broker and store",
                       description="Reads a TOML config (see deploy/meterwatch.toml); every key can be overridden "
                                   "by environment, e.g. METERWATCH_MQTT__URL, METERWATCH_STORE__BACKEND.")
    s.add_argument("--config", type=Path, default=None, help="TOML config file")
    d.set_defaults(run=_demo)
    s.set_defaults(run=_serve)


def _demo(args: argparse.Namespace) -> int:
    from cli.run import run_demo

    return run_demo(args)


def _serve(args: argparse.Namespace) -> int:
    from cli.run import run_serve

    return run_serve(args.config)
