"""Ingest scaled out: three `meterwatch ingest` worker processes in one MQTT shared-subscription group on a
real Mosquitto, storing into a real InfluxDB. One worker is killed with SIGKILL mid-stream; then the broker
restarts with persistence (Mosquitto 2.0.11 forgets the shared subscriptions of persistent sessions on a
restart, so workers must subscribe again on every connect); the killed worker comes back with its session.
Every reading must be in the store exactly once."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from campus.contract import Kind
from ingest.config import StoreSettings
from ingest.stores import open_store
from simulators.model import Simulation, load_campus_doc
from simulators.publisher import publish
from tests.support.harness import TZ
from tests.support.paths import SAMPLE
from tests.support.servers import Influx, Mosquitto, stop_process, wait_for

pytestmark = pytest.mark.integration
GROUP = "ingest"


class Worker:
    """One `meterwatch ingest` process; its JSON log tells when it has subscribed."""

    def __init__(self, tmp: Path, name: str, config: Path) -> None:
        self.name, self.config = name, config
        self.data = tmp / name
        self.log = tmp / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "from cli.main import main; raise SystemExit(main())", "ingest",
                 "--config", str(self.config), "--client-id", self.name, "--data-dir", str(self.data)],
                stdout=out, stderr=subprocess.STDOUT)

    def subscriptions(self) -> int:
        """How many times it has been subscribed (once per connect)."""
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return text.count('"mqtt subscribed"')

    def wait_subscribed(self, times: int) -> None:
        wait_for(lambda: self.subscriptions() >= times, 60, f"{self.name} subscribed {times} time(s)")
        assert f"$share/{GROUP}/campus/+/+/reading" in self.log.read_text(encoding="utf-8")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL: no goodbye, unacknowledged messages stay with the broker
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, signal.SIGTERM, 20)
            self.proc = None


@pytest.fixture
def workers(tmp_path: Path, mosquitto: Mosquitto, influx: Influx) -> Iterator[list[Worker]]:
    config = tmp_path / "meterwatch.toml"
    config.write_text(f"""
log_level = "INFO"
[campus]
file = "{SAMPLE}"
[mqtt]
url = "{mosquitto.url}"
shared_group = "{GROUP}"
[store]
backend = "influxdb"
url = "{influx.url}"
database = "shared"
[ingest]
retry_max_s = 2.0
""", encoding="utf-8")
    crew = [Worker(tmp_path, f"ingest-{i}", config) for i in (1, 2, 3)]
    for w in crew:
        w.start()
    try:
        for w in crew:
            w.wait_subscribed(1)
        yield crew
    finally:
        for w in crew:
            w.stop()


def _day(end: datetime, seed: int) -> Simulation:
    return Simulation(load_campus_doc(SAMPLE), start=end - timedelta(days=1), end=end, seed=seed, faults=[])


def test_three_workers_share_the_stream_and_store_every_reading_once_through_a_kill_and_a_broker_restart(
        workers: list[Worker], mosquitto: Mosquitto, influx: Influx) -> None:
    end = datetime.now(TZ).replace(second=0, microsecond=0) - timedelta(hours=1)
    first, second = _day(end - timedelta(days=1), 3), _day(end, 4)
    expected = first.expected() | second.expected()
    victim = workers[0]

    published = [0]
    half = len(first.expected()) // 2
    killed = threading.Event()

    def progress(n: int) -> None:
        published[0] += n
        if published[0] >= half and not killed.is_set():
            killed.set()
            victim.kill()

    publish(first, mosquitto.url, client_id="sim-first", progress=progress)
    assert killed.is_set()
    # the broker restarts while the killed worker's share waits in its persistent session
    mosquitto.restart()
    for w in workers[1:]:
        w.wait_subscribed(2)  # subscribed again on the new connection
    publish(second, mosquitto.url, client_id="sim-second")
    victim.start()  # the same client id: its session, and what the broker kept for it, come back
    victim.wait_subscribed(2)

    store = open_store(StoreSettings(backend="influxdb", url=influx.url, database="shared"), Path("."))
    try:
        wait_for(lambda: store.count() >= len(expected), 120, f"{len(expected)} readings in InfluxDB", interval=0.5)
        assert store.count() == len(expected)
        kinds = {d["id"]: d["kind"] for d in first.devices}
        for dev in kinds:
            got = store.readings("yucai", dev, Kind(kinds[dev]), first.start_ms, second.end_ms + 1,
                                 limit=1_000_000)
            want = sorted(ts for (d, ts) in expected if d == dev)
            assert [s.ts for s in got] == want, f"{dev}: timestamps differ"
    finally:
        store.close()
