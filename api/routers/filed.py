"""Filed reports: POST /reports/energy/{month}/file freezes a site's month in every format; GET /reports/filed
lists the filings; GET /reports/filed/{month} shows one with what changed since, or returns its exact bytes."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response

from api.deps import AccessDep, PrincipalDep, SiteUsageDep, check_month, require
from api.schemas import FiledFilePublic, FilingPublic
from api.tokens import Principal, Role
from app.reporting import monthly_report, with_filing
from reports.energy import ChangeSinceFiled, EnergyReport
from reports.filing import FORMATS, Filing, FilingStore
from reports.render import MEDIA_TYPES, filename, render

router = APIRouter(prefix="/reports", tags=["reports"])
Month = Annotated[str, Path(description="YYYY-MM", examples=["2026-10"], max_length=7)]


def filings(request: Request) -> FilingStore:
    store: FilingStore = request.app.state.filings
    return store


def _public(f: Filing, tz: ZoneInfo, changes: list[ChangeSinceFiled] | None = None) -> FilingPublic:
    return FilingPublic(site=f.site, month=f.month, version=f.version, filed_by=f.filed_by,
                        filed_at=datetime.fromtimestamp(f.filed_ms / 1000, tz),
                        files=[FiledFilePublic(format=x.format, sha256=x.sha256, bytes=x.size) for x in f.files],
                        changes=changes)


@router.post("/energy/{month}/file", response_model=FilingPublic, status_code=201,
             summary="File the month's report (admin): every format frozen, with its SHA-256, who and when")
def file_report(month: Month, request: Request, usage: SiteUsageDep,
                principal: Annotated[Principal, Depends(require(Role.ADMIN))]) -> FilingPublic:
    check_month(month)
    settings = request.app.state.settings
    if principal.scope.partial:
        raise HTTPException(403, "a token narrowed to zones or buildings cannot file a site's report")
    desk = getattr(request.app.state, "alerts", None)
    store = filings(request)
    report = monthly_report(usage, settings, month, settings.language, alert_store=desk.store if desk else None,
                            filings=store)
    bodies = {fmt: render(report, fmt, settings.report) for fmt in FORMATS}
    return _public(store.file(report.site, report.month, principal.name, int(time.time() * 1000), bodies), usage.tz)


@router.get("/filed", response_model=list[FilingPublic], summary="Filed reports, newest month first")
def list_filed(request: Request, access: AccessDep,
               site: Annotated[str | None, Query(max_length=64)] = None) -> list[FilingPublic]:
    if site is not None:
        access.site(site)  # 404 for a site it may not see
    seen = access.campuses()
    return [_public(f, ZoneInfo(seen[f.site].site.timezone)) for f in filings(request).filings(site) if f.site in seen]


@router.get("/filed/{month}", response_model=FilingPublic,
            responses={200: {"content": {m: {} for m in MEDIA_TYPES.values() if m != "application/json"},
                             "description": "with format=: the exact bytes filed; without: the filing and what "
                                            "changed since"}},
            summary="One filing: exactly the bytes filed (format=), or what it holds and what changed since")
def get_filed(month: Month, request: Request, usage: SiteUsageDep, principal: PrincipalDep,
              format: Annotated[Literal["json", "csv", "xlsx", "pdf"] | None, Query()] = None,
              version: Annotated[int | None, Query(ge=1, le=10_000)] = None) -> Response:
    check_month(month)
    if principal.scope.partial:  # the filed report holds every building and device of the site
        raise HTTPException(403, "a token narrowed to zones or buildings cannot read a site's filed report")
    store = filings(request)
    site = usage.site_id
    filing = store.filing(site, month, version)
    if format is not None:
        filed = EnergyReport.model_validate_json(store.body(site, month, "json", filing.version))
        name = f"filed-v{filing.version}-" + filename(filed, format)
        return Response(store.body(site, month, format, filing.version), media_type=MEDIA_TYPES[format],
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})
    settings = request.app.state.settings
    live = with_filing(monthly_report(usage, settings, month, settings.language), store, filing.version)
    body = _public(filing, usage.tz, live.filed.changes if live.filed else [])
    return Response(body.model_dump_json(), media_type="application/json")
