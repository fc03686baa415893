"""The application stack the API and console tests stand on: a real ingest service (SQLite, no broker) that has
stored ``batch``, a real AlertService (frozen delivery clock, the tests' roster with unreachable channels) that
has evaluated it, and ``create_app`` over both. ``app_stack`` in tests/conftest.py hands these out and closes
them; ``alert_app`` (tests/support/alertapp.py) adds a TestClient."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from alerts.config import AlertSettings
from alerts.service import AlertService
from api.app import build_service, create_app
from app.settings import Settings, load_settings
from campus.clock import Clock, FrozenClock
from campus.model import load_sites
from ingest.decode import Inbound
from ingest.service import IngestService
from tests.support.drive import roster_text

CHUNK = 2000  # readings per ingest commit


@dataclass
class Stack:
    data: Path
    settings: Settings
    ingest: IngestService
    alerts: AlertService

    def app(self, clock: Clock | None = None) -> FastAPI:
        return create_app(self.settings, service=self.ingest, alerts=self.alerts, clock=clock)


@contextmanager
def build_stack(data: Path, campus: Path, batch: Sequence[Inbound] = (), *, store: bool = True,
                evaluate: bool = True, **settings: Any) -> Iterator[Stack]:
    """``campus``: a campus file or directory (every site in it). ``store``: ingest is started and commits the
    batch (the readings endpoints, the water board and the reports see it). ``evaluate``: the alert engine has
    evaluated the batch. ``settings``: overrides, as for ``load_settings``."""
    data.mkdir(parents=True, exist_ok=True)
    config = load_settings(None, data_dir=data, **settings)
    ingest = build_service(config, load_sites(campus), connect_mqtt=False)
    alerts: AlertService | None = None
    try:
        if store:
            ingest.start()
            for i in range(0, len(batch), CHUNK):
                ingest.pipeline.commit(list(batch[i:i + CHUNK]))
        roster = data / "roster.yaml"
        roster.write_text(roster_text(1, 2), encoding="utf-8")
        alerts = AlertService(data_dir=data, mqtt=config.mqtt, connect_mqtt=False, clock=FrozenClock(0),
                              settings=AlertSettings(roster_file=roster, mqtt_publish=False),
                              plans_file=config.records.plans_file)
        if evaluate:
            alerts.evaluate(list(batch))
        yield Stack(data, config, ingest, alerts)
    finally:
        if alerts is not None:
            alerts.stop()
        ingest.stop()
