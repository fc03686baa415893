"""Readings by hand (抄表) through the HTTP API, over a real ingest service and alert service: a reading entered by an
electrician shows in the meter's readings (marked manual, who from the token), in consumption and in the monthly
report (its month complete with one reading); every refusal is in words; a photo of the dial goes with it."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from api.tokens import TokenStore
from campus.clock import FrozenClock
from campus.db import DataDir
from campus.scope import Scope
from tests.support.harness import TZ
from tests.support.manual import body, manual_campus
from tests.support.records import ms, png
from tests.support.stack import Stack

OCT31 = dt.datetime(2026, 10, 31, 9, 0, tzinfo=TZ)
NOV30 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=TZ)


@dataclass
class Served:
    client: TestClient
    clock: FrozenClock
    stack: Stack
    electrician: dict[str, str]
    viewer: dict[str, str]
    south: dict[str, str]   # an electrician narrowed to zone-south


@pytest.fixture(scope="module")
def served(app_stack: Callable[..., Stack], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    stack = app_stack(manual_campus(tmp_path_factory.mktemp("campus")), name="manual")
    tokens = TokenStore(DataDir(stack.data).state)
    heads = [{"Authorization": f"Bearer {t}"} for t in (
        tokens.create("李强", "electrician"), tokens.create("看板", "viewer"),
        tokens.create("赵立新", "electrician", scope=Scope.of(zones=["zone-south"])))]
    tokens.close()
    clock = FrozenClock(ms(OCT31))
    with TestClient(stack.app(clock)) as client:
        yield Served(client, clock, stack, *heads)


def _post(s: Served, payload: dict[str, object], at: dt.datetime, who: dict[str, str] | None = None,
          **kw: object) -> tuple[int, dict[str, object]]:
    s.clock.set(ms(at))
    r = s.client.post("/api/v1/readings/manual", json=payload, headers=who or s.electrician, **kw)  # type: ignore[arg-type]
    return r.status_code, r.json()


def test_a_reading_by_hand_shows_in_readings_consumption_and_report(served: Served) -> None:
    """Read on 31 October (1000 m³) and on 30 November (1300 m³), 09:00 each: November's use is the register's
    rise over the month, linear between the readings and held after the last (1300 − 1000 × … worked out below)."""
    code, first = _post(served, body("m-dorm1-water", 1000.0), OCT31)
    assert code == 201, first
    assert first["read_by"] == "李强"
    assert first["manual"] is True
    assert first["previous"] is None
    code, second = _post(served, body("m-dorm1-water", 1300.0, note="表盖破损"), NOV30)
    assert code == 201, second
    assert second["previous"]["value"] == 1000.0
    assert second["note"] == "表盖破损"
    assert second["read_at"] == second["entered_at"] == "2026-11-30T09:00:00+08:00"

    h = served.electrician
    got = served.client.get("/api/v1/devices/m-dorm1-water/readings",
                            params={"start": "2026-10-30T00:00:00+08:00", "end": "2026-12-01T00:00:00+08:00"},
                            headers=h).json()
    assert [(r["values"]["volume_m3"], r["manual"], r["read_by"]) for r in got["readings"]] == [
        (1000.0, True, "李强"), (1300.0, True, "李强")]
    latest = served.client.get("/api/v1/devices/m-dorm1-water/latest", headers=h).json()
    assert latest["manual"] is True
    assert latest["read_by"] == "李强"

    # 1 Nov 00:00 is 15 h after the first reading of a 30-day (720 h) interval: 1000 + 300 × 15/720 = 1006.25;
    # 1 Dec 00:00 is after the last reading: held at 1300. November: 1300 − 1006.25 = 293.75 m³
    use = served.client.get("/api/v1/consumption", headers=h, params={
        "kind": "water", "group_by": "device", "interval": "month", "start": "2026-11-01", "end": "2026-12-01",
        "device": "m-dorm1-water"}).json()
    mine = [g for g in use["groups"] if g["key"] == "m-dorm1-water"]
    assert mine
    assert mine[0]["total"] == pytest.approx(293.75)
    assert (mine[0]["manual"], mine[0]["coverage"]) == (["m-dorm1-water"], 1.0)  # one reading a month: complete

    report = served.client.get("/api/v1/reports/energy", params={"month": "2026-11"}, headers=h).json()
    row = next(m for m in report["completeness"] if m["device"] == "m-dorm1-water")
    assert (row["manual"], row["readings"], row["complete"]) == (True, 1, True), row
    csv = served.client.get("/api/v1/reports/energy", params={"month": "2026-11", "format": "csv"}, headers=h)
    assert "1号楼老水表（人工抄表）" in csv.text

    listed = served.client.get("/api/v1/readings/manual", params={"device": "m-dorm1-water"}, headers=h).json()
    assert [r["values"]["volume_m3"] for r in listed] == [1300.0, 1000.0]


def test_refusals_say_what_to_fix(served: Served) -> None:
    at = dt.datetime(2026, 11, 10, 9, 0, tzinfo=TZ)
    assert _post(served, body("m-teach-a-water", 500.0), at)[0] == 201
    later = at + dt.timedelta(days=1)
    code, said = _post(served, body("m-teach-a-water", 499.0), later)
    assert code == 422
    assert "lower than the last reading 500 on 2026-11-10 09:00" in str(said["detail"])
    assert "replacement=true" in str(said["detail"])
    # a replaced meter whose register is not below 90 % of the old one's would count as a dip: refused
    code, said = _post(served, body("m-teach-a-water", 460.0, replacement=True), later)
    assert code == 422
    assert "below 90% of the old one's last reading 500" in str(said["detail"])
    # 24 h at 5 m³/h rated is at most 120 m³: 700 asks for a confirmation, with the numbers
    code, said = _post(served, body("m-teach-a-water", 700.0), later)
    assert code == 409, said
    assert "a rise of 200 m³" in str(said["detail"])
    assert "5 m³/h × 24 h = 120 m³" in str(said["detail"])
    assert "confirm=true" in str(said["detail"])
    code, taken = _post(served, body("m-teach-a-water", 700.0, confirm=True), later)
    assert code == 201
    assert taken["confirmed"] is True
    code, taken = _post(served, body("m-teach-a-water", 3.5, replacement=True), later + dt.timedelta(hours=1))
    assert code == 201
    assert taken["replacement"] is True
    assert taken["previous"]["value"] == 700.0

    assert taken["previous"]["manual"] is True
    # copied late from a sheet: read between the old meter's last reading and the new meter's first, it is held
    # against the old meter's (700), not the new one's (3.5)
    between = (later + dt.timedelta(minutes=30)).isoformat()
    code, taken = _post(served, body("m-teach-a-water", 701.0, read_at=between), later + dt.timedelta(hours=2))
    assert code == 201, taken
    code, said = _post(served, body("m-teach-a-water", 699.0, read_at=between), later + dt.timedelta(hours=2))
    assert code == 422
    assert "already stored (701)" in str(said["detail"])  # one moment holds one reading
    old = (later - dt.timedelta(days=8)).isoformat()
    code, said = _post(served, body("m-teach-a-water", 4.0, read_at=old), later + dt.timedelta(hours=2))
    assert code == 422
    assert "more than 7 days ago" in str(said["detail"])
    future = (later + dt.timedelta(days=1)).isoformat()
    code, said = _post(served, body("m-teach-a-water", 4.0, read_at=future), later + dt.timedelta(hours=2))
    assert code == 422
    assert "in the future" in str(said["detail"])
    code, said = _post(served, body("m-teach-a-water", -1.0), later + dt.timedelta(hours=2))
    assert code == 422
    assert "volume_m3" in str(said["detail"])
    code, said = _post(served, {"site": "yucai", "device": "m-teach-a-water", "values": {"volume_m3": "12"}}, later)
    assert code == 422
    assert "volume_m3" in str(said["detail"])
    code, said = _post(served, {"site": "yucai", "device": "c1-water", "values": {"volume_m3": 1.0}}, later)
    assert code == 422
    assert "not read by hand" in str(said["detail"])


def test_scope_and_roles(served: Served) -> None:
    at = dt.datetime(2026, 11, 12, 9, 0, tzinfo=TZ)
    code, said = _post(served, body("m-dorm1-water", 1100.0), at, served.south)  # zone-north's meter
    assert code == 404
    assert "no device 'm-dorm1-water'" in str(said["detail"])
    assert _post(served, body("m-office-gas", 10.0), at, served.viewer)[0] == 403
    code, taken = _post(served, body("m-office-gas", 10.0), at, served.south)
    assert code == 201
    assert taken["read_by"] == "赵立新"
    due = served.client.get("/api/v1/readings/manual/due", headers=served.south).json()
    assert [r["zone"] for r in due] == ["zone-south"]
    assert {m["device"] for m in due[0]["meters"]} == {"m-teach-a-water", "m-office-gas"}
    listed = served.client.get("/api/v1/readings/manual", headers=served.south).json()
    assert {r["device"] for r in listed} <= {"m-teach-a-water", "m-office-gas"}


def test_a_photo_of_the_dial_goes_with_the_reading(served: Served) -> None:
    at = dt.datetime(2026, 11, 13, 9, 0, tzinfo=TZ)
    served.clock.set(ms(at))
    r = served.client.post("/api/v1/readings/manual", headers=served.electrician,
                           data={"record": json.dumps(body("m-boiler-elec", 2000.0))},
                           files=[("photo", ("dial.png", png(), "image/png"))])
    assert r.status_code == 201, r.text
    (sha,) = r.json()["photos"]
    got = served.client.get(f"/api/v1/files/{sha}", headers=served.electrician)
    assert got.status_code == 200
    assert got.content == png()
    r = served.client.post("/api/v1/readings/manual", headers=served.electrician,
                           data={"record": json.dumps(body("m-boiler-elec", 2001.0))},
                           files=[("photo", ("dial.png", b"not an image", "image/png"))])
    assert r.status_code == 422
    r = served.client.post("/api/v1/readings/manual", headers=served.electrician,
                           json=body("m-boiler-elec", 2001.0, photos=["ab" * 32]))
    assert r.status_code == 422
    assert "was not uploaded for site yucai" in r.json()["detail"]


def test_one_moment_holds_one_reading_and_a_retry_is_taken_once(served: Served) -> None:
    """The same reading sent again (its answer lost) is taken once, as the row already kept; another value at the
    same moment is refused in words (it would overwrite a reading already acknowledged); a time without an offset
    is refused (it would be read in the server's zone, not the site's)."""
    at = dt.datetime(2026, 11, 25, 9, 0, tzinfo=TZ)
    stamp = at.isoformat()
    code, first = _post(served, body("m-boiler-elec", 2100.0, read_at=stamp), at + dt.timedelta(hours=1))
    assert code == 201, first
    code, again = _post(served, body("m-boiler-elec", 2100.0, read_at=stamp), at + dt.timedelta(hours=1))
    assert code == 201, again
    assert again["id"] == first["id"]
    code, said = _post(served, body("m-boiler-elec", 2120.0, read_at=stamp), at + dt.timedelta(hours=1))
    assert code == 422
    assert "already stored (2100)" in str(said["detail"])
    code, said = _post(served, body("m-boiler-elec", 2130.0, read_at="2026-11-25T10:00:00"), at + dt.timedelta(hours=2))
    assert code == 422
    assert "timezone" in str(said["detail"]).lower()


def test_a_token_narrowed_to_a_building_is_given_its_buildings_meters_to_read(served: Served) -> None:
    tokens = TokenStore(DataDir(served.stack.data).state)
    try:
        secret = tokens.create("办公楼电工", "electrician", scope=Scope.of(buildings=["office"]))
        office = {"Authorization": f"Bearer {secret}"}
    finally:
        tokens.close()
    due = served.client.get("/api/v1/readings/manual/due", headers=office).json()
    assert [r["zone"] for r in due] == ["zone-south"]
    assert [m["device"] for m in due[0]["meters"]] == ["m-office-gas"]  # not teach-a's meter of the same zone
