"""One service, two sites (育才 yucai and 明德 mingde, the same device ids in both): site routes, the site
filter, and tokens scoped to a site or to a zone inside it, on every route. What a token may not see answers
404, as if it did not exist."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from alerts.service import AlertService
from cli.main import main
from simulators.model import Simulation, load_campus_doc
from tests.support.alertapp import alert_app
from tests.support.district import at_site, district_dir
from tests.support.drive import inbound
from tests.support.harness import TZ
from tests.support.paths import SAMPLE

FAULTS = ["ph_excursion:ta-fountain", "ph_excursion:d1-fountain"]  # south zone (教学楼A), north zone (宿舍1)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, AlertService]]:
    now = datetime.now(TZ)
    sim = Simulation(load_campus_doc(SAMPLE), start=now - timedelta(hours=4), end=now, seed=5, faults=FAULTS)
    pubs = list(sim.publications())
    batch = inbound(pubs) + inbound(at_site(pubs, "mingde"))
    batch.sort(key=lambda m: m.received_ms)
    with alert_app(tmp_path / "data", batch, store=True, campus=district_dir(tmp_path)) as made:
        yield made


def _as(tmp_path: Path, role: str, name: str, *scope: str) -> dict[str, str]:
    """A token made the way an admin makes one: meterwatch token create --site ... --zone ..."""
    config = tmp_path / "meterwatch.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["token", "create", "--role", role, "--name", name, "--config", str(config), *scope]) == 0
    return {"Authorization": f"Bearer {out.getvalue().split()[-1]}"}


def test_site_routes_and_filters(app: tuple[TestClient, AlertService]) -> None:
    c, _ = app
    both = c.get("/api/v1/devices", params={"limit": 1000})
    assert {d["site"] for d in both.json()} == {"yucai", "mingde"}
    mingde = c.get("/api/v1/devices", params={"site": "mingde", "limit": 1000}).json()
    assert {d["site"] for d in mingde} == {"mingde"}
    assert len(mingde) * 2 == len(both.json())
    assert c.get("/api/v1/sites/mingde/devices", params={"limit": 1000}).json() == mingde
    ambiguous = c.get("/api/v1/devices/ta-fountain")
    assert ambiguous.status_code == 409
    assert "/api/v1/sites/SITE/devices/ta-fountain" in ambiguous.json()["detail"]
    one = c.get("/api/v1/sites/mingde/devices/ta-fountain")
    assert one.status_code == 200
    assert one.json()["site"] == "mingde"
    assert c.get("/api/v1/devices/ta-fountain", params={"site": "yucai"}).json()["site"] == "yucai"
    assert c.get("/api/v1/sites/nowhere/devices/ta-fountain").status_code == 404
    for site in ("yucai", "mingde"):
        latest = c.get(f"/api/v1/sites/{site}/devices/ta-fountain/latest")
        assert latest.status_code == 200
        assert c.get(f"/api/v1/sites/{site}/devices/c1-elec/readings").json()["count"] > 0
    assert c.get("/api/v1/campus").status_code == 422  # two sites: which?
    assert c.get("/api/v1/campus", params={"site": "mingde"}).json()["site"]["name"] == "明德中学"
    alerts = c.get("/api/v1/alerts", params={"status": "open"}).json()
    # the fountains are direct-drinking fountains: their pH rule is CJ 94-2005's purified-ph
    assert sorted((a["site"], a["subject"]) for a in alerts if a["rule"] == "purified-ph") == [
        ("mingde", "d1-fountain"), ("mingde", "ta-fountain"), ("yucai", "d1-fountain"), ("yucai", "ta-fountain")]
    only = c.get("/api/v1/alerts", params={"status": "open", "site": "yucai"}).json()
    assert {a["site"] for a in only} == {"yucai"}
    use = c.get("/api/v1/consumption", params={"site": "mingde", "group_by": "site"}).json()
    assert [g["key"] for g in use["groups"]] == ["mingde"]
    report = c.get("/api/v1/reports/energy", params={"site": "mingde", "month": datetime.now(TZ).strftime("%Y-%m")})
    assert report.json()["site"] == "mingde"


def test_a_token_scoped_to_a_site_sees_only_that_site(app: tuple[TestClient, AlertService], tmp_path: Path) -> None:
    c, _ = app
    h = _as(tmp_path, "electrician", "mingde-crew", "--site", "mingde")
    devices = c.get("/api/v1/devices", headers=h, params={"limit": 1000}).json()
    assert devices
    assert {d["site"] for d in devices} == {"mingde"}
    assert c.get("/api/v1/devices/ta-fountain", headers=h).json()["site"] == "mingde"  # unique among what it sees
    for path in ("/api/v1/sites/yucai/devices/ta-fountain", "/api/v1/sites/yucai/devices/ta-fountain/readings",
                 "/api/v1/sites/yucai/devices", "/api/v1/devices?site=yucai", "/api/v1/campus?site=yucai",
                 "/api/v1/consumption?site=yucai", "/api/v1/water-quality?site=yucai", "/api/v1/alerts?site=yucai",
                 "/api/v1/reports/energy?site=yucai&month=2026-10", "/api/v1/dead-letters?site=yucai",
                 "/api/v1/gateways?site=yucai"):
        assert c.get(path, headers=h).status_code == 404, path
    assert c.get("/api/v1/campus", headers=h).json()["site"]["id"] == "mingde"  # its only site: no site= needed
    assert c.get("/api/v1/water-quality", headers=h).status_code == 200
    alerts = c.get("/api/v1/alerts", headers=h).json()
    assert alerts
    assert {a["site"] for a in alerts} == {"mingde"}
    theirs = next(a for a in c.get("/api/v1/alerts", params={"site": "yucai"}).json())
    for path in (f"/api/v1/alerts/{theirs['id']}", f"/api/v1/alerts/{theirs['id']}/events"):
        assert c.get(path, headers=h).status_code == 404
    assert c.post(f"/api/v1/alerts/{theirs['id']}/ack", headers=h, json={}).status_code == 404
    mine = next(a for a in alerts if a["status"] == "active")
    assert c.post(f"/api/v1/alerts/{mine['id']}/ack", headers=h, json={}).json()["acknowledged_by"] == "mingde-crew"
    me = c.get("/api/v1/me", headers=h).json()
    assert me["scope"] == {"sites": ["mingde"], "zones": [], "buildings": []}


def test_a_token_narrowed_to_a_zone(app: tuple[TestClient, AlertService], tmp_path: Path) -> None:
    c, _ = app
    h = _as(tmp_path, "viewer", "north", "--site", "yucai", "--zone", "zone-north")
    campus = c.get("/api/v1/campus", headers=h).json()
    north = {b["id"] for b in campus["buildings"]}
    assert "dorm-1" in north
    assert "teach-a" not in north
    assert [z["id"] for z in campus["zones"]] == ["zone-north"]
    devices = c.get("/api/v1/devices", headers=h, params={"limit": 1000}).json()
    assert devices
    assert {d["building"] for d in devices} <= north
    assert c.get("/api/v1/devices/ta-fountain", headers=h).status_code == 404  # 教学楼A: the south zone
    assert c.get("/api/v1/devices/d1-fountain", headers=h).status_code == 200
    alerts = c.get("/api/v1/alerts", headers=h, params={"status": "open"}).json()
    assert {a["subject"] for a in alerts if a["rule"] == "purified-ph"} == {"d1-fountain"}
    use = c.get("/api/v1/consumption", headers=h, params={"group_by": "building"}).json()
    assert {g["key"] for g in use["groups"]} <= north
    board = c.get("/api/v1/water-quality", headers=h).json()
    assert {s["device"] for s in board}
    assert all(s["building"] in north for s in board)


def test_scoped_admins_manage_their_devices_but_not_tokens(app: tuple[TestClient, AlertService],
                                                          tmp_path: Path) -> None:
    c, _ = app
    h = _as(tmp_path, "admin", "mingde-admin", "--site", "mingde")
    new = {"id": "c1-elec-new", "kind": "electricity", "building": "canteen-1"}
    made = c.post("/api/v1/devices", headers=h, json=new)
    assert made.status_code == 201
    assert made.json()["site"] == "mingde"
    assert c.post("/api/v1/sites/yucai/devices", headers=h, json=new).status_code == 404
    assert c.patch("/api/v1/sites/yucai/devices/c1-elec", headers=h, json={"name": "x"}).status_code == 404
    assert c.delete("/api/v1/sites/mingde/devices/c1-elec-new", headers=h).status_code == 204
    refused = c.post("/api/v1/tokens", headers=h, json={"name": "sneaky", "role": "admin"})
    assert refused.status_code == 403
    assert "without a scope" in refused.json()["detail"]
    made_token = c.post("/api/v1/tokens", json={"name": "ok", "role": "viewer", "sites": ["yucai"]})
    assert made_token.status_code == 201
    assert made_token.json()["scope"]["sites"] == ["yucai"]
    bad = c.post("/api/v1/tokens", json={"name": "typo", "role": "viewer", "sites": ["yucia"]})
    assert bad.status_code == 422
    assert "no site yucia" in bad.json()["detail"]


def test_the_cli_refuses_a_scope_naming_nothing(app: tuple[TestClient, AlertService], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "meterwatch.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    code = main(["token", "create", "--role", "viewer", "--name", "x", "--config", str(config),
                 "--site", "yucai", "--zone", "zone-west"])
    assert code == 2
    assert "no zone zone-west in yucai" in capsys.readouterr().err


def test_the_district_report_ranks_every_site_with_its_own_reports_figures(
        app: tuple[TestClient, AlertService], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c, _ = app
    month = datetime.now(TZ).strftime("%Y-%m")
    district = c.get("/api/v1/reports/district", params={"month": month}).json()
    assert [s["rank"] for s in district["sites"]] == [1, 2]
    per_m2 = [s["kgce_per_m2"] for s in district["sites"]]
    assert per_m2 == sorted(per_m2)
    for s in district["sites"]:
        own = c.get("/api/v1/reports/energy", params={"site": s["site"], "month": month}).json()["site_total"]
        assert s["figures"] == own["figures"]
        assert s["floor_area_m2"] == own["floor_area_m2"]
        assert {t["kind"] for t in s["targets"]} == {"electricity", "water"}  # the departments' targets
    assert district["total"]["energy_kgce"] == pytest.approx(sum(s["figures"]["energy_kgce"]
                                                                 for s in district["sites"]))
    for fmt, magic in (("pdf", b"%PDF"), ("xlsx", b"PK"), ("csv", "\ufeff".encode())):
        r = c.get("/api/v1/reports/district", params={"month": month, "format": fmt})
        assert r.status_code == 200
        assert r.content.startswith(magic)
    h = _as(tmp_path, "viewer", "mingde-office", "--site", "mingde")
    mine = c.get("/api/v1/reports/district", headers=h, params={"month": month}).json()
    assert [s["site"] for s in mine["sites"]] == ["mingde"]
    config = tmp_path / "meterwatch.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    out = tmp_path / "district.csv"
    assert main(["report", "district", "--month", month, "--config", str(config), "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8-sig")
    assert "各校能耗排名" in text
    assert "明德中学" in text
    assert "育才中学" in text


def test_evaluation_failures_are_scoped_like_dead_letters(app: tuple[TestClient, AlertService],
                                                           tmp_path: Path) -> None:
    """#21: another site's viewer saw the topic and raw payload of what the engine could not evaluate."""
    c, svc = app
    with svc.store.tx():
        for topic in ("campus/yucai/d1-fountain/reading", "campus/yucai/ta-fountain/reading",
                      "campus/mingde/d1-fountain/reading", "stray/topic"):
            svc.store.record_failure(topic, b"{}", "ZeroDivisionError: a rule's own bug", 0)

    def topics(headers: dict[str, str] | None = None) -> list[str]:
        r = c.get("/api/v1/alerts/evaluation-failures", headers=headers)
        assert r.status_code == 200, r.text
        assert int(r.headers["X-Total-Count"]) == len(r.json())
        return sorted(f["topic"] for f in r.json())

    assert len(topics()) == 4  # an unscoped admin sees them all
    assert topics(_as(tmp_path, "viewer", "mingde-office", "--site", "mingde")) == [
        "campus/mingde/d1-fountain/reading"]
    assert topics(_as(tmp_path, "viewer", "north", "--site", "yucai", "--zone", "zone-north")) == [
        "campus/yucai/d1-fountain/reading"]  # 宿舍1 is in the north zone, 教学楼A is not


