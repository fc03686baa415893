"""InfluxDB 2.x and 3.x through the v1 API. Only 1.x can run here (Debian packages no 2.x or 3.x), so:

- the spans that keep 3.x Core queries under its file limit are checked against the real InfluxDB 1.x:
  with [store] query_span_h set, every read must give exactly what one unsplit query gives;
- how the database is made on 2.x (a bucket and its DBRP mapping) and 3.x (the configure API) is checked
  against a **fake**: a local HTTP server answering as those versions do, recording what it was asked.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from campus.contract import Kind, Reading
from campus.errors import StoreRejected
from ingest.config import StoreSettings
from ingest.stores import open_store
from tests.support.servers import Influx, free_port

HOUR = 3_600_000
FAR = 4_102_444_800_000  # 2100: what the roll-ups ask for (a larger ms time overflows InfluxDB's ns)


def _readings(start_ms: int, n: int) -> list[Reading]:
    return [Reading("m1", start_ms + i * 900_000, Kind.ELECTRICITY, "s1", "b1", "office", "z1",
                    {"energy_kwh": 100.0 + i, "power_kw": 4.0}) for i in range(n)]


@pytest.mark.integration
def test_reads_split_into_spans_give_what_one_query_gives(tmp_path: Path, influx: Influx) -> None:
    start = int((datetime.now() - timedelta(days=3)).timestamp() * 1000) // HOUR * HOUR
    whole = open_store(StoreSettings(backend="influxdb", url=influx.url, database="spans"), tmp_path)
    split = open_store(StoreSettings(backend="influxdb", url=influx.url, database="spans", query_span_h=5,
                                     history_start=date.today() - timedelta(days=10)), tmp_path)
    whole.write(_readings(start, 200))  # 50 hours of 15-minute readings: ten 5-hour spans
    end = start + 60 * HOUR
    for store in (whole, split):
        assert store.count() == 200
    assert split.series("s1", "m1", Kind.ELECTRICITY, "energy_kwh", 0, FAR) == \
        whole.series("s1", "m1", Kind.ELECTRICITY, "energy_kwh", 0, FAR)
    assert len(split.series("s1", "m1", Kind.ELECTRICITY, "energy_kwh", 0, FAR)) == 200
    assert split.series_many("s1", Kind.ELECTRICITY, "energy_kwh", {"m1": start + 7 * HOUR}, end) == \
        whole.series_many("s1", Kind.ELECTRICITY, "energy_kwh", {"m1": start + 7 * HOUR}, end)
    assert split.readings("s1", "m1", Kind.ELECTRICITY, start, end, limit=150) == \
        whole.readings("s1", "m1", Kind.ELECTRICITY, start, end, limit=150)
    hourly = {"interval_ms": HOUR, "agg": "last"}
    assert split.readings("s1", "m1", Kind.ELECTRICITY, start, end, **hourly) == \
        whole.readings("s1", "m1", Kind.ELECTRICITY, start, end, **hourly)
    assert split.latest("s1", "m1", Kind.ELECTRICITY) == whole.latest("s1", "m1", Kind.ELECTRICITY)
    at = start + 12 * HOUR + 1
    assert split.around("s1", "m1", Kind.ELECTRICITY, "energy_kwh", at) == \
        whole.around("s1", "m1", Kind.ELECTRICITY, "energy_kwh", at)
    whole.close()
    split.close()


class FakeInflux:
    """Answers as InfluxDB 2.x or 3.x does on the calls meterwatch makes; records them. (A fake: no 2.x or 3.x
    server can run on these machines.)"""

    def __init__(self, version: int) -> None:
        self.version, self.port = version, free_port()
        self.calls: list[tuple[str, str, dict[str, Any], str]] = []
        self.made = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, code: int, body: dict[str, Any] | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                url = urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                body = json.loads(raw) if raw.startswith("{") else {}
                outer.calls.append((method, url.path, {k: v[0] for k, v in parse_qs(url.query).items()},
                                    self.headers.get("Authorization", "")))
                if url.path == "/write":
                    if not outer.made:
                        what = "bucket" if outer.version == 2 else "database"
                        return self._answer(404, {"code": "not found", "message": f'{what} "mw" not found'})
                    return self._answer(204)
                if url.path == "/api/v2/orgs":
                    return self._answer(200, {"orgs": [{"id": "org-1", "name": "campus"}]})
                if url.path == "/api/v2/buckets":
                    assert body == {"orgID": "org-1", "name": "mw", "retentionRules": []}
                    return self._answer(201, {"id": "bucket-1"})
                if url.path == "/api/v2/dbrps":
                    assert body["bucketID"] == "bucket-1"
                    assert body["database"] == "mw"
                    outer.made = True
                    return self._answer(201, {"id": "dbrp-1"})
                if url.path == "/api/v3/configure/database":
                    assert body == {"db": "mw"}
                    outer.made = True
                    return self._answer(200)
                if url.path == "/query":
                    return self._answer(200, {"results": [{"statement_id": 0}]})
                return self._answer(404, {"message": "no such route"})

            def do_GET(self) -> None:  # noqa: N802
                self._handle("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._handle("POST")

            def log_message(self, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeInflux:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(params=[2, 3])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeInflux]:
    with FakeInflux(request.param) as server:
        yield server


def test_the_database_is_made_the_way_each_version_makes_it(fake: FakeInflux, tmp_path: Path) -> None:
    settings = StoreSettings(backend="influxdb", url=f"http://127.0.0.1:{fake.port}", database="mw",
                             token=SecretStr("secret-token"), influx_version=fake.version, org="campus")
    store = open_store(settings, tmp_path)
    store.write(_readings(1_790_000_000_000, 3))
    paths = [(m, p) for m, p, _, _ in fake.calls]
    if fake.version == 2:
        assert paths == [("POST", "/write"), ("GET", "/api/v2/orgs"), ("POST", "/api/v2/buckets"),
                         ("POST", "/api/v2/dbrps"), ("POST", "/write")]
    else:
        assert paths == [("POST", "/write"), ("POST", "/api/v3/configure/database"), ("POST", "/write")]
    assert {auth for *_, auth in fake.calls} == {"Token secret-token"}  # the token, never u/p in the query
    assert all("p" not in q and "u" not in q for _, _, q, _ in fake.calls)
    store.close()


def test_without_an_organisation_a_2x_bucket_is_not_guessed(tmp_path: Path) -> None:
    with FakeInflux(2) as fake:
        store = open_store(StoreSettings(backend="influxdb", url=f"http://127.0.0.1:{fake.port}", database="mw",
                                         influx_version=2), tmp_path)
        with pytest.raises(StoreRejected, match="set \\[store\\] org"):
            store.write(_readings(1_790_000_000_000, 1))
        store.close()


def test_3x_reads_stay_inside_spans_from_history_start(tmp_path: Path) -> None:
    with FakeInflux(3) as fake:
        first = date.today() - timedelta(days=5)
        store = open_store(StoreSettings(backend="influxdb", url=f"http://127.0.0.1:{fake.port}", database="mw",
                                         influx_version=3, history_start=first), tmp_path)
        store.series("s1", "m1", Kind.ELECTRICITY, "energy_kwh", 0, 4_102_444_800_000)  # a first build: from 0
        store.latest("s1", "m1", Kind.ELECTRICITY)
        queries = [q["q"] for m, p, q, _ in fake.calls if p == "/query"]
        floor = int(datetime(first.year, first.month, first.day).timestamp() * 1000) - 86_400_000
        for q in queries:
            times = [int(part.split("ms")[0]) for part in q.split("time >= ")[1:] + q.split("time < ")[1:]]
            assert len(times) == 2, q
            lo, hi = sorted(times)
            assert hi - lo <= 24 * HOUR, q  # one day at most: far under 3.x Core's 432 files
            assert lo >= floor, q
        assert len([q for q in queries if "energy_kwh" in q and "LIMIT 50000" in q]) >= 6  # 5 days and today
        store.close()
