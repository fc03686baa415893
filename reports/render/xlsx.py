"""XLSX: one sheet per view; numbers stored as numbers with a display format, text as text."""

from __future__ import annotations

import io
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from reports.config import ReportSettings
from reports.energy import EnergyReport
from reports.render.energy_tables import Table, spreadsheet_safe, tables


def render(report: EnergyReport, settings: ReportSettings) -> bytes:
    return render_views(tables(report))


def render_views(views: list[Table]) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    for t in views:
        ws = wb.create_sheet(t.title[:31])
        ws.append([spreadsheet_safe(h) for h in t.headers])
        for cell in ws[1]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="center")
        for row in t.rows:
            ws.append([spreadsheet_safe(v) for v in row])
        for col, decimals in enumerate(t.decimals, start=1):
            if decimals is None:
                continue
            number_format = "#,##0" if decimals == 0 else "#,##0." + "0" * decimals
            for (cell,) in ws.iter_rows(min_row=2, min_col=col, max_col=col):
                if isinstance(cell.value, int) and not isinstance(cell.value, bool):
                    cell.number_format = "#,##0"  # a count: no decimals
                elif isinstance(cell.value, float | Decimal):
                    cell.number_format = number_format
        for col, header in enumerate(t.headers, start=1):
            ws.column_dimensions[get_column_letter(col)].width = max(12, min(40, len(header) * 2))
        ws.freeze_panes = "A2"
        if t.note:
            ws.append([])
            ws.append([t.note])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
