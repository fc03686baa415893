"""Shared steps of the end-to-end tests: build an ingest service, publish a simulated campus,
and check that the store holds every valid reading exactly once."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from campus.db import DataDir
from campus.model import load_campus
from ingest.config import IngestSettings, MqttSettings, StoreSettings
from ingest.service import IngestService
from simulators.model import Simulation, load_campus_doc
from tests.support.paths import SAMPLE
from tests.support.servers import wait_for

TZ = ZoneInfo("Asia/Shanghai")
ALL_FAULTS = ["malformed", "duplicates", "out_of_order", "gateway_backfill", "meter_replaced",
              "implausible_jump", "device_offline", "water_leak"]


def make_service(data_dir: Path, broker_url: str, store: StoreSettings | None = None,
                 client_id: str = "meterwatch-test") -> IngestService:
    return IngestService(data_dir=data_dir, mqtt=MqttSettings(url=broker_url, client_id=client_id),
                         store=store or StoreSettings(), ingest=IngestSettings(retry_max_s=2.0),
                         campus=load_campus(SAMPLE))


def start_connected(service: IngestService) -> IngestService:
    """Start the service and wait until it has subscribed (from then on the broker keeps our messages)."""
    service.start()
    assert service.mqtt is not None
    assert service.mqtt.wait_connected(10), "ingest did not connect to the broker within 10 s"
    return service


def simulation(days: float = 7, faults: list[str] | None = None, seed: int = 7,
               end: datetime | None = None) -> Simulation:
    end = end or datetime.now(TZ).replace(second=0, microsecond=0) - timedelta(minutes=10)
    return Simulation(load_campus_doc(SAMPLE), start=end - timedelta(days=days), end=end, seed=seed,
                      faults=ALL_FAULTS if faults is None else faults)


def malformed_count(sim: Simulation) -> int:
    return sum(1 for p in sim.publications() if p.what == "malformed")


def assert_exactly_once(service: IngestService, sim: Simulation, timeout: float = 120) -> None:
    expected = sim.expected()
    wait_for(lambda: service.store.count() >= len(expected), timeout,
             f"{len(expected)} readings in the {service.store.backend} store", interval=0.5)
    assert service.store.count() == len(expected)
    campus = service.registry.campus
    devices = {d.id: d for d in campus.devices}
    by_device: dict[str, dict[int, dict[str, float]]] = {}
    for (dev, ts), values in expected.items():
        by_device.setdefault(dev, {})[ts] = values
    for dev, want in by_device.items():
        got = service.store.readings(campus.site.id, dev, devices[dev].kind, sim.start_ms, sim.end_ms + 1,
                                     limit=1_000_000)
        assert [s.ts for s in got] == sorted(want), f"{dev}: timestamps differ"
        for s in got:
            assert s.values == want[s.ts], f"{dev} at {s.ts}: {s.values} != {want[s.ts]}"


def token_headers(data_dir: Path, role: str = "admin", name: str | None = None) -> dict[str, str]:
    """An Authorization header with a fresh token of ``role`` made in ``data_dir`` (as `meterwatch token create`)."""
    from api.tokens import TokenStore

    store = TokenStore(DataDir(data_dir).state)
    try:
        return {"Authorization": f"Bearer {store.create(name or f'test-{role}-{len(store.list())}', role)}"}
    finally:
        store.close()
