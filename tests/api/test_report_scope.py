"""A zone-scoped energy report counts only the alerts of the zone's buildings (and of the zone), never the whole
site's: the report's buildings are the token's, so are its alerts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from alerts.service import AlertService
from api.access import Scope
from api.tokens import TokenStore
from campus.db import DataDir
from simulators.model import Simulation, load_campus_doc
from tests.support.alertapp import alert_app
from tests.support.drive import inbound
from tests.support.harness import TZ
from tests.support.paths import SAMPLE

END = datetime(2026, 10, 12, tzinfo=TZ)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, AlertService]]:
    sim = Simulation(load_campus_doc(SAMPLE), start=END - timedelta(days=1), end=END, seed=4, faults=[])
    with alert_app(tmp_path, inbound(sim.publications()), store=True) as made:
        yield made


def _scoped(data_dir: Path, name: str, **scope: list[str]) -> dict[str, str]:
    store = TokenStore(DataDir(data_dir).state)
    try:
        return {"Authorization": f"Bearer {store.create(name, 'admin', Scope.of(**scope))}"}
    finally:
        store.close()


def test_a_zone_scoped_report_counts_only_its_zones_alerts(app: tuple[TestClient, AlertService],
                                                            tmp_path: Path) -> None:
    c, alerts = app
    store = alerts.store
    oct5 = int(datetime(2026, 10, 5, 3, tzinfo=TZ).timestamp() * 1000)
    south_h = _scoped(tmp_path, "south-admin", zones=["zone-south"])
    canteen_h = _scoped(tmp_path, "canteen-admin", buildings=["canteen-1"])

    def safety_major(headers: dict[str, str] | None = None) -> tuple[int, int]:
        got = c.get("/api/v1/reports/energy", params={"month": "2026-10"}, headers=headers).json()["alerts"]
        row = [(a["raised"], a["open"]) for a in got if (a["category"], a["severity"]) == ("safety", "major")]
        return row[0] if row else (0, 0)

    base, south_base, canteen_base = safety_major(), safety_major(south_h), safety_major(canteen_h)
    for i, (building, zone) in enumerate([("canteen-1", "zone-north"), ("dorm-1", "zone-north"),
                                          ("teach-a", "zone-south"), (None, "zone-north")]):
        store.insert_alert(site="yucai", rule=f"probe-{i}", subject=f"x{i}", category="safety", severity="major",
                           status="active", building=building, zone=zone, started_ms=oct5, last_ms=oct5)
    assert safety_major() == (base[0] + 4, base[1] + 4)
    assert safety_major(south_h) == (south_base[0] + 1, south_base[1] + 1)  # teach-a's, not the north's three
    assert safety_major(canteen_h) == (canteen_base[0] + 1, canteen_base[1] + 1)  # not the zone-wide one
    south = c.get("/api/v1/reports/energy", params={"month": "2026-10"}, headers=south_h).json()
    assert {b["id"] for b in south["buildings"]} == {"teach-a", "teach-b", "teach-c", "office", "power-room"}
