"""Meter ledgers (台账) from CSV or XLSX → devices, their meter links and their gateways' buses. All rows valid,
or nothing is imported.

Headers may be English field names or the Chinese column names logistics offices use. A device row may carry its
energy item (分项: a code such as 01A00, or its name, 照明插座用电), its meter link (总线, 协议, 通信地址 or
站号 …) and 人工抄表; buses come from a sheet named 总线 (or ``buses``) of the same workbook, or from a separate
CSV (``meterwatch devices import 台账.csv --buses 总线.csv``), one row per bus (:mod:`campus.ledger_buses`).
Every error names its row and column. Reading the file: :mod:`campus.ledger_sheet`; reading one cell as people type
it: :mod:`campus.ledger_cells`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from campus import ledger_cells as cells
from campus.contract import Kind
from campus.errors import ConfigError
from campus.items import item_shares, item_text
from campus.ledger_buses import GatewayRows, read_buses
from campus.ledger_sheet import at, cells_of, columns_of, said, sheets, summary
from campus.model import Campus, Device

__all__ = ["HEADERS", "GatewayRows", "Ledger", "load_ledger", "read_ledger"]

HEADERS = {
    "id": "id", "表号": "id", "设备编号": "id", "编号": "id",
    "name": "name", "名称": "name", "设备名称": "name",
    "kind": "kind", "类型": "kind", "表类型": "kind",
    "building": "building", "楼栋": "building", "建筑": "building",
    "zone": "zone", "责任区": "zone",
    "interval_s": "interval_s", "上报间隔": "interval_s", "上报间隔(秒)": "interval_s",
    "multiplier": "multiplier", "倍率": "multiplier",
    "rated_capacity": "rated_capacity", "额定容量": "rated_capacity",
    "initial_register": "initial_register", "安装底数": "initial_register", "初始读数": "initial_register",
    "role": "role", "用途": "role",
    "parent": "parent", "上级表": "parent", "总表": "parent",
    "gateway": "gateway", "集中器": "gateway", "集中器编号": "gateway", "网关": "gateway", "DTU": "gateway",
    # the meter link (meter:) and reading by hand
    "bus": "bus", "总线": "bus", "总线名称": "bus", "通道": "bus",
    "protocol": "protocol", "协议": "protocol", "通信协议": "protocol", "通讯协议": "protocol", "规约": "protocol",
    "address": "address", "通信地址": "address", "通讯地址": "address", "表地址": "address",
    "unit": "unit", "站号": "unit", "从站地址": "unit", "从站号": "unit",
    "profile": "profile", "型号模板": "profile", "寄存器模板": "profile",
    "registers": "registers", "寄存器表": "registers",
    "meter_type": "meter_type", "表类型码": "meter_type", "188表类型": "meter_type",
    "manual": "manual", "人工抄表": "manual", "手工抄表": "manual",
    # the energy item (分项能耗): a code (01A00) or its name (照明插座用电)
    "item": "item", "分项": "item", "分项编码": "item", "能耗分项": "item", "分项能耗": "item", "用能分项": "item",
    "分项名称": "item", "能耗分项编码": "item",
}
KINDS = {"电表": "electricity", "水表": "water", "燃气表": "gas", "气表": "gas", "水质": "water_quality"}
KIND_VALUES = {k.value for k in Kind}
METER_FIELDS = ("bus", "protocol", "address", "unit", "profile", "registers", "meter_type")
TEXT_FIELDS = ("id", "name", "building", "zone", "role", "parent", "gateway", "bus", "profile", "item")


@dataclass
class Ledger:
    devices: list[Device] = field(default_factory=list)
    gateways: list[GatewayRows] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # device id → its row
    bus_column: str = "column 'bus'"  # where the device sheet has its bus column, for messages
    padded: int = 0  # addresses whose leading zeros were put back

    @property
    def meters(self) -> Counter[str]:
        """Meter links by protocol."""
        return Counter(d.meter.protocol.value for d in self.devices if d.meter is not None)

    @property
    def manual(self) -> int:
        return sum(1 for d in self.devices if d.manual)

    def check(self, campus: Campus | None) -> None:
        """Each meter link names a bus its gateway has (in this ledger or already in the registry): ConfigError
        naming the row and column otherwise. The registry checks the rest on the whole campus."""
        known = {g.id: {b.name for b in g.buses} for g in (campus.gateways if campus else [])}
        for g in self.gateways:
            known[g.id] = known.get(g.id, set()) | {b.name for b in g.buses}
        old = {d.id: d for d in (campus.devices if campus else [])}
        errors = []
        for dev in self.devices:
            gateway = dev.gateway if "gateway" in dev.model_fields_set else old[dev.id].gateway if dev.id in old \
                else None
            if dev.meter is None or gateway is None:
                continue
            buses = known.get(gateway, set())
            if dev.meter.bus not in buses:
                errors.append(f"row {self.rows.get(dev.id, '?')}, {self.bus_column}: gateway {gateway!r} has no bus "
                              f"{dev.meter.bus!r} (its buses: {', '.join(sorted(buses)) or 'none'}); add the bus on "
                              "the 总线 sheet or with --buses")
        if errors:
            raise ConfigError(summary("the ledger", errors))


def read_ledger(path: Path, progress: Callable[[int], None] | None = None) -> list[Device]:
    """The devices of a ledger (its bus sheet, if any, is read and checked too): :func:`load_ledger`."""
    return load_ledger(path, progress=progress).devices


def load_ledger(path: Path | None, buses: Path | None = None, *, progress: Callable[[int], None] | None = None,
                profiles: Collection[str] | None = None) -> Ledger:
    """Parse and validate every row of a device ledger and of its buses (a sheet 总线/buses of ``path``, or the
    file ``buses``); raise ConfigError naming row and column of each error. ``profiles``: the Modbus profile
    names the gateway ships (None: only the name's shape is checked)."""
    ledger = Ledger()
    if path is None and buses is None:
        raise ConfigError("name a device ledger, a bus file (--buses), or both")
    device_rows: list[list[Any]] | None = None
    bus_rows: list[list[Any]] | None = None
    bus_label = ""
    if path is not None:
        device_rows, bus_rows = sheets(path)
        bus_label = f"{path.name}, sheet 总线"
    if buses is not None:
        if bus_rows is not None:
            raise ConfigError(f"{path} has a bus sheet already; give buses once (the sheet, or --buses {buses})")
        bus_rows, _ = sheets(buses, first_only=True)
        bus_label = buses.name
    if bus_rows is not None:
        ledger.gateways = read_buses(bus_rows, bus_label, progress)
    if device_rows is not None and path is not None:
        _read_devices(device_rows, path, ledger, progress, profiles)
    return ledger

# -- device rows ------------------------------------------------------------------------------------------------
def _read_devices(rows: list[list[Any]], path: Path, ledger: Ledger, progress: Callable[[int], None] | None,
                  profiles: Collection[str] | None) -> None:
    if not rows or not any(v not in (None, "") for v in rows[0]):
        raise ConfigError(f"{path}: empty file; the first row must name the columns (id, kind, building, ...)")
    header = rows[0]
    columns = columns_of(header, HEADERS, str(path))
    ledger.bus_column = at(columns, header, "bus")
    errors: list[str] = []
    for rownum, row in enumerate(rows[1:], start=2):
        if progress:
            progress(1)
        data = cells_of(columns, row)
        if not data:
            continue
        failed: list[str] = []
        data, padded = _device_fields(data, failed, profiles)
        where = [f"row {rownum}, {at(columns, header, fld)}: {msg}" for fld, msg in
                 (f.split("\x00", 1) for f in failed)]
        if where:
            errors.extend(where)
            continue
        try:
            dev = Device.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                fld = _field_of(err["loc"], said(err["msg"]), {c for c in columns if c})
                if err["type"] == "missing":
                    errors.append(f"row {rownum}: no {'.'.join(map(str, err['loc']))}; every row needs id, kind and "
                                  "building, and a meter link its bus and protocol")
                elif fld:
                    errors.append(f"row {rownum}, {at(columns, header, fld)}: {said(err['msg'])} (value "
                                  f"{cells.shown(err.get('input'))})")
                else:
                    errors.append(f"row {rownum}: {said(err['msg'])}")
            continue
        if dev.id in ledger.rows:
            errors.append(f"row {rownum}: device id {dev.id!r} already on row {ledger.rows[dev.id]}")
            continue
        ledger.rows[dev.id] = rownum
        ledger.padded += padded
        ledger.devices.append(dev)
    if errors:
        raise ConfigError(summary(path, errors))


def _device_fields(data: dict[str, Any], failed: list[str], profiles: Collection[str] | None,
                   ) -> tuple[dict[str, Any], int]:
    """The row's cells as Device fields (the meter link gathered under ``meter``); cell errors into ``failed`` as
    'field\\0words'."""
    out: dict[str, Any] = {}
    meter: dict[str, Any] = {}
    padded = 0

    def cell(fld: str, parse: Callable[[Any], Any]) -> Any:
        try:
            return parse(data[fld])
        except ValueError as exc:
            failed.append(f"{fld}\x00{exc}")
            return None

    for fld, value in data.items():
        if fld in TEXT_FIELDS:
            value = cells.text(value)
        (meter if fld in METER_FIELDS else out)[fld] = value
    if isinstance(out.get("kind"), str):
        out["kind"] = KINDS.get(out["kind"], out["kind"])
    if "manual" in out:
        out["manual"] = cell("manual", cells.flag)
    if isinstance(out.get("item"), str) and out.get("kind") in KIND_VALUES:
        try:
            out["item"] = item_text(item_shares(out["item"], Kind(out["kind"])))
        except ValueError as exc:
            failed.append(f"item\x00{exc}")
    if "protocol" in meter:
        meter["protocol"] = cell("protocol", cells.protocol)
    if "address" in meter:
        parsed = cell("address", lambda v: cells.address(v, meter.get("protocol")))
        if parsed is not None:
            meter["address"], was_padded = parsed
            padded += was_padded
    for fld in ("unit", "meter_type"):
        if fld in meter:
            meter[fld] = cell(fld, cells.integer)
    if "registers" in meter:
        meter["registers"] = cell("registers", cells.mapping)
    if "profile" in meter and profiles is not None and isinstance(meter["profile"], str) \
            and meter["profile"] not in profiles:
        failed.append(f"profile\x00unknown profile {meter['profile']!r}; the gateway ships "
                      f"{', '.join(sorted(profiles)) or 'none'} (or give an inline register map in registers)")
    if meter:
        out["meter"] = meter
    return out, padded


def _field_of(loc: tuple[int | str, ...], msg: str, ledger_columns: set[str]) -> str | None:
    """The column a model error is about: the field it names, or for a rule over several fields (a meter link's
    address for its protocol) the first of the ledger's columns the message speaks of."""
    if loc and loc[0] == "meter" and len(loc) > 1 and isinstance(loc[1], str) and loc[1] in METER_FIELDS:
        return str(loc[1])
    if loc and loc[0] != "meter":
        return str(loc[0])
    given = ledger_columns & set(METER_FIELDS) if loc else ledger_columns
    for fld in ("address", "unit", "profile", "registers", "meter_type", "gateway", "bus", "manual", "protocol"):
        if fld in given and re.search(rf"\b{fld}\b", msg):
            return fld
    speaks_of_protocol = re.search(r"\b(dlt645|dlt645_1997|cjt188|modbus)\b", msg)
    return "protocol" if "protocol" in given and (loc or speaks_of_protocol) else None
