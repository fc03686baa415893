"""A view as a plain table: what CSV, XLSX and PDF all lay out. Cells hold numbers as numbers (XLSX keeps them so);
``decimals`` says how to show each column."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

Cell = str | float | int | Decimal | None  # Decimal: money, 元 to the fen
DASH = "—"  # where there is no figure to show (never a blank that reads as zero)


@dataclass
class Table:
    key: str
    title: str
    headers: list[str]
    rows: list[list[Cell]]
    decimals: list[int | None] = field(default_factory=list)   # None: text
    note: str = ""
