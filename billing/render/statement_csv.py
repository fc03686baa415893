"""CSV of a statement and of the summary: a header block (label, value), a blank row, then each table (its header
row, its rows, its total); UTF-8 with a BOM, like the reports, so Excel on a Chinese desktop opens it.

Money and use are written exactly as the statement holds them (``Decimal``: ``1456.00``), registers as read; text
that a spreadsheet would run as a formula is defused (``spreadsheet_safe``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from decimal import Decimal

from billing.render import rows as r
from billing.statements import Statement, Summary
from reports.render.energy_tables import spreadsheet_safe


def text(value: r.Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, float):
        return repr(value)
    return str(spreadsheet_safe(value))


class _Sheet:
    def __init__(self) -> None:
        self.buf = io.StringIO()
        self.out = csv.writer(self.buf, lineterminator="\r\n")

    def row(self, cells: Sequence[r.Cell]) -> None:
        self.out.writerow([text(c) for c in cells])

    def head(self, pairs: list[tuple[str, str]]) -> None:
        for label, value in pairs:
            self.row([label, value] if value else [label])
        self.out.writerow([])

    def table(self, title: str | None, columns: Sequence[r.Column], rows: list[list[r.Cell]], language: str) -> None:
        if title is not None:
            self.row([title])
        self.row([c.title(language) for c in columns])
        for row in rows:
            self.row(row)

    def bytes(self) -> bytes:
        return ("\ufeff" + self.buf.getvalue()).encode("utf-8")


def statement(s: Statement, language: str) -> bytes:
    out = _Sheet()
    out.head(r.statement_head(s, language))
    out.table(None, r.LINE_COLUMNS, [r.line_row(ln, language) for ln in s.lines], language)
    out.row(r.total_row(s, language))
    out.row(list(r.in_words(s.total, language)))
    if s.events:
        out.out.writerow([])
        out.table(r.say(language, "表计事件 (换表/归零)", "Meter events (replacement, reset)"), r.EVENT_COLUMNS,
                  r.event_rows(s, language), language)
    return out.bytes()


def summary(s: Summary, language: str) -> bytes:
    out = _Sheet()
    out.head(r.summary_head(s, language))
    out.table(None, r.PAYER_COLUMNS, r.payer_rows(s, language), language)
    out.row([r.say(language, "合计", "total"), None, None, s.payers_total])
    out.out.writerow([])
    out.table(r.say(language, "进线 (供电局/自来水公司/燃气公司计量)", "Incomers (the utility's meters)"),
              r.INCOMER_COLUMNS, r.incomer_rows(s, language), language)
    out.row([r.say(language, "合计", "total"), *[None] * 7, s.incomer_total])
    out.out.writerow([])
    for label, amount in r.summary_totals(s, language):
        out.row([label, amount])
    return out.bytes()
