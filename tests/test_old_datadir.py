"""A data directory written by commit 631a7fe (tests/fixtures/datadir-631a7fe, made by make_old_datadir.py.txt beside
it, run against 631a7fe) opens with nothing lost: the registry as the API left it, tokens that still authenticate,
alerts with their acknowledgement, events and pending notices, the engine's saved state (loaded, and continued
from: the next out-of-range reading updates the open alert instead of starting over), check rounds, hazards and
water tests with their photos, readings and roll-ups (consumption answered from the roll-ups, nothing to
recompute), dead letters, and the filed report's exact bytes. What must be found is in the fixture's
expected.json."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from alerts.config import AlertSettings
from alerts.service import AlertService
from alerts.store import AlertStore
from api.app import build_service, create_app
from app.settings import load_settings
from campus.clock import FrozenClock
from campus.model import load_sites
from ingest.decode import Inbound
from ingest.service import IngestService

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "datadir-631a7fe"
EXPECTED: dict[str, Any] = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
SITE = EXPECTED["site"]
# the clock of the records and the alerts: when the fixture's last record was made (never the wall clock)
NOW_MS = int(datetime.fromisoformat(EXPECTED["clock"]).timestamp() * 1000)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_of(name: str) -> str:
    return str(next(t["token"] for t in EXPECTED["tokens"] if t["name"] == name))


ADMIN = bearer(token_of("ops-admin"))
ELECTRICIAN = bearer(token_of("王建国"))
SOUTH_BOARD = bearer(token_of("south-board"))


@dataclass
class Opened:
    client: TestClient
    ingest: IngestService
    alerts: AlertService
    data: Path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A copy of the fixture: opening it may write (last use of a token, a refresh), the fixture stays as made."""
    copy = tmp_path / "data"
    shutil.copytree(FIXTURE, copy, copy_function=shutil.copyfile)  # writable whatever the checkout's modes
    return copy


@pytest.fixture
def opened(data: Path) -> Iterator[Opened]:
    """The app over the data directory, as the tests open one: ingest (no broker, no campus file: the registry is
    only what the directory holds), the alert engine in process on a frozen clock, the records desk on the same.
    Background roll-up refreshes are off, so the tests see whether the roll-ups were complete as found."""
    settings = load_settings(None, data_dir=data, report={"refresh_s": 0})
    ingest = build_service(settings, None, connect_mqtt=False)
    clock = FrozenClock(NOW_MS)
    alerts = AlertService(data_dir=data, mqtt=settings.mqtt, connect_mqtt=False, clock=clock,
                          settings=AlertSettings(roster_file=data / EXPECTED["roster_file"], mqtt_publish=False))
    app = create_app(settings, service=ingest, alerts=alerts, clock=clock)  # it closes what it opens
    try:
        with TestClient(app, headers=ADMIN) as client:
            yield Opened(client, ingest, alerts, data)
    finally:
        alerts.stop()
        ingest.stop()


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text[:500]
    return response.json()


def test_the_fixture_is_complete_and_checkpointed() -> None:
    for name in EXPECTED["sqlite_files"]:
        db = FIXTURE / name
        assert db.read_bytes()[:16] == b"SQLite format 3\x00", name
    left = [p.name for p in FIXTURE.rglob("*") if p.name.endswith(("-wal", "-shm", "-journal"))]
    assert left == []
    for rel, sha in EXPECTED["plain_files"].items():
        assert hashlib.sha256((FIXTURE / rel).read_bytes()).hexdigest() == sha, rel


