"""Request dependencies as Annotated aliases."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Request

from ingest.service import IngestService


def get_service(request: Request) -> IngestService:
    service: IngestService = request.app.state.service
    return service


def get_timezone(request: Request) -> ZoneInfo:
    service: IngestService = request.app.state.service
    return ZoneInfo(service.registry.campus.site.timezone)


ServiceDep = Annotated[IngestService, Depends(get_service)]
TimezoneDep = Annotated[ZoneInfo, Depends(get_timezone)]
