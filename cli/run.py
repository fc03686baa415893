"""Long-running commands: ``serve`` (real broker and store) and ``demo`` (everything in process)."""

from __future__ import annotations

import argparse
import copy
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import uvicorn

from alerts.roster import load_roster
from alerts.rules import load_rules
from api.app import build_alerts, build_service, create_app, server_options
from app.settings import load_settings
from campus.db import DataDir, private_dir
from campus.logs import LOG_FILE_ENV, setup_logging
from campus.model import load_campus, load_sites
from ingest.service import IngestService
from simulators.model import Publication, Simulation

log = logging.getLogger("meterwatch")
# alerts to look at on the first screen: a night leak (critical), drinking water out of GB 5749 (red on the
# water board), a canteen over its month's target (a red progress bar) and a kettle in a dorm room each evening
DEMO_FAULTS = ["water_leak", "ph_excursion", "over_budget", "dorm_appliance"]
MIN_BACKFILL_DAYS = 35
BACKFILL_BATCH = 96  # readings a message while backfilling: a day of a 15-minute meter, as a gateway sends a backlog


# demo --gateway: the first canteen's meters on a simulated RS-485 line, read by the real gateway process
DEMO_GATEWAY = "gw-canteen-1"
DEMO_METERS = {"c1-elec": {"protocol": "dlt645", "address": "000000000101"},
               "c1-water": {"protocol": "cjt188", "address": "00000001020000"},
               "c1-gas": {"protocol": "cjt188", "address": "00000001030000"}}
DEMO_SILENT = "c1-gas"  # does not answer: the first screen shows it, with the reason


def gateway_campus(doc: dict[str, Any], data_dir: Path) -> dict[str, Any]:
    """The campus with :data:`DEMO_GATEWAY`'s meters on one RS-485 bus (a pty linked at DATA_DIR/ttyDEMO0)."""
    doc = copy.deepcopy(doc)
    for gw in doc["gateways"]:
        if gw["id"] == DEMO_GATEWAY:
            gw["buses"] = [{"name": "rs485-1", "serial": str(data_dir.resolve() / "ttyDEMO0")}]
    for dev in doc["devices"]:
        if dev["id"] in DEMO_METERS:
            dev["meter"] = {"bus": "rs485-1", **DEMO_METERS[dev["id"]]}
    return doc


class WithoutMeters(Simulation):
    """The simulated campus without the meters a real gateway reads (they publish through it instead)."""

    skip: frozenset[str] = frozenset(DEMO_METERS)

    def publications(self) -> Iterator[Publication]:
        return (p for p in super().publications() if p.device not in self.skip)


def start_gateway(data_dir: Path, campus_file: Path, mqtt_url: str) -> subprocess.Popen[bytes]:
    """``meterwatch gateway`` as a child process, with a config written to DATA_DIR/gateway/gateway.toml."""
    home = private_dir(data_dir / "gateway")
    config = home / "gateway.toml"
    config.write_text(f'data_dir = "{home.resolve()}"\n[mqtt]\nurl = "{mqtt_url}"\n[campus]\n'
                      f'file = "{campus_file.resolve()}"\n[gateway]\nid = "{DEMO_GATEWAY}"\n'
                      "backfill_days = 62\nbackfill_per_read = 62\n", encoding="utf-8")  # every freeze at once
    return subprocess.Popen([sys.executable, "-m", "cli", "gateway", "--config", str(config)])  # noqa: S603 - ours


