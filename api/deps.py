"""Request dependencies as Annotated aliases."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, Query, Request

from alerts.desk import AlertDesk
from ingest.service import IngestService
from reports.usage import Usage


def get_service(request: Request) -> IngestService:
    service: IngestService = request.app.state.service
    return service


def get_timezone(request: Request) -> ZoneInfo:
    service: IngestService = request.app.state.service
    return ZoneInfo(service.registry.campus.site.timezone)


def get_alerts(request: Request) -> AlertDesk:
    alerts: AlertDesk | None = getattr(request.app.state, "alerts", None)
    if alerts is None:
        raise HTTPException(503, "alerts are disabled: set [alerts] enabled = true")
    return alerts


def get_usage(request: Request) -> Usage:
    usage: Usage = request.app.state.usage
    return usage


def get_language(request: Request,
                 lang: Annotated[str | None, Query(description="zh-CN (default) or en")] = None) -> str:
    if lang is None:
        return str(request.app.state.settings.language)
    if lang not in ("zh-CN", "en"):
        raise HTTPException(422, f"lang={lang!r}: use zh-CN or en")
    return lang


ServiceDep = Annotated[IngestService, Depends(get_service)]
TimezoneDep = Annotated[ZoneInfo, Depends(get_timezone)]
AlertsDep = Annotated[AlertDesk, Depends(get_alerts)]
UsageDep = Annotated[Usage, Depends(get_usage)]
LanguageDep = Annotated[str, Depends(get_language)]
