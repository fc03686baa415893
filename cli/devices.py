"""``meterwatch devices import``: the meter ledger (台账) into the registry."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    imp.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from app.registry import open_registry
    from app.settings import load_settings
    from campus.ledger import read_ledger
    from deploy.mosquitto import keep_broker_current

    settings = load_settings(args.config)
    with tqdm(desc="校验 checking", unit="row") as bar:
        devices = read_ledger(args.file, progress=bar.update)
    registry = open_registry(settings)
    try:
        added, updated = registry.upsert_devices(devices, args.site)
    finally:
        registry.close()
    print(f"导入完成: 新增 {added}, 更新 {updated} · imported: {added} added, {updated} updated")
    keep_broker_current(settings)
    return 0
