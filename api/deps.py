"""Request dependencies as Annotated aliases."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, Request

from alerts.desk import AlertDesk
from ingest.service import IngestService


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


ServiceDep = Annotated[IngestService, Depends(get_service)]
TimezoneDep = Annotated[ZoneInfo, Depends(get_timezone)]
AlertsDep = Annotated[AlertDesk, Depends(get_alerts)]
