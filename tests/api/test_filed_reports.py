"""Filed reports: a month frozen in every format with its SHA-256, who and when; the exact bytes back; a late
reading afterwards listed as a change by building and kind, in the live report and beside the filing; a
correction filed as version 2 with version 1 kept."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from alerts.service import AlertService
from ingest.decode import Inbound
from simulators.model import Simulation, load_campus_doc
from tests.support.alertapp import alert_app
from tests.support.drive import inbound
from tests.support.harness import TZ, token_headers
from tests.support.paths import SAMPLE

MONTH = "2026-10"
END = datetime(2026, 10, 12, tzinfo=TZ)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, AlertService]]:
    sim = Simulation(load_campus_doc(SAMPLE), start=END - timedelta(days=2), end=END, seed=4, faults=[])
    with alert_app(tmp_path, inbound(sim.publications()), store=True) as made:
        yield made


def _late(client: TestClient, register_kwh: float) -> None:
    """A reading of the office's meter from inside October, arriving after the month was filed."""
    body = {"ts": int((END + timedelta(hours=12)).timestamp()), "values": {"energy_kwh": register_kwh}}
    service = client.app.state.service  # type: ignore[attr-defined]
    service.pipeline.commit([Inbound("campus/yucai/of-elec/reading", json.dumps(body).encode(),
                                     int(datetime.now(TZ).timestamp() * 1000))])


def test_filing_freezes_every_format_and_lists_what_changed_since(app: tuple[TestClient, AlertService],
                                                                   tmp_path: Path) -> None:
    c, _ = app
    viewer = token_headers(tmp_path, "viewer", "visitor")
    assert c.post(f"/api/v1/reports/energy/{MONTH}/file", headers=viewer).status_code == 403
    filed = c.post(f"/api/v1/reports/energy/{MONTH}/file")
    assert filed.status_code == 201
    f = filed.json()
    assert (f["site"], f["month"], f["version"]) == ("yucai", MONTH, 1)
    assert f["filed_by"].startswith("test-admin")  # the token's name, never the body's
    assert {x["format"] for x in f["files"]} == {"json", "csv", "xlsx", "pdf"}
    for x in f["files"]:
        got = c.get(f"/api/v1/reports/filed/{MONTH}", params={"format": x["format"]})
        assert got.status_code == 200
        assert hashlib.sha256(got.content).hexdigest() == x["sha256"]
        assert len(got.content) == x["bytes"]
    assert c.get(f"/api/v1/reports/filed/{MONTH}").json()["changes"] == []
    live = c.get("/api/v1/reports/energy", params={"month": MONTH}).json()
    assert live["filed"]["version"] == 1
    assert live["filed"]["changes"] == []

    office = next(b for b in live["buildings"] if b["id"] == "office")["figures"]["electricity_kwh"]
    last = c.get("/api/v1/devices/of-elec/latest").json()["values"]["energy_kwh"]
    _late(c, last + 5)  # 5 kWh on the register, × 20 (its current transformer): 100 kWh more in October
    live = c.get("/api/v1/reports/energy", params={"month": MONTH}).json()
    changed = {(x["building"], x["kind"]) for x in live["filed"]["changes"]}
    assert ("office", "electricity") in changed
    assert ("yucai", "electricity") in changed  # the site as a whole
    row = next(x for x in live["filed"]["changes"] if x["building"] == "office")
    assert row["filed"] == pytest.approx(office)
    assert row["change"] == pytest.approx(100.0)
    beside = c.get(f"/api/v1/reports/filed/{MONTH}").json()
    assert {(x["building"], x["kind"]) for x in beside["changes"]} == changed
    frozen = c.get(f"/api/v1/reports/filed/{MONTH}", params={"format": "json"})
    assert hashlib.sha256(frozen.content).hexdigest() == next(x["sha256"] for x in f["files"] if x["format"] == "json")
    assert "自报送以来的变化" in c.get("/api/v1/reports/energy", params={"month": MONTH, "format": "csv"}).text

    again = c.post(f"/api/v1/reports/energy/{MONTH}/file").json()
    assert again["version"] == 2
    assert c.get(f"/api/v1/reports/filed/{MONTH}").json()["changes"] == []  # against the correction
    assert c.get(f"/api/v1/reports/filed/{MONTH}", params={"version": 1}).json()["changes"]
    v1 = c.get(f"/api/v1/reports/filed/{MONTH}", params={"format": "json", "version": 1})
    assert v1.content == frozen.content
    listed = c.get("/api/v1/reports/filed").json()
    assert [(x["month"], x["version"]) for x in listed] == [(MONTH, 2), (MONTH, 1)]
    assert c.get("/api/v1/reports/filed/2026-09").status_code == 404
    assert c.get(f"/api/v1/reports/filed/{MONTH}", params={"version": 9}).status_code == 404
