"""The Grafana dashboards: each validated against Grafana 11.6's dashboard JSON schema (vendored from
grafana/grafana-foundation-sdk, Apache-2.0, see tests/api/grafana/LICENSE), every panel query run against
a real InfluxDB holding a simulated campus week, day totals compared with /api/v1/consumption, and the
provisioning files and the API push.

No Grafana server can run here (no package provides one): the push goes to a local HTTP server that
plays Grafana's API, records every request and checks it; the queries are expanded the way Grafana's
InfluxDB datasource expands them ($timeFilter, ${__from}, $__interval, template variables)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from fastapi.testclient import TestClient

from api.app import build_service, create_app
from app.settings import Settings, load_settings
from campus.model import load_campus
from deploy.dashboards import DATASOURCE_UID, dashboards
from deploy.grafana import provision, push
from ingest.decode import Inbound
from ingest.service import IngestService
from simulators.model import Simulation, load_campus_doc
from tests.support.harness import TZ, token_headers
from tests.support.paths import SAMPLE
from tests.support.servers import Influx, free_port, wait_for

SCHEMA = json.loads((Path(__file__).parent / "grafana" / "dashboard.jsonschema.json").read_text(encoding="utf-8"))
CAMPUS = load_campus(SAMPLE)


def targets(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for p in board["panels"] for t in p.get("targets", [])]


def test_every_dashboard_is_valid_for_grafana_11_6() -> None:
    validator = jsonschema.Draft7Validator(SCHEMA)
    boards = dashboards(CAMPUS)
    assert set(boards) == {"campus-overview", "building", "device", "drinking-water", "data-health"}
    for name, board in boards.items():
        errors = [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(board)]
        assert errors == [], name
        assert board["uid"].startswith("mw-")
        assert targets(board), name
        assert all(t["datasource"]["uid"] == DATASOURCE_UID and t["rawQuery"] for t in targets(board))
    thresholds = [p["fieldConfig"]["defaults"]["thresholds"]["steps"] for p in boards["drinking-water"]["panels"]]
    # GB 5749-2022 for taps, canteen water and the tank; CJ 94-2005 for the direct-drinking fountains (no floor)
    assert [[s["value"] for s in steps] for steps in thresholds] == [[0, 6.5, 8.5], [0, 1.0], [0, 0.05, 2.0],
                                                                     [0, 6.0, 8.5], [0, 0.5], [0, 2.0]]


# -- panel queries against a real InfluxDB ---------------------------------------------------------------
@dataclass
class Week:
    settings: Settings
    service: IngestService
    api: TestClient
    influx: Influx
    start: datetime
    end: datetime

    def query(self, q: str) -> list[dict[str, Any]]:
        r = httpx.get(f"{self.influx.url}/query", params={"db": "mw", "q": q, "epoch": "ms"}, timeout=30)
        r.raise_for_status()
        results = r.json()["results"]
        assert all("error" not in x for x in results), (q, results)
        return [s for x in results for s in x.get("series", [])]


def expand(q: str, start_ms: int, end_ms: int, **variables: str) -> str:
    """What Grafana's InfluxDB datasource does to a raw query before sending it."""
    q = q.replace("$timeFilter", f"time >= {start_ms}ms and time <= {end_ms}ms")
    q = q.replace("${__from}", str(start_ms)).replace("${__to}", str(end_ms)).replace("$__interval", "1h")
    for name, value in variables.items():
        q = q.replace(f"${name}", value)
    assert "$" not in q.replace("/^(", "").replace(")$/", ""), q
    return q


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Week]:
    tmp = tmp_path_factory.mktemp("grafana")
    influx = Influx(tmp / "influxdb")
    influx.start()
    settings = load_settings(None, data_dir=tmp / "data",
                             store={"backend": "influxdb", "url": influx.url, "database": "mw"})
    service = build_service(settings, CAMPUS, connect_mqtt=False)
    service.start()
    end = datetime.now(TZ).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    start = (end - timedelta(days=7)).replace(hour=0)
    sim = Simulation(load_campus_doc(SAMPLE), start=start, end=end, seed=5, faults=["water_leak"])
    batch = []
    for i, pub in enumerate(p for p in sim.publications() if p.what in ("reading", "batch")):
        batch.append(Inbound(pub.topic, pub.payload, pub.ts_ms + 1000, i, 1))
        if len(batch) == 500:
            service.pipeline.commit(batch)
            batch = []
    service.pipeline.commit(batch)
    with TestClient(create_app(settings, service=service), headers=token_headers(settings.data_dir)) as api:
        yield Week(settings, service, api, influx, start, end)
    service.stop()
    influx.stop()


def api_days(week: Week, kind: str, by: str, day: datetime) -> dict[str, float]:
    r = week.api.get("/api/v1/consumption", params={"kind": kind, "group_by": by, "interval": "day",
                                                   "start": day.date().isoformat(),
                                                   "end": (day + timedelta(days=1)).date().isoformat()})
    assert r.status_code == 200, r.text
    return {g["key"]: g["buckets"][0]["value"] for g in r.json()["groups"]}


