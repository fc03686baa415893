"""Gateways and their buses over the real app: PUT a gateway's buses, link meters to them, see the buses with their
device counts, refuse removing a bus a meter still names; the campus document a gateway process polls (ETag, 304,
and what a narrowed token gets); meter links and readings by hand on device create and update."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import build_service, create_app
from api.tokens import TokenStore
from app.settings import load_settings
from campus.db import DataDir
from campus.model import MAX_INTERVAL_S, Campus, load_campus
from campus.scope import Scope
from ingest.service import IngestService
from tests.support.harness import token_headers
from tests.support.paths import SAMPLE

BUSES = [{"name": "rs485-1", "serial": "/dev/ttyUSB0", "baud": 2400, "parity": "E"},
         {"name": "dtu-2", "tcp": "10.1.2.3:8899"},
         {"name": "dtu-3", "listen": "0.0.0.0:9000", "register": "GW3", "heartbeat": "hb"},
         {"name": "dtu-4", "mqtt": {"up": "dtu/GW4/up", "down": "dtu/GW4/down"}},
         {"name": "pm-1", "modbus_tcp": "10.1.2.4:502"}]
C1 = {"name": "一食堂集中器", "building": "canteen-1", "buses": BUSES}
ELEC = {"bus": "rs485-1", "protocol": "dlt645", "address": "000012345678"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = load_settings(None, data_dir=tmp_path)
    svc: IngestService = build_service(settings, load_campus(SAMPLE), connect_mqtt=False)
    svc.start()
    with TestClient(create_app(settings, service=svc), headers=token_headers(tmp_path)) as c:
        yield c
    svc.stop()


def _scoped(data: Path, name: str, role: str, **scope: list[str]) -> dict[str, str]:
    store = TokenStore(DataDir(data).state)
    try:
        return {"Authorization": f"Bearer {store.create(name, role, Scope.of(**scope))}"}
    finally:
        store.close()


def _gateway(c: TestClient, gateway: str, **kw: Any) -> dict[str, Any]:
    listed = c.get("/api/v1/gateways", **kw)
    assert listed.status_code == 200, listed.text
    return next(g for g in listed.json() if g["id"] == gateway)


def test_put_buses_link_meters_and_count_them(client: TestClient) -> None:
    put = client.put("/api/v1/gateways/gw-canteen-1", json=C1)
    assert put.status_code == 200, put.text  # it existed: replaced
    assert [b["reached_by"] for b in put.json()["buses"]] == ["serial", "tcp", "listen", "mqtt", "modbus_tcp"]
    assert put.json()["buses"][2]["register"] == "GW3"
    r = client.patch("/api/v1/devices/c1-elec", json={"meter": ELEC})
    assert r.status_code == 200, r.text
    assert r.json()["meter"] == {**ELEC, "unit": None, "profile": None, "registers": None, "meter_type": None}
    water = {"bus": "dtu-2", "protocol": "cjt188", "address": "12345678901234", "meter_type": 16}
    assert client.patch("/api/v1/devices/c1-water", json={"meter": water}).status_code == 200
    pm = {"id": "c1-pm", "kind": "electricity", "building": "canteen-1", "gateway": "gw-canteen-1",
          "meter": {"bus": "pm-1", "protocol": "modbus", "unit": 3,
                    "registers": {"energy_kwh": {"address": 0, "type": "uint32", "scale": 0.01}}}}
    made = client.post("/api/v1/devices", json=pm)
    assert made.status_code == 201, made.text
    assert made.json()["meter"]["registers"]["energy_kwh"]["type"] == "uint32"
    buses = {b["name"]: b["devices"] for b in _gateway(client, "gw-canteen-1")["buses"]}
    assert buses == {"rs485-1": 1, "dtu-2": 1, "dtu-3": 0, "dtu-4": 0, "pm-1": 1}
    assert _gateway(client, "c1-tap")["buses"] == []  # a device publishing for itself has none

    # a bus still named by a meter cannot go; nothing changes
    gone = client.put("/api/v1/gateways/gw-canteen-1", json={**C1, "buses": BUSES[1:]})
    assert gone.status_code == 409, gone.text
    assert "'rs485-1' is still named by device c1-elec" in gone.json()["detail"]
    assert len(_gateway(client, "gw-canteen-1")["buses"]) == 5
    # a bus turned Modbus TCP under a DL/T 645 meter: refused in words
    turned = client.put("/api/v1/gateways/gw-canteen-1",
                        json={**C1, "buses": [{"name": "rs485-1", "modbus_tcp": "10.0.0.9:502"}, *BUSES[1:]]})
    assert turned.status_code == 422, turned.text
    assert "only modbus meters" in turned.json()["detail"]
    # the link dropped first: then the bus may go
    assert client.patch("/api/v1/devices/c1-elec", json={"meter": None}).status_code == 200
    assert client.put("/api/v1/gateways/gw-canteen-1", json={**C1, "buses": BUSES[1:]}).status_code == 200


def test_a_new_gateway_is_created_and_bad_gateways_are_refused_in_words(client: TestClient) -> None:
    new = client.put("/api/v1/gateways/gw-new?site=yucai", json={"name": "新网关", "building": "office",
                                                                 "buses": BUSES[:1]})
    assert new.status_code == 201, new.text
    assert new.json() == {"id": "gw-new", "name": "新网关", "building": "office", "is_device": False, "devices": [],
                          "credentials": "none", "buses": [{**BUSES[0], "stopbits": 1, "tcp": None, "listen": None,
                                                             "register": None, "heartbeat": None, "mqtt": None,
                                                             "modbus_tcp": None, "timeout_ms": 1000, "retries": 2,
                                                             "reached_by": "serial", "devices": 0}]}
    assert _gateway(client, "gw-new")["buses"][0]["name"] == "rs485-1"
    cases = [
        ("gw-x", {"building": "nowhere"}, 422, "unknown building 'nowhere'"),
        ("gw-x", {"buses": [BUSES[0], BUSES[0]]}, 422, "used twice"),
        ("gw-x", {"buses": [{"name": "b", "serial": "/dev/x", "tcp": "1.2.3.4:5"}]}, 422, "exactly one of"),
        ("gw-x", {"buses": [{"name": "b", "tcp": "1.2.3.4:5", "baud": 9600}]}, 422, "set on the DTU"),
        ("gw-x", {"buses": [{"name": "b", "tcp": "1.2.3.4:5", "register": "GW"}]}, 422, "needs listen"),
        ("c1-tap", {}, 422, "the id of a device"),
        ("bad id!", {}, 422, "id"),
    ]
    for gateway, body, status, words in cases:
        r = client.put(f"/api/v1/gateways/{gateway}", json=body)
        assert r.status_code == status, (gateway, body, r.text)
        assert words in r.text, (gateway, body, r.text)
    assert client.put("/api/v1/gateways/gw-x", json={"extra": 1}).status_code == 422
    viewer = token_headers(Path(str(client.app.state.settings.data_dir)), "viewer")  # type: ignore[attr-defined]
    assert client.put("/api/v1/gateways/gw-x", json={}, headers=viewer).status_code == 403


def test_meter_links_and_readings_by_hand_on_devices(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    assert client.put("/api/v1/gateways/gw-canteen-1", json=C1).status_code == 200
    base = {"kind": "electricity", "building": "canteen-1", "gateway": "gw-canteen-1"}
    refused = [
        ({"bus": "rs485-1", "protocol": "dlt645", "address": "12345"}, "12 digits on the nameplate"),
        ({"bus": "rs485-1", "protocol": "dlt645", "address": "00001234567X"}, "12 digits"),
        ({"bus": "rs485-9", "protocol": "dlt645", "address": "000012345678"}, "has no bus 'rs485-9'"),
        ({"bus": "pm-1", "protocol": "modbus", "profile": "x"}, "unit id"),
        ({"bus": "pm-1", "protocol": "modbus", "unit": 3}, "exactly one of profile"),
        ({"bus": "pm-1", "protocol": "modbus", "unit": 300, "profile": "x"}, "less than or equal to 247"),
        ({"bus": "pm-1", "protocol": "modbus", "unit": 3, "profile": "bad name!"}, "profile"),
        ({"bus": "rs485-1", "protocol": "cjt188", "address": "12345678901234"}, "cjt188 is for water and gas"),
        ({"bus": "rs485-1", "protocol": "dlt999", "address": "000012345678"}, "dlt645"),
    ]
    for i, (meter, words) in enumerate(refused):
        r = client.post("/api/v1/devices", json={**base, "id": f"m{i}", "meter": meter})
        assert r.status_code == 422, (meter, r.text)
        assert words in r.text, (meter, r.text)
    # the same meter twice on a bus
    ok = client.post("/api/v1/devices", json={**base, "id": "m-a", "meter": ELEC})
    assert ok.status_code == 201, ok.text
    twice = client.post("/api/v1/devices", json={**base, "id": "m-b", "meter": ELEC})
    assert twice.status_code == 422
    assert "already device 'm-a'" in twice.text
    # a meter link without a gateway
    r = client.post("/api/v1/devices", json={"id": "m-c", "kind": "electricity", "building": "canteen-1",
                                             "meter": {**ELEC, "address": "000000000001"}})
    assert r.status_code == 422
    assert "set gateway" in r.text
    # profiles: checked against the gateway's shipped maps once they exist (the hook)
    monkeypatch.setattr("api.routers.devices.known_profiles", lambda: frozenset({"acrel-dtsd1352"}))
    unknown = client.post("/api/v1/devices", json={**base, "id": "pm-x", "meter": {
        "bus": "pm-1", "protocol": "modbus", "unit": 5, "profile": "nosuch"}})
    assert unknown.status_code == 422, unknown.text
    assert "unknown Modbus profile 'nosuch'" in unknown.text
    known = client.post("/api/v1/devices", json={**base, "id": "pm-y", "meter": {
        "bus": "pm-1", "protocol": "modbus", "unit": 5, "profile": "acrel-dtsd1352"}})
    assert known.status_code == 201, known.text
    # read by hand: a month between readings at most
    hand = {"id": "old-w", "kind": "water", "building": "dorm-2", "manual": True, "interval_s": MAX_INTERVAL_S}
    r = client.post("/api/v1/devices", json=hand)
    assert r.status_code == 201, r.text
    assert (r.json()["manual"], r.json()["interval_s"], r.json()["meter"]) == (True, MAX_INTERVAL_S, None)
    too_long = client.patch("/api/v1/devices/old-w", json={"interval_s": MAX_INTERVAL_S + 1})
    assert too_long.status_code == 422
    both = client.patch("/api/v1/devices/old-w", json={"gateway": "gw-canteen-1", "meter": {
        "bus": "dtu-2", "protocol": "cjt188", "address": "12345678901234"}})
    assert both.status_code == 422
    assert "read by hand" in both.text
    moved = client.patch("/api/v1/devices/c1-elec", json={"manual": True, "gateway": None})
    assert moved.status_code == 200, moved.text
    assert moved.json()["manual"] is True
    assert client.get("/api/v1/devices/old-w").json()["manual"] is True


def test_the_campus_document_of_a_gateway_with_etag(client: TestClient) -> None:
    assert client.put("/api/v1/gateways/gw-dorm-1", json={"name": "1号宿舍楼集中器", "building": "dorm-1",
                                                          "buses": BUSES}).status_code == 200
    assert client.patch("/api/v1/devices/d1-elec", json={"meter": ELEC}).status_code == 200
    got = client.get("/api/v1/gateways/gw-dorm-1/campus?site=yucai")
    assert got.status_code == 200, got.text
    doc = got.json()
    campus = Campus.model_validate(doc)  # a campus document as the gateway process reads it
    assert [g.id for g in campus.gateways] == ["gw-dorm-1"]
    assert [b.model_dump(exclude_defaults=True) for b in campus.gateways[0].buses] == BUSES  # every way, whole
    assert {d.id for d in campus.devices} == {"d1-elec", "d1-water", "d1-r101", "d1-r102", "d1-r201", "d1-r202"}
    assert campus.devices[0].meter is not None
    assert campus.devices[0].meter.address == "000012345678"
    assert next(d for d in campus.devices if d.id == "d1-r101").parent == "d1-elec"
    assert [b.id for b in campus.buildings] == ["dorm-1"]
    assert [(z.id, z.buildings) for z in campus.zones] == [("zone-north", ["dorm-1"])]
    assert campus.site.id == "yucai"
    assert campus.site.timezone == "Asia/Shanghai"
    assert set(doc) == {"site", "buildings", "zones", "gateways", "devices"}
    etag = got.headers["etag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    for asked in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
        same = client.get("/api/v1/gateways/gw-dorm-1/campus", headers={"If-None-Match": asked})
        assert (same.status_code, same.content, same.headers["etag"]) == (304, b"", etag), asked
    assert client.get("/api/v1/gateways/gw-dorm-1/campus", headers={"If-None-Match": '"nope"'}).status_code == 200
    # a change to one of its meters is a new document; a change elsewhere is not
    assert client.patch("/api/v1/devices/c1-elec", json={"name": "x"}).status_code == 200
    assert client.get("/api/v1/gateways/gw-dorm-1/campus", headers={"If-None-Match": etag}).status_code == 304
    assert client.patch("/api/v1/devices/d1-elec", json={"meter": {**ELEC, "bus": "dtu-2"}}).status_code == 200
    changed = client.get("/api/v1/gateways/gw-dorm-1/campus", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["devices"][0]["meter"]["bus"] == "dtu-2"
    # a device on this gateway whose parent is on another: read the same, the parent left out
    sub = {"id": "c1-sub", "kind": "electricity", "building": "canteen-1", "parent": "c1-elec", "gateway": "gw-dorm-1"}
    assert client.post("/api/v1/devices", json=sub).status_code == 201
    doc = client.get("/api/v1/gateways/gw-dorm-1/campus").json()
    Campus.model_validate(doc)
    assert "parent" not in next(d for d in doc["devices"] if d["id"] == "c1-sub")
    assert {b["id"] for b in doc["buildings"]} == {"dorm-1", "canteen-1"}
    for missing in ("/api/v1/gateways/gw-nope/campus", "/api/v1/gateways/c1-tap/campus",
                    "/api/v1/gateways/gw-dorm-1/campus?site=mingde"):
        assert client.get(missing).status_code == 404, missing


def test_a_narrowed_token_reaches_only_a_gateway_it_sees_whole(client: TestClient) -> None:
    data = Path(str(client.app.state.settings.data_dir))  # type: ignore[attr-defined]
    north = _scoped(data, "north", "admin", sites=["yucai"], zones=["zone-north"])
    dorm = _scoped(data, "dorm", "viewer", sites=["yucai"], buildings=["dorm-1"])
    gw_reader = _scoped(data, "gw-dorm-1-reader", "viewer", sites=["yucai"], buildings=["dorm-1"])
    assert client.get("/api/v1/gateways/gw-dorm-1/campus", headers=gw_reader).status_code == 200
    assert client.get("/api/v1/gateways/gw-teach-a/campus", headers=north).status_code == 404
    assert client.get("/api/v1/gateways/gw-canteen-1/campus", headers=dorm).status_code == 404
    assert client.get("/api/v1/gateways/gw-canteen-1/campus", headers=north).status_code == 200
    # a device of gw-dorm-1 in another building: the dorm-1 token no longer sees all of it
    stray = {"id": "d2-stray", "kind": "water", "building": "dorm-2", "gateway": "gw-dorm-1"}
    assert client.post("/api/v1/devices", json=stray).status_code == 201
    assert client.get("/api/v1/gateways/gw-dorm-1/campus", headers=dorm).status_code == 404
    assert _gateway(client, "gw-dorm-1", headers=dorm)["buses"] is None
    assert _gateway(client, "gw-dorm-1", headers=north)["buses"] == []
    assert client.get("/api/v1/gateways/gw-dorm-1/campus", headers=north).status_code == 200
    # writes: only a gateway wholly inside the token, into one of its buildings
    assert client.put("/api/v1/gateways/gw-teach-a", json={"building": "teach-a"}, headers=north).status_code == 404
    moved = client.put("/api/v1/gateways/gw-canteen-1", json={"building": "teach-a"}, headers=north)
    assert moved.status_code == 404
    assert "teach-a" in moved.text
    unplaced = client.put("/api/v1/gateways/gw-north-new", json={}, headers=north)
    assert unplaced.status_code == 422
    assert "give building" in unplaced.text
    placed = client.put("/api/v1/gateways/gw-north-new", json={"building": "dorm-3", "buses": BUSES[:1]},
                        headers=north)
    assert placed.status_code == 201, placed.text
    assert client.put("/api/v1/gateways/gw-canteen-1", json=C1, headers=north).status_code == 200
    assert client.put("/api/v1/gateways/gw-dorm-1", json={"building": "dorm-1"}, headers=dorm).status_code == 403
    # linking a meter of the token's own building to a bus of a gateway it cannot see: as if there were none
    assert client.put("/api/v1/gateways/gw-teach-a", json={"building": "teach-a", "buses": BUSES[:1]}
                      ).status_code == 200
    hidden = client.post("/api/v1/devices", json={"id": "d3-x", "kind": "electricity", "building": "dorm-3",
                                                  "gateway": "gw-teach-a", "meter": ELEC}, headers=north)
    assert hidden.status_code == 404
    assert "gw-teach-a" in hidden.text


def test_every_gateways_document_is_a_campus_even_across_zones_and_parents() -> None:
    """Each gateway's document validates on its own: a building in no zone, a device whose zone or parent lies
    outside the document, a gateway with no devices or no building."""
    from api.routers.gateways import gateway_campus

    sample = load_campus(SAMPLE)
    loose = sample.model_copy(update={
        "buildings": [*sample.buildings, sample.buildings[0].model_copy(update={"id": "annex", "name": "附楼"})],
        "gateways": [*sample.gateways, sample.gateways[0].model_copy(update={"id": "gw-empty", "building": None})],
        "devices": [*sample.devices,
                    sample.devices[0].model_copy(update={"id": "annex-elec", "building": "annex", "zone": None,
                                                         "parent": "c1-elec", "gateway": "gw-teach-a"})]})
    loose = Campus.model_validate(loose.model_dump())
    for g in loose.gateways:
        doc = Campus.model_validate(gateway_campus(loose, g))
        assert [x.id for x in doc.gateways] == [g.id]
        assert {d.id for d in doc.devices} == {d.id for d in loose.devices if d.gateway == g.id}
    annex = Campus.model_validate(gateway_campus(loose, next(g for g in loose.gateways if g.id == "gw-teach-a")))
    assert {b.id for b in annex.buildings} == {"teach-a", "annex"}


def test_dtu_topics_that_would_break_the_broker_acl_are_refused(client: TestClient) -> None:
    """A DTU's topics become lines of the broker's ACL file: a newline or space in one, a topic under meterwatch's
    own, one another DTU already uses, or a DTU username that is another gateway's id are refused in words."""
    def dtu(up: str, down: str = "dtu/x/down", name: str = "d") -> dict[str, Any]:
        return {"name": "二食堂集中器", "building": "canteen-2", "buses": [{"name": name, "mqtt": {"up": up,
                                                                                              "down": down}}]}

    injected = client.put("/api/v1/gateways/gw-canteen-2",
                          json=dtu("dtu/x/up\nuser gw-canteen-2.d\ntopic readwrite campus/yucai/pr-main/reading"))
    assert injected.status_code == 422, injected.text
    assert client.put("/api/v1/gateways/gw-canteen-2", json=dtu("dtu/x up")).status_code == 422
    assert client.put("/api/v1/gateways/gw-canteen-2", json=dtu("$SYS/broker")).status_code == 422
    under = client.put("/api/v1/gateways/gw-canteen-2", json=dtu("campus/yucai/pr-main/reading"))
    assert under.status_code == 422, under.text
    assert "meterwatch's own topics" in under.json()["detail"]
    assert client.put("/api/v1/gateways/gw-canteen-2", json=dtu("dtu/c2/up", "dtu/c2/down")).status_code == 200
    taken = client.put("/api/v1/gateways/gw-canteen-1", json={**dtu("dtu/c2/up", "dtu/c1/down"),
                                                             "building": "canteen-1", "name": "一食堂集中器"})
    assert taken.status_code == 422, taken.text
    assert "topics of its own" in taken.json()["detail"]
    clash = client.put("/api/v1/gateways/gw-canteen-2.d", json={"name": "x", "building": "canteen-2"})
    assert clash.status_code == 422, clash.text
    assert "DTU logs in" in clash.json()["detail"]


@pytest.mark.parametrize(("protocol", "address"), [("dlt645", "999999999999"), ("cjt188", "AAAAAAAAAAAAAA")])
def test_a_broadcast_address_is_not_a_meters(protocol: str, address: str) -> None:
    from campus.model import Meter

    with pytest.raises(ValueError, match="broadcast address"):
        Meter(bus="b", protocol=protocol, address=address)  # type: ignore[arg-type]


def test_a_modbus_register_stays_inside_the_register_space() -> None:
    from campus.model import ModbusRegister

    assert ModbusRegister(address=65_532, type="uint64").address == 65_532
    with pytest.raises(ValueError, match="runs past the last one"):
        ModbusRegister(address=65_535, type="uint64")
