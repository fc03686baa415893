"""CSV: every view one after another (title line, header, rows, blank line); UTF-8 with a BOM so
Excel on a Chinese Windows desktop opens it without mojibake."""

from __future__ import annotations

import csv
import io

from reports.config import ReportSettings
from reports.energy import EnergyReport
from reports.render.energy_tables import Table, spreadsheet_safe, tables


def render(report: EnergyReport, settings: ReportSettings) -> bytes:
    return render_views(tables(report))


def render_views(views: list[Table]) -> bytes:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    for t in views:
        out.writerow([f"# {t.title}"])
        out.writerow([spreadsheet_safe(h) for h in t.headers])
        for row in t.rows:
            out.writerow(["" if v is None else round(v, d) if isinstance(v, float) and d is not None
                          else spreadsheet_safe(v) for v, d in zip(row, t.decimals, strict=True)])
        if t.note:
            out.writerow([f"# {t.note}"])
        out.writerow([])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