@pytest.mark.integration
def test_every_panel_query_returns_what_the_panel_promises(week: Week) -> None:
    api_days(week, "electricity", "building", week.end)  # the API's refresh writes the daily use out
    start_ms, end_ms = int(week.start.timestamp() * 1000), int(datetime.now(TZ).timestamp() * 1000) + 60_000
    variables = {"building": "canteen-1", "kind": "electricity", "device": "c1-elec"}
    boards = dashboards(CAMPUS)
    wait_for(lambda: week.query('SELECT count("ok") FROM "meterwatch"'), 30, "ingest's health point")
    for name, board in boards.items():
        for panel in board["panels"]:
            for t in panel["targets"]:
                q = expand(t["query"], start_ms, end_ms, **variables)
                series = week.query(q)
                if "52w" in q:
                    continue  # a year before the simulated week: nothing there (checked below with data)
                assert series, f"{name} / {panel['title']}: no series for {q}"
                assert any(v is not None for s in series for row in s["values"] for v in row[1:]), (name, q)
    # per building: exactly the buildings with main meters of that kind
    for kind in ("electricity", "water", "gas"):
        q = expand(next(t["query"] for t in targets(boards["campus-overview"]) if "GROUP BY \"building\"" in
                        t["query"] and f"'{kind}'" in t["query"]), start_ms, end_ms)
        got = {s["tags"]["building"] for s in week.query(q)}
        want = {d.building for d in CAMPUS.devices if d.kind.value == kind and d.counts_in_totals}
        assert got == want, kind
    # drinking water: one series per drinking, canteen-water and secondary-supply sensor
    ph, purified = (t["query"] for t in targets(boards["drinking-water"]) if '"ph"' in t["query"])
    assert {s["tags"]["device"] for s in week.query(expand(ph, start_ms, end_ms))} == {
        d.id for d in CAMPUS.devices if d.role in ("drinking", "canteen_water", "secondary_supply")}
    # and one per direct-drinking fountain in the CJ 94 panels
    assert {s["tags"]["device"] for s in week.query(expand(purified, start_ms, end_ms))} == {
        d.id for d in CAMPUS.devices if d.role == "purified_drinking"}
    # last year's comparison: shift the dashboard a year on, and it finds the simulated week
    shifted = next(t["query"] for t in targets(boards["campus-overview"]) if "52w" in t["query"])
    (a,) = week.query(expand(shifted, start_ms + 52 * 7 * 86_400_000, end_ms + 52 * 7 * 86_400_000))
    same = next(t["query"] for t in targets(boards["campus-overview"])
                if t["refId"] == "A" and "'electricity'" in t["query"] and "GROUP BY" not in t["query"]
                and "24h" not in t["query"])
    (b,) = week.query(expand(same, start_ms, end_ms))
    assert a["values"][0][1] == pytest.approx(b["values"][0][1])
    board = dashboards(CAMPUS)["campus-overview"]
    per_building = {t["refId"]: t["query"] for t in targets(board) if "GROUP BY \"building\"" in t["query"]
                    and "time(1d)" not in t["query"] and "24h" not in t["query"]}
    year = 52 * 7 * 86_400_000
    now_rows = {s["tags"]["building"]: s["values"][0][1] for s in week.query(expand(per_building["A"], start_ms,
                                                                                      end_ms))}
    then_rows = {s["tags"]["building"]: s["values"][0][1] for s in week.query(expand(per_building["A2"],
                                                                                       start_ms + year, end_ms + year))}
    assert then_rows == pytest.approx(now_rows)


@pytest.mark.integration
def test_a_days_total_in_grafana_is_the_apis(week: Week) -> None:
    day = (week.end - timedelta(days=2)).replace(hour=0)
    daily = next(t["query"] for t in targets(dashboards(CAMPUS)["campus-overview"])
                 if "time(1d)" in t["query"] and "'electricity'" in t["query"])
    lo = int(day.timestamp() * 1000)
    for kind in ("electricity", "water", "gas"):
        want = api_days(week, kind, "building", day)
        q = expand(daily.replace("'electricity'", f"'{kind}'"), lo, lo + 86_400_000 - 1)
        got = {s["tags"]["building"]: s["values"][0][1] for s in week.query(q)}
        assert got.keys() == want.keys(), kind
        for b, total in want.items():
            assert got[b] == pytest.approx(total, rel=1e-9, abs=1e-9), (kind, b)
            assert s_time(week, q, b) == lo  # bucketed at the campus's local midnight
    site = api_days(week, "electricity", "site", day)
    (s,) = week.query(expand(next(t["query"] for t in targets(dashboards(CAMPUS)["campus-overview"])
                                  if t["refId"] == "A" and "'electricity'" in t["query"]
                                  and "GROUP BY" not in t["query"] and "24h" not in t["query"]),
                             lo, lo + 86_400_000 - 1))
    assert s["values"][0][1] == pytest.approx(next(iter(site.values())))


