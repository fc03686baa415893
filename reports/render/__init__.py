"""Report renderers by format name: JSON, CSV, XLSX and PDF, each from the same tables."""

from __future__ import annotations

from collections.abc import Callable

from reports.config import ReportSettings
from reports.energy import EnergyReport

Renderer = Callable[[EnergyReport, ReportSettings], bytes]

MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def _json(report: EnergyReport, settings: ReportSettings) -> bytes:
    return report.model_dump_json(indent=2).encode()


def render(report: EnergyReport, fmt: str, settings: ReportSettings) -> bytes:
    from reports.render import csvfile, pdf, xlsx  # the heavy ones (reportlab, openpyxl) only when asked

    renderers: dict[str, Renderer] = {"json": _json, "csv": csvfile.render, "xlsx": xlsx.render, "pdf": pdf.render}
    try:
        renderer = renderers[fmt]
    except KeyError:
        raise ValueError(f"format {fmt!r}: choose one of {', '.join(renderers)}") from None
    return renderer(report, settings)


def filename(report: EnergyReport, fmt: str) -> str:
    return f"energy-report-{report.site}-{report.month}.{fmt}"
