"""GET /api/v1/consumption over the real service: readings go in through the pipeline's commit path
(the one MQTT uses), so the roll-ups follow ingest's change log as in production."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from api.app import build_service, create_app
from app.settings import load_settings
from campus.model import load_campus
from ingest.decode import Inbound
from ingest.service import IngestService
from tests.support.harness import token_headers
from tests.support.paths import SAMPLE

TZ = ZoneInfo("Asia/Shanghai")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[IngestService]:
    svc = build_service(load_settings(None, data_dir=tmp_path), load_campus(SAMPLE), connect_mqtt=False)
    svc.start()
    yield svc
    svc.stop()


@pytest.fixture
def client(service: IngestService, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(load_settings(None, data_dir=tmp_path), service=service),
                    headers=token_headers(tmp_path)) as c:
        yield c


def send(service: IngestService, device: str, items: list[dict[str, object]]) -> None:
    service.pipeline.commit([Inbound(f"campus/yucai/{device}/reading", json.dumps(items).encode(),
                                     int(at("2026-03-05 00:00") * 1000), 1, 1)])


def hourly(field: str, start: float, per_hour: float, hours: int,
           t0: str = "2026-03-02 00:00") -> list[dict[str, object]]:
    return [{"ts": at(t0) + h * 3600, "values": {field: start + per_hour * h}} for h in range(hours + 1)]


def test_building_totals_exclude_sub_meters_and_the_incomer(client: TestClient, service: IngestService) -> None:
    # d1-elec (multiplier 20): +1 register unit an hour = 20 kWh/h; room meter d1-r101 +0.5 kWh/h is inside it
    send(service, "d1-elec", hourly("energy_kwh", 35000, 1, 48))
    send(service, "d1-r101", hourly("energy_kwh", 801, 0.5, 48))
    send(service, "pr-main", hourly("energy_kwh", 9000, 1, 48))  # the incomer: ×200, the whole campus
    q = {"kind": "electricity", "start": "2026-03-02", "end": "2026-03-04", "interval": "day"}
    body = client.get("/api/v1/consumption", params={**q, "group_by": "building"}).json()
    dorm = next(g for g in body["groups"] if g["key"] == "dorm-1")
    assert dorm["meters"] == ["d1-elec"]
    assert [b["value"] for b in dorm["buckets"]] == [480.0, 480.0]
    assert dorm["buckets"][0]["coverage"] == 0.25  # hourly readings from a 15-minute meter: 24 of 96
    assert body["unit"] == "kWh"
    assert body["start"] == "2026-03-02T00:00:00+08:00"
    power_room = next(g for g in body["groups"] if g["key"] == "power-room")
    assert power_room["meters"] == ["pr-aux"]  # the room's own use; the incomer is not a building's use
    devices = client.get("/api/v1/consumption", params={**q, "group_by": "device"}).json()
    per = {g["key"]: g["total"] for g in devices["groups"] if g["total"]}
    # pr-public, the virtual public-area meter: the incomer less every building's main meter (only d1-elec sent)
    assert per == {"d1-elec": 960.0, "d1-r101": 24.0, "pr-main": 9600.0, "pr-public": 9600.0 - 960.0}


def test_hours_out_of_order_and_a_replaced_meter(client: TestClient, service: IngestService) -> None:
    items = hourly("volume_m3", 5300, 2, 6)
    send(service, "c1-water", list(reversed(items[:4])))  # newest first, as a gateway flushing its buffer
    # the meter is replaced at 04:30: the new one reads 0.5 at 05:00 and 2.5 at 06:00
    send(service, "c1-water", [{"ts": at("2026-03-02 05:00"), "values": {"volume_m3": 0.5}},
                               {"ts": at("2026-03-02 06:00"), "values": {"volume_m3": 2.5}}])
    body = client.get("/api/v1/consumption", params={
        "kind": "water", "start": "2026-03-02T00:00", "end": "2026-03-02T06:00", "interval": "hour",
        "group_by": "device", "device": "c1-water"}).json()
    (g,) = body["groups"]
    # 00-03: 2 m³ an hour; 03:00 5306 -> 05:00 0.5 is a new meter cycle: 0.5 counted from zero; 05-06: 2
    assert [b["value"] for b in g["buckets"]] == [2.0, 2.0, 2.0, 0.25, 0.25, 2.0]
    assert [f["flag"] for f in body["flagged"]] == ["new_cycle"]


def test_clear_errors(client: TestClient) -> None:
    bad = client.get("/api/v1/consumption", params={"kind": "water_quality"})
    assert bad.status_code == 422
    assert "no consumption" in bad.json()["detail"]
    assert client.get("/api/v1/consumption", params={"start": "yesterday"}).status_code == 422
    r = client.get("/api/v1/consumption", params={"start": "2026-03-02", "end": "2026-03-01"})
    assert r.status_code == 422
    assert "before" in r.json()["detail"]


def test_energy_report_downloads(client: TestClient, service: IngestService) -> None:
    send(service, "d1-elec", hourly("energy_kwh", 35000, 1, 48))
    body = client.get("/api/v1/reports/energy", params={"month": "2026-03"}).json()
    dorm = next(b for b in body["buildings"] if b["id"] == "dorm-1")
    assert dorm["figures"]["electricity_kwh"] == pytest.approx(960.0)
    assert body["language"] == "zh-CN"
    assert client.get("/api/v1/reports/energy", params={"month": "2026-03", "lang": "en"}).json()["language"] == "en"
    for fmt, magic in (("csv", b"\xef\xbb\xbf"), ("xlsx", b"PK"), ("pdf", b"%PDF")):
        r = client.get("/api/v1/reports/energy", params={"month": "2026-03", "format": fmt})
        assert r.status_code == 200, r.text
        assert r.content.startswith(magic)
        assert "energy-report-yucai-2026-03." + fmt in r.headers["content-disposition"]
    bad = client.get("/api/v1/reports/energy", params={"month": "2026-13"})
    assert bad.status_code == 422
    assert "YYYY-MM" in bad.json()["detail"]