def s_time(week: Week, q: str, building: str) -> int:
    return int(next(s for s in week.query(q) if s["tags"]["building"] == building)["values"][0][0])


# -- delivery ------------------------------------------------------------------------------------------
def test_provisioning_files(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=tmp_path / "data", store={
        "backend": "influxdb", "url": "http://127.0.0.1:8086", "database": "mw", "username": "grafana",
        "password": "s3cret-never-in-a-file"})
    done = provision(settings, CAMPUS, tmp_path / "grafana")
    ds = yaml.safe_load(done.datasource.read_text(encoding="utf-8"))["datasources"][0]
    assert ds["uid"] == DATASOURCE_UID
    assert ds["type"] == "influxdb"
    assert ds["jsonData"]["dbName"] == "mw"
    assert ds["secureJsonData"]["password"] == "${METERWATCH_STORE__PASSWORD}"  # noqa: S105 - a reference
    assert "s3cret" not in "".join(p.read_text(encoding="utf-8") for p in tmp_path.rglob("*") if p.is_file())
    provider = yaml.safe_load(done.provider.read_text(encoding="utf-8"))["providers"][0]
    assert Path(provider["options"]["path"]) == (tmp_path / "grafana" / "dashboards").resolve()
    assert {p.stem for p in done.dashboards} == set(dashboards(CAMPUS))
    for p in done.dashboards:
        assert json.loads(p.read_text(encoding="utf-8")) == dashboards(CAMPUS)[p.stem]


class FakeGrafana:
    """Grafana's HTTP API as far as a push uses it: folders, datasources by uid, dashboards by uid. Checks the
    bearer token and each request's shape; records every request."""

    def __init__(self, token: str) -> None:
        self.port = free_port()
        self.requests: list[tuple[str, str, Any]] = []
        self.folders: dict[str, str] = {}
        self.datasources: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                n = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(n)) if n else None
                outer.requests.append((self.command, self.path, body))
                if self.headers.get("Authorization") != f"Bearer {token}":
                    return self._answer(401, {"message": "Unauthorized"})
                route = (self.command, re.sub(r"/(meterwatch[\w-]*)$", "/{uid}", self.path))
                uid = self.path.rsplit("/", 1)[-1]
                if route == ("GET", "/api/folders/{uid}"):
                    return self._answer(200, {"uid": uid}) if uid in outer.folders else \
                        self._answer(404, {"message": "folder not found"})
                if route == ("POST", "/api/folders"):
                    outer.folders[body["uid"]] = body["title"]
                    return self._answer(200, {"uid": body["uid"]})
                if route == ("GET", "/api/datasources/uid/{uid}"):
                    return self._answer(200, outer.datasources[uid]) if uid in outer.datasources else \
                        self._answer(404, {"message": "Data source not found"})
                if route in (("POST", "/api/datasources"), ("PUT", "/api/datasources/uid/{uid}")):
                    assert body["type"] == "influxdb"
                    outer.datasources[body["uid"]] = body
                    return self._answer(200, {"message": "ok"})
                if route == ("POST", "/api/dashboards/db"):
                    assert body["overwrite"] is True
                    assert body["folderUid"] in outer.folders
                    outer.dashboards[body["dashboard"]["uid"]] = body["dashboard"]
                    return self._answer(200, {"status": "success", "uid": body["dashboard"]["uid"]})
                return self._answer(404, {"message": f"no route {route}"})

            do_GET = do_POST = do_PUT = _handle  # noqa: N815

            def log_message(self, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeGrafana:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_push_creates_then_updates_by_uid(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=tmp_path, store={"backend": "influxdb", "url": "http://127.0.0.1:8086",
                                                             "database": "mw", "token": "influx-token"})
    with FakeGrafana("glsa_test") as grafana:
        url = f"http://127.0.0.1:{grafana.port}"
        first = push(settings, CAMPUS, url, "glsa_test")
        assert sorted(first) == sorted(grafana.dashboards)
        assert grafana.folders == {"meterwatch": "meterwatch"}
        ds = grafana.datasources[DATASOURCE_UID]
        assert ds["secureJsonData"] == {"httpHeaderValue1": "Token influx-token"}
        made = [(m, p) for m, p, _ in grafana.requests if m in ("POST", "PUT") and "dashboards" not in p]
        assert made == [("POST", "/api/folders"), ("POST", "/api/datasources")]
        grafana.requests.clear()
        assert push(settings, CAMPUS, url, "glsa_test") == first  # again: the same uids, updated in place
        changed = [(m, p) for m, p, _ in grafana.requests if m in ("POST", "PUT") and "dashboards" not in p]
        assert changed == [("PUT", f"/api/datasources/uid/{DATASOURCE_UID}")]
        assert len(grafana.dashboards) == 5
        from deploy.grafana import GrafanaError

        with pytest.raises(GrafanaError, match="Unauthorized|401"):
            push(settings, CAMPUS, url, "wrong-token")
