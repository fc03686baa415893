"""Domain errors become HTTP statuses in one table (api/errors.py), registered once; no router catches one of
them to answer itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.access import AmbiguousSite, SharedDeviceId
from api.errors import STATUSES, install
from campus.errors import AlreadyExists, ConfigError, Invalid, NotFound, StoreUnavailable
from tests.support.alertapp import alert_app
from tests.support.paths import ROOT


@pytest.mark.parametrize(("error", "status"), [
    (NotFound, 404), (AlreadyExists, 409), (SharedDeviceId, 409), (AmbiguousSite, 422), (Invalid, 422),
    (ConfigError, 503), (StoreUnavailable, 503)])
def test_each_error_answers_its_status_with_its_message(error: type[Exception], status: int) -> None:
    app = FastAPI()
    install(app)

    @app.get("/boom")
    def boom() -> None:
        raise error("what to fix")

    with TestClient(app) as client:
        r = client.get("/boom")
    assert r.status_code == status
    assert "what to fix" in r.json()["detail"]


def test_no_router_catches_a_domain_error_of_the_table() -> None:
    names = {e.__name__ for e in STATUSES}
    caught = []
    for path in sorted((ROOT / "api").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ExceptHandler) and node.type is not None:
                types = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
                caught += [f"{path.name} {t.id}" for t in types
                           if isinstance(t, ast.Name) and t.id in names]
    # one exception: adding a device that exists says how to change it instead, and raises AlreadyExists again
    assert caught == ["devices.py AlreadyExists"]


def test_json_nested_past_the_parsers_limit_is_400_not_500(tmp_path: Path) -> None:
    """#21: deeply nested JSON gave 500 (RecursionError) on the records' routes, as a body and as the multipart
    ``record`` field."""
    deep = b"[" * 200_000 + b"]" * 200_000  # 400 KB: inside the 1 MiB body bound
    with alert_app(tmp_path / "data", []) as (c, _):
        for url in ("/api/v1/hazards", "/api/v1/inspections", "/api/v1/water-tests"):
            r = c.post(url, content=deep, headers={"Content-Type": "application/json"})
            assert r.status_code == 400, (url, r.text[:200])
            assert "nested too deeply" in r.json()["detail"]
            r = c.post(url, files={"record": (None, deep, "application/json")})
            assert r.status_code == 400, (url, "multipart", r.text[:200])


def test_a_body_that_is_not_json_on_a_json_route_is_422_not_500(tmp_path: Path) -> None:
    """#21's probes: multipart (a photo inside) or any bytes that are not UTF-8, sent to a route that takes JSON,
    made FastAPI's own 422 handler fail on echoing them back: 500."""
    with alert_app(tmp_path / "data", []) as (c, _):
        for kind, body in (("multipart/form-data; boundary=x", b"--x\r\n\x89PNG\r\n--x--\r\n"),
                           ("text/plain", b"\xff\xfe"), (None, b"\xff")):
            r = c.post("/api/v1/tokens", content=body, headers={"Content-Type": kind} if kind else {})
            assert r.status_code in (400, 422), (kind, r.text[:200])
            if r.status_code == 422:
                assert "send Content-Type: application/json" in r.text
