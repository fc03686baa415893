"""The sweep: on a vacation night a teaching building with its lights left on (25 kW from 22:00) is flagged
against the same hour of earlier vacation nights, while the rest of the campus is not; saving the sweep records a
check round per zone with the snapshot kept."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from alerts.service import AlertService
from campus.clock import FrozenClock
from simulators.model import Simulation, load_campus_doc
from tests.support.drive import inbound
from tests.support.harness import TZ, token_headers
from tests.support.paths import SAMPLE
from tests.support.records import records_app

NIGHT = dt.datetime(2026, 7, 20, 23, 30, tzinfo=TZ)  # a Monday in the summer vacation (the term ended 10 Jul)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, AlertService, FrozenClock, Path]]:
    tmp = tmp_path_factory.mktemp("sweep")
    sim = Simulation(load_campus_doc(SAMPLE), start=NIGHT - dt.timedelta(days=4, hours=23, minutes=30), end=NIGHT,
                     seed=5, faults=["lights_on_night@2026-07-20T22:00"])
    with records_app(tmp, NIGHT, inbound(sim.publications())) as (c, alerts, clock):
        yield c, alerts, clock, tmp


def test_the_sweep_flags_a_teaching_building_lit_on_a_vacation_night(
        app: tuple[TestClient, AlertService, FrozenClock, Path]) -> None:
    c, _, _, _ = app
    s = c.get("/api/v1/sweep").json()
    assert (s["day_kind"], s["quiet"]) == ("vacation", True)
    flagged = [x for x in s["lines"] if x["flagged"]]
    assert [(x["device"], x["building"]) for x in flagged] == [("ta-elec", "teach-a")], flagged
    lit = flagged[0]
    assert lit["days"] == 4
    assert lit["unit"] == "kW"
    assert 20 < lit["now"] - lit["usual"] < 30  # the 25 kW left on, against the usual vacation night
    assert s["buildings"][0]["id"] == "teach-a"
    assert s["buildings"][0]["flagged"] == ["ta-elec"]
    assert s["flagged"] == 1
    others = [x for x in s["lines"] if x["kind"] == "electricity" and x["building"] != "teach-a" and x["now"]]
    assert others
    assert all(not x["flagged"] for x in others)


def test_a_saved_sweep_is_a_check_round_with_its_snapshot(
        app: tuple[TestClient, AlertService, FrozenClock, Path]) -> None:
    c, _, _, tmp = app
    electrician = token_headers(tmp, "electrician", "李强")
    assert c.post("/api/v1/sweep", headers=token_headers(tmp, "viewer", "看板")).status_code == 403
    saved = c.post("/api/v1/sweep", headers=electrician)
    assert saved.status_code == 201, saved.text
    rounds = {r["zone"]: r for r in saved.json()}
    assert set(rounds) == {"zone-north", "zone-south"}
    south, north = rounds["zone-south"], rounds["zone-north"]
    assert south["template"] == "sweep"
    assert south["recorded_by"] == "李强"
    assert south["problems"] == 1
    assert "教学楼A栋" in south["note"]
    assert north["problems"] == 0
    records = c.app.state.records  # type: ignore[attr-defined]
    snap = records.store.round(south["id"]).snapshot
    assert snap["flagged"] == 1
    assert {b["id"] for b in snap["buildings"]} == {"teach-a", "teach-b", "teach-c",
                                                                           "office", "power-room"}
    listed = c.get("/api/v1/inspections", params={"template": "sweep"}).json()
    assert {r["id"] for r in listed} == {south["id"], north["id"]}
