"""GET /api/v1/flow (能流图) and a virtual meter through GET /api/v1/consumption, over the real service: readings go
in through the pipeline's commit path, the roll-ups follow ingest's change log. Every figure worked out by hand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from api.app import build_service, create_app
from api.tokens import TokenStore
from app.settings import load_settings
from campus.db import DataDir
from campus.model import load_campus
from campus.scope import Scope
from ingest.decode import Inbound
from ingest.service import IngestService
from tests.support.harness import token_headers

TZ = ZoneInfo("Asia/Shanghai")
CAMPUS = """
site: {id: s, name: 测试校区, timezone: Asia/Shanghai}
buildings:
  - {id: pr, name: 配电房, department: power_room}
  - {id: b1, name: 办公楼, department: office, code: 330106D001}
  - {id: b2, name: 第一食堂, department: canteen}
devices:
  - {id: inc, kind: electricity, building: pr, role: incomer, name: 进线总表}
  - {id: e1, kind: electricity, building: b1, name: 办公楼总表}
  - {id: e1-ac, kind: electricity, building: b1, parent: e1, item: 01B00, name: 办公楼空调}
  - {id: e1-light, kind: electricity, building: b1, parent: e1, item: 01A00, name: 办公楼照明}
  - {id: e1-ac-2, kind: electricity, building: b1, parent: e1-ac, item: 01B20, name: 空调末端}
  - {id: e2, kind: electricity, building: b2, name: 食堂总表}
  - {id: e2-k, kind: electricity, building: b2, parent: e2, name: 后厨}
  - {id: pub, kind: electricity, building: pr, name: 公共区域, virtual: "inc - e1 - e2"}
