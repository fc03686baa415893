"""GET /reports/energy (a site's month) and /reports/district (every site ranked): JSON, CSV, XLSX or PDF."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from alerts.store import AlertStore
from api.access import Scope
from api.deps import AccessDep, LanguageDep, PrincipalDep, SiteUsageDep, UsageDep, check_month
from app.reporting import district_report as build_district_report
from app.reporting import monthly_bulletin, monthly_report
from reports.bulletin import Bulletin
from reports.district import DistrictReport
from reports.energy import AlertCount, EnergyReport, alert_counts
from reports.render import (
    MEDIA_TYPES,
    bulletin_filename,
    district_filename,
    filename,
    period_filename,
    render,
    render_bulletin,
    render_district,
    render_period,
)
from reports.summaries import PeriodReport, build_period

router = APIRouter(prefix="/reports", tags=["reports"])
bulletins = APIRouter(tags=["reports"])  # /bulletins/{month}: the bulletin's own address (the issue's), same answer


def _file(data: bytes, fmt: str, name: str) -> Response:
    headers = {} if fmt == "json" else {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"}
    return Response(data, media_type=MEDIA_TYPES[fmt], headers=headers)


@router.get("/energy", summary="The monthly energy report (能源资源消耗月报) for the environmental bureau",
            response_model=EnergyReport,
            responses={200: {"content": {m: {} for m in MEDIA_TYPES.values() if m != "application/json"},
                             "description": "JSON (the model below), or the file in the format asked for"}})
def energy_report(
    request: Request, usage: SiteUsageDep, language: LanguageDep, principal: PrincipalDep,
    month: Annotated[str, Query(description="YYYY-MM in the campus time zone, 2001-01 to 2099-12",
                                examples=["2026-10"], max_length=7)],
    format: Annotated[Literal["json", "csv", "xlsx", "pdf"], Query(description="json, csv, xlsx or pdf")] = "json",
) -> Response:
    check_month(month)
    settings = request.app.state.settings
    desk = getattr(request.app.state, "alerts", None)
    report = monthly_report(usage, settings, month, language, alert_store=desk.store if desk else None,
                            filings=request.app.state.filings)
    if principal.scope.partial and desk is not None:
        report = report.model_copy(update={"alerts": _alerts_in_scope(desk.store, report, principal.scope)})
    return _file(render(report, format, settings.report), format, filename(report, format))


def _alerts_in_scope(store: AlertStore, report: EnergyReport, scope: Scope) -> list[AlertCount]:
    """The month's alerts a token narrowed to zones or buildings may see (its buildings' and its zones'), counted:
    its report holds its buildings only, so do its alert counts."""
    start, end = (int(t.timestamp() * 1000) for t in (report.period_start, report.period_end))
    # active in the month or after (a superset); a drill is no event
    where = {"site": report.site, "since_ms": start, "visible": scope, "drills": False}
    rows = store.query(**where, limit=max(1, store.count_matching(**where)))  # type: ignore[arg-type]
    return alert_counts((a.category, a.severity, a.status != "resolved") for a in rows
                        if start <= a.started_ms < end)


@router.get("/district", summary="Every site's month, ranked by energy per m² (the district's report)",
            response_model=DistrictReport,
            responses={200: {"content": {m: {} for m in MEDIA_TYPES.values() if m != "application/json"},
                             "description": "JSON (the model below), or the file in the format asked for"}})
def district_report(
    request: Request, usage: UsageDep, access: AccessDep, language: LanguageDep,
    month: Annotated[str, Query(description="YYYY-MM, 2001-01 to 2099-12", examples=["2026-10"], max_length=7)],
    format: Annotated[Literal["json", "csv", "xlsx", "pdf"], Query(description="json, csv, xlsx or pdf")] = "json",
) -> Response:
    check_month(month)
    settings = request.app.state.settings
    report = build_district_report(usage, settings, month, language, sites=access.campuses())
    return _file(render_district(report, format, settings.report), format, district_filename(report, format))


@router.get("/energy/year/{year}", response_model=PeriodReport,
            responses={200: {"content": {m: {} for m in MEDIA_TYPES.values() if m != "application/json"},
                             "description": "JSON (the model below), or the file in the format asked for"}},
            summary="A calendar year's figures against the year before and the targets (节约型学校 self-assessment)")
def year_report(request: Request, usage: SiteUsageDep, language: LanguageDep,
                year: Annotated[int, Path(ge=2001, le=2099)],
                format: Annotated[Literal["json", "csv", "xlsx", "pdf"], Query()] = "json") -> Response:
    report = build_period(usage, "year", str(year), request.app.state.settings.report, language=language)
    return _file(render_period(report, format, request.app.state.settings.report), format,
                 period_filename(report, format))


@router.get("/energy/term/{term}", response_model=PeriodReport,
            responses={200: {"content": {m: {} for m in MEDIA_TYPES.values() if m != "application/json"},
                             "description": "JSON (the model below), or the file in the format asked for"}},
            summary="A school term's figures against the same term a year before and the targets")
def term_report(request: Request, usage: SiteUsageDep, language: LanguageDep,
                term: Annotated[str, Path(max_length=64, description="a term's name in the campus file's calendar",
                                          examples=["2026秋季学期"])],
                format: Annotated[Literal["json", "csv", "xlsx", "pdf"], Query()] = "json") -> Response:
    report = build_period(usage, "term", term, request.app.state.settings.report, language=language)
    return _file(render_period(report, format, request.app.state.settings.report), format,
                 period_filename(report, format))


@bulletins.get("/bulletins/{month}", response_model=Bulletin,
               responses={200: {"content": {m: {} for m in MEDIA_TYPES.values() if m != "application/json"},
                                "description": "JSON (the model below), or the file in the format asked for"}},
               summary="The month's bulletin (通报) preview: the same as /reports/bulletin/{month}")
@router.get("/bulletin/{month}", response_model=Bulletin,
            responses={200: {"content": {m: {} for m in MEDIA_TYPES.values() if m != "application/json"},
                             "description": "JSON (the model below), or the file in the format asked for"}},
            summary="The month's bulletin (通报): each department and building with a target, ranked among peers")
def bulletin(request: Request, usage: SiteUsageDep, language: LanguageDep,
             month: Annotated[str, Path(description="YYYY-MM", examples=["2026-10"], max_length=7)],
             format: Annotated[Literal["json", "csv", "xlsx", "pdf"], Query()] = "json") -> Response:
    check_month(month)
    settings = request.app.state.settings
    b = monthly_bulletin(usage, settings, month, language)
    return _file(render_bulletin(b, format, settings.report), format, bulletin_filename(b, format))