def test_the_registry_is_as_the_api_left_it_with_presence(opened: Opened) -> None:
    c, want = opened.client, EXPECTED["devices"]
    devices = ok(c.get("/api/v1/devices", params={"limit": 1000}))
    assert len(devices) == want["count"]
    assert sorted(d["id"] for d in devices) == want["ids"]
    added = ok(c.get(f"/api/v1/devices/{want['added']['id']}"))
    assert {k: added[k] for k in want["added"]} == want["added"]
    changed = ok(c.get(f"/api/v1/devices/{want['changed']['id']}"))
    assert {k: changed[k] for k in want["changed"]["fields"]} == want["changed"]["fields"]
    assert want["changed"]["fields"] != want["changed"]["campus_file"]  # the registry differs from the file
    by_id = {d["id"]: d for d in devices}
    for dev, seen in want["presence"].items():
        assert {"status": by_id[dev]["status"], "last_seen": by_id[dev]["last_seen"]} == seen, dev


def test_serving_with_the_campus_file_keeps_the_devices_the_api_added(data: Path) -> None:
    """`meterwatch serve` seeds the registry from the campus file at every start: a device only the API added
    stays (a field the API changed on a device the file lists takes the file's value again: that is seeding)."""
    settings = load_settings(None, data_dir=data)
    ingest = build_service(settings, load_sites(data / EXPECTED["campus_file"]), connect_mqtt=False)
    try:
        ids = sorted(d.id for d in ingest.registry.site(SITE).devices)
    finally:
        ingest.stop()
    assert ids == EXPECTED["devices"]["ids"]
    assert EXPECTED["devices"]["added"]["id"] in ids


def test_readings_are_all_there(opened: Opened) -> None:
    c, want = opened.client, EXPECTED["readings"]
    assert opened.ingest.store.count() == EXPECTED["readings_stored"]
    for dev, n in want["devices"].items():
        assert ok(c.get(f"/api/v1/devices/{dev}/readings", params=want["span"]))["count"] == n, dev
    for dev, latest in want["latest"].items():
        got = ok(c.get(f"/api/v1/devices/{dev}/latest"))
        assert {k: got[k] for k in latest} == latest, dev  # fields added since (manual, read_by) aside
        assert (got["manual"], got["read_by"]) == (False, None)  # no reading by hand then


def test_every_token_still_authenticates_with_its_role_and_scope(opened: Opened) -> None:
    c = opened.client
    for t in EXPECTED["tokens"]:
        me = ok(c.get("/api/v1/me", headers=bearer(t["token"])))
        assert (me["name"], me["role"], me["scope"]) == (t["name"], t["role"], t["scope"])
    listed = ok(c.get("/api/v1/tokens"))
    assert sorted((x["name"], x["role"]) for x in listed) == sorted((t["name"], t["role"]) for t in EXPECTED["tokens"])
    assert c.get("/api/v1/me", headers=bearer("mw_" + "x" * 43)).status_code == 401
    assert c.get("/api/v1/tokens", headers=ELECTRICIAN).status_code == 403
    sees = EXPECTED["south_board_sees"]
    assert sorted(a["id"] for a in ok(c.get("/api/v1/alerts", headers=SOUTH_BOARD))) == sees["alerts"]
    assert sorted(d["id"] for d in ok(c.get("/api/v1/devices", headers=SOUTH_BOARD,
                                            params={"limit": 1000}))) == sees["devices"]


def test_alerts_keep_their_state_acknowledgement_events_and_notices(opened: Opened) -> None:
    c = opened.client
    got = sorted(ok(c.get("/api/v1/alerts", params={"limit": 1000})), key=lambda a: a["id"])
    assert [{k: a[k] for k in want} for a, want in zip(got, EXPECTED["alerts"], strict=True)] == EXPECTED["alerts"]
    assert any(a["status"] == "acknowledged" for a in got)
    for alert_id, types in EXPECTED["alert_events"].items():
        assert [e["type"] for e in ok(c.get(f"/api/v1/alerts/{alert_id}/events"))] == types
    store = opened.alerts.store
    for alert_id, notices in EXPECTED["notices"].items():
        assert [[n.event, n.channel, n.recipient, n.status] for n in store.notices(int(alert_id))] == notices
    assert store.failure_count() == EXPECTED["evaluation_failures"]


