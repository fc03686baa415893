"""The endpoints the console reads people-facing text from: the campus's names and targets, the water board,
alerts in the page's language with names beside ids, a zone filter, who the token is on the duty roster.
A real AlertService and ingest service (SQLite, no broker) hold four hours of the simulated campus."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from alerts.book import ack_query
from alerts.service import AlertService
from ingest.decode import Inbound
from simulators.model import Simulation, load_campus_doc
from tests.support.alertapp import alert_app
from tests.support.drive import inbound
from tests.support.harness import TZ, token_headers
from tests.support.paths import SAMPLE


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, AlertService]]:
    now = datetime.now(TZ)
    sim = Simulation(load_campus_doc(SAMPLE), start=now - timedelta(hours=4), end=now, seed=5,
                     faults=["ph_excursion:ta-fountain"])
    quiet_from = int((now - timedelta(hours=3)).timestamp() * 1000)  # the office fountain goes quiet
    batch = [m for m in inbound(sim.publications()) if "/of-fountain/" not in m.topic or m.received_ms < quiet_from]
    near = {"ts": int(time.time()), "values": {"ph": 8.45, "turbidity_ntu": 0.2}}  # inside 6.0–8.5, near the top
    batch.append(Inbound("campus/yucai/tb-fountain/reading", json.dumps(near).encode(), int(time.time() * 1000)))
    with alert_app(tmp_path, batch, store=True) as app:
        yield app


def test_campus_names_zones_and_targets(client: tuple[TestClient, AlertService]) -> None:
    c, _ = client
    zh = c.get("/api/v1/campus").json()
    en = c.get("/api/v1/campus", params={"lang": "en"}).json()
    assert zh["site"] == {"id": "yucai", "name": "育才中学", "timezone": "Asia/Shanghai"}
    canteen = next(b for b in zh["buildings"] if b["id"] == "canteen-1")
    assert (canteen["name"], canteen["department_name"], canteen["zone"]) == ("第一食堂", "食堂", "zone-north")
    assert canteen["targets"] == {"electricity": 13500, "water": 1050, "gas": 5200}
    assert next(b for b in en["buildings"] if b["id"] == "canteen-1")["department_name"] == "Canteens"
    depts = {d["id"]: d for d in zh["departments"]}
    assert depts["canteen"]["targets"] == {"electricity": 30000, "water": 2300}
    assert set(depts["canteen"]["buildings"]) == {"canteen-1", "canteen-2", "canteen-3"}
    assert {z["id"] for z in zh["zones"]} == {"zone-north", "zone-south"}
    assert c.get("/api/v1/campus", params={"lang": "fr"}).status_code == 422


def test_water_board_standings(client: tuple[TestClient, AlertService]) -> None:
    c, _ = client
    board = {s["device"]: s for s in c.get("/api/v1/water-quality").json()}
    assert board["ta-fountain"]["standing"] == "out"  # pH 9.1
    ph = next(v for v in board["ta-fountain"]["values"] if v["field"] == "ph")
    assert ph["standing"] == "out"
    # a direct-drinking fountain: CJ 94-2005's 6.0–8.5
    assert ph["limits"] == [{"rule": "purified-ph", "rule_name": "直饮水pH超出限值", "low": 6.0, "high": 8.5}]
    assert ph["name"] == "pH"
    assert board["tb-fountain"]["standing"] == "near"  # pH 8.45
    assert board["of-fountain"]["standing"] == "stale"  # quiet for three hours
    assert board["ta-fountain"]["building_name"] == "教学楼A栋"
    assert board["ta-fountain"]["role_name"] == "直饮水"
    assert all(s["standing"] in ("ok", "near") for d, s in board.items() if d not in ("ta-fountain", "of-fountain"))
    en = {s["device"]: s for s in c.get("/api/v1/water-quality", params={"lang": "en"}).json()}
    assert en["ta-fountain"]["role_name"] == "Purified drinking water"
    assert {v["name"] for v in en["tb-fountain"]["values"]} >= {"pH", "Turbidity"}


def test_alert_texts_follow_the_language_and_carry_names(client: tuple[TestClient, AlertService]) -> None:
    c, _ = client
    (zh,) = c.get("/api/v1/alerts", params={"status": "open"}).json()
    (en,) = c.get("/api/v1/alerts", params={"status": "open", "lang": "en"}).json()
    # ta-fountain is a direct-drinking fountain: CJ 94-2005's rule
    assert (zh["name"], en["name"]) == ("直饮水pH超出限值", "Purified drinking water pH out of limits")
    assert zh["device"] == "ta-fountain"
    assert zh["device_name"] == zh["subject_name"] == "教学楼A饮水机"
    assert (zh["building_name"], zh["zone_name"]) == ("教学楼A栋", "南区(教学办公区)责任区")
    assert zh["limit"] == en["limit"] == "6–8.5"
    assert zh["detail"] == en["detail"] == "pH"
    one = c.get(f"/api/v1/alerts/{zh['id']}", params={"lang": "en"}).json()
    assert one["name"] == en["name"]


def test_zone_filter(client: tuple[TestClient, AlertService]) -> None:
    c, _ = client
    assert len(c.get("/api/v1/alerts", params={"zone": "zone-south"}).json()) == 1
    assert c.get("/api/v1/alerts", params={"zone": "zone-north"}).json() == []
    assert c.get("/api/v1/alerts", params={"zone": "x" * 65}).status_code == 422


def test_me_names_the_roster_person_and_zones(client: tuple[TestClient, AlertService], tmp_path: Path) -> None:
    c, _ = client
    wang = c.get("/api/v1/me", headers=token_headers(tmp_path, "electrician", "wang")).json()
    assert wang == {"name": "wang", "role": "electrician", "person": "王建国", "zones": ["zone-north"],
                    "scope": {"sites": [], "zones": [], "buildings": []}}
    li = c.get("/api/v1/me", headers=token_headers(tmp_path, "electrician", "li")).json()
    assert (li["person"], li["zones"]) == ("李强", [])  # the night shift covers every zone
    other = c.get("/api/v1/me", headers=token_headers(tmp_path, "viewer", "visitor")).json()
    assert (other["person"], other["zones"]) == (None, [])


def test_the_ack_link_page_leads_to_the_alert_in_the_console(client: tuple[TestClient, AlertService]) -> None:
    c, alerts = client
    (a,) = c.get("/api/v1/alerts").json()
    link = f"/api/v1/alerts/{a['id']}/ack?{ack_query(alerts.desk.book.settings.secret, a['id'], 'zhao', 9_999_999_999)}"
    page = TestClient(c.app).get(link).text
    assert f'href="/#alerts/{a["id"]}"' in page
    assert "教学楼A饮水机" in page


def test_the_console_files_are_served_compressed(client: tuple[TestClient, AlertService]) -> None:
    c, _ = client
    with c.stream("GET", "/static/vendor/echarts/echarts.min.js", headers={"Accept-Encoding": "gzip"}) as r:
        assert r.status_code == 200
        assert r.headers["content-encoding"] == "gzip"
        assert len(b"".join(r.iter_raw())) < 400_000  # 1.1 MB as it is
    for name in ("main", "core", "i18n", "overview", "alerts", "building", "device", "report"):
        assert c.get(f"/static/js/{name}.js").status_code == 200
