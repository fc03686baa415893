"""What one HTTP request may cost: bodies, pages, answer sizes, and out-of-range input answered 422, never 500."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app, server_options
from app.settings import Settings, load_settings
from ingest.service import IngestService
from tests.support.harness import token_headers
from tests.support.servers import free_port, wait_for


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


@contextmanager
def _uvicorn(app: FastAPI, settings: Settings) -> Iterator[tuple[uvicorn.Server, int]]:
    """``app`` under a real uvicorn on a free loopback port, with the options ``meterwatch serve`` gives it."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           **server_options(settings)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, 20, "uvicorn")
        yield server, port
    finally:
        server.should_exit = True
        thread.join(10)
        assert not thread.is_alive()


def _request_head(path: str, headers: dict[str, str], length: int | None = None) -> bytes:
    lines = [f"{'GET' if length is None else 'POST'} {path} HTTP/1.1", "Host: 127.0.0.1",
             *(f"{k}: {v}" for k, v in headers.items())]
    if length is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {length}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


BOUND_S = 30  # the tests' own bound on any wait; the server's are far below it


@pytest.fixture
def served(service: IngestService, tmp_path: Path) -> Iterator[tuple[uvicorn.Server, int, dict[str, str]]]:
    settings = load_settings(None, data_dir=tmp_path, api={"body_timeout_s": 1, "max_connections": 3})
    with _uvicorn(create_app(settings, service=service), settings) as (server, port):
        yield server, port, token_headers(tmp_path)


def test_a_body_trickling_in_is_408_and_its_connection_closed(
        served: tuple[uvicorn.Server, int, dict[str, str]]) -> None:
    """#21: a request body had no read timeout, so a client sending a byte at a time held its connection (and
    a worker's attention) for ever. Past [api] body_timeout_s it is answered 408 and closed, however steadily
    the bytes keep coming."""
    _, port, auth = served
    with socket.create_connection(("127.0.0.1", port), timeout=BOUND_S) as sock:
        sock.sendall(_request_head("/api/v1/devices", auth, length=100_000) + b"{")
        started = time.monotonic()
        answer = b""
        sock.settimeout(0.2)  # the pace of the trickle: a byte whenever nothing came back for 0.2 s
        while b"\r\n\r\n" not in answer:
            assert time.monotonic() - started < BOUND_S, "no answer while the body trickled in"
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                sock.sendall(b" ")
                continue
            assert chunk, "closed without an answer"
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert time.monotonic() - started >= 1  # not before the bound
        sock.settimeout(BOUND_S)
        while chunk := sock.recv(4096):  # the rest of the answer, then the server closes
            answer += chunk
    assert b"[api] body_timeout_s" in answer


def test_connections_past_max_connections_are_503(served: tuple[uvicorn.Server, int, dict[str, str]]) -> None:
    """The concurrency bound: with [api] max_connections = 3, two connections holding requests in progress
    leave no room for a third (503, uvicorn's limit_concurrency); once they are gone, requests are served."""
    server, port, auth = served

    def get_health() -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=BOUND_S) as sock:
            sock.sendall(_request_head("/api/v1/health", {"Connection": "close"}))
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
            return answer

    with ExitStack() as held:
        for _ in range(2):
            sock = held.enter_context(socket.create_connection(("127.0.0.1", port), timeout=BOUND_S))
            sock.sendall(_request_head("/api/v1/devices", auth, length=100) + b"{")  # in progress: body to come
        wait_for(lambda: len(server.server_state.connections) == 2, BOUND_S, "two connections held")
        assert get_health().startswith(b"HTTP/1.1 503 ")
    wait_for(lambda: not server.server_state.connections, BOUND_S, "the held connections closed")
    assert get_health().startswith(b"HTTP/1.1 200 ")