def backfill_days(now: datetime) -> float:
    """From the 1st of last month (its report complete), and at least 35 days (last week, this month)."""
    first = (now.replace(day=1) - timedelta(days=1)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return max(MIN_BACKFILL_DAYS, (now - first).total_seconds() / 86_400)


class Counter:
    """Publications so far (the simulator's progress callback; read by the terminal thread)."""

    def __init__(self) -> None:
        self.n = 0

    def add(self, k: int) -> None:
        self.n += k


def show_progress(sim: Simulation, now: datetime, published: Counter, caught_up: threading.Event,
                  service: IngestService, data_dir: Path, stop: threading.Event) -> None:
    """A progress bar while the past is backfilled, then one status line that updates."""
    from tqdm import tqdm

    from alerts.store import AlertStore

    now_ms = int(now.timestamp() * 1000)
    expected = sum(max(0, now_ms - sim.start_ms) // (int(d.get("interval_s", 900)) * 1000) for d in sim.devices)
    with tqdm(total=expected, desc="回填 backfilling", unit="reading", dynamic_ncols=True) as bar:
        while not caught_up.wait(0.5) and not stop.is_set():
            bar.update(min(published.n, expected) - bar.n)
        bar.update(expected - bar.n)
    store = AlertStore(DataDir(data_dir).alerts)
    try:
        while not stop.wait(2.0):
            line = (f"已存储 {service.counters.stored:,} 条读数 readings stored · "
                    f"未关闭告警 {store.count_matching(status='open', drills=False)} open alerts")
            print(f"\r{line}   ", end="", flush=True)
    finally:
        store.close()
        print(flush=True)


def run_serve(config: Path | None) -> int:
    from app.samples import sample_campus

    os.umask(0o077)  # whatever this process creates is the service's alone (as UMask=0077 in the unit)
    settings = load_settings(config)
    setup_logging(settings.log_level)
    campus = load_sites(settings.campus.file or sample_campus())
    if settings.alerts.enabled:  # refuse bad rule and roster files before anything starts
        load_rules(settings.alerts.rules_file)
        load_roster(settings.alerts.roster_file)
    if settings.upload.enabled:
        settings.upload.check()  # a missing key or site is refused before anything starts
    app = create_app(settings, campus=campus)
    log.info("serving", extra={"api": f"http://{settings.api.host}:{settings.api.port}",
                               "broker": settings.mqtt.url, "store": settings.store.backend})
    uploader = start_uploader(config) if settings.upload.enabled else None
    try:
        uvicorn.run(app, host=settings.api.host, port=settings.api.port, **server_options(settings))
    finally:
        if uploader is not None:
            stop_child(uploader)
    return 0


def start_uploader(config: Path | None) -> subprocess.Popen[bytes]:
    """``meterwatch upload`` as a child process over the same config (and environment: the key stays there)."""
    argv = [sys.executable, "-m", "cli", "upload"] + (["--config", str(config)] if config is not None else [])
    return subprocess.Popen(argv)  # noqa: S603 - our own command


def stop_child(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM, 30 s to finish, then SIGKILL: the demo's gateway and serve's uploader."""
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(30)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(5)


def demo_admin_token(data_dir: Path) -> str:
    """A fresh admin token named demo-admin for this run (the previous run's is revoked)."""
    from api.tokens import TokenStore

    store = TokenStore(DataDir(data_dir).state)
    try:
        if any(t.name == "demo-admin" for t in store.list()):
            store.revoke("demo-admin")
        return store.create("demo-admin", "admin")
    finally:
        store.close()


def run_demo(args: argparse.Namespace) -> int:
    from app.samples import free_port, sample_billing, sample_campus, sample_plans, sample_roster
    from cli.mailbox import Mailbox
    from ingest.broker import EmbeddedBroker
    from simulators.model import Simulation, load_campus_doc
    from simulators.publisher import publish

    campus_file = args.campus or sample_campus()
    if args.gateway:  # the same campus, the canteen's meters linked to a bus of their gateway
        import yaml

        from campus.errors import ConfigError

        if args.campus is not None:
            raise ConfigError("--gateway wires the sample campus's first canteen to a simulated RS-485 line; "
                              "leave out --campus (your own campus: meterwatch meters simulate and meterwatch gateway)")

        private_dir(args.data_dir)
        wired = args.data_dir / "campus-gateway.yaml"
        wired.write_text(yaml.safe_dump(gateway_campus(load_campus_doc(campus_file), args.data_dir),
                                        allow_unicode=True, sort_keys=False), encoding="utf-8")
        campus_file = wired
    mqtt_port = free_port("127.0.0.1", args.mqtt_port)
    smtp_port = free_port("127.0.0.1", 0)
    data_dir: Path = args.data_dir
    private_dir(data_dir)
    # the sample duty roster, its e-mail pointed at a local mailbox (data_dir/mailbox/*.eml)
    roster = data_dir / "roster.yaml"
    roster.write_text(sample_roster().read_text(encoding="utf-8").replace("127.0.0.1:25?", f"127.0.0.1:{smtp_port}?"),
                      encoding="utf-8")
    settings = load_settings(None, data_dir=data_dir, mqtt={"url": f"mqtt://127.0.0.1:{mqtt_port}"},
                             api={"port": args.port},
                             alerts={"roster_file": roster, "public_url": f"http://127.0.0.1:{args.port}"},
                             # the sample campus's emergency plans (应急预案); your own campus: write yours
                             records={"plans_file": sample_plans() if args.campus is None else None},
                             # the sample campus's tariffs and payers (浙江 prices); your own campus: none
                             billing={"file": sample_billing() if args.campus is None else None})
    log_file = DataDir(data_dir).log
    if not args.verbose:  # JSON log lines to a file (children inherit it); the terminal shows progress and status
        os.environ[LOG_FILE_ENV] = str(log_file)
    setup_logging("INFO")
    broker = EmbeddedBroker("127.0.0.1", mqtt_port).start()
    mailbox = Mailbox(data_dir / "mailbox", smtp_port).start()
    service = build_service(settings, load_campus(campus_file))
    service.start()
    alerts = build_alerts(settings)
    if alerts is not None:
        alerts.start()
    doc = load_campus_doc(campus_file)
    tz = ZoneInfo(doc["site"].get("timezone", "Asia/Shanghai"))
    now = datetime.now(tz)
    days = args.days if args.days is not None else backfill_days(now)
    faults = [] if args.fault == ["none"] else args.fault or DEMO_FAULTS
    sim = (WithoutMeters if args.gateway else Simulation)(
        doc, start=now - timedelta(days=days), end=now + timedelta(days=365), seed=args.seed, faults=faults)
    meters, gateway = None, None
    if args.gateway:  # simulated meters → the real gateway process → the broker
        from simulators.meters import SimulatedGateway

        meters = SimulatedGateway(doc, DEMO_GATEWAY, seed=args.seed)
        meters.start()
        meters.meter(DEMO_SILENT).no_answer(True)
        gateway = start_gateway(data_dir, campus_file, f"mqtt://127.0.0.1:{mqtt_port}")
    stop, caught_up = threading.Event(), threading.Event()
    published = Counter()
    sim_thread = threading.Thread(target=publish, args=(sim, f"mqtt://127.0.0.1:{mqtt_port}"),
                                  kwargs={"live": True, "stop": stop, "caught_up": caught_up,
                                          "progress": published.add, "backfill_batch": BACKFILL_BATCH},
                                  name="mw-simulator", daemon=True)
    sim_thread.start()
    base = f"http://127.0.0.1:{args.port}"
    token = demo_admin_token(data_dir)
    print(f"""meterwatch 演示 demo
  web console 控制台        {base}/#token={token}
  admin token 管理员令牌    {token}
    (send it as 'Authorization: Bearer <token>'; viewer and electrician tokens: meterwatch token create)
  MQTT broker (in process)  mqtt://127.0.0.1:{mqtt_port}   topics campus/{doc['site']['id']}/+/reading
  store (SQLite)            {settings.data_dir / 'readings.db'}
  simulated campus          {campus_file.name}: {len(doc['devices'])} devices, {days:g} days backfilled, then live
  HTTP API                  {base}/api/v1/devices   ·   docs {base}/docs   ·   health {base}/api/v1/health
  alerts                    {base}/api/v1/alerts   ·   rules {base}/api/v1/rules
  injected faults           {', '.join(faults) or 'none'}   (--fault NAME, or --fault none)
  field gateway 现场网关     {f"{DEMO_GATEWAY} reads {', '.join(DEMO_METERS)} on a simulated RS-485 line "
                             f"({data_dir / 'ttyDEMO0'}); {DEMO_SILENT} does not answer"
                             if args.gateway else 'off (--gateway)'}
  e-mail to whoever is on duty (sample roster) lands in {data_dir / 'mailbox'}/*.eml
  logs                      {'this terminal (--verbose)' if args.verbose else log_file}
  try: curl -H "Authorization: Bearer {token}" {base}/api/v1/consumption?group_by=building
Ctrl-C to stop.""", flush=True)
    terminal = threading.Thread(target=show_progress, name="mw-terminal", daemon=True,
                                args=(sim, now, published, caught_up, service, data_dir, stop))
    terminal.start()
    app = create_app(settings, service=service, alerts=alerts)
    try:
        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", **server_options(settings))
    finally:
        stop.set()
        if gateway is not None:
            stop_child(gateway)
        if meters is not None:
            meters.stop()
        sim_thread.join(10)
        terminal.join(5)
        if alerts is not None:
            alerts.stop()
        service.stop()
        mailbox.stop()
        broker.stop()
    return 0
