"""One ledger cell as people type it, made into what the campus model takes: protocol names as they are written on
nameplates and in tenders, yes/no in Chinese, parity in words, and meter addresses that Excel turned into numbers.

Each function raises ``ValueError`` with words that say what the cell should hold; the reader adds row and column.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, time
from typing import Any

from campus.model import Protocol

# A protocol cell, upper-cased with spaces, '/', '-', '_' and '.' taken out, → the protocol. DL/T 645 without a
# year is the 2007 edition (the one sold since 2007); CJ/T 188 is the 2004 edition: what the 2018 revision changed
# for reading cumulative flow is not checked here, so "CJ/T 188-2018" is refused rather than claimed.
PROTOCOLS: dict[str, Protocol] = {
    **dict.fromkeys(("DLT645", "DLT6452007", "DLT64507", "6452007", "64507", "645", "DLT645V2007", "DLT6452007电表",
                     "DLT6452007协议", "645协议", "DL645", "DL6452007"), Protocol.DLT645),
    **dict.fromkeys(("DLT6451997", "DLT64597", "6451997", "64597", "DL6451997", "DLT6451997协议"),
                    Protocol.DLT645_1997),
    **dict.fromkeys(("CJT188", "CJT1882004", "188", "CJT18804", "1882004", "CJ188", "CJT188协议", "188协议"),
                    Protocol.CJT188),
    **dict.fromkeys(("MODBUS", "MODBUSRTU", "MODBUSTCP", "RTU", "MODBUSRTU协议", "MODBUS协议"), Protocol.MODBUS),
}
PROTOCOL_WORDS = ("645-2007, DL/T645-2007, 645-1997, DL/T645-1997, 188, CJ/T188, modbus, Modbus-RTU, Modbus-TCP, "
                  "or dlt645, dlt645_1997, cjt188, modbus")

YES = {"是", "有", "人工", "√", "✓", "Y", "YES", "TRUE", "1", "T"}
NO = {"否", "无", "不", "×", "✗", "N", "NO", "FALSE", "0", "F"}
PARITY = {"N": "N", "E": "E", "O": "O", "NONE": "N", "EVEN": "E", "ODD": "O", "无": "N", "无校验": "N", "偶": "E",
          "偶校验": "E", "奇": "O", "奇校验": "O", "8N1": "N", "8E1": "E", "8O1": "O"}
# digits on the nameplate, most significant first (DL/T 645-2007 clause 4.2: 6 bytes BCD; CJ/T 188-2004: 7 bytes)
ADDRESS_DIGITS = {Protocol.DLT645: 12, Protocol.DLT645_1997: 12, Protocol.CJT188: 14}


def text(value: Any) -> Any:
    """A text cell: an id typed as a number (Excel keeps 表号 12345 as a number) becomes its digits; a whole float
    too (12345.0). Anything else is left for the model to judge."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return value


def protocol(value: Any) -> str:
    """A protocol as written (``DL/T 645-2007``, ``645-1997``, ``CJ/T188``, ``Modbus-RTU`` …) → its model name."""
    key = re.sub(r"[\s/\-_.—–()（）]", "", str(text(value))).upper()
    if key in PROTOCOLS:
        return PROTOCOLS[key].value
    if "2018" in key and "188" in key:
        raise ValueError(f"{value!r}: CJ/T 188-2018 is not supported yet; meters that also speak the 2004 frames "
                         "are entered as CJ/T188")
    raise ValueError(f"{value!r} is not a protocol meterwatch speaks; write one of {PROTOCOL_WORDS}")


def address(value: Any, proto: str | None) -> tuple[str, bool]:
    """A nameplate address, and whether leading zeros were put back. Excel stores ``000012345678`` typed into a
    number cell as 12345678, and a CSV saved by Excel has lost the zeros the same way: for DL/T 645 (12 digits)
    and CJ/T 188 (14) an address of digits only that is shorter is padded with zeros on the left."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an address")
    if isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer() and value >= 0):
            raise ValueError(f"{value!r}: an address is the digits on the nameplate, e.g. 000012345678 (format "
                             "the column as text in Excel)")
        value = int(value)
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value!r}: an address is the digits on the nameplate, e.g. 000012345678")
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an address")
    value = value.strip().replace(" ", "")
    try:
        digits = ADDRESS_DIGITS.get(Protocol(proto)) if proto else None
    except ValueError:
        digits = None
    if digits and value.isascii() and value.isdigit() and len(value) < digits:
        return value.zfill(digits), True
    return value, False


def flag(value: Any) -> bool:
    """是/否, yes/no, true/false, 1/0, √/× (a checkbox column)."""
    if isinstance(value, bool):
        return value
    key = str(text(value)).strip().upper()
    if key in YES:
        return True
    if key in NO:
        return False
    raise ValueError(f"{value!r}: write 是 or 否 (yes or no)")


def parity(value: Any) -> str:
    """N/E/O, none/even/odd, 无/偶/奇(校验)."""
    key = str(value).strip().upper()
    if key in PARITY:
        return PARITY[key]
    raise ValueError(f"{value!r}: parity is N (无校验), E (偶校验) or O (奇校验)")


def integer(value: Any) -> int:
    """A whole number; ``0x10`` in hex (a CJ/T 188 meter type byte is written so)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        s = value.strip()
        try:
            return int(s, 16) if s.lower().startswith("0x") else int(s)
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a whole number")


def mapping(value: Any) -> Any:
    """A register map written as JSON in one cell: {"energy_kwh": {"address": 0, "type": "uint32", "scale": 0.01}}."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r}: write the register map as JSON, e.g. "
                         '{"energy_kwh": {"address": 0, "type": "uint32", "scale": 0.01}}')
    if len(value) > 4000:
        raise ValueError(f"a register map of {len(value)} characters: at most 4000")
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        raise ValueError(f"{value[:60]!r}: not JSON; write e.g. "
                         '{"energy_kwh": {"address": 0, "type": "uint32", "scale": 0.01}}') from None


def shown(value: Any) -> str:
    """A cell as an error message quotes it: short, and a date as Excel shows it."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    said = repr(value)
    return said if len(said) <= 80 else said[:77] + "..."
