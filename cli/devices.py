"""``meterwatch devices import``: the meter ledger (台账) into the registry, with its meter links and buses."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from campus.ledger import Ledger
    from campus.registry import Upserted


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dev = sub.add_parser("devices", help="manage the device registry")
    dsub = dev.add_subparsers(dest="devices_command", required=True, metavar="ACTION")
    imp = dsub.add_parser(
        "import", help="add or update devices (and their gateways' buses) from a meter ledger (CSV or XLSX)",
        description="Columns: id, kind, building, and optionally name, zone, interval_s, multiplier, rated_capacity, "
                    "initial_register, role, parent, gateway; a meter link: bus, protocol, address, unit, profile, "
                    "registers, meter_type; manual (read by hand). Chinese headers such as 表号, 类型, 楼栋, 倍率, "
                    "集中器, 总线, 协议, 通信地址, 站号, 型号模板, 人工抄表 work too. Buses come from a sheet named "
                    "总线 (or buses) of the workbook, or from --buses FILE. Nothing is imported if any row is wrong.")
    imp.add_argument("file", type=Path, nargs="?", default=None, help="the device ledger (.csv or .xlsx)")
    imp.add_argument("--buses", type=Path, default=None,
                     help="a bus table (.csv or .xlsx): gateway, name, serial|tcp|listen|mqtt_up+mqtt_down|"
                          "modbus_tcp, baud, parity, register, heartbeat, timeout_ms, retries (集中器, 总线, 串口, "
                          "波特率, 校验位 …)")
    imp.add_argument("--config", type=Path, default=None, help="TOML config (for data_dir)")
    imp.add_argument("--site", default=None, help="the site the ledger's devices belong to (needed when there are "
                                                  "several)")
    imp.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from app.meter_profiles import known_profiles
    from app.registry import open_registry
    from app.settings import load_settings
    from campus.errors import ConfigError
    from campus.ledger import load_ledger
    from deploy.mosquitto import keep_broker_current

    if args.file is None and args.buses is None:
        raise ConfigError("name a ledger file, --buses FILE, or both (meterwatch devices import 台账.xlsx)")
    settings = load_settings(args.config)
    with tqdm(desc="校验 checking", unit="row") as bar:
        ledger = load_ledger(args.file, args.buses, progress=bar.update, profiles=known_profiles())
    registry = open_registry(settings)
    try:
        try:
            campus = registry.site(args.site)
        except ConfigError:
            campus = None  # several sites and none named: the import says so below
        if campus is not None:
            ledger.check(campus)
        done = registry.upsert(ledger.devices, ledger.gateways, args.site)
    finally:
        registry.close()
    print(summary(ledger, done))
    keep_broker_current(settings)
    return 0


def summary(ledger: Ledger, done: Upserted) -> str:
    """What an import did, zh-CN first, then English."""
    meters = ", ".join(f"{p} {n}" for p, n in sorted(ledger.meters.items()))
    links = sum(ledger.meters.values())
    lines = [f"导入完成: 新增 {done.added}, 更新 {done.updated} · imported: {done.added} added, {done.updated} updated",
             f"表计连接 {links} 个 ({meters or '无'}), 人工抄表 {ledger.manual} 个 · meter links: {links}"
             f"{f' ({meters})' if meters else ''}, read by hand: {ledger.manual}"]
    if ledger.gateways:
        lines.append(f"总线: 新增 {done.buses_added}, 更新 {done.buses_replaced}, 新集中器 {done.gateways_added} · "
                     f"buses: {done.buses_added} added, {done.buses_replaced} replaced, on "
                     f"{len(ledger.gateways)} gateway(s) ({done.gateways_added} new)")
    if ledger.padded:
        lines.append(f"{ledger.padded} 个表地址按数字输入, 已补齐前导零 · {ledger.padded} address(es) typed as "
                     "numbers: leading zeros put back (format the column as text in Excel to keep them)")
    return "\n".join(lines)