def _state(store: AlertStore) -> dict[str, Any]:
    state = store.load_engine(SITE)
    return {"devices": len(state.devices), "rules": len(state.rules),
            "device_states": dict(sorted(state.devices.items())),
            "rule_states": {f"{r}|{s}": v for (r, s), v in sorted(state.rules.items())},
            "watching_since_ms": int(store.meta("watching_since_ms") or 0)}


def test_the_engine_state_loads_as_saved(data: Path) -> None:
    store = AlertStore(data / "alerts.db")
    try:
        assert _state(store) == EXPECTED["engine"][SITE]
    finally:
        store.close()


def test_the_engine_continues_from_its_state_without_raising_again(opened: Opened) -> None:
    """The fountain's pH alert is active in the saved state (two readings counted, alert bound): one more reading
    at pH 9.1 updates that alert. An engine starting over would only count it (pending), raising nothing either,
    but the alert's last reading would stay where it was."""
    want = EXPECTED["engine"][SITE]
    engine = opened.alerts.engine
    # the engine holds typed state (alerts.engine.RuleState) and exports it in the form 631a7fe saved
    assert {f"{r}|{s}": v.to_json() for (r, s), v in sorted(engine.rules.items())} == want["rule_states"]
    assert engine.watching_since_ms == want["watching_since_ms"]
    (ph,) = [a for a in EXPECTED["alerts"] if a["rule"] == "drinking-ph" and a["subject"] == "d1-fountain"]
    key = f"drinking-ph|{ph['subject']}"
    assert want["rule_states"][key]["p"]["ph"] == "active"
    assert want["rule_states"][key]["p"]["alert"] == ph["id"]
    c = opened.client
    latest = ok(c.get(f"/api/v1/devices/{ph['subject']}/latest"))
    last_ms = want["device_states"][ph["subject"]]["ts"]
    assert int(datetime.fromisoformat(latest["ts"]).timestamp() * 1000) == last_ms
    next_ms = last_ms + 600_000
    body = json.dumps({"ts": next_ms // 1000, "values": {**latest["values"], "ph": 9.1}}).encode()
    msg = Inbound(f"campus/{SITE}/{ph['subject']}/reading", body, next_ms, qos=1)
    opened.ingest.pipeline.commit([msg])
    before = len(ok(c.get("/api/v1/alerts", params={"limit": 1000})))
    opened.alerts.evaluate([msg])
    after = ok(c.get("/api/v1/alerts", params={"limit": 1000}))
    assert len(after) == before == len(EXPECTED["alerts"])
    same = ok(c.get(f"/api/v1/alerts/{ph['id']}"))
    assert same["status"] == "acknowledged"
    assert same["acknowledged_by"] == ph["acknowledged_by"]
    assert int(datetime.fromisoformat(same["last_seen"]).timestamp() * 1000) == next_ms
    assert same["started"] == ph["started"]


def test_records_and_their_photos(opened: Opened) -> None:
    c, want = opened.client, EXPECTED["records"]
    hazards = ok(c.get("/api/v1/hazards"))
    for r in want["rounds"]:
        got = ok(c.get(f"/api/v1/inspections/{r['id']}"))
        plain = {k: v for k, v in r.items() if k not in ("items", "opened_hazards")}
        assert {k: got[k] for k in plain} == plain
        assert [{k: i[k] for k in ("item", "ok", "note")} for i in got["items"]] == r["items"]
        assert sorted(h["id"] for h in hazards if h["inspection"] == r["id"]) == r["opened_hazards"]
    assert sorted(x["id"] for x in ok(c.get("/api/v1/inspections"))) == sorted(r["id"] for r in want["rounds"])
    for h in want["hazards"]:
        got = ok(c.get(f"/api/v1/hazards/{h['id']}"))
        assert {k: got[k] for k in h if k not in ("steps", "photos")} == {k: v for k, v in h.items()
                                                                          if k not in ("steps", "photos")}
        assert [s["status"] for s in got["steps"]] == h["steps"]
        assert [p for s in got["steps"] for p in s["photos"]] == h["photos"]
    assert sorted((x["id"], x["status"]) for x in hazards) == sorted(
        (h["id"], h["status"]) for h in want["hazards"])
    tests = {t["id"]: t for t in ok(c.get("/api/v1/water-tests"))}
    assert sorted(tests) == sorted(t["id"] for t in want["water_tests"])
    for t in want["water_tests"]:
        got = tests[t["id"]]
        assert {k: got[k] for k in t if k != "results"} == {k: v for k, v in t.items() if k != "results"}
        assert {r["field"]: r["value"] for r in got["results"]} == t["results"]
    for sha, media in [*((x, "image/png") for x in want["photos"]), *((x, "application/pdf")
                                                                     for x in want["attachments"])]:
        got = c.get(f"/api/v1/files/{sha}")
        assert got.status_code == 200, sha
        assert got.headers["content-type"] == media
        assert hashlib.sha256(got.content).hexdigest() == sha


def test_consumption_comes_from_the_roll_ups_as_found(opened: Opened) -> None:
    usage = opened.client.app.state.usage  # type: ignore[attr-defined]
    electricity = [d for c in usage.campuses.values() for d in c.devices if d.kind.value == "electricity"]
    # every meter's roll-ups were complete: only the electricity meters are rolled up again, once, to fill the
    # quarter-hour profile (roll-ups migration 2); nothing else is recomputed
    assert usage.refresh() == len(electricity)
    assert usage.refresh() == 0
    for q in EXPECTED["consumption"]:
        got = ok(opened.client.get("/api/v1/consumption", params=q["params"]))
        group = next(g for g in got["groups"] if g["key"] == q["group"])
        assert group["total"] == pytest.approx(q["total"], abs=1e-6)
        assert got["total"] == pytest.approx(q["site_total"], abs=1e-6)


def test_dead_letters_are_kept(opened: Opened) -> None:
    want = EXPECTED["dead_letters"]
    letters = ok(opened.client.get("/api/v1/dead-letters"))
    assert len(letters) == want["count"]
    assert sorted(d["topic"] for d in letters) == want["topics"]
    assert {d["topic"]: d["reason"] for d in letters} == want["reasons"]


def test_the_filed_report_returns_its_exact_bytes(opened: Opened) -> None:
    c, want = opened.client, EXPECTED["filed"]
    listed = ok(c.get("/api/v1/reports/filed"))
    assert [(x["month"], x["version"], x["filed_by"]) for x in listed] == [
        (want["month"], want["version"], want["filed_by"])]
    assert {x["format"]: {"sha256": x["sha256"], "bytes": x["bytes"]} for x in listed[0]["files"]} == want["files"]
    for fmt, f in want["files"].items():
        got = c.get(f"/api/v1/reports/filed/{want['month']}", params={"format": fmt, "version": want["version"]})
        assert got.status_code == 200, fmt
        assert len(got.content) == f["bytes"]
        assert hashlib.sha256(got.content).hexdigest() == f["sha256"], fmt


def test_kept_files_stay_theirs_and_the_sweep_removes_only_what_no_record_uses(opened: Opened) -> None:
    """#21: files are the site's and served only to tokens that see a record using them; the migration notes which
    records use the files found, so the file sweep keeps those and removes a stray one from before."""
    import os

    from campus.db import DataDir
    from records.desk import RecordDesk

    want = EXPECTED["records"]
    shelf = DataDir(opened.data).files
    stray = shelf / "ab" / f"{'ab' * 32}.png"
    stray.parent.mkdir(exist_ok=True)
    stray.write_bytes(b"\x89PNG not used by any record")
    os.utime(stray, (NOW_MS / 1000 - 3 * 86_400,) * 2)
    records: RecordDesk = opened.client.app.state.records  # type: ignore[attr-defined]
    records.sweep_files()
    assert not stray.exists()
    for sha in [*want["photos"], *want["attachments"]]:
        got = opened.client.get(f"/api/v1/files/{sha}")
        assert got.status_code == 200, sha
        assert got.headers["content-disposition"].startswith("attachment;")
