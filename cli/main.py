"""The ``meterwatch`` command. Run ``meterwatch --help`` or ``meterwatch COMMAND --help``."""

from __future__ import annotations

import argparse
import re
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from app.samples import sample_campus
from campus.errors import ConfigError, MeterwatchError
from cli import alerts as cli_alerts
from cli import bulletin as cli_bulletin
from cli import credentials as cli_credentials
from cli import deploy as cli_deploy
from cli import grafana as cli_grafana
from cli import ingest as cli_ingest
from cli import report as cli_report
from cli import tokens as cli_tokens

EPILOG = """examples:
  meterwatch demo                                   # everything in one process, sample campus, http://127.0.0.1:8000
  meterwatch serve --config deploy/meterwatch.toml  # against Mosquitto and InfluxDB
  meterwatch ingest --config deploy/meterwatch.toml --client-id ingest-2   # one more ingest worker (shared_group)
  meterwatch simulate --broker mqtt://127.0.0.1:1883 --duration 7d --fault water_leak
  meterwatch devices import 台账.xlsx --config deploy/meterwatch.toml
  meterwatch rules check --roster alerts/sample_roster.yaml   # validate rules and roster, who is on duty now
  meterwatch report energy --month 2026-10 --format xlsx -o 2026-10.xlsx   # the monthly energy report
  meterwatch report district --month 2026-10 -o district-2026-10.pdf       # every site ranked
  meterwatch token create --role electrician --name wang   # an API / console token (shown once)
  meterwatch credentials issue gw-canteen-1 --config /etc/meterwatch/meterwatch.toml   # a gateway's MQTT password
  meterwatch deploy mosquitto --config /etc/meterwatch/meterwatch.toml --reload   # broker passwords and ACL
  meterwatch grafana provision --config /etc/meterwatch/meterwatch.toml --out /etc/grafana/meterwatch
"""


