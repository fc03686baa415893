"""``meterwatch ingest``: an ingest-only worker (no HTTP API, no alerts), one of N sharing the stream."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

HELP = "run ingest by itself: one of several workers sharing the stream ([mqtt] shared_group)"
log = logging.getLogger("meterwatch.ingest")


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "ingest", help=HELP,
        description="Subscribes, validates and stores readings exactly as serve does, without the HTTP API or the "
                    "alert engine, until stopped (SIGTERM). With [mqtt] shared_group = NAME every worker of the "
                    "group subscribes through $share/NAME/... and the broker deals the messages out among them; "
                    "writes are idempotent, so a message redelivered to another worker is stored once. Each worker "
                    "needs its own persistent session: its own [mqtt] client_id (--client-id), or, under the "
                    "generated broker configuration (use_username_as_clientid), its own service account "
                    "([broker] service_accounts; --username, password in METERWATCH_MQTT__PASSWORD).")
    p.add_argument("--config", type=Path, default=None, help="TOML config (the same file serve reads)")
    p.add_argument("--client-id", default=None, help="this worker's MQTT client id (overrides [mqtt] client_id)")
    p.add_argument("--username", default=None, help="this worker's broker account (overrides [mqtt] username)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="this worker's spool and dead letters (overrides data_dir; workers on one machine may "
                        "share one)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import os

    from app.samples import sample_campus
    from app.settings import load_settings
    from campus.logs import setup_logging
    from campus.model import load_sites
    from ingest.service import IngestService

    os.umask(0o077)
    settings = load_settings(args.config)
    mqtt = settings.mqtt.model_copy(update={k: v for k, v in (("client_id", args.client_id),
                                                              ("username", args.username)) if v is not None})
    data_dir = args.data_dir or settings.data_dir
    setup_logging(settings.log_level)
    campus = load_sites(settings.campus.file or sample_campus())
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    service = IngestService(data_dir=data_dir, mqtt=mqtt, store=settings.store, ingest=settings.ingest,
                            campus=campus)
    service.start()
    log.info("ingest worker started", extra={"broker": mqtt.url, "client_id": mqtt.client_id,
                                             "shared_group": mqtt.shared_group, "store": settings.store.backend})
    try:
        stop.wait()
    finally:
        service.stop()
    return 0
