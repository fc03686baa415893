"""The month's statement (内部结算单) and the summary of every payer, as CSV, XLSX or PDF.

``render_statement(statement, fmt, language)`` and ``render_summary(summary, fmt, language)`` give the bytes and
their media type. The same input gives the same bytes (statements are filed with their SHA-256). JSON is the
model itself (``model_dump_json``), not made here.
"""

from __future__ import annotations

from collections.abc import Callable

from billing.statements import Statement, Summary
from reports.config import ReportSettings
from reports.render import MEDIA_TYPES

FORMATS = ("csv", "xlsx", "pdf")


def _check(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return MEDIA_TYPES[fmt]


def render_statement(statement: Statement, fmt: str, language: str = "zh-CN",
                     settings: ReportSettings | None = None) -> tuple[bytes, str]:
    """``statement`` in ``fmt`` (csv, xlsx, pdf), in ``language`` (zh-CN, en): (bytes, media type).
    ``settings``: the reports' settings (the PDF font)."""
    media = _check(fmt)
    from billing.render import statement_csv, statement_pdf, statement_xlsx  # reportlab, openpyxl: when asked

    renderers: dict[str, Callable[[Statement, str], bytes]] = {
        "csv": statement_csv.statement, "xlsx": statement_xlsx.statement,
        "pdf": lambda s, lang: statement_pdf.statement(s, lang, settings)}
    return renderers[fmt](statement, language), media


def render_summary(summary: Summary, fmt: str, language: str = "zh-CN",
                   settings: ReportSettings | None = None) -> tuple[bytes, str]:
    """Every payer's total, their sum, the incomers and the school's share in ``fmt``: (bytes, media type)."""
    media = _check(fmt)
    from billing.render import statement_csv, statement_pdf, statement_xlsx

    renderers: dict[str, Callable[[Summary, str], bytes]] = {
        "csv": statement_csv.summary, "xlsx": statement_xlsx.summary,
        "pdf": lambda s, lang: statement_pdf.summary(s, lang, settings)}
    return renderers[fmt](summary, language), media


def filename(statement: Statement, fmt: str) -> str:
    return f"statement-{statement.site}-{statement.payer}-{statement.month}.{fmt}"


def summary_filename(summary: Summary, fmt: str) -> str:
    return f"statements-{summary.site}-{summary.month}.{fmt}"


__all__ = ["FORMATS", "filename", "render_statement", "render_summary", "summary_filename"]
