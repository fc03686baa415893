"""The alerts and rules endpoints over a real AlertService (its own SQLite store, no broker)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from alerts.engine import Transition
from alerts.service import AlertService
from campus.contract import Reading
from ingest.decode import Inbound
from tests.support.alertapp import alert_app
from tests.support.drive import inbound, local, simulation


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, AlertService]]:
    sim = simulation(local(2026, 3, 10, 9), 4, ["ph_excursion:ta-fountain"])
    with alert_app(tmp_path, inbound(sim.publications())) as app:
        yield app


def test_list_filter_and_read_alerts(client: tuple[TestClient, AlertService]) -> None:
    c, _ = client
    alerts = c.get("/api/v1/alerts").json()
    # ta-fountain is a direct-drinking fountain (purified_drinking): CJ 94-2005's pH rule
    assert [(a["rule"], a["subject"], a["status"]) for a in alerts] == [("purified-ph", "ta-fountain", "active")]
    a = alerts[0]
    assert a["name"] == "直饮水pH超出限值"
    assert a["building"] == "teach-a"
    assert a["zone"] == "zone-south"
    assert a["limit"] == "6–8.5"  # CJ 94-2005
    assert a["value"] > 8.5
    assert a["started"].startswith("2026-03-10T09:")
    assert c.get("/api/v1/alerts", params={"category": "energy"}).json() == []
    assert len(c.get("/api/v1/alerts", params={"status": "open", "severity": "major"}).json()) == 1
    assert c.get("/api/v1/alerts", params={"since": "2026-03-11T00:00:00+08:00"}).json() == []
    assert c.get("/api/v1/alerts", params={"status": "bogus"}).status_code == 422
    events = c.get(f"/api/v1/alerts/{a['id']}/events").json()
    assert [e["type"] for e in events] == ["raised"]
    assert c.get("/api/v1/alerts/999").status_code == 404


def test_ack_then_resolve_by_hand(client: tuple[TestClient, AlertService]) -> None:
    c, _ = client
    (a,) = c.get("/api/v1/alerts").json()
    me = c.get("/api/v1/me").json()["name"]
    r = c.post(f"/api/v1/alerts/{a['id']}/ack", json={"by": "somebody-else", "comment": "已到现场"})
    assert r.status_code == 200
    assert r.json()["status"] == "acknowledged"
    assert r.json()["ack_comment"] == "已到现场"
    assert r.json()["acknowledged_by"] == me  # the token's name, never a field in the body
    assert c.post(f"/api/v1/alerts/{a['id']}/ack").status_code == 409
    assert c.post(f"/api/v1/alerts/{a['id']}/resolve", json={}).status_code == 422  # reason needed
    r = c.post(f"/api/v1/alerts/{a['id']}/resolve", json={"by": "zhao", "reason": "探头校准后正常"})
    assert r.json()["status"] == "resolved"
    assert r.json()["resolved_by"] == me
    assert r.json()["resolve_reason"] == "探头校准后正常"
    types = [e["type"] for e in c.get(f"/api/v1/alerts/{a['id']}/events").json()]
    assert types == ["raised", "acknowledged", "resolved"]


def test_ack_links_expire_and_forged_ones_are_refused(client: tuple[TestClient, AlertService]) -> None:
    from alerts.book import ack_query

    c, alerts = client
    (a,) = c.get("/api/v1/alerts").json()
    secret = alerts.desk.book.settings.secret
    anon = TestClient(c.app)
    expired = f"/api/v1/alerts/{a['id']}/ack?{ack_query(secret, a['id'], 'zhao', int(time.time()) - 1)}"
    assert anon.get(expired).status_code == 410
    assert anon.post(expired).status_code == 410
    for forged in ("by=zhao&exp=9999999999&sig=" + "0" * 32, "by=zhao&exp=9999999999&sig=%E2%9C%93",
                   "by=zhao&exp=9999999999&sig=" + "a" * 100, "by=nobody&exp=9999999999&sig=abc",
                   f"{ack_query(secret, a['id'], 'zhao', 9_999_999_999)}".replace("zhao", "wang", 1)):
        assert anon.get(f"/api/v1/alerts/{a['id']}/ack?{forged}").status_code == 403, forged
        assert anon.post(f"/api/v1/alerts/{a['id']}/ack?{forged}").status_code == 403, forged
    assert anon.post(f"/api/v1/alerts/{a['id']}/ack", json={"comment": "x"}).status_code == 401
    good = f"/api/v1/alerts/{a['id']}/ack?{ack_query(secret, a['id'], 'zhao', int(time.time()) + 60)}"
    assert anon.get(good).status_code == 200
    assert c.get(f"/api/v1/alerts/{a['id']}").json()["status"] == "active"  # the page changed nothing
    assert anon.post(good).status_code == 200
    assert c.get(f"/api/v1/alerts/{a['id']}").json()["acknowledged_by"] == "zhao"


def test_rules_are_listed(client: tuple[TestClient, AlertService]) -> None:
    c, _ = client
    rules = {r["id"]: r for r in c.get("/api/v1/rules").json()}
    assert rules["drinking-ph"]["condition"] == {"type": "threshold", "field": "ph", "above": None, "below": None,
                                                 "outside": [6.5, 8.5], "clear_margin": 0.1}
    assert rules["hot-water-outlet-cold"]["for_s"] == 1800
    assert rules["hourly-use-vs-baseline"]["enabled"] is False
    assert rules["canteen-gas-closed"]["name"]["en"] == "Canteen gas used while closed"


def test_metrics_in_prometheus_format(client: tuple[TestClient, AlertService]) -> None:
    c, _ = client
    r = c.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    lines = dict(line.rsplit(" ", 1) for line in r.text.splitlines() if line and not line.startswith("#"))
    assert lines['meterwatch_alerts{state="active"}'] == "1.0"
    assert lines["meterwatch_notifications_failed"] == "0.0"
    assert "meterwatch_messages_received_total" in lines
    assert lines["meterwatch_spool_depth"] == "0.0"


def test_messages_the_engine_could_not_evaluate_are_listed(client: tuple[TestClient, AlertService]) -> None:
    c, svc = client
    assert c.get("/api/v1/alerts/evaluation-failures").json() == []
    real = svc.engine.reading

    def fragile(r: Reading) -> list[Transition]:
        if r.device == "c1-gas":
            raise ZeroDivisionError("a rule's own bug")
        return real(r)

    svc.engine.reading = fragile  # type: ignore[method-assign]
    body = b'{"ts": 1773100800, "values": {"volume_m3": 10.0, "flow_m3h": 6.0}}'  # 2026-03-10 08:00 +08:00
    svc.evaluate([Inbound("campus/yucai/c1-gas/reading", body, 1_773_100_860_000, i, 1) for i in range(2)])
    page = c.get("/api/v1/alerts/evaluation-failures", params={"limit": 1})
    assert page.status_code == 200
    assert page.headers["X-Total-Count"] == "2"
    (failure,) = page.json()
    assert failure["topic"] == "campus/yucai/c1-gas/reading"
    assert failure["payload"] == body.decode()
    assert failure["error"] == "ZeroDivisionError: a rule's own bug"
    assert failure["at"].startswith("1970-01-01T08:00:00")  # the service's frozen clock, local time
    assert c.get("/api/v1/alerts/evaluation-failures", headers={"Authorization": ""}).status_code == 401
