"""The bus rows of a ledger (a sheet 总线 or a file of its own): one row per bus of a gateway, each reached one way
(serial, tcp, listen, mqtt_up + mqtt_down, modbus_tcp), with the gateway's name and building where a row gives
them. Every error names its row and column."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from campus import ledger_cells as cells
from campus.errors import ConfigError
from campus.ledger_sheet import at, cells_of, columns_of, said, summary
from campus.model import Bus, Gateway

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


@dataclass(frozen=True)
class GatewayRows:
    """What the bus rows say about one gateway: its buses (each added, or replacing the bus of that name), and its
    name and building when a row gives them."""

    id: str
    name: str | None = None
    building: str | None = None
    buses: tuple[Bus, ...] = ()



def read_buses(rows: list[list[Any]], where: str, progress: Callable[[int], None] | None) -> list[GatewayRows]:
    if not rows or not any(v not in (None, "") for v in rows[0]):
        raise ConfigError(f"{where}: empty; the first row must name the columns (gateway, name, serial|tcp|listen|"
                          "mqtt_up+mqtt_down|modbus_tcp, baud, parity, ...)")
    header = rows[0]
    columns = columns_of(header, BUS_HEADERS, where)
    errors: list[str] = []
    found: dict[str, dict[str, Any]] = {}  # gateway → {"name", "building", "buses": {bus: (row, Bus)}, "row"}
    for rownum, row in enumerate(rows[1:], start=2):
        if progress:
            progress(1)
        data = cells_of(columns, row)
        if not data:
            continue
        failed: list[str] = []
        gateway, meta, fields = _bus_fields(data, failed)
        if failed:
            errors.extend(f"row {rownum}, {at(columns, header, f.split(chr(0))[0])}: {f.split(chr(0), 1)[1]}"
                          for f in failed)
            continue
        try:
            bus = Bus.model_validate(fields)
        except ValidationError as exc:
            for err in exc.errors():
                fld = _bus_column(err["loc"], fields)
                errors.append(f"row {rownum}, {at(columns, header, fld)}: {said(err['msg'])} (value "
                              f"{cells.shown(err.get('input'))})" if fld else f"row {rownum}: {said(err['msg'])}")
            continue
        g = found.setdefault(gateway, {"buses": {}, "row": rownum})
        for key in ("name", "building"):
            value = meta.get(key)
            if value is None:
                continue
            if g.get(key) not in (None, value):
                errors.append(f"row {rownum}, {at(columns, header, 'gateway_' + key)}: gateway {gateway!r} has "
                              f"{key} {g[key][0]!r} on row {g[key][1]}")
            else:
                g.setdefault(key, (value, rownum))
        if bus.name in g["buses"]:
            errors.append(f"row {rownum}, {at(columns, header, 'name')}: bus {bus.name!r} of gateway {gateway!r} is "
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
                errors.append(f"row {g['row']}, {at(columns, header, fld)}: {said(err['msg'])} "
                              f"(value {cells.shown(err.get('input'))})")
            continue
        out.append(rows_of)
    if errors:
        raise ConfigError(summary(where, errors))
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
