"""``meterwatch credentials``: broker passwords of gateways and devices (issue, rotate, revoke, list)."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from campus.model import Device
    from deploy.credentials import Credentials

HELP = "broker credentials of gateways and devices (MQTT username = their id)"


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cr = sub.add_parser("credentials", help=HELP, description=(
        "A gateway (集中器/DTU), or a device without one, connects to the broker with its id as the MQTT username "
        "and a secret issued here. The secret is printed once; only its hash is kept, in the form Mosquitto's "
        "password file holds. After a change, run `meterwatch deploy mosquitto --reload` (or set [broker] manage "
        "= true to have it done for you)."))
    csub = cr.add_subparsers(dest="credentials_command", required=True, metavar="ACTION")
    for name, text in (("issue", "make a secret for a gateway or device and print it once"),
                       ("rotate", "replace its secret with a new one, printed once (the old one stops working at "
                                  "the broker's next reload)"),
                       ("revoke", "take its secret away (at the next reload the broker lets it in no more and "
                                  "disconnects it)")):
        c = csub.add_parser(name, help=text)
        c.add_argument("id", help="gateway or device id (see `meterwatch credentials list`)")
        c.add_argument("--config", type=Path, default=None, help="TOML config (for data_dir)")
    ls = csub.add_parser("list", help="every gateway and device that connects, and the state of its credentials "
                                      "(never a secret)")
    ls.add_argument("--config", type=Path, default=None, help="TOML config (for data_dir)")
    cr.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from app.registry import open_registry
    from app.settings import load_settings
    from campus.errors import NotFound
    from deploy.brokerfiles import publishers_of
    from deploy.credentials import Credentials
    from deploy.mosquitto import keep_broker_current

    settings = load_settings(args.config)
    registry = open_registry(settings)
    store = Credentials(settings.datadir().shared)
    try:
        action = args.credentials_command
        if action == "revoke":  # first, whatever the registry says: a revocation must always be recorded
            store.revoke(args.id)
            print(f"已吊销 revoked: {args.id}")
        # who connects, over every site; a name two sites use (a registry from before that was refused) is listed
        # once with both sites' devices, rather than stopping the command
        publishers: dict[str, list[Device]] = {}
        for campus in registry.campuses.values():
            for who, devices in campus.publishers().items():
                publishers.setdefault(who, []).extend(devices)
            for who in campus.dtus():  # a 4G DTU carrying a bus over MQTT logs in as {gateway}.{bus}
                publishers.setdefault(who, [])
        if action == "list":
            _list(publishers, store)
            return 0
        who = args.id
        if action != "revoke" and who not in publishers:
            gateway = next((d.gateway for ds in publishers.values() for d in ds if d.id == who), None)
            if gateway:
                raise NotFound(f"device {who!r} publishes through gateway {gateway!r}: issue credentials for "
                               f"{gateway!r}")
            raise NotFound(f"no gateway or device {who!r} in the registry (meterwatch credentials list shows them)")
        if action != "revoke":
            publishers_of(registry.campuses.values())  # issuing needs one site per name: say which, else
            secret = store.issue(who) if action == "issue" else store.rotate(who)
            print(f"MQTT username {who}; password (shown once, keep it safe · 只显示一次, 请妥善保存):")
            print(secret)
    finally:
        registry.close()
        store.close()
    keep_broker_current(settings)
    return 0


def _list(publishers: dict[str, list[Device]], store: Credentials) -> None:
    known = {c.id: c for c in store.list()}

    def when(ms: int | None) -> str:
        return datetime.fromtimestamp(ms / 1000).isoformat(" ", "minutes") if ms else ""

    print(f"{'id':24} {'devices':>7}  {'state':22} issued / rotated / revoked")
    for who in sorted(set(publishers) | set(known)):
        c = known.get(who)
        state = ("none 未签发" if c is None else "active 有效" if c.active else "revoked 已吊销")
        if who not in publishers:
            state += " (not in registry)"
        times = "" if c is None else " / ".join(when(t) or "–" for t in (c.issued_ms, c.rotated_ms, c.revoked_ms))
        print(f"{who:24} {len(publishers.get(who, [])):7}  {state:22} {times}")
