"""Domain errors become HTTP statuses in one table (api/errors.py), registered once; no router catches one of
them to answer itself."""

from __future__ import annotations

import ast

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.access import AmbiguousSite, SharedDeviceId
from api.errors import STATUSES, install
from campus.errors import AlreadyExists, ConfigError, Invalid, NotFound, StoreUnavailable
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
                caught += [f"{path.name}:{node.lineno} {t.id}" for t in types
                           if isinstance(t, ast.Name) and t.id in names]
    # one exception: adding a device that exists says how to change it instead, and raises AlreadyExists again
    assert caught == ["devices.py:145 AlreadyExists"]
