"""Sub-item energy over the real app: GET /consumption?group_by=item on the campus of tests/support/items.py (its
October worked out by hand there), readings sent through the pipeline's commit path; a narrowed token sees only
its buildings' items; group_by accepted iff it is one of the groupings; items in the devices API; building codes in
GET /campus."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.access import Scope
from api.app import build_service, create_app
from api.tokens import TokenStore
from app.settings import load_settings
from campus.db import DataDir
from campus.model import load_campus
from ingest.decode import Inbound
from ingest.service import IngestService
from tests.support.harness import token_headers
from tests.support.items import CAMPUS, CAMPUS_YAML, RATES, SITE_ITEMS, TZ, days, field_of

OCTOBER = {"kind": "electricity", "start": "2026-10-01", "end": "2026-11-01", "interval": "month"}
GROUPINGS = {"device", "building", "department", "zone", "site", "item"}


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("items-api")


@pytest.fixture(scope="module")
def client(state: Path) -> Iterator[TestClient]:
    tmp = state
    path = tmp / "campus.yaml"
    path.write_text(CAMPUS_YAML, encoding="utf-8")
    settings_ = load_settings(None, data_dir=tmp)
    service: IngestService = build_service(settings_, load_campus(path), connect_mqtt=False)
    service.start()
    try:
        for dev in CAMPUS.devices:
            items = [{"ts": datetime(d.year, d.month, d.day, tzinfo=TZ).timestamp(),
                      "values": {field_of(dev.kind): 1000.0 + RATES[dev.id] * i}} for i, d in enumerate(days())]
            service.pipeline.commit([Inbound(f"campus/s/{dev.id}/reading", json.dumps(items).encode(),
                                             int(datetime(2026, 11, 2, tzinfo=TZ).timestamp() * 1000), 1, 1)])
        with TestClient(create_app(settings_, service=service), headers=token_headers(tmp)) as c:
            yield c
    finally:
        service.stop()


def scoped(state: Path, name: str = "b2-admin", **scope: list[str]) -> dict[str, str]:
    store = TokenStore(DataDir(state).state)
    try:
        return {"Authorization": f"Bearer {store.create(name, 'admin', Scope.of(**scope))}"}
    finally:
        store.close()


def test_items_plus_unitemised_equal_the_site(client: TestClient) -> None:
    r = client.get("/api/v1/consumption", params={**OCTOBER, "group_by": "item"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["group_by"] == "item"
    assert {g["key"]: g["total"] for g in body["groups"]} == pytest.approx(SITE_ITEMS)
    assert [g["key"] for g in body["groups"]][-1] == "unitemised"
    site = client.get("/api/v1/consumption", params={**OCTOBER, "group_by": "site"}).json()
    assert body["total"] == pytest.approx(site["total"]) == pytest.approx(3100 + 1550 + 310)
    unitemised = body["groups"][-1]
    assert unitemised["name"] == "未分项"
    assert unitemised["meters"] == ["e1", "e3"]
    assert "宿舍总表" in unitemised["note"]  # its sub-meter read more: said, by name
    assert next(g for g in body["groups"] if g["key"] == "01D20")["name"] == "厨房餐厅"
    en = client.get("/api/v1/consumption", params={**OCTOBER, "group_by": "item", "lang": "en"}).json()
    assert [g["name"] for g in en["groups"]][-2:] == ["Kitchens and canteens", "Unitemised"]
    assert "sub-meters read more" in en["groups"][-1]["note"]
    water = client.get("/api/v1/consumption", params={**OCTOBER, "kind": "water", "group_by": "item"}).json()
    assert {g["key"]: g["total"] for g in water["groups"]} == pytest.approx({"02000": 620})


def test_a_narrowed_token_sees_only_its_buildings_items(client: TestClient, state: Path) -> None:
    headers = scoped(state, buildings=["b2"])
    body = client.get("/api/v1/consumption", params={**OCTOBER, "group_by": "item"}, headers=headers).json()
    # b2 by hand: e2 1550 − 620 = 930 under 01D20, e2a 620 under 01B20, 未分项 0 (shown)
    assert {g["key"]: g["total"] for g in body["groups"]} == pytest.approx({"01B20": 620, "01D20": 930,
                                                                             "unitemised": 0})
    assert all(g["note"] is None for g in body["groups"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.sampled_from(sorted(GROUPINGS)), st.text(max_size=12)))
def test_group_by_is_accepted_iff_it_is_a_grouping(client: TestClient, group_by: str) -> None:
    r = client.get("/api/v1/consumption", params={**OCTOBER, "group_by": group_by})
    assert r.status_code == (200 if group_by in GROUPINGS else 422), r.text


def test_items_in_the_devices_api_and_codes_in_the_campus(client: TestClient) -> None:
    e2 = client.get("/api/v1/devices/e2").json()
    assert (e2["item"], e2["item_name"], e2["item_default"]) == ("01D20", "厨房餐厅", True)
    e1a = client.get("/api/v1/devices/e1a", params={"lang": "en"}).json()
    assert (e1a["item"], e1a["item_name"], e1a["item_default"]) == ("01A00", "Lighting and sockets", False)
    made = client.post("/api/v1/devices", json={"id": "e1c", "kind": "electricity", "building": "b1",
                                                "parent": "e1", "item": "动力用电"})
    assert made.status_code == 201, made.text
    assert made.json()["item"] == "01C00"
    wrong = client.patch("/api/v1/devices/w1s", json={"item": "01A00"})
    assert wrong.status_code == 422
    assert "electricity item, not water" in wrong.text
    unknown = client.patch("/api/v1/devices/e1c", json={"item": "路灯"})
    assert unknown.status_code == 422
    assert "neither an energy item code nor its name" in unknown.text
    shared = client.patch("/api/v1/devices/e1c", json={"item": "照明插座 60%，空调 40%"})
    assert shared.status_code == 200, shared.text
    assert (shared.json()["item"], shared.json()["item_name"]) == ("01A00 60%, 01B00 40%",
                                                                   "照明插座用电 60%、空调用电 40%")
    for bad, says in (("01A00 60%, 01B00 30%", "add up to 90 %, not 100 %"), ("01A00 60%, 01B00", "has no share"),
                      ("01A00 50%, 照明插座 50%", "01A00 is named twice")):
        refused = client.patch("/api/v1/devices/e1c", json={"item": bad})
        assert refused.status_code == 422, bad
        assert says in refused.json()["detail"], refused.text
    assert client.delete("/api/v1/devices/e1c").status_code == 204
    buildings = {b["id"]: b["code"] for b in client.get("/api/v1/campus").json()["buildings"]}
    assert buildings == {"b1": "330106D001", "b2": "330106D002", "b3": None}


def test_a_virtual_meter_made_through_the_api_and_its_terms_in_scope(client: TestClient, state: Path) -> None:
    """POST a virtual meter: its October is its terms' (e1 − e1a = 3100 − 930); a token that cannot see a term may
    not name it (404, as for anything outside); a bad expression and deleting a term it names are refused."""
    made = client.post("/api/v1/devices", json={"id": "e1-rest", "kind": "electricity", "building": "b1",
                                                "name": "教学楼A除照明", "virtual": "e1 - e1a"})
    assert made.status_code == 201, made.text
    assert (made.json()["virtual"], made.json()["item"]) == ("e1 - e1a", None)
    try:
        use = client.get("/api/v1/consumption", params={**OCTOBER, "group_by": "device", "device": "e1-rest"}).json()
        assert [g["total"] for g in use["groups"]] == pytest.approx([3100 - 930])
        site = client.get("/api/v1/consumption", params={**OCTOBER, "group_by": "site"}).json()
        assert site["total"] == pytest.approx(3100 + 1550 + 310)  # counted in no total
        gone = client.delete("/api/v1/devices/e1a")
        assert gone.status_code == 422, gone.text
        assert gone.json()["detail"] == ("e1a is a term of 教学楼A除照明 (e1-rest): change or delete that virtual "
                                         "meter first")
        bad = client.post("/api/v1/devices", json={"id": "e1-bad", "kind": "electricity", "building": "b1",
                                                   "virtual": "e1 -"})
        assert bad.status_code == 422, bad.text
        assert bad.json()["detail"].startswith("virtual:")
        b2 = scoped(state, "b2-maker", buildings=["b2"])
        outside = client.post("/api/v1/devices", json={"id": "e2-x", "kind": "electricity", "building": "b2",
                                                       "virtual": "e2 - e1"}, headers=b2)
        assert outside.status_code == 404, outside.text
        assert "e1" in outside.json()["detail"]
        spy = client.post("/api/v1/devices", json={"id": "b1-spy", "kind": "electricity", "building": "b1",
                                                   "virtual": "e1 + e2"})  # made by a site-wide admin
        assert spy.status_code == 201, spy.text
        b1 = scoped(state, "b1-viewer", buildings=["b1"])
        both = scoped(state, "b1b2-viewer", buildings=["b1", "b2"])
        assert client.get("/api/v1/devices/b1-spy", headers=b1).status_code == 404  # e2 is not b1's to see
        assert "b1-spy" not in {d["id"] for d in client.get("/api/v1/devices", headers=b1).json()}
        seen = client.get("/api/v1/consumption", params={**OCTOBER, "group_by": "device"}, headers=b1).json()
        assert "b1-spy" not in {g["key"] for g in seen["groups"]}
        assert client.get("/api/v1/devices/b1-spy", headers=both).status_code == 200
        assert client.delete("/api/v1/devices/b1-spy").status_code == 204
        read = client.post("/api/v1/readings/manual", json={"device": "e1-rest", "values": {"energy_kwh": 1.0}})
        assert read.status_code == 422, read.text
        assert "virtual meter" in read.json()["detail"]
    finally:
        assert client.delete("/api/v1/devices/e1-rest").status_code == 204
