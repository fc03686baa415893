from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from api.deps import ServiceDep
from api.schemas import HealthPublic

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthPublic, summary="Broker, store, spool and dead-letter state")
def health(service: ServiceDep) -> HealthPublic:
    return HealthPublic(**asdict(service.health()))
