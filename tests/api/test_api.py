"""The HTTP API over a real service (SQLite store, no broker): messages go in through the same
pipeline commit path MQTT uses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import build_service, create_app
from app.settings import load_settings
from campus.model import load_campus
from ingest.decode import Inbound
from ingest.service import IngestService
from tests.support.harness import token_headers
from tests.support.paths import SAMPLE

T0 = 1_795_000_000_000  # 2026-11-18T... UTC, a Wednesday


@pytest.fixture
def client(service: IngestService, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(load_settings(None, data_dir=tmp_path), service=service)
    with TestClient(app, headers=token_headers(tmp_path)) as c:
        yield c


def _send(service: IngestService, device: str, payload: object, site: str = "yucai") -> None:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    service.pipeline.commit([Inbound(f"campus/{site}/{device}/reading", body, T0 + 86_400_000, 1, 1)])


def test_health_and_devices(client: TestClient, service: IngestService) -> None:
    h = client.get("/api/v1/health").json()
    assert h["status"] == "ok"
    assert h["store_backend"] == "sqlite"
    devices = client.get("/api/v1/devices").json()
    assert len(devices) == len(service.registry.campus.devices)
    one = client.get("/api/v1/devices/c1-gas").json()
    assert one["department"] == "canteen"
    assert one["zone"] == "zone-north"
    assert one["status"] == "unknown"
    assert client.get("/api/v1/devices/nope").status_code == 404


def test_readings_raw_in_time_order_and_downsampled(client: TestClient, service: IngestService) -> None:
    items = [{"ts": (T0 + i * 900_000) / 1000, "values": {"volume_m3": 100 + i}} for i in range(8)]
    _send(service, "c1-water", list(reversed(items)))   # a gateway flushing newest first
    _send(service, "c1-water", items[3])                 # duplicate
    start = "2026-11-18T00:00:00+08:00"
    raw = client.get("/api/v1/devices/c1-water/readings", params={"start": start, "end": "2026-11-20T00:00:00Z"})
    body = raw.json()
    assert body["count"] == 8
    assert [r["values"]["volume_m3"] for r in body["readings"]] == [100 + i for i in range(8)]
    assert body["readings"][0]["ts"].endswith("+08:00")
    hourly = client.get("/api/v1/devices/c1-water/readings",
                        params={"start": start, "end": "2026-11-20T00:00:00Z", "interval": "1h", "agg": "max"}).json()
    assert sum(1 for _ in hourly["readings"]) in (2, 3)
    assert hourly["interval_s"] == 3600
    latest = client.get("/api/v1/devices/c1-water/latest").json()
    assert latest["values"]["volume_m3"] == 107
    bad = client.get("/api/v1/devices/c1-water/readings", params={"interval": "soon"})
    assert bad.status_code == 422
    assert "15m" in bad.text


def test_dead_letters_listed_and_replayed_after_registry_fix(client: TestClient, service: IngestService) -> None:
    _send(service, "new-meter", {"ts": T0 / 1000, "values": {"volume_m3": 5}})
    _send(service, "c1-water", b"{not json")
    letters = client.get("/api/v1/dead-letters").json()
    assert len(letters) == 2
    unknown = next(d for d in letters if "unknown device" in d["reason"])
    assert client.post(f"/api/v1/dead-letters/{unknown['id']}/replay").status_code == 409
    from campus.model import Device

    service.registry.upsert_devices([Device(id="new-meter", kind="water", building="dorm-1")])  # type: ignore[arg-type]
    done = client.post(f"/api/v1/dead-letters/{unknown['id']}/replay")
    assert done.status_code == 200
    assert done.json()["stored_readings"] == 1
    assert service.store.count("new-meter") == 1
    assert len(client.get("/api/v1/dead-letters").json()) == 1
    assert client.post("/api/v1/dead-letters/999/replay").status_code == 404


def test_batch_keeps_valid_items_and_is_one_dead_letter_naming_each_bad_item(client: TestClient,
                                                                            service: IngestService) -> None:
    _send(service, "ta-fountain", [{"ts": T0 / 1000, "values": {"ph": 7.1}},
                                   {"ts": T0 / 1000 + 600, "values": {"ph": 21}},
                                   {"ts": T0 / 1000 + 1200, "values": {"ph": 7.2}, "extra": 1}])
    assert service.store.count("ta-fountain") == 1
    (letter,) = service.dead_letters.list()
    assert letter.reason.startswith("2 of 3 batch items refused")
    (one, why_one), (two, why_two) = letter.items
    assert (one, two) == (1, 2)
    assert "ph=21" in str(why_one)
    assert "extra" in str(why_two)
    listed = client.get("/api/v1/dead-letters").json()
    assert [i["index"] for i in listed[0]["items"]] == [1, 2]


def test_health_warns_when_dead_letters_near_their_bound(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=tmp_path, ingest={"dead_letter_max_count": 100})
    svc = build_service(settings, load_campus(SAMPLE), connect_mqtt=False)
    try:
        assert svc.health().warnings == ()
        svc.pipeline.commit([Inbound("campus/yucai/c1-water/reading", f"bad {i}".encode(), T0, i, 1)
                             for i in range(85)])
        (warning,) = svc.health().warnings
        assert "85%" in warning
        assert "dead_letter_max_count" in warning
        assert svc.health().status == "ok"
    finally:
        svc.stop()


def test_openapi_served(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/devices/{device_id}/readings" in paths
    assert "/api/v1/dead-letters/{letter_id}/replay" in paths
