"""``meterwatch token``: API and console tokens, with a role and, optionally, a scope of sites, zones, buildings."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

HELP = "API and console tokens: viewer, electrician, admin; optionally limited to sites, zones, buildings"


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tok = sub.add_parser("token", help=HELP)
    tsub = tok.add_subparsers(dest="action", required=True, metavar="ACTION")
    tc = tsub.add_parser(
        "create", help="make a token and print it (only its hash is kept)",
        description="Roles: viewer reads; electrician also acknowledges and resolves alerts; admin also manages "
                    "devices and dead-letter replay, and, without a scope, tokens. Scope: --site (repeatable) "
                    "limits the token to those sites; --zone and --building (repeatable) narrow it inside them to "
                    "those responsibility zones and buildings. What is outside does not exist for the token (404). "
                    "Without --site, --zone and --building: every site.")
    tc.add_argument("--role", required=True, choices=["viewer", "electrician", "admin"])
    tc.add_argument("--name", required=True, help="who or what uses it, unique (e.g. wang, grafana)")
    tc.add_argument("--site", action="append", default=[], metavar="SITE", help="a site it may see (repeatable)")
    tc.add_argument("--zone", action="append", default=[], metavar="ZONE",
                    help="a responsibility zone (责任区) it may see inside its sites (repeatable)")
    tc.add_argument("--building", action="append", default=[], metavar="BUILDING",
                    help="a building it may see inside its sites (repeatable)")
    tl = tsub.add_parser("list", help="list tokens (names, roles, scopes, last use; never the tokens)")
    tr = tsub.add_parser("revoke", help="revoke a token by name")
    tr.add_argument("name")
    for t in (tc, tl, tr):
        t.add_argument("--config", type=Path, default=None, help="TOML config (for data_dir)")
    tok.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from api.access import Scope, check_scope
    from api.tokens import TokenStore
    from app.registry import open_registry
    from app.settings import load_settings

    settings = load_settings(args.config)
    store = TokenStore(settings.datadir().shared)
    try:
        if args.action == "create":
            scope = Scope.of(args.site, args.zone, args.building)
            registry = open_registry(settings)
            try:
                check_scope(scope, registry)
            finally:
                registry.close()
            token = store.create(args.name, args.role, scope)
            print(f"{args.role} token for {args.name}, seeing {scope.describe()} "
                  f"(shown once, keep it safe · 只显示一次, 请妥善保存):")
            print(token)
        elif args.action == "revoke":
            store.revoke(args.name)
            print(f"revoked 已吊销: {args.name}")
        else:
            for t in store.list():
                used = datetime.fromtimestamp(t.last_used_ms / 1000).isoformat(" ", "minutes") if t.last_used_ms \
                    else "never"
                print(f"{t.id:4}  {t.name:24} {t.role.value:12} last used {used:16}  {t.scope.describe()}")
    finally:
        store.close()
    return 0
