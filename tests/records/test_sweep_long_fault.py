"""The sweep against a fault that has run for as long as there is history: a canteen's equipment left on around
the clock (+40 kW, the demo's over_budget) is its own recent normal, yet at 23:30 on a school day the canteen is
closed and should draw its standby only, so the sweep flags it; water and gas are listed too, the largest excess
first. Time is frozen at that night."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from simulators.model import Simulation, load_campus_doc
from tests.support.drive import inbound
from tests.support.harness import TZ
from tests.support.paths import SAMPLE
from tests.support.records import records_app

NIGHT = dt.datetime(2026, 11, 18, 23, 30, tzinfo=TZ)  # a Wednesday in the autumn term


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    sim = Simulation(load_campus_doc(SAMPLE), start=NIGHT - dt.timedelta(days=9, hours=23, minutes=30), end=NIGHT,
                     seed=7, faults=["over_budget"])  # on all along: every earlier night had it too
    with records_app(tmp_path_factory.mktemp("sweep-long"), NIGHT, inbound(sim.publications())) as (c, _, _):
        yield c


def test_a_canteen_on_all_night_for_as_long_as_there_is_history_is_flagged(client: TestClient) -> None:
    s = client.get("/api/v1/sweep").json()
    assert (s["day_kind"], s["quiet"]) == ("school_day", True)
    flagged = [x for x in s["lines"] if x["flagged"]]
    assert [(x["device"], x["kind"]) for x in flagged] == [("c1-elec", "electricity")], flagged
    line = flagged[0]
    assert line["closed"] is True
    assert line["usual"] > 40  # the same hour on earlier nights had the fault too: no help
    assert line["expected"] < 15  # what a closed canteen may draw: its standby
    assert 30 < line["excess"] < 45
    canteen = next(b for b in s["buildings"] if b["id"] == "canteen-1")
    assert canteen["closed"] is True
    assert canteen["flagged"] == ["c1-elec"]
    dorm = next(b for b in s["buildings"] if b["id"] == "dorm-1")
    assert dorm["closed"] is False  # a dormitory at night in term is lived in


def test_water_and_gas_are_listed_and_the_lines_go_by_excess(client: TestClient) -> None:
    lines = client.get("/api/v1/sweep").json()["lines"]
    assert {x["kind"] for x in lines} == {"electricity", "water", "gas"}
    rest = [x for x in lines if not x["flagged"]]
    assert [x["excess"] for x in rest] == sorted((x["excess"] for x in rest), reverse=True)
