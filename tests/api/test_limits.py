"""What one HTTP request may cost: bodies, pages, answer sizes, and out-of-range input answered 422, never 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from app.settings import load_settings
from ingest.service import IngestService
from tests.support.harness import token_headers


@pytest.fixture
def client(service: IngestService, tmp_path: Path) -> Iterator[TestClient]:
    settings = load_settings(None, data_dir=tmp_path, api={"max_body_bytes": 4096, "max_page": 10,
                                                                     "max_cells": 1000})
    with TestClient(create_app(settings, service=service)) as c:
        c.headers.update(token_headers(tmp_path))
        yield c


def test_bodies_over_the_limit_are_413_before_reading_or_authentication(client: TestClient) -> None:
    big = b"{" + b" " * 10_000 + b"}"
    r = client.post("/api/v1/devices", content=big, headers={"Authorization": "Bearer nope",
                                                              "Content-Type": "application/json"})
    assert r.status_code == 413  # not 401: refused before the token is looked at
    assert "max_body_bytes" in r.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"id": "x", '
        for _ in range(100):
            yield b" " * 100

    r = client.post("/api/v1/devices", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert client.post("/api/v1/devices", json={"id": "x"}).status_code == 422  # small: read and validated


def test_lists_come_in_capped_pages(client: TestClient, service: IngestService) -> None:
    total = len(service.registry.campus.devices)
    first = client.get("/api/v1/devices")
    assert len(first.json()) == 10
    assert first.headers["X-Total-Count"] == str(total)
    second = client.get("/api/v1/devices", params={"offset": 10, "limit": 5})
    assert [d["id"] for d in second.json()] == [d.id for d in service.registry.campus.devices[10:15]]
    too_big = client.get("/api/v1/devices", params={"limit": 11})
    assert too_big.status_code == 422
    assert "offset" in too_big.json()["detail"]
    assert client.get("/api/v1/dead-letters").headers["X-Total-Count"] == "0"


@pytest.mark.parametrize(("path", "params", "hint"), [
    ("/api/v1/devices/c1-water/readings", {"start": "0001-01-01T00:00:00Z"}, "between 2000"),
    ("/api/v1/devices/c1-water/readings", {"end": "9999-12-31T23:59:59+14:00"}, "between 2000"),
    ("/api/v1/devices/c1-water/readings", {"limit": 10_000_000}, "max_rows"),
    ("/api/v1/devices/c1-water/readings", {"start": "2001-01-01T00:00:00Z", "interval": "1s"}, "max_rows"),
    ("/api/v1/devices/c1-water/readings", {"interval": "99999999999999999999d"}, "15m"),
    ("/api/v1/consumption", {"start": "0001-01-01"}, "between 2000"),
    ("/api/v1/consumption", {"start": "2010-01-01", "end": "2011-01-01", "interval": "day",
                             "group_by": "device"}, "max_cells"),
    ("/api/v1/reports/energy", {"month": "0001-01"}, "2001-01"),
    ("/api/v1/reports/energy", {"month": "9999-12"}, "2001-01"),
    ("/api/v1/alerts", {"since": "0001-01-01T00:00:00"}, ""),
    ("/api/v1/alerts/18446744073709551616", {}, ""),
    ("/api/v1/devices/" + "x" * 500, {}, ""),
])
def test_out_of_range_input_is_422_with_what_to_do(client: TestClient, path: str, params: dict[str, object],
                                                   hint: str) -> None:
    r = client.get(path, params=params)
    assert r.status_code in (422, 503), r.text  # 503: alerts are off in this app, checked before the parameter
    if r.status_code == 422:
        assert hint in r.text
    assert client.post("/api/v1/dead-letters/99999999999999999999999/replay").status_code == 422


@pytest.mark.parametrize("url", ["/api/v1/hazards", "/api/v1/inspections", "/api/v1/water-tests",
                                 "/api/v1/hazards/1"])
def test_json_bodies_on_the_upload_routes_keep_max_body_bytes(client: TestClient, url: str) -> None:
    """#21: the upload bound ([records] upload_max_bytes, 48 MiB) matched on the path, so one JSON record of
    49 MB took the server to 1.4 GB before its 422. Only a multipart body (the files) gets the upload bound."""
    method = "PATCH" if url.endswith("/1") else "POST"
    big = b"[" + b"0," * 5000 + b"0]"  # 10 KB: over the 4 KiB [api] max_body_bytes, far under the upload bound
    r = client.request(method, url, content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text[:200]
    assert "[api] max_body_bytes" in r.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: cut off as it arrives
        yield b"["
        for _ in range(100):
            yield b"0," * 50
        yield b"0]"

    r = client.request(method, url, content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 if method == "POST" else 404, r.text[:200]  # no hazard #1: the body is not read
    r = client.request(method, url, content=big, headers={"Content-Type": "text/plain"})  # anything not multipart
    assert r.status_code == 413, r.text[:200]


def test_a_multipart_record_field_keeps_max_body_bytes_and_its_files_the_upload_bound(client: TestClient) -> None:
    """The 'record' part of a multipart body is JSON like any other: over [api] max_body_bytes it is 413, while
    the file parts of the same size are read (and judged by the records' own rules)."""
    record = '{"title": "' + "x" * 10_000 + '"}'
    r = client.post("/api/v1/hazards", files={"record": (None, record.encode(), "application/json")})
    assert r.status_code == 413, r.text[:200]
    assert "[api] max_body_bytes" in r.json()["detail"]
    r = client.post("/api/v1/hazards", files={"record": (None, b"{}", "application/json"),
                                              "photo": ("big.png", b"\x89PNG" + b"0" * 10_000, "image/png")})
    assert r.status_code == 422, r.text[:200]  # read in full, then refused for what it is
