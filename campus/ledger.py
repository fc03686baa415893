"""Meter ledgers (台账) from CSV or XLSX → devices, their meter links and their gateways' buses. All rows valid,
or nothing is imported.

Headers may be English field names or the Chinese column names logistics offices use. A device row may carry its
meter link (总线, 协议, 通信地址 or 站号 …) and 人工抄表; buses come from a sheet named 总线 (or ``buses``) of the
same workbook, or from a separate CSV (``meterwatch devices import 台账.csv --buses 总线.csv``), one row per bus.
Every error names its row and column.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from campus import ledger_cells as cells
from campus.errors import ConfigError
from campus.model import Bus, Campus, Device, Gateway

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
}
BUS_HEADERS = {
    "gateway": "gateway", "集中器": "gateway", "集中器编号": "gateway", "网关": "gateway", "DTU": "gateway",
    "gateway_name": "gateway_name", "集中器名称": "gateway_name", "网关名称": "gateway_name",
    "gateway_building": "gateway_building", "集中器楼栋": "gateway_building", "安装楼栋": "gateway_building",
    "name": "name", "bus": "name", "总线": "name", "总线名称": "name", "通道": "name",
    "serial": "serial", "串口": "serial",
    "tcp": "tcp", "TCP地址": "tcp", "服务器地址": "tcp",
    "listen": "listen", "监听地址": "listen",
    "mqtt_up": "mqtt_up", "上行主题": "mqtt_up",
    "mqtt_down": "mqtt_down", "下行主题": "mqtt_down",
    "modbus_tcp": "modbus_tcp", "ModbusTCP地址": "modbus_tcp", "Modbus TCP地址": "modbus_tcp",
    "baud": "baud", "波特率": "baud",
    "parity": "parity", "校验位": "parity", "校验": "parity",
    "stopbits": "stopbits", "停止位": "stopbits",
    "register": "register", "注册包": "register",
    "heartbeat": "heartbeat", "心跳包": "heartbeat",
    "timeout_ms": "timeout_ms", "超时(毫秒)": "timeout_ms", "超时": "timeout_ms",
    "retries": "retries", "重试次数": "retries", "重试": "retries",
}
KINDS = {"电表": "electricity", "水表": "water", "燃气表": "gas", "气表": "gas", "水质": "water_quality"}
BUS_SHEETS = ("总线", "buses", "bus", "总线表")
METER_FIELDS = ("bus", "protocol", "address", "unit", "profile", "registers", "meter_type")
TEXT_FIELDS = ("id", "name", "building", "zone", "role", "parent", "gateway", "bus", "profile")
MAX_ERRORS = 50


def _unreadable() -> tuple[type[BaseException], ...]:
    from openpyxl.utils.exceptions import InvalidFileException

    # what openpyxl lets out of a workbook that is not one: a broken zip or deflate stream, XML that does not
    # parse (xml.etree's ParseError is a SyntaxError), parts missing or of the wrong type
    return (zipfile.BadZipFile, zlib.error, InvalidFileException, SyntaxError, KeyError, ValueError, TypeError,
            IndexError, AttributeError, EOFError)


UNREADABLE = _unreadable()
UNREADABLE_FILE: tuple[type[BaseException], ...] = (OSError, *UNREADABLE)


@dataclass(frozen=True)
class GatewayRows:
    """What the bus rows say about one gateway: its buses (each added, or replacing the bus of that name), and its
    name and building when a row gives them."""

    id: str
    name: str | None = None
    building: str | None = None
    buses: tuple[Bus, ...] = ()


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
            raise ConfigError(_summary("the ledger", errors))


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
        device_rows, bus_rows = _sheets(path)
        bus_label = f"{path.name}, sheet 总线"
    if buses is not None:
        if bus_rows is not None:
            raise ConfigError(f"{path} has a bus sheet already; give buses once (the sheet, or --buses {buses})")
        bus_rows, _ = _sheets(buses, first_only=True)
        bus_label = buses.name
    if bus_rows is not None:
        ledger.gateways = _read_buses(bus_rows, bus_label, progress)
    if device_rows is not None and path is not None:
        _read_devices(device_rows, path, ledger, progress, profiles)
    return ledger


# -- files ------------------------------------------------------------------------------------------------------
def _sheets(path: Path, first_only: bool = False) -> tuple[list[list[Any]], list[list[Any]] | None]:
    """(device rows, bus rows or None) of a CSV or XLSX file: in a workbook, the sheet named 总线/buses holds the
    buses and the first other sheet the devices."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv(path), None
    if suffix not in (".xlsx", ".xlsm"):
        raise ConfigError(f"{path}: expected a .csv or .xlsx file")
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UNREADABLE as exc:
        raise ConfigError(f"{path}: not a readable .xlsx workbook ({exc}); save it again from Excel or WPS") from exc
    try:  # a read-only workbook parses each sheet's XML as its rows are read
        sheets = list(wb.worksheets)
        bus_sheet = None if first_only else next(
            (s for s in sheets if s.title.strip().lower() in BUS_SHEETS), None)
        main = next((s for s in sheets if s is not bus_sheet), None)
        devices = [] if main is None else [list(r) for r in main.iter_rows(values_only=True)]
        bus = None if bus_sheet is None else [list(r) for r in bus_sheet.iter_rows(values_only=True)]
    except UNREADABLE_FILE as exc:
        raise ConfigError(f"{path}: not a readable .xlsx workbook ({exc}); save it again from Excel or WPS") from exc
    finally:
        wb.close()
    if bus_sheet is not None and main is None:
        return [], bus
    return devices, bus