def test_a_narrowed_token_cannot_read_the_sites_filed_report(app: tuple[TestClient, AlertService],
                                                             tmp_path: Path) -> None:
    """#21: the filed report holds every building and device of the site; a zone's token got all of it."""
    c, _ = app
    month = datetime.now(TZ).strftime("%Y-%m")
    assert c.post(f"/api/v1/reports/energy/{month}/file", params={"site": "yucai"}).status_code == 201
    site = _as(tmp_path, "viewer", "yucai-office", "--site", "yucai")
    north = _as(tmp_path, "viewer", "north", "--site", "yucai", "--zone", "zone-north")
    for fmt in (None, "json", "csv", "xlsx", "pdf"):
        params = {"site": "yucai", **({"format": fmt} if fmt else {})}
        assert c.get(f"/api/v1/reports/filed/{month}", params=params, headers=site).status_code == 200, fmt
        refused = c.get(f"/api/v1/reports/filed/{month}", params=params, headers=north)
        assert refused.status_code == 403, fmt
        assert "narrowed" in refused.json()["detail"]


def test_a_zone_admin_keeps_devices_inside_its_zone(app: tuple[TestClient, AlertService], tmp_path: Path) -> None:
    """#21: a zone-scoped admin moved a device into another zone, or gave it another zone's parent or gateway,
    which changed that zone's totals. What it names must lie inside its scope (404 outside, as for anything it
    may not see), and a device's zone is its building's (422)."""
    c, _ = app
    north = _as(tmp_path, "admin", "north-admin", "--site", "yucai", "--zone", "zone-north")
    url = "/api/v1/sites/yucai/devices"
    assert c.patch(f"{url}/d1-elec", json={"zone": "zone-south"}, headers=north).status_code == 422
    assert c.patch(f"{url}/d1-elec", json={"building": "teach-a"}, headers=north).status_code == 404
    assert c.patch(f"{url}/d1-r101", json={"parent": "ta-elec"}, headers=north).status_code == 404
    assert c.patch(f"{url}/d1-elec", json={"gateway": "gw-teach-a"}, headers=north).status_code == 404
    new = {"id": "d1-new", "kind": "electricity", "building": "dorm-1"}
    assert c.post(url, json={**new, "parent": "ta-elec"}, headers=north).status_code == 404
    assert c.post(url, json={**new, "gateway": "gw-teach-a"}, headers=north).status_code == 404
    assert c.post(url, json={**new, "zone": "zone-south"}, headers=north).status_code == 422
    made = c.post(url, json={**new, "parent": "d1-elec"}, headers=north)
    assert made.status_code == 201, made.text
    assert c.get(f"{url}/d1-elec", headers=north).json()["zone"] == "zone-north"  # nothing moved


