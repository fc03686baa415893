"""The ``meterwatch`` command. Run ``meterwatch --help`` or ``meterwatch COMMAND --help``.

Each command group is a module of this package with ``add_commands(sub)``, which adds its parsers and sets
``run`` on each (``set_defaults(run=...)``); ``main`` calls ``args.run(args)``."""

from __future__ import annotations

import argparse
import sys

from campus.errors import MeterwatchError
from cli import (
    alerts,
    billing,
    bulletin,
    credentials,
    deploy,
    devices,
    gateway,
    grafana,
    ingest,
    meters,
    report,
    rules,
    serve,
    simulate,
    state,
    tokens,
    upload,
)

GROUPS = (serve, simulate, rules, devices, credentials, deploy, grafana, alerts, ingest, tokens, report, bulletin,
          billing, meters, gateway, upload, state)

EPILOG = """examples:
  meterwatch demo                                   # everything in one process, sample campus, http://127.0.0.1:8000
  meterwatch serve --config deploy/meterwatch.toml  # against Mosquitto and InfluxDB
  meterwatch ingest --config deploy/meterwatch.toml --client-id ingest-2   # one more ingest worker (shared_group)
  meterwatch simulate --broker mqtt://127.0.0.1:1883 --duration 7d --fault water_leak
  meterwatch devices import 台账.xlsx --config deploy/meterwatch.toml
  meterwatch rules check --roster alerts/sample_roster.yaml   # validate rules and roster, who is on duty now
  meterwatch report energy --month 2026-10 --format xlsx -o 2026-10.xlsx   # the monthly energy report
  meterwatch report district --month 2026-10 -o district-2026-10.pdf       # every site ranked
  meterwatch upload --config /etc/meterwatch/meterwatch.toml   # totals to the provincial data centre (数据上传)
  meterwatch billing check billing/sample_billing.yaml   # tariffs and payers against the campus
  meterwatch billing statement --month 2026-10 --payer canteen-op-1 -o 结算单.pdf   # a payer's statement
  meterwatch token create --role electrician --name wang   # an API / console token (shown once)
  meterwatch credentials issue gw-canteen-1 --config /etc/meterwatch/meterwatch.toml   # a gateway's MQTT password
  meterwatch deploy mosquitto --config /etc/meterwatch/meterwatch.toml --reload   # broker passwords and ACL
  meterwatch state migrate --from /var/lib/meterwatch --to postgresql://meterwatch@db:5432/meterwatch   # shared state
  meterwatch grafana provision --config /etc/meterwatch/meterwatch.toml --out /etc/grafana/meterwatch
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="meterwatch",
        description="meterwatch — 校园水电气与水质在线监测 / campus water, electricity, gas and water-quality "
                    "telemetry: MQTT ingest, a time-series store, an HTTP API and a campus simulator.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for group in GROUPS:
        group.add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except MeterwatchError as exc:
        print(f"meterwatch: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