def _csv(path: Path) -> list[list[Any]]:
    """A CSV in UTF-8 (with or without the BOM Excel writes), or in GB18030/GBK as Chinese Excel saves it."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            content = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ConfigError(f"{path}: neither UTF-8 nor GBK text; save the sheet as CSV (UTF-8)")
    try:
        return [list(r) for r in csv.reader(io.StringIO(content, newline=""))]
    except csv.Error as exc:
        raise ConfigError(f"{path}: not a readable CSV ({exc}); save the sheet as CSV (UTF-8) again") from exc


def _columns(header: list[Any], known: dict[str, str], where: str) -> list[str | None]:
    columns: list[str | None] = []
    folded = {k.lower(): v for k, v in known.items()}
    for i, h in enumerate(header, start=1):
        name = _header(h)
        if not name:
            columns.append(None)
            continue
        col = known.get(name) or folded.get(name.lower())
        if col is None:
            raise ConfigError(f"{where}: row 1, column {i} {name!r}: unknown column; known: "
                              f"{', '.join(sorted(set(known.values())))}")
        if col in columns:
            raise ConfigError(f"{where}: row 1, column {i} {name!r}: column {col} is given twice "
                              f"(column {columns.index(col) + 1} too)")
        columns.append(col)
    return columns


def _header(h: Any) -> str:
    name = str(h).strip() if h is not None else ""
    return re.sub(r"\s+", " ", name.replace("（", "(").replace("）", ")"))


def _cells(columns: list[str | None], row: list[Any]) -> dict[str, Any]:
    return {col: (v.strip() if isinstance(v, str) else v) for col, v in zip(columns, row, strict=False)
            if col is not None and v is not None and not (isinstance(v, str) and not v.strip())}


def _at(columns: list[str | None], header: list[Any], fld: str) -> str:
    for i, c in enumerate(columns):
        if c == fld:
            return f"column {i + 1} ({_header(header[i])})"
    return f"column {fld!r}"


def _said(msg: str) -> str:
    return msg.removeprefix("Value error, ")


def _summary(where: object, errors: list[str]) -> str:
    shown = "\n  ".join(errors[:MAX_ERRORS])
    more = f"\n  … and {len(errors) - MAX_ERRORS} more" if len(errors) > MAX_ERRORS else ""
    return f"{where}: {len(errors)} error(s), nothing imported:\n  {shown}{more}"


# -- device rows ------------------------------------------------------------------------------------------------
def _read_devices(rows: list[list[Any]], path: Path, ledger: Ledger, progress: Callable[[int], None] | None,
                  profiles: Collection[str] | None) -> None:
    if not rows or not any(v not in (None, "") for v in rows[0]):
        raise ConfigError(f"{path}: empty file; the first row must name the columns (id, kind, building, ...)")
    header = rows[0]
    columns = _columns(header, HEADERS, str(path))
    ledger.bus_column = _at(columns, header, "bus")
    errors: list[str] = []
    for rownum, row in enumerate(rows[1:], start=2):
        if progress:
            progress(1)
        data = _cells(columns, row)
        if not data:
            continue
        failed: list[str] = []
        data, padded = _device_fields(data, failed, profiles)
        where = [f"row {rownum}, {_at(columns, header, fld)}: {msg}" for fld, msg in
                 (f.split("\x00", 1) for f in failed)]
        if where:
            errors.extend(where)
            continue
        try:
            dev = Device.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                fld = _field_of(err["loc"], _said(err["msg"]), {c for c in columns if c})
                if err["type"] == "missing":
                    errors.append(f"row {rownum}: no {'.'.join(map(str, err['loc']))}; every row needs id, kind and "
                                  "building, and a meter link its bus and protocol")
                elif fld:
                    errors.append(f"row {rownum}, {_at(columns, header, fld)}: {_said(err['msg'])} (value "
                                  f"{cells.shown(err.get('input'))})")
                else:
                    errors.append(f"row {rownum}: {_said(err['msg'])}")
            continue
        if dev.id in ledger.rows:
            errors.append(f"row {rownum}: device id {dev.id!r} already on row {ledger.rows[dev.id]}")
            continue
        ledger.rows[dev.id] = rownum
        ledger.padded += padded
        ledger.devices.append(dev)
    if errors:
        raise ConfigError(_summary(path, errors))


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


# -- bus rows ---------------------------------------------------------------------------------------------------
def _read_buses(rows: list[list[Any]], where: str, progress: Callable[[int], None] | None) -> list[GatewayRows]:
    if not rows or not any(v not in (None, "") for v in rows[0]):
        raise ConfigError(f"{where}: empty; the first row must name the columns (gateway, name, serial|tcp|listen|"
                          "mqtt_up+mqtt_down|modbus_tcp, baud, parity, ...)")
    header = rows[0]
    columns = _columns(header, BUS_HEADERS, where)
    errors: list[str] = []
    found: dict[str, dict[str, Any]] = {}  # gateway → {"name", "building", "buses": {bus: (row, Bus)}, "row"}
    for rownum, row in enumerate(rows[1:], start=2):
        if progress:
            progress(1)
        data = _cells(columns, row)
        if not data:
            continue
        failed: list[str] = []
        gateway, meta, fields = _bus_fields(data, failed)
        if failed:
            errors.extend(f"row {rownum}, {_at(columns, header, f.split(chr(0))[0])}: {f.split(chr(0), 1)[1]}"
                          for f in failed)
            continue
        try:
            bus = Bus.model_validate(fields)
        except ValidationError as exc:
            for err in exc.errors():
                fld = _bus_column(err["loc"], fields)
                errors.append(f"row {rownum}, {_at(columns, header, fld)}: {_said(err['msg'])} (value "
                              f"{cells.shown(err.get('input'))})" if fld else f"row {rownum}: {_said(err['msg'])}")
            continue
        g = found.setdefault(gateway, {"buses": {}, "row": rownum})
        for key in ("name", "building"):
            value = meta.get(key)
            if value is None:
                continue
            if g.get(key) not in (None, value):
                errors.append(f"row {rownum}, {_at(columns, header, 'gateway_' + key)}: gateway {gateway!r} has "
                              f"{key} {g[key][0]!r} on row {g[key][1]}")
            else:
                g.setdefault(key, (value, rownum))
        if bus.name in g["buses"]:
            errors.append(f"row {rownum}, {_at(columns, header, 'name')}: bus {bus.name!r} of gateway {gateway!r} is "
                          f"already on row {g['buses'][bus.name][0]}")
            continue
        g["buses"][bus.name] = (rownum, bus)
    out = []
    for gateway, g in found.items():
        rows_of = GatewayRows(gateway, g.get("name", (None,))[0], g.get("building", (None,))[0],
                              tuple(b for _, b in g["buses"].values()))
        try:
            Gateway(id=gateway, name=rows_of.name or "", building=rows_of.building, buses=list(rows_of.buses))
        except ValidationError as exc:
            for err in exc.errors():
                fld = {"id": "gateway", "name": "gateway_name", "building": "gateway_building"}.get(
                    str(err["loc"][0]) if err["loc"] else "", "gateway")
                errors.append(f"row {g['row']}, {_at(columns, header, fld)}: {_said(err['msg'])} "
                              f"(value {cells.shown(err.get('input'))})")
            continue
        out.append(rows_of)
    if errors:
        raise ConfigError(_summary(where, errors))
    return out


def _bus_fields(data: dict[str, Any], failed: list[str]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(gateway id, {name, building} of the gateway, Bus fields) of a bus row."""
    gateway = cells.text(data.pop("gateway", None))
    if not isinstance(gateway, str):
        failed.append("gateway\x00name the gateway (集中器) this bus belongs to, e.g. gw-canteen-1")
        gateway = ""
    meta = {"name": cells.text(data.pop("gateway_name", None)), "building": cells.text(data.pop("gateway_building",
                                                                                                 None))}
    fields: dict[str, Any] = {}
    for fld, value in data.items():
        try:
            if fld in ("baud", "stopbits", "timeout_ms", "retries"):
                fields[fld] = cells.integer(value)
            elif fld == "parity":
                fields[fld] = cells.parity(value)
            else:
                fields[fld] = cells.text(value)
        except ValueError as exc:
            failed.append(f"{fld}\x00{exc}")
    up, down = fields.pop("mqtt_up", None), fields.pop("mqtt_down", None)
    if up is not None or down is not None:
        if up is None or down is None:
            failed.append(f"{'mqtt_down' if up is not None else 'mqtt_up'}\x00a 4G DTU over MQTT needs both topics: "
                          "mqtt_up (its answers) and mqtt_down (requests to it)")
        fields["mqtt"] = {"up": up, "down": down}
    return gateway, meta, fields


def _bus_column(loc: tuple[int | str, ...], fields: dict[str, Any]) -> str | None:
    if not loc:
        return None
    head = str(loc[0])
    if head == "mqtt":
        return f"mqtt_{loc[1]}" if len(loc) > 1 and loc[1] in ("up", "down") else "mqtt_up"
    if head in ("registration", "register"):
        return "register"
    return head if head in fields or head in BUS_HEADERS.values() else None
