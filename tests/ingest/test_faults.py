"""Fault tests against real processes, each bounded in time and stopping itself:
kill -9 of the ingest process mid-stream, InfluxDB down for 30 s, Mosquitto restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from ingest.config import StoreSettings
from simulators.publisher import publish
from tests.support.harness import assert_exactly_once, make_service, simulation, start_connected
from tests.support.paths import ROOT, SAMPLE
from tests.support.servers import Influx, Mosquitto, free_port, stop_process, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.fault]


def _serve(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "cli", "serve", "--config", str(config)],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})


def _health(port: int) -> dict[str, object]:
    return dict(httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).json())


def test_kill_9_mid_stream_loses_and_doubles_nothing(tmp_path: Path, mosquitto: Mosquitto) -> None:
    port = free_port()
    data = tmp_path / "data"
    config = tmp_path / "meterwatch.toml"
    config.write_text(f'data_dir = "{data}"\n[mqtt]\nurl = "{mosquitto.url}"\nclient_id = "mw-kill"\n'
                      f'[api]\nport = {port}\n[campus]\nfile = "{SAMPLE}"\n')
    proc = _serve(config, tmp_path / "serve.log")
    try:
        wait_for(lambda: _health(port)["mqtt_connected"], 30, "meterwatch serve connected")
        sim = simulation(days=3, faults=["duplicates", "out_of_order", "malformed"])
        publisher = threading.Thread(target=publish, args=(sim, mosquitto.url), daemon=True)
        publisher.start()
        wait_for(lambda: int(_health(port)["stored"]) > 3000, 60, "3000 readings stored")  # type: ignore[call-overload]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        publisher.join(120)
        assert not publisher.is_alive()
        proc = _serve(config, tmp_path / "serve.log")
        # a restart after kill -9 opens the WAL and the spool again: under a loaded CI machine that took over 30 s
        wait_for(lambda: _health(port)["mqtt_connected"], 90, "meterwatch serve back")
        reader = make_service(data, mosquitto.url)  # read-only use: not started
        try:
            assert_exactly_once(reader, sim, timeout=90)
        finally:
            reader.stop()
    finally:
        stop_process(proc)


def test_influxdb_down_30s_mid_stream_loses_nothing(tmp_path: Path, mosquitto: Mosquitto, influx: Influx) -> None:
    sim = simulation(days=1, faults=["duplicates"])
    service = make_service(tmp_path / "data", mosquitto.url,
                           StoreSettings(backend="influxdb", url=influx.url, database="mw", timeout_s=2))
    start_connected(service)
    try:
        # about 45 s of publishing: one simulated day at ~1900x
        publisher = threading.Thread(target=publish, args=(sim, mosquitto.url), kwargs={"speed": 1900}, daemon=True)
        publisher.start()
        wait_for(lambda: service.counters.acknowledged > 0, 30, "readings stored before the outage")  # mid-stream
        influx.stop()
        down_until = time.monotonic() + 30
        # the spool file is written before the worker reports the store down: wait for the report itself
        health = wait_for(lambda: (h := service.health()).spool_depth > 0 and not h.store_reachable and h, 20,
                          "readings spooled and the store reported down while InfluxDB is down")
        assert health.status == "degraded"
        assert health.store_error
        time.sleep(max(0.0, down_until - time.monotonic()))
        influx.start()
        publisher.join(120)
        assert not publisher.is_alive()
        assert_exactly_once(service, sim, timeout=90)
        wait_for(lambda: service.health().spool_depth == 0, 30, "spool drained")
        assert service.health().status == "ok"
    finally:
        service.stop()


def test_mosquitto_restart_with_persistence_loses_nothing(tmp_path: Path, mosquitto: Mosquitto) -> None:
    first = simulation(days=2, faults=["duplicates"], seed=3)
    service = make_service(tmp_path / "data", mosquitto.url, client_id="mw-restart")
    start_connected(service).stop()  # session stays with the broker (clean session off)
    publish(first, mosquitto.url)  # queued by the broker for our session
    mosquitto.restart()  # persistence on: the queue survives
    service = make_service(tmp_path / "data", mosquitto.url, client_id="mw-restart")
    service.start()
    try:
        assert_exactly_once(service, first, timeout=90)
    finally:
        service.stop()


def test_ingest_worker_killed_mid_stream_is_replaced_and_nothing_lost(tmp_path: Path, mosquitto: Mosquitto) -> None:
    sim = simulation(days=2, faults=["duplicates"], seed=11)
    service = make_service(tmp_path / "data", mosquitto.url, client_id="mw-worker-kill")
    start_connected(service)
    try:
        assert service.link is not None
        publisher = threading.Thread(target=publish, args=(sim, mosquitto.url), daemon=True)
        publisher.start()
        for kills, at in enumerate((1500, 4000, 6500), start=1):  # three times, at different moments
            wait_for(lambda at=at: service.counters.stored > at, 60, f"{at} readings stored")  # type: ignore[misc]
            worker = service.link._proc
            assert worker is not None
            assert worker.pid is not None
            os.kill(worker.pid, signal.SIGKILL)
            wait_for(lambda kills=kills: service.link is not None and service.link.restarts >= kills, 30,
                     "a new worker")
        publisher.join(120)
        assert not publisher.is_alive()
        assert_exactly_once(service, sim, timeout=90)
        assert service.link.restarts >= 3
    finally:
        service.stop()
