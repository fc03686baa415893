"""A ledger file as rows: CSV (UTF-8 or GBK) or XLSX (the device sheet and a bus sheet), headers mapped to field
names, and errors gathered with their row and column. Nothing here knows what a row means."""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any

from campus.errors import ConfigError

BUS_SHEETS = ("总线", "buses", "bus", "总线表")
MAX_ERRORS = 50


def _unreadable() -> tuple[type[BaseException], ...]:
    from openpyxl.utils.exceptions import InvalidFileException

    # what openpyxl lets out of a workbook that is not one: a broken zip or deflate stream, XML that does not
    # parse (xml.etree's ParseError is a SyntaxError), parts missing or of the wrong type
    return (zipfile.BadZipFile, zlib.error, InvalidFileException, SyntaxError, KeyError, ValueError, TypeError,
            IndexError, AttributeError, EOFError)


UNREADABLE = _unreadable()
UNREADABLE_FILE: tuple[type[BaseException], ...] = (OSError, *UNREADABLE)
def sheets(path: Path, first_only: bool = False) -> tuple[list[list[Any]], list[list[Any]] | None]:
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


def columns_of(header: list[Any], known: dict[str, str], where: str) -> list[str | None]:
    columns: list[str | None] = []
    folded = {k.lower(): v for k, v in known.items()}
    for i, h in enumerate(header, start=1):
        name = header_name(h)
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


def header_name(h: Any) -> str:
    name = str(h).strip() if h is not None else ""
    return re.sub(r"\s+", " ", name.replace("（", "(").replace("）", ")"))


def cells_of(columns: list[str | None], row: list[Any]) -> dict[str, Any]:
    return {col: (v.strip() if isinstance(v, str) else v) for col, v in zip(columns, row, strict=False)
            if col is not None and v is not None and not (isinstance(v, str) and not v.strip())}


def at(columns: list[str | None], header: list[Any], fld: str) -> str:
    for i, c in enumerate(columns):
        if c == fld:
            return f"column {i + 1} ({header_name(header[i])})"
    return f"column {fld!r}"


def said(msg: str) -> str:
    return msg.removeprefix("Value error, ")


def summary(where: object, errors: list[str]) -> str:
    shown = "\n  ".join(errors[:MAX_ERRORS])
    more = f"\n  … and {len(errors) - MAX_ERRORS} more" if len(errors) > MAX_ERRORS else ""
    return f"{where}: {len(errors)} error(s), nothing imported:\n  {shown}{more}"
