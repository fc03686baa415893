"""``meterwatch alerts run``: the alert engine on its own, for a systemd unit of its own."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

HELP = "run the alert engine by itself (its own unit; set [alerts] external = true for serve)"


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    al = sub.add_parser("alerts", help=HELP)
    asub = al.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    run_parser = asub.add_parser(
        "run", help="evaluate the live stream and notify people until stopped (SIGTERM)",
        description="The same engine serve starts as its child process, run by itself: its own "
                    "MQTT session ([alerts] client_id, username, password), its own store in "
                    "data_dir. With [alerts] external = true, serve leaves it to this command "
                    "and its API reads the alerts from the shared data directory. Start it after "
                    "serve has loaded the campus (the unit orders it so).")
    run_parser.add_argument("--config", type=Path, default=None, help="TOML config")
    al.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import os

    from alerts.roster import load_roster
    from alerts.rules import load_rules
    from alerts.service import AlertService
    from app.settings import load_settings
    from campus.logs import setup_logging

    os.umask(0o077)
    settings = load_settings(args.config)
    setup_logging(settings.log_level)
    load_rules(settings.alerts.rules_file)  # refused with file and line before anything starts
    load_roster(settings.alerts.roster_file)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    service = AlertService(data_dir=settings.data_dir, mqtt=settings.mqtt, settings=settings.alerts,
                           language=settings.language, limits=settings.ingest.limits,
                           plans_file=settings.records.plans_file, state_url=settings.state.url)
    service.start()
    try:
        stop.wait()
    finally:
        service.stop()
    return 0
