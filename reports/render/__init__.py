"""Report renderers by format name: JSON, CSV, XLSX and PDF, each from the same tables."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel

from reports.bulletin import Bulletin
from reports.config import ReportSettings
from reports.district import DistrictReport
from reports.energy import EnergyReport
from reports.render.energy_tables import Table
from reports.summaries import PeriodReport

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


def render_tables(model: BaseModel, views: Callable[[], list[Table]], fmt: str, settings: ReportSettings,
                  title: str, sub: str) -> bytes:
    """A report that is a few tables (district, term or year, bulletin) in ``fmt``: JSON is the model itself;
    CSV, XLSX and PDF lay out ``views()``."""
    from reports.render import csvfile, pdf, xlsx

    if fmt == "json":
        return model.model_dump_json(indent=2).encode()
    if fmt == "csv":
        return csvfile.render_views(views())
    if fmt == "xlsx":
        return xlsx.render_views(views())
    if fmt == "pdf":
        return pdf.render_views(title, sub, views(), settings, signed=str(getattr(model, "language", "zh-CN")))
    raise ValueError(f"format {fmt!r}: choose one of json, csv, xlsx, pdf")


def _generated(at: datetime, zh: bool, extra: str = "") -> str:
    return f"{extra}生成时间 {at:%Y-%m-%d %H:%M}" if zh else f"{extra}generated {at:%Y-%m-%d %H:%M}"


def render_district(report: DistrictReport, fmt: str, settings: ReportSettings) -> bytes:
    """The district report in ``fmt`` (the same four formats as a site's)."""
    from reports.render.district_tables import district_tables

    zh = report.language.startswith("zh")
    title = f"{report.month} 各校能源资源消耗排名" if zh else f"Schools' energy and water, ranked: {report.month}"
    sub = _generated(report.generated_at, zh, f"{len(report.sites)} 所学校/校区; " if zh
                     else f"{len(report.sites)} sites; ")
    return render_tables(report, lambda: district_tables(report), fmt, settings, title, sub)


def district_filename(report: DistrictReport, fmt: str) -> str:
    return f"district-energy-{report.month}.{fmt}"


def render_period(report: PeriodReport, fmt: str, settings: ReportSettings) -> bytes:
    """A term or year summary in ``fmt``."""
    from reports.render.period_tables import period_tables

    zh = report.language.startswith("zh")
    what = ("学期" if report.kind == "term" else "年度") if zh else report.kind
    title = (f"{report.site_name} {report.period} {what}能源资源消耗汇总" if zh else
             f"{report.site_name} — energy and water, {what} {report.period}")
    sub = _generated(report.generated_at, zh) + f", {report.timezone}"
    return render_tables(report, lambda: period_tables(report), fmt, settings, title, sub)


def period_filename(report: PeriodReport, fmt: str) -> str:
    return f"energy-{report.kind}-{report.site}-{report.period}.{fmt}"


def render_bulletin(bulletin: Bulletin, fmt: str, settings: ReportSettings) -> bytes:
    """The monthly bulletin in ``fmt``."""
    from reports.render.bulletin_tables import bulletin_tables

    zh = bulletin.language.startswith("zh")
    title = (f"{bulletin.site_name} {bulletin.month} 能源使用情况通报" if zh else
             f"{bulletin.site_name} — energy use bulletin, {bulletin.month}")
    return render_tables(bulletin, lambda: bulletin_tables(bulletin), fmt, settings, title,
                         _generated(bulletin.generated_at, zh))


def bulletin_filename(bulletin: Bulletin, fmt: str) -> str:
    return f"bulletin-{bulletin.site}-{bulletin.month}.{fmt}"
