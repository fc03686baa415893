"""``meterwatch grafana``: the dashboards for a Grafana next to meterwatch (files, or a push to its API)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

HELP = "Grafana dashboards (InfluxDB store): provisioning files or a push through Grafana's API"


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gr = sub.add_parser("grafana", help=HELP, description=(
        "Five dashboards (campus overview, building, device, drinking water with the GB 5749 limits, data health) "
        "over the InfluxDB store, built for Grafana 11.6, and the InfluxQL datasource they use. Daily use comes "
        "from the 'consumption' series meterwatch writes beside the readings: the same totals as the API."))
    gsub = gr.add_subparsers(dest="grafana_command", required=True, metavar="ACTION")
    pv = gsub.add_parser("provision", help="write provisioning files for Grafana to read at start",
                         description="Writes OUT/provisioning/datasources/meterwatch.yaml, "
                                     "OUT/provisioning/dashboards/meterwatch.yaml and OUT/dashboards/*.json. Point "
                                     "Grafana's paths.provisioning (GF_PATHS_PROVISIONING) at OUT/provisioning. "
                                     "Secrets are written as ${METERWATCH_STORE__PASSWORD} / ${METERWATCH_STORE__TOKEN}"
                                     ": give Grafana's process that environment.")
    pv.add_argument("--out", type=Path, required=True, help="directory for the files")
    pv.add_argument("--grafana-dir", type=Path, default=None,
                    help="where Grafana sees OUT, if elsewhere (a container's mount, e.g. /etc/grafana/meterwatch)")
    pu = gsub.add_parser("push", help="create or update the folder, datasource and dashboards through the API",
                         description="Idempotent: everything is matched by uid. Needs a service-account token with "
                                     "the Editor role (Admin to create the datasource). Do not also provision the "
                                     "same dashboards from files: Grafana will not let the API overwrite those.")
    pu.add_argument("--url", required=True, help="Grafana's base URL, e.g. http://127.0.0.1:3000")
    pu.add_argument("--token", default=None, help="service-account token (default: $GRAFANA_TOKEN)")
    for p in (pv, pu):
        p.add_argument("--config", type=Path, default=None, help="TOML config ([store], data_dir, [campus])")
        p.add_argument("--campus", type=Path, default=None, help="campus YAML when the data directory has none")
        p.add_argument("--site", default=None, help="the site the dashboards show (needed when there are several)")
    gr.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from app.reporting import load_campus_for
    from app.settings import load_settings
    from campus.errors import ConfigError
    from deploy.grafana import provision, push

    settings = load_settings(args.config)
    campus = load_campus_for(settings, args.campus, args.site)
    if args.grafana_command == "provision":
        done = provision(settings, campus, args.out, seen_as=args.grafana_dir)
        print(f"已写入 wrote {done.datasource}, {done.provider} and {len(done.dashboards)} dashboards in "
              f"{done.dashboards[0].parent}")
        return 0
    token = args.token or os.environ.get("GRAFANA_TOKEN")
    if not token:
        raise ConfigError("give --token or set GRAFANA_TOKEN (a Grafana service-account token)")
    uids = push(settings, campus, args.url, token)
    print(f"已推送 pushed {len(uids)} dashboards to {args.url}: {', '.join(uids)}")
    return 0
