"""``meterwatch state``: the shared state on PostgreSQL (``[state] url``): copy a data directory into it, check it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from campus.copy import StoreTables
    from campus.db import DataDir

HELP = "the shared state on PostgreSQL ([state] url): move a campus's data directory into it, check it"


def shared_stores() -> list[StoreTables]:
    """What ``[state] url`` moves to the server today, store by store: the registry, tokens, broker credentials;
    alerts with their events, engine state, outbox, emergency plans' runs and drills."""
    from alerts import store as alerts
    from api import tokens
    from campus import registry
    from campus.copy import StoreTables
    from deploy import credentials

    return [StoreTables("registry", registry.MIGRATIONS, ("sites", "registry_version")),
            StoreTables("tokens", tokens.MIGRATIONS, ("tokens",)),
            StoreTables("credentials", credentials.MIGRATIONS, ("credentials",)),
            StoreTables("alerts", alerts.MIGRATIONS, (
                "alerts", "alert_events", "engine_device_state", "engine_rule_state", "outbox", "meta",
                "evaluation_failures", "plan_runs", "plan_steps", "drills", "drill_records"), file="alerts")]


def _adopted(source: DataDir) -> None:
    """Alerts from before sites get their site first (as the alert desk gives it them at start): the copy then
    holds every alert and the engine's state by site."""
    from alerts.store import AlertStore
    from campus.registry import Registry

    registry, store = Registry(source.state), AlertStore(source.alerts)
    try:
        if store.unadopted() and len(registry.campuses) == 1:
            store.adopt(next(iter(registry.campuses)))
    finally:
        registry.close()
        store.close()


def _same_ack_key(source: DataDir) -> None:
    """Acknowledge links already sent stay good: the data directory's signing key (alerts.key) goes into the
    alerts' meta, copied with them, where every host of the cluster reads it."""
    from alerts.store import AlertStore

    if not source.alerts_key.is_file():
        return
    store = AlertStore(source.alerts)
    try:
        store.meta_once("ack_link_key", source.alerts_key.read_text().strip())
    finally:
        store.close()


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    st = sub.add_parser("state", help=HELP, description=(
        "With [state] url the registry (sites, buildings, devices, gateways), the API tokens' hashes, the broker "
        "credentials' hashes and the alerts (with their events, the engine's state and the outbox) live in "
        "PostgreSQL, one truth for every API host and alert process naming the same url. Without it they stay in "
        "meterwatch.db and alerts.db in the data directory. The password comes from PGPASSWORD or ~/.pgpass, or "
        "the whole url from METERWATCH_STATE__URL; it is never printed."))
    ssub = st.add_subparsers(dest="state_command", required=True, metavar="ACTION")
    mg = ssub.add_parser("migrate", help="copy a data directory's shared state into PostgreSQL; safe to run again",
                         description=(
        "Copies the registry, tokens and broker credentials (meterwatch.db) and the alerts (alerts.db, with the "
        "key that signs acknowledge links) of DATA_DIR into the PostgreSQL "
        "database, each store in one transaction, and reads them back: for every table it prints the rows and a "
        "SHA-256 on both sides, and fails (exit 1) if they differ. A table is copied only into an empty one; a "
        "table holding exactly DATA_DIR's rows already is left as it is, so running it again (or after an "
        "interruption) is safe; a table holding other rows (changed on the server since) is refused, never "
        "overwritten. Stop the API hosts that use DATA_DIR first, so nothing changes there while it copies. The "
        "data directory is left as it was (its schema brought up to date, as serve would)."),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    mg.add_argument("--from", dest="source", type=Path, required=True, metavar="DATA_DIR",
                    help="the data directory to copy (the one holding meterwatch.db)")
    mg.add_argument("--to", dest="target", default=None, metavar="URL",
                    help="postgresql://USER@HOST:5432/DATABASE (default: [state] url of --config, or "
                         "METERWATCH_STATE__URL); leave the password out of it: PGPASSWORD or ~/.pgpass")
    mg.add_argument("--config", type=Path, default=None, help="TOML config (for [state] url)")
    st.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sqlite3

    from pydantic import ValidationError
    from tqdm import tqdm

    from app.settings import StateSettings, load_settings
    from campus.copy import copy_store
    from campus.db import DataDir
    from campus.errors import ConfigError
    from campus.serverdb import redacted

    target = args.target or load_settings(args.config).state.url
    if not target:
        raise ConfigError("say where to copy to: --to postgresql://USER@HOST:5432/DATABASE, or [state] url in "
                          "--config, or METERWATCH_STATE__URL")
    try:
        target = StateSettings(url=target).url
    except ValidationError as exc:
        raise ConfigError(str(exc.errors()[0]["msg"]).removeprefix("Value error, ")) from None
    assert target is not None  # noqa: S101 - validated just above
    source = DataDir(args.source)
    if not source.state.is_file():
        raise ConfigError(f"{args.source} holds no meterwatch.db: give the data directory (data_dir) to copy")
    server = DataDir(args.source, target)
    print(f"复制 copying {args.source} → {redacted(target)}")
    if source.alerts.is_file():
        _adopted(source)
        _same_ack_key(source)
    results = []
    with tqdm(unit=" rows", desc="state", leave=False) as bar:
        for spec in shared_stores():
            local, shared = source.where(spec.file)[0], server.where(spec.file)[1]
            if not local.is_file():
                continue  # no alerts.db: a data directory whose alert engine never ran
            try:
                results += copy_store(local, shared, spec, progress=bar.update)
            except sqlite3.Error as exc:  # a value PostgreSQL will not take as SQLite kept it
                raise ConfigError(f"{spec.store}: the copy stopped and nothing of {spec.store} was written: {exc}"
                                  ) from None
    width = max(len(f"{c.store}.{c.table}") for c in results)
    print(f"{'table':<{width}}  {'rows':>7}  {'on server':>9}  sha256 (data dir)  sha256 (server)   same")
    for c in results:
        print(f"{c.store + '.' + c.table:<{width}}  {c.rows:>7}  {c.server_rows:>9}  {c.checksum[:16]}  "
              f"{c.server_checksum[:16]}  {'✓' if c.same else '✗ DIFFERENT'}"
              f"{'' if c.copied else '  (there already)'}")
    if not all(c.same for c in results):
        print("有表不一致 a table differs: the data directory is unchanged; look at the server's rows (a value "
              "PostgreSQL stores otherwise, e.g. text in an integer column)")
        return 1
    print(f"完成 done: {sum(c.rows for c in results)} rows in {len(results)} tables, each the same on both sides. "
          f"Now set [state] url on every host.")
    return 0
