"""A simulated campus week through real Mosquitto into each store: every valid reading stored
exactly once (counts and every value), every malformed message a dead letter with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.broker import EmbeddedBroker
from ingest.config import StoreSettings
from simulators.publisher import publish
from tests.support.harness import assert_exactly_once, make_service, malformed_count, simulation, start_connected
from tests.support.servers import Influx, Mosquitto, wait_for

pytestmark = pytest.mark.integration


def _run_week(tmp_path: Path, broker_url: str, store: StoreSettings | None = None) -> None:
    sim = simulation(days=7)
    service = make_service(tmp_path / "data", broker_url, store)
    start_connected(service)
    try:
        tally = publish(sim, broker_url)
        assert tally.by_what["malformed"] > 10
        assert tally.by_what["duplicate"] > 10
        assert_exactly_once(service, sim)
        bad = malformed_count(sim)
        wait_for(lambda: service.dead_letters.count() >= bad, 30, f"{bad} dead letters")
        letters = service.dead_letters.list(limit=10_000)
        assert len(letters) == bad
        reasons = " | ".join(d.reason for d in letters)
        for fragment in ("not JSON", "bogus_field", "unknown device", "belongs to site", "greater than or equal"):
            assert fragment in reasons
        offline = service.presence.all()[("yucai", "of-water")]
        wait_for(lambda: service.presence.all()[("yucai", "of-water")].online is False, 10, "Last Will offline")
        assert offline.last_seen_ms is not None
        health = service.health()
        assert health.status == "ok"
        assert health.spool_depth == 0
    finally:
        service.stop()


def test_week_through_mosquitto_into_sqlite(tmp_path: Path, mosquitto: Mosquitto) -> None:
    _run_week(tmp_path, mosquitto.url)


def test_week_through_mosquitto_into_influxdb(tmp_path: Path, mosquitto: Mosquitto, influx: Influx) -> None:
    _run_week(tmp_path, mosquitto.url, StoreSettings(backend="influxdb", url=influx.url, database="mw"))


def test_week_through_embedded_broker(tmp_path: Path) -> None:
    broker = EmbeddedBroker(port=0).start()
    try:
        _run_week(tmp_path, f"mqtt://127.0.0.1:{broker.port}")
    finally:
        broker.stop()