def test_a_publisher_id_belongs_to_one_site(app: tuple[TestClient, AlertService], tmp_path: Path) -> None:
    """#21: a site's admin gave a new device another site's gateway; from then on revocation and the broker's
    files failed for both sites. A broker username names one client: the change is refused (409)."""
    c, _ = app
    mingde = _as(tmp_path, "admin", "mingde-admin", "--site", "mingde")
    device = {"id": "mingde-evil", "kind": "electricity", "building": "canteen-1"}
    taken = c.post("/api/v1/sites/mingde/devices", json={**device, "gateway": "gw-shared-9"}, headers=mingde)
    assert taken.status_code == 201, taken.text  # a new gateway id: its own
    refused = c.post("/api/v1/sites/yucai/devices", json={**device, "id": "yucai-evil", "gateway": "gw-shared-9"})
    assert refused.status_code == 409
    assert "another site (mingde)" in refused.json()["detail"]
    moved = c.patch("/api/v1/sites/yucai/devices/c1-elec", json={"gateway": "gw-shared-9"})
    assert moved.status_code == 409
    solo = c.post("/api/v1/sites/mingde/devices", json={**device, "id": "solo-1"}, headers=mingde)
    assert solo.status_code == 201  # no gateway: it connects as itself, solo-1
    assert c.post("/api/v1/sites/yucai/devices", json={**device, "id": "y-2", "gateway": "solo-1"}).status_code == 409
