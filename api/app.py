"""create_app(settings): the FastAPI app. Nothing is built at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from alerts.desk import AlertDesk
from alerts.process import AlertProcess, AlertProcessConfig
from alerts.service import AlertService
from api.deps import Viewer
from api.docs import add_docs
from api.errors import install as install_errors
from api.limits import BodyLimit
from api.routers import alerts as alerts_router
from api.routers import allowance as allowance_router
from api.routers import (
    bills,
    consumption,
    dead_letters,
    devices,
    directory,
    filed,
    files,
    flow,
    gateways,
    hazards,
    health,
    inspections,
    metrics,
    plans,
    readings_manual,
    reports,
    rules,
    statements,
    sweep,
    tokens,
    water,
    water_quality,
    water_tests,
)
from api.routers import campus as campus_router
from api.routers import drills as drills_router
from api.routers import fuel as fuel_router
from api.routers import returns as returns_router
from api.tokens import TokenStore
from api.uploads import add_bodies
from app.allowance import AllowanceNotifier
from app.drills import DrillWatch
from app.return_reminder import ReturnReminder
from app.settings import Settings
from app.water import WaterWatch
from billing.desk import BillingDesk
from campus.clock import Clock, WallClock
from campus.db import DataDir
from campus.model import Campus
from deploy.credentials import Credentials
from emergency.chain import ChainCheck
from ingest.service import IngestService
from records.desk import RecordDesk
from records.return_entries import ReturnEntries
from reports.filing import FilingStore
from reports.usage import Usage


def build_service(settings: Settings, campus: Campus | list[Campus] | None, *,
                  connect_mqtt: bool = True) -> IngestService:
    return IngestService(data_dir=settings.data_dir, mqtt=settings.mqtt, store=settings.store,
                         ingest=settings.ingest, campus=campus, connect_mqtt=connect_mqtt,
                         state_url=settings.state.url)


def build_alerts(settings: Settings) -> AlertService | AlertProcess | None:
    """The alert engine: in a process of its own (default) or in this one."""
    if not settings.alerts.enabled:
        return None
    if settings.alerts.external:  # `meterwatch alerts run` under its own unit
        return None
    if settings.alerts.process:
        return AlertProcess(AlertProcessConfig(settings.data_dir, settings.mqtt, settings.alerts, settings.language,
                                               settings.log_level, settings.ingest.limits, settings.records.plans_file,
                                               settings.state.url))
    return AlertService(data_dir=settings.data_dir, mqtt=settings.mqtt, settings=settings.alerts,
                        language=settings.language, limits=settings.ingest.limits,
                        plans_file=settings.records.plans_file, state_url=settings.state.url)


def alert_desk(settings: Settings, engine: AlertService | AlertProcess | None) -> AlertDesk | None:
    if isinstance(engine, AlertService):
        return engine.desk
    if engine is None and not (settings.alerts.enabled and settings.alerts.external):
        return None
    return AlertDesk(data_dir=settings.data_dir, settings=settings.alerts, language=settings.language,
                     topic_prefix=settings.mqtt.topic_prefix, plans_file=settings.records.plans_file,
                     state_url=settings.state.url)


def build_usage(settings: Settings, service: IngestService) -> Usage:
    return Usage(settings.data_dir, service.store, lambda: service.registry.campuses, service.presence)


UPLOADS = ("/api/v1/photos", "/api/v1/inspections", "/api/v1/hazards", "/api/v1/water-tests",
           "/api/v1/readings/manual", r"^/api/v1/alerts/[0-9]+/plan/steps/[0-9]+$")


def build_records(app: FastAPI, settings: Settings, clock: Clock) -> RecordDesk:
    service: IngestService = app.state.service
    desk = RecordDesk(settings.data_dir, settings.records, lambda: service.registry.campuses, app.state.alerts,
                      service.store, clock.now_ms)
    desk.topic_prefix = settings.mqtt.topic_prefix
    if service.mqtt is not None:  # readings by hand reach the alert engine on their meters' reading topics
        desk.publish = service.mqtt.publish
    return desk


def server_options(settings: Settings) -> dict[str, Any]:
    """What uvicorn is given besides the app, host and port: ``[api] max_connections`` as its limit_concurrency
    (a request arriving while that many connections are open or requests in progress is answered 503)."""
    return {"limit_concurrency": settings.api.max_connections, "log_config": None}


def create_app(settings: Settings, service: IngestService | None = None, campus: Campus | list[Campus] | None = None,
               alerts: AlertService | AlertProcess | None = None, clock: Clock | None = None) -> FastAPI:
    """The app. With ``service`` (and ``alerts``) given the caller owns their lifecycle; otherwise the app
    starts and stops them. ``clock``: what records and the sweep take as now (the wall clock; tests freeze it)."""
    clock = clock or WallClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # what this lifespan opens it holds in its own names and closes, whatever app.state holds by then (a
        # second lifespan over the same app, as a test client's, would otherwise orphan the first one's)
        owned = service is None
        tokens = app.state.tokens = TokenStore(settings.datadir().shared)
        filings = app.state.filings = FilingStore(DataDir(settings.data_dir).filed)
        ingest = app.state.service = service or build_service(settings, campus)
        usage = app.state.usage = build_usage(settings, ingest)  # the app's own, whoever owns the service
        engine = alerts if not owned else build_alerts(settings)
        desk = None
        if owned:
            # the desk first: it checks the rule file and roster here, with file and line, not in a child process
            desk = app.state.alerts = alert_desk(settings, engine)
            ingest.start()
            if engine is not None:
                engine.start()
        if settings.report.refresh_s > 0:
            usage.keep_current(settings.report.refresh_s)
        records = app.state.records = build_records(app, settings, clock)
        records.keep_checking()
        billing = app.state.billing = BillingDesk(settings.data_dir, settings.billing,
                                                  lambda: ingest.registry.campuses, usage,
                                                  clock=lambda: clock.now_ms() / 1000)
        allowance = app.state.allowance = AllowanceNotifier(
            settings.data_dir, billing, settings.alerts.roster_file, clock,
            publish=ingest.mqtt.publish if ingest.mqtt is not None else None)
        water = app.state.water = WaterWatch(usage, app.state.alerts, settings.water, clock)
        drills = app.state.drills = DrillWatch(app.state.alerts, settings.records.grace_days, clock, settings.report)
        credentials = app.state.credentials = Credentials(settings.datadir().shared)
        app.state.chain = ChainCheck(ingest.mqtt.channel, credentials, lambda: ingest.registry.campuses,
                                     settings.mqtt.topic_prefix) if ingest.mqtt is not None else None
        return_entries = app.state.return_entries = ReturnEntries(DataDir(settings.data_dir).records)
        reminder = app.state.return_reminder = ReturnReminder(
            settings.data_dir, settings.returns, lambda: ingest.registry.campuses, settings.alerts.roster_file, clock,
            publish=ingest.mqtt.publish if ingest.mqtt is not None else None)
        try:
            billing.check()
            allowance.keep_checking(settings.billing.allowance_check_s)
            water.keep_checking()
            drills.keep_checking(settings.records.check_s)
            reminder.keep_checking(settings.returns.check_s)
            yield
        finally:
            reminder.close()
            drills.close()
            credentials.close()
            return_entries.close()
            water.close()
            allowance.close()
            billing.close()
            records.close()
            tokens.close()
            filings.close()
            usage.stop()
            usage.close()
            if owned:
                if engine is not None:
                    engine.stop()
                if desk is not None:
                    desk.close()
                ingest.stop()

    app = FastAPI(title="meterwatch", version="0.1.0", lifespan=lifespan,
                  docs_url=None, redoc_url=None,  # /docs: add_docs, from the vendored Swagger UI (no CDN)
                  description="校园水电气与水质监测 · campus water, electricity, gas and water-quality telemetry")
    app.state.settings = settings
    app.add_middleware(GZipMiddleware, minimum_size=1024)  # the console's charting library: 700 KB, 230 KB gzipped
    app.add_middleware(BodyLimit, max_bytes=settings.api.max_body_bytes,  # outermost: before routing and auth
                       uploads=UPLOADS, upload_max_bytes=settings.records.upload_max_bytes,
                       timeout_s=settings.api.body_timeout_s)
    if service is not None:
        app.state.service = service
        app.state.alerts = alert_desk(settings, alerts)
    app.include_router(health.router, prefix="/api/v1")  # open, like /metrics
    for router in (campus_router.router, devices.router, gateways.router, dead_letters.router, rules.router,
                   consumption.router, reports.router, reports.bulletins, filed.router, water_quality.router,
                   files.router, inspections.router, hazards.router, water_tests.router, sweep.router,
                   directory.router, readings_manual.router, statements.router, bills.router,
                   allowance_router.router, flow.router, water.router, returns_router.router, plans.router,
                   drills_router.router):
        app.include_router(router, prefix="/api/v1", dependencies=[Viewer])
    app.include_router(fuel_router.router, prefix="/api/v1", dependencies=[Viewer])  # the canteens' fuel account
    app.include_router(alerts_router.router, prefix="/api/v1")  # per route: the signed one-tap ack link is open
    app.include_router(tokens.router, prefix="/api/v1")

    app.include_router(metrics.router)  # /metrics, where Prometheus looks
    console = Path(__file__).parent / "static"  # the web console: shipped in the package, no CDN
    app.mount("/static", StaticFiles(directory=console), name="static")

    @app.get("/", include_in_schema=False)
    async def _console() -> FileResponse:
        return FileResponse(console / "index.html")

    add_docs(app)
    install_errors(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_bodies(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    return app
