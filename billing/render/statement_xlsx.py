"""XLSX of a statement and of the summary: one sheet laid out like the CSV. Money and use are numbers (the
``Decimal`` written as it is) shown with two decimals ('0.00'), registers as read; text is defused
(``spreadsheet_safe``) and cut to what a cell holds.

The same statement gives the same bytes (it is filed with its SHA-256): the document's created and modified
times are the statement's ``generated_at``, and every part of the zip carries one fixed time."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.packaging.core import DocumentProperties
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.xml.functions import tostring

from billing.render import rows as r
from billing.statements import Statement, Summary
from reports.render.energy_tables import spreadsheet_safe

CELL_MAX = 32_767  # characters a cell holds
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
BOLD = Font(bold=True)
WRAP = Alignment(wrap_text=True, vertical="center")


def _value(value: r.Cell) -> r.Cell:
    if isinstance(value, str):
        return str(spreadsheet_safe(value[:CELL_MAX]))
    return value


class _Sheet:
    def __init__(self, ws: Worksheet) -> None:
        self.ws = ws
        self.n = 0  # the last row written (asking the sheet costs a scan of every cell)
        self.widths: dict[int, int] = {}

    def blank(self) -> None:
        self.n += 1

    def row(self, cells: Sequence[r.Cell], formats: Sequence[str | None] = (), bold: bool = False,
            wrap: bool = False) -> None:
        self.n += 1
        for col, value in enumerate(cells, start=1):
            if value is None:
                continue
            cell = self.ws.cell(row=self.n, column=col, value=_value(value))
            fmt = formats[col - 1] if col - 1 < len(formats) else None
            if fmt is not None and cell.data_type == "n":
                cell.number_format = fmt
            if bold:
                cell.font = BOLD
            if wrap:
                cell.alignment = WRAP
            if isinstance(cell.value, str):
                self.widths[col] = max(self.widths.get(col, 10), min(40, len(cell.value) * 2))

    def head(self, pairs: list[tuple[str, str]]) -> None:
        for i, (label, value) in enumerate(pairs):
            self.row([label, value] if value else [label], bold=i == 0)
        self.blank()

    def table(self, title: str | None, columns: Sequence[r.Column], rows: list[list[r.Cell]], language: str,
              freeze: bool = False) -> None:
        if title is not None:
            self.row([title], bold=True)
        self.row([c.title(language) for c in columns], bold=True, wrap=True)
        if freeze:
            self.ws.freeze_panes = f"A{self.n + 1}"
        formats = [c.number_format for c in columns]
        for row in rows:
            self.row(row, formats)

    def done(self) -> None:
        for col, width in self.widths.items():
            self.ws.column_dimensions[get_column_letter(col)].width = width


def _fixed(wb: Workbook, at: dt.datetime) -> bytes:
    """The workbook's bytes, the same each time for the same content: metadata times ``at``, zip times fixed."""
    at = (at.astimezone(dt.UTC) if at.tzinfo is not None else at).replace(tzinfo=None, microsecond=0)
    wb.properties = DocumentProperties(creator="meterwatch", created=at, modified=at)
    raw = io.BytesIO()
    wb.save(raw)  # sets ``modified`` to now: put back below
    core = wb.properties
    core.modified = at
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = tostring(core.to_tree()) if info.filename == "docProps/core.xml" else src.read(info)
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=ZIP_TIME), data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def statement(s: Statement, language: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None  # noqa: S101 - a new workbook has its sheet
    ws.title = r.say(language, "结算单", "statement")
    out = _Sheet(ws)
    out.head(r.statement_head(s, language))
    out.table(None, r.LINE_COLUMNS, [r.line_row(ln, language) for ln in s.lines], language, freeze=True)
    formats = [c.number_format for c in r.LINE_COLUMNS]
    out.row(r.total_row(s, language), formats, bold=True)
    out.row(list(r.in_words(s.total, language)), bold=True)
    if s.events:
        out.blank()
        out.table(r.say(language, "表计事件 (换表/归零)", "Meter events (replacement, reset)"), r.EVENT_COLUMNS,
                  r.event_rows(s, language), language)
    out.done()
    return _fixed(wb, s.generated_at)


def summary(s: Summary, language: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None  # noqa: S101
    ws.title = r.say(language, "汇总", "summary")
    out = _Sheet(ws)
    out.head(r.summary_head(s, language))
    payer_formats = [c.number_format for c in r.PAYER_COLUMNS]
    out.table(None, r.PAYER_COLUMNS, r.payer_rows(s, language), language)
    out.row([r.say(language, "合计", "total"), None, None, s.payers_total], payer_formats, bold=True)
    out.blank()
    out.table(r.say(language, "进线 (供电局/自来水公司/燃气公司计量)", "Incomers (the utility's meters)"),
              r.INCOMER_COLUMNS, r.incomer_rows(s, language), language)
    out.row([r.say(language, "合计", "total"), *[None] * 7, s.incomer_total],
            [c.number_format for c in r.INCOMER_COLUMNS], bold=True)
    out.blank()
    for label, amount in r.summary_totals(s, language):
        out.row([label, amount], [None, "0.00"], bold=True)
    out.done()
    return _fixed(wb, s.generated_at)
