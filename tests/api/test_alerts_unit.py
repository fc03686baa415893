"""`meterwatch alerts run`, the alert engine under a unit of its own, against a real Mosquitto; and serve
with [alerts] external = true reading the alerts it raised."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from alerts.store import AlertStore
from api.app import create_app
from app.settings import load_settings
from campus.db import DataDir
from simulators.model import Publication
from tests.support.drive import evaluated_up_to, local, publish, simulation
from tests.support.harness import make_service, token_headers
from tests.support.paths import ROOT
from tests.support.servers import Mosquitto, stop_process, wait_for

pytestmark = pytest.mark.integration


def test_the_alert_engine_runs_by_itself_and_stops_on_sigterm(tmp_path: Path, mosquitto: Mosquitto) -> None:
    data = tmp_path / "data"
    make_service(data, mosquitto.url).stop()  # serve's part: the campus in the registry
    config = tmp_path / "mw.toml"
    config.write_text(f'data_dir = "{data}"\nlog_level = "WARNING"\n[mqtt]\nurl = "{mosquitto.url}"\n'
                      '[alerts]\nexternal = true\nclock = "stream"\nclient_id = "mw-alerts-unit"\n', encoding="utf-8")
    log = (tmp_path / "alerts.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "cli", "alerts", "run", "--config", str(config)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=log)
    try:
        store = AlertStore(DataDir(data).alerts)
        wait_for(lambda: store.meta("watching_since_ms") is not None, 30, "the engine started")
        # subscribed means it evaluates what is published: send a normal reading until it has evaluated one
        base = int(local(2026, 3, 10, 12).timestamp())
        sent: list[int] = []

        def probe() -> bool:
            ts = base + len(sent)
            sent.append(ts)
            publish(mosquitto.port, [Publication(ts * 1000, "campus/yucai/ta-fountain/reading", json.dumps(
                {"ts": ts, "values": {"ph": 7.2, "turbidity_ntu": 0.3, "free_chlorine_mgl": 0.4}}).encode(),
                "ta-fountain")])
            return any(evaluated_up_to(data, "ta-fountain", t * 1000) for t in sent[-3:])

        wait_for(probe, 60, "the engine evaluating what is published", interval=0.5)
        publish(mosquitto.port, simulation(local(2026, 3, 10, 20), 6, ["gas_after_hours"]).publications())
        wait_for(lambda: any(a.rule == "canteen-gas-closed" for a in store.query()), 60, "the gas alert")
        settings = load_settings(config)
        ingest = make_service(data, mosquitto.url)
        try:
            with TestClient(create_app(settings, service=ingest), headers=token_headers(data)) as api:
                rules = [a["rule"] for a in api.get("/api/v1/alerts").json()]
                assert "canteen-gas-closed" in rules  # serve's API reads what the engine raised
        finally:
            ingest.stop()
        store.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(20)
        finally:
            stop_process(proc)
        log.close()
    assert code == 0, (tmp_path / "alerts.log").read_text(encoding="utf-8")
