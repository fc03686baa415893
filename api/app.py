"""create_app(settings): the FastAPI app. Nothing is built at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.routers import dead_letters, devices, health
from api.settings import Settings
from ingest.campus import Campus
from ingest.errors import ConfigError, StoreUnavailable
from ingest.service import IngestService


def build_service(settings: Settings, campus: Campus | None, *, connect_mqtt: bool = True) -> IngestService:
    return IngestService(data_dir=settings.data_dir, mqtt=settings.mqtt, store=settings.store,
                         ingest=settings.ingest, campus=campus, connect_mqtt=connect_mqtt)


def create_app(settings: Settings, service: IngestService | None = None, campus: Campus | None = None) -> FastAPI:
    """The app. With ``service`` given the caller owns its lifecycle; otherwise the app starts and stops one."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = service is None
        app.state.service = service or build_service(settings, campus)
        if owned:
            app.state.service.start()
        try:
            yield
        finally:
            if owned:
                app.state.service.stop()

    app = FastAPI(title="meterwatch", version="0.1.0", lifespan=lifespan,
                  description="校园水电气与水质监测 · campus water, electricity, gas and water-quality telemetry")
    app.state.settings = settings
    if service is not None:
        app.state.service = service
    for router in (health.router, devices.router, dead_letters.router):
        app.include_router(router, prefix="/api/v1")

    @app.exception_handler(StoreUnavailable)
    async def _store_down(request: Request, exc: StoreUnavailable) -> JSONResponse:
        return JSONResponse({"detail": f"time-series store unavailable, try again shortly: {exc}"}, status_code=503)

    @app.exception_handler(ConfigError)
    async def _config(request: Request, exc: ConfigError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    return app