def parse_duration(text: str) -> timedelta:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhdw])", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r}: use a number and a unit, e.g. 90m, 12h, 7d, 2w")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
    return timedelta(**{unit: float(m.group(1))})


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="meterwatch",
        description="meterwatch — 校园水电气与水质在线监测 / campus water, electricity, gas and water-quality "
                    "telemetry: MQTT ingest, a time-series store, an HTTP API and a campus simulator.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
    d.add_argument("--fault", action="append", default=[], metavar="NAME",
                   help="inject a fault (see simulate --list-faults); default water_leak, ph_excursion, over_budget "
                        "and dorm_appliance; "
                        "'none' for a quiet campus")

    s = sub.add_parser("serve", help="run ingest and the HTTP API against a real broker and store",
                       description="Reads a TOML config (see deploy/meterwatch.toml); every key can be overridden "
                                   "by environment, e.g. METERWATCH_MQTT__URL, METERWATCH_STORE__BACKEND.")
    s.add_argument("--config", type=Path, default=None, help="TOML config file")

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

    rl = sub.add_parser("rules", help="check the alert rules and the duty roster")
    rsub = rl.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    chk = rsub.add_parser("check", help="validate the rule file and roster, show who is on duty now",
                          description="Loads [alerts] rules_file and roster_file (defaults: the packaged rules, no "
                                      "roster) against the campus file, reports the first problem with file and "
                                      "line, else lists the rules, the devices each watches and who is on duty.")
    chk.add_argument("--config", type=Path, default=None, help="TOML config")
    chk.add_argument("--rules", type=Path, default=None, help="rule file (overrides the config)")
    chk.add_argument("--roster", type=Path, default=None, help="duty roster (overrides the config)")
    chk.add_argument("--campus", type=Path, default=None, help="campus YAML or directory (overrides the config)")
    chk.add_argument("--site", default=None, help="the site to check (needed when there are several)")

    dev = sub.add_parser("devices", help="manage the device registry")
    dsub = dev.add_subparsers(dest="devices_command", required=True, metavar="ACTION")
    imp = dsub.add_parser("import", help="add or update devices from a meter ledger (CSV or XLSX)",
                          description="Columns: id, kind, building, and optionally name, zone, interval_s, "
                                      "multiplier, rated_capacity, initial_register, role (Chinese headers such "
                                      "as 表号, 类型, 楼栋, 倍率 work too). Nothing is imported if any row is wrong.")
    imp.add_argument("file", type=Path)
    imp.add_argument("--config", type=Path, default=None, help="TOML config (for data_dir)")
    imp.add_argument("--site", default=None, help="the site the ledger's devices belong to (needed when there are "
                                                  "several)")
    cli_credentials.add_commands(sub)
    cli_deploy.add_commands(sub)
    cli_grafana.add_commands(sub)
    cli_alerts.add_commands(sub)
    cli_ingest.add_commands(sub)
    cli_tokens.add_commands(sub)
    cli_report.add_commands(sub)
    cli_bulletin.add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            from cli.run import run_demo

            return run_demo(args)
        if args.command == "serve":
            from cli.run import run_serve

            return run_serve(args.config)
        if args.command == "simulate":
            return _simulate(args)
        if args.command == "devices":
            return _import_devices(args)
        if args.command == "rules":
            return _check_rules(args)
        if args.command == "report":
            return cli_report.run(args)
        if args.command == "token":
            return cli_tokens.run(args)
        if args.command == "credentials":
            return cli_credentials.run(args)
        if args.command == "deploy":
            return cli_deploy.run(args)
        if args.command == "grafana":
            return cli_grafana.run(args)
        if args.command == "alerts":
            return cli_alerts.run(args)
        if args.command == "ingest":
            return cli_ingest.run(args)
        if args.command == "bulletin":
            return cli_bulletin.run(args)
    except MeterwatchError as exc:
        print(f"meterwatch: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 1


def _simulate(args: argparse.Namespace) -> int:
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


def _check_rules(args: argparse.Namespace) -> int:
    import time

    from alerts.roster import DutyRoster, load_rosters, roster_of
    from alerts.rules import RuleBook, load_rules
    from app.settings import load_settings
    from campus.calendar import CampusCalendar
    from campus.model import load_sites

    settings = load_settings(args.config)
    sites = {c.site.id: c for c in load_sites(args.campus or settings.campus.file or sample_campus())}
    if args.site is None and len(sites) > 1:
        raise ConfigError(f"{len(sites)} sites: name one with --site ({', '.join(list(sites)[:8])})")
    campus = sites[args.site] if args.site in sites else next(iter(sites.values())) if args.site is None else None
    if campus is None:
        raise ConfigError(f"no site {args.site!r} (sites: {', '.join(list(sites)[:8])})")
    rules = load_rules(args.rules or settings.alerts.rules_file)
    roster_path = args.roster or settings.alerts.roster_file
    roster = DutyRoster(roster_of(load_rosters(roster_path), campus.site.id), CampusCalendar(campus.calendar),
                        ZoneInfo(campus.site.timezone))
    book = RuleBook(rules, campus)
    print(f"规则 rules: {len(rules.rules)} ({len(book.rules)} enabled)")
    for r in rules.rules:
        watched = sum(1 for d in campus.devices if r in book.by_device[d.id])
        state = "" if r.enabled else "  [停用 disabled]"
        print(f"  {r.id:28} {r.severity.value:8} {r.category.value:7} {watched:3} devices  {r.name.zh}{state}")
    now = int(time.time() * 1000)
    if roster_path is None:
        print("值班表 roster: none — alerts go to MQTT only (set [alerts] roster_file)")
        return 0
    print(f"值班表 roster: {len(roster.people)} people, {len(roster.file.shifts)} shifts, "
          f"{len(roster.file.routes)} routes")
    for zone in campus.zones:
        people = ", ".join(f"{p.name}({p.id})" for p in roster.on_duty(zone.id, now)) or "—"
        print(f"  now on duty 当前值班  {zone.name}: {people}")
    return 0


def _import_devices(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from app.settings import load_settings
    from campus.ledger import read_ledger
    from campus.registry import Registry
    from deploy.mosquitto import keep_broker_current

    settings = load_settings(args.config)
    with tqdm(desc="校验 checking", unit="row") as bar:
        devices = read_ledger(args.file, progress=bar.update)
    registry = Registry(settings.data_dir / "meterwatch.db")
    try:
        added, updated = registry.upsert_devices(devices, args.site)
    finally:
        registry.close()
    print(f"导入完成: 新增 {added}, 更新 {updated} · imported: {added} added, {updated} updated")
    keep_broker_current(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
