"""``meterwatch upload``: send each configured site's item-coded totals to the data centre (数据上传)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

DESCRIPTION = """\
Sends each configured site's totals per period (15 min to 1 h: [upload] period_min) to a provincial or
municipal data centre: per building (its 10-character code), per energy item (分项能耗编码: 01000, 01A00, …,
02000, 03A00) and per meter, exactly the numbers GET /api/v1/consumption gives for the same buckets.

protocol = "xml": the 导则's TCP protocol (能耗数据远传): this side opens the connection, authenticates with
id_validate (MD5 of the centre's sequence and the shared key), sends heart_beat notify every heartbeat_s and
each period as data report, answered by an ack; AES-128 on data packets (aes = "data") or all (aes = "all")
where the centre requires it. protocol = "json": the same packets POSTed to [upload] url over HTTPS.

Every packet is stored in DATA_DIR/upload.db before it is sent and marked done only on the centre's ack. After
an outage, or a stop of this command, what was not acknowledged goes again, oldest first (断点续传).
Only the sites under [upload.sites.SITE] are sent. Logs are JSON lines on stderr; the key is never logged.
Runs until stopped (Ctrl-C, SIGTERM); --once makes and sends what is due, then exits (for cron or a check).
Under `meterwatch serve`, [upload] enabled = true starts this as a child process."""


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("upload", help="send item-coded totals to the data centre (数据上传, 导则 XML or JSON)",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=None,
                   help="TOML config: data_dir, store, [campus], [upload] (key: METERWATCH_UPLOAD__KEY)")
    p.add_argument("--campus", type=Path, default=None,
                   help="campus file or directory when the data directory has none")
    p.add_argument("--once", action="store_true", help="one pass (make what is due, send what waits), then exit: "
                                                       "0 when nothing waits, 1 when some did not go")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from app.reporting import OfflineUsage
    from app.settings import load_settings
    from campus.logs import setup_logging
    from upload.service import Uploader

    settings = load_settings(args.config)
    setup_logging(settings.log_level)
    settings.upload.check()
    usage = OfflineUsage(settings, args.campus)
    uploader = Uploader(settings.upload, usage, settings.data_dir)
    target = settings.upload.url if settings.upload.protocol == "json" else \
        f"{settings.upload.host}:{settings.upload.port}"
    print(f"数据上传 upload → {target} ({settings.upload.protocol}, every {settings.upload.period_min} min, "
          f"sites {', '.join(settings.upload.sites)})", file=sys.stderr, flush=True)
    try:
        if args.once:
            done = uploader.tick()
            acked, waiting = uploader.outbox.counts()
            print(f"已确认 {done} 包 packets acknowledged now · 待发 {waiting} waiting"
                  + (f" · {uploader.last_error}" if uploader.last_error else ""), file=sys.stderr)
            return 0 if waiting == 0 else 1
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        uploader.run(stop)
        return 0
    finally:
        uploader.close()
        usage.close()
