"""Meter ledgers (台账) from CSV or XLSX → devices. All rows valid, or nothing is imported.

Headers may be English field names or the Chinese column names logistics offices use.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from campus.errors import ConfigError
from campus.model import Device

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
    "gateway": "gateway", "集中器": "gateway", "集中器编号": "gateway", "网关": "gateway", "DTU": "gateway",
}
KINDS = {"电表": "electricity", "水表": "water", "燃气表": "gas", "气表": "gas", "水质": "water_quality"}


def _rows(path: Path) -> Iterator[list[Any]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            yield from csv.reader(fh)
    elif suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=True)
        try:
            for row in wb.worksheets[0].iter_rows(values_only=True):
                yield list(row)
        finally:
            wb.close()
    else:
        raise ConfigError(f"{path}: expected a .csv or .xlsx file")


def read_ledger(path: Path, progress: Callable[[int], None] | None = None) -> list[Device]:
    """Parse and validate every row; raise ConfigError naming row and column of each error."""
    try:
        rows = iter(_rows(path))
        header = next(rows, None)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    if not header:
        raise ConfigError(f"{path}: empty file; the first row must name the columns (id, kind, building, ...)")
    columns: list[str | None] = []
    for i, h in enumerate(header, start=1):
        name = str(h).strip() if h is not None else ""
        if name and name not in HEADERS:
            raise ConfigError(f"{path}: row 1, column {i} {name!r}: unknown column; known: "
                              f"{', '.join(sorted(set(HEADERS.values())))}")
        columns.append(HEADERS.get(name))
    errors: list[str] = []
    devices: list[Device] = []
    seen: dict[str, int] = {}
    for rownum, row in enumerate(rows, start=2):
        if progress:
            progress(1)
        if not any(v not in (None, "") for v in row):
            continue
        data = {col: (v.strip() if isinstance(v, str) else v) for col, v in zip(columns, row, strict=False)
                if col is not None and v not in (None, "")}
        if isinstance(data.get("kind"), str):
            data["kind"] = KINDS.get(data["kind"], data["kind"])
        try:
            dev = Device.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else "row"
                col = next((f"column {i + 1} ({header[i]})" for i, c in enumerate(columns) if c == field),
                           f"column {field!r}")
                errors.append(f"row {rownum}, {col}: {err['msg']} (value {err.get('input')!r})")
            continue
        if dev.id in seen:
            errors.append(f"row {rownum}: device id {dev.id!r} already on row {seen[dev.id]}")
        seen[dev.id] = rownum
        devices.append(dev)
    if errors:
        shown = "\n  ".join(errors[:50])
        more = f"\n  … and {len(errors) - 50} more" if len(errors) > 50 else ""
        raise ConfigError(f"{path}: {len(errors)} error(s), nothing imported:\n  {shown}{more}")
    return devices
