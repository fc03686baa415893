"""The app over a real ingest service (SQLite, no broker) and a real AlertService (frozen delivery clock)
that has evaluated ``batch``; the roster is the tests' (unreachable channels)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient

from alerts.config import AlertSettings
from alerts.service import AlertService
from api.app import build_service, create_app
from app.settings import load_settings
from campus.clock import Clock, FrozenClock
from campus.model import load_sites
from ingest.decode import Inbound
from tests.conftest import SAMPLE
from tests.support.drive import roster_text
from tests.support.harness import token_headers


@contextmanager
def alert_app(data_dir: Path, batch: list[Inbound], *, store: bool = False,
              campus: Path = SAMPLE, clock: Clock | None = None) -> Iterator[tuple[TestClient, AlertService]]:
    """``store``: ingest commits the batch too (the readings endpoints and the water board see it). ``campus``:
    a campus file or directory (every site in it). ``clock``: the app's now (records, the sweep)."""
    settings = load_settings(None, data_dir=data_dir)
    ingest = build_service(settings, load_sites(campus), connect_mqtt=False)
    if store:
        ingest.start()
        ingest.pipeline.commit(batch)
    roster = data_dir / "roster.yaml"
    roster.write_text(roster_text(1, 2), encoding="utf-8")
    alerts = AlertService(data_dir=data_dir, mqtt=settings.mqtt, connect_mqtt=False, clock=FrozenClock(0),
                          settings=AlertSettings(roster_file=roster, mqtt_publish=False))
    alerts.evaluate(batch)
    try:
        with TestClient(create_app(settings, service=ingest, alerts=alerts, clock=clock),
                        headers=token_headers(data_dir)) as client:
            yield client, alerts
    finally:
        alerts.stop()
        ingest.stop()