"""
# October 2026, one reading at each end of the month (00:00 on 1 October and 1 November, local):
USE = {"inc": 1000, "e1": 500, "e1-ac": 200, "e1-light": 100, "e1-ac-2": 50, "e2": 300, "e2-k": 120}
#   incomer 1000 → 办公楼 500, 第一食堂 300, losses 1000 − 500 − 300 = 200
#   办公楼 500 → 空调 (01B00) 200, 照明插座 (01A00) 100, 未分项 500 − 200 − 100 = 200 (e1-ac-2 is inside e1-ac)
#   第一食堂 300 → 厨房餐厅 (01D20, a canteen's default) 120, 未分项 300 − 120 = 180
#   公共区域 = inc − e1 − e2 = 1000 − 500 − 300 = 200 in the month, 200 / 31 a day, 200 / 744 an hour


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[IngestService]:
    path = tmp_path / "campus.yaml"
    path.write_text(CAMPUS, encoding="utf-8")
    svc = build_service(load_settings(None, data_dir=tmp_path), load_campus(path), connect_mqtt=False)
    svc.start()
    for device, use in USE.items():
        items = [{"ts": at("2026-10-01 00:00"), "values": {"energy_kwh": 1000.0}},
                 {"ts": at("2026-11-01 00:00"), "values": {"energy_kwh": 1000.0 + use}}]
        svc.pipeline.commit([Inbound(f"campus/s/{device}/reading", json.dumps(items).encode(),
                                     int(at("2026-11-02 00:00") * 1000), 1, 1)])
    yield svc
    svc.stop()


@pytest.fixture
def client(service: IngestService, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(load_settings(None, data_dir=tmp_path), service=service),
                    headers=token_headers(tmp_path)) as c:
        yield c


def test_the_flow_by_hand_and_every_node_balances(client: TestClient) -> None:
    got = client.get("/api/v1/flow", params={"month": "2026-10", "kind": "electricity"})
    assert got.status_code == 200, got.text
    flow = got.json()
    nodes = {n["id"]: (n["name"], n["value"]) for n in flow["nodes"]}
    assert nodes == {
        "incomer": ("供电进线", 1000.0), "loss": ("线损及未计量", 200.0),
        "building:b1": ("办公楼", 500.0), "building:b2": ("第一食堂", 300.0),
        "item:01A00": ("照明插座用电", 100.0), "item:01B00": ("空调用电", 200.0), "item:01D20": ("厨房餐厅", 120.0),
        "unitemised": ("未分项", 380.0)}
    assert flow["whole"] is True
    assert next(n for n in flow["nodes"] if n["id"] == "building:b1")["code"] == "330106D001"
    links = {(k["source"], k["target"]): k["value"] for k in flow["links"]}
    assert links == {("incomer", "building:b1"): 500.0, ("incomer", "building:b2"): 300.0, ("incomer", "loss"): 200.0,
                     ("building:b1", "item:01B00"): 200.0, ("building:b1", "item:01A00"): 100.0,
                     ("building:b1", "unitemised"): 200.0,
                     ("building:b2", "item:01D20"): 120.0, ("building:b2", "unitemised"): 180.0}
    value = {n["id"]: n["value"] for n in flow["nodes"]}
    for node in flow["nodes"]:
        into = sum(v for (_, b), v in links.items() if b == node["id"])
        out = sum(v for (a, _), v in links.items() if a == node["id"])
        if node["kind"] == "incomer":
            assert out == pytest.approx(value["incomer"])  # buildings plus the losses
        elif node["kind"] == "building":
            assert into == pytest.approx(out)  # in from the incomer = its items + 未分项
            assert into == pytest.approx(node["value"])
        else:
            assert into == pytest.approx(node["value"])
    english = client.get("/api/v1/flow", params={"month": "2026-10", "lang": "en"}).json()
    assert {n["name"] for n in english["nodes"]} >= {"Incomer", "Line losses and unmetered", "Unitemised",
                                                     "Air conditioning", "Kitchens and canteens"}


def test_a_narrowed_token_sees_its_buildings_and_no_incomer(client: TestClient, tmp_path: Path) -> None:
    store = TokenStore(DataDir(tmp_path).state)
    narrowed = store.create("办公楼电工", "viewer", scope=Scope.of(sites=["s"], buildings=["b1"]))
    store.close()
    flow = client.get("/api/v1/flow", params={"month": "2026-10"},
                      headers={"Authorization": f"Bearer {narrowed}"}).json()
    assert flow["whole"] is False
    assert [n["id"] for n in flow["nodes"]] == ["building:b1", "item:01A00", "item:01B00", "unitemised"]
    assert "第一食堂" not in json.dumps(flow, ensure_ascii=False)


@pytest.mark.parametrize(("params", "says"), [
    ({"month": "2026-13"}, "YYYY-MM"), ({"month": "1999-01"}, "2001-01"),
    ({"month": "2026-10", "kind": "water_quality"}, "no flow"), ({}, "month")])
def test_bad_questions_are_422(client: TestClient, params: dict[str, str], says: str) -> None:
    got = client.get("/api/v1/flow", params=params)
    assert got.status_code == 422
    assert says in got.text


def test_the_virtual_meter_through_the_consumption_api(client: TestClient) -> None:
    month = client.get("/api/v1/consumption", params={
        "kind": "electricity", "start": "2026-10-01", "end": "2026-11-01", "interval": "month", "group_by": "device",
        "device": "pub"}).json()
    assert [(g["key"], g["name"], g["total"]) for g in month["groups"]] == [("pub", "公共区域", 200.0)]
    days = client.get("/api/v1/consumption", params={"start": "2026-10-05", "end": "2026-10-07", "interval": "day",
                                                     "group_by": "device", "device": "pub"}).json()
    assert [b["value"] for b in days["groups"][0]["buckets"]] == pytest.approx([200 / 31, 200 / 31])
    hours = client.get("/api/v1/consumption", params={"start": "2026-10-05T00:00", "end": "2026-10-05T03:00",
                                                      "interval": "hour", "group_by": "device", "device": "pub"}).json()
    assert [b["value"] for b in hours["groups"][0]["buckets"]] == pytest.approx([200 / 744] * 3, abs=1e-6)
    # it counts in no total: the site adds its two main meters, 500 + 300
    site = client.get("/api/v1/consumption", params={"start": "2026-10-01", "end": "2026-11-01", "interval": "month",
                                                     "group_by": "site"}).json()
    assert site["groups"][0]["meters"] == ["e1", "e2"]
    assert site["total"] == 800.0
