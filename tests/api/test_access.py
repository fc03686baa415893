"""Tokens and roles over the real app: 401 without or with a bad token, 403 for a role too low,
device create/update/delete for admins, and the open endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import build_service, create_app
from api.tokens import TokenStore
from app.settings import load_settings
from campus.db import DataDir
from campus.errors import NotFound
from campus.model import load_campus
from cli.main import main
from ingest.service import IngestService
from tests.support.harness import token_headers
from tests.support.paths import SAMPLE


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = load_settings(None, data_dir=tmp_path)
    svc: IngestService = build_service(settings, load_campus(SAMPLE), connect_mqtt=False)
    svc.start()
    with TestClient(create_app(settings, service=svc)) as c:
        yield c
    svc.stop()


def test_missing_bad_and_low_role_tokens(app_client: TestClient, tmp_path: Path) -> None:
    r = app_client.get("/api/v1/devices")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert "meterwatch token create" in r.json()["detail"]
    assert app_client.get("/api/v1/devices", headers={"Authorization": "Bearer mw_nope"}).status_code == 401
    viewer = token_headers(tmp_path, "viewer", "pat")
    assert app_client.get("/api/v1/devices", headers=viewer).status_code == 200
    assert app_client.get("/api/v1/me", headers=viewer).json() == {
        "name": "pat", "role": "viewer", "person": None, "zones": [],
        "scope": {"sites": [], "zones": [], "buildings": []}}
    r = app_client.post("/api/v1/alerts/1/ack", json={"by": "pat"}, headers=viewer)
    assert r.status_code == 403
    assert "needs electrician" in r.json()["detail"]
    electrician = token_headers(tmp_path, "electrician", "wang")
    assert app_client.post("/api/v1/dead-letters/1/replay", headers=electrician).status_code == 403
    assert app_client.post("/api/v1/devices", json={"id": "x", "kind": "water", "building": "office"},
                           headers=electrician).status_code == 403
    # open without a token
    assert app_client.get("/api/v1/health").status_code == 200
    assert app_client.get("/metrics").status_code == 200


def test_tokens_are_stored_hashed_and_can_be_revoked(app_client: TestClient, tmp_path: Path) -> None:
    admin = token_headers(tmp_path, "admin", "boss")
    made = app_client.post("/api/v1/tokens", json={"name": "grafana", "role": "viewer"}, headers=admin).json()
    token = made["token"]
    assert token.startswith("mw_")
    raw = (DataDir(tmp_path).state).read_bytes() + (tmp_path / "meterwatch.db-wal").read_bytes()
    assert token.encode() not in raw
    assert {t["name"] for t in app_client.get("/api/v1/tokens", headers=admin).json()} == {"boss", "grafana"}
    assert app_client.get("/api/v1/rules", headers={"Authorization": f"Bearer {token}"}).status_code in (200, 503)
    assert app_client.delete("/api/v1/tokens/grafana", headers=admin).status_code == 204
    assert app_client.get("/api/v1/devices", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_device_create_update_delete(app_client: TestClient, tmp_path: Path) -> None:
    admin = token_headers(tmp_path)
    new = {"id": "c1-kitchen", "kind": "electricity", "building": "canteen-1", "name": "一食堂厨房分表",
           "rated_capacity": 120, "parent": "c1-elec"}
    r = app_client.post("/api/v1/devices", json=new, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["zone"] == "zone-north"
    assert r.json()["parent"] == "c1-elec"
    assert app_client.post("/api/v1/devices", json=new, headers=admin).status_code == 409
    bad = app_client.post("/api/v1/devices", json={**new, "id": "x2", "building": "nowhere"}, headers=admin)
    assert bad.status_code == 422
    assert "nowhere" in bad.json()["detail"]
    r = app_client.patch("/api/v1/devices/c1-kitchen", json={"multiplier": 2, "building": "canteen-2",
                                                              "parent": None}, headers=admin)
    assert r.status_code == 200, r.text
    assert (r.json()["multiplier"], r.json()["building"], r.json()["parent"]) == (2, "canteen-2", None)
    named = app_client.delete("/api/v1/devices/c1-elec", headers=admin)  # a term of the virtual public-area meter
    assert named.status_code == 422
    assert "公共区域及线损(虚拟表) (pr-public)" in named.json()["detail"]
    assert app_client.delete("/api/v1/devices/c1-water", headers=admin).status_code == 204
    assert app_client.delete("/api/v1/devices/c1-kitchen", headers=admin).status_code == 204
    assert app_client.get("/api/v1/devices/c1-kitchen", headers=admin).status_code == 404
    schema = app_client.get("/openapi.json").json()
    assert schema["components"]["schemas"]["DeviceCreate"]["examples"][0]["id"] == "c1-elec-2"
    assert "bearer" in str(schema["components"]["securitySchemes"]).lower()


def test_token_command(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METERWATCH_DATA_DIR", str(tmp_path))
    assert main(["token", "create", "--role", "electrician", "--name", "li"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    store = TokenStore(DataDir(tmp_path).state)
    principal = store.check(token)
    assert principal is not None
    assert (principal.name, principal.role.value) == ("li", "electrician")
    store.close()
    assert main(["token", "create", "--role", "viewer", "--name", "li"]) == 2  # names are unique
    assert "exists" in capsys.readouterr().err
    assert main(["token", "revoke", "li"]) == 0
    assert main(["token", "list"]) == 0


def test_tokens_are_revoked_by_exact_name_only(tmp_path: Path) -> None:
    store = TokenStore(DataDir(tmp_path).state)
    try:
        first = store.create("wang", "viewer")
        store.create("1", "viewer")
        with pytest.raises(NotFound):
            store.revoke("wan%")
        with pytest.raises(NotFound):
            store.revoke("WANG")
        store.revoke("1")  # the token named "1", not the token whose id is 1
        assert store.check(first) is not None
        assert [t.name for t in store.list()] == ["wang"]
    finally:
        store.close()


def test_gateway_routes_need_their_roles(app_client: TestClient, tmp_path: Path) -> None:
    """Reading a gateway's buses and its campus document is a viewer's; changing them an admin's."""
    assert app_client.get("/api/v1/gateways/gw-canteen-1/campus").status_code == 401
    assert app_client.put("/api/v1/gateways/gw-canteen-1", json={}).status_code == 401
    viewer = token_headers(tmp_path, "viewer", "gw-reader")
    assert app_client.get("/api/v1/gateways/gw-canteen-1/campus", headers=viewer).status_code == 200
    electrician = token_headers(tmp_path, "electrician", "zhang")
    r = app_client.put("/api/v1/gateways/gw-canteen-1", json={"building": "canteen-1"}, headers=electrician)
    assert r.status_code == 403
    assert "needs admin" in r.json()["detail"]
    admin = token_headers(tmp_path)
    assert app_client.put("/api/v1/gateways/gw-canteen-1", json={"building": "canteen-1"},
                          headers=admin).status_code == 200
