"""The monthly reading round (抄表) for meters read by hand, on frozen dates: due by the month's last workday on the
school calendar (a make-up Saturday counts, a weekend does not), overdue the day after (or after the grace days),
one `data` alert per zone to the zone's electrician on duty, resolved by reading the meters."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from campus.calendar import CampusCalendar
from campus.clock import FrozenClock
from campus.model import load_campus
from records.reading_round import month_of, rounds
from tests.support.alertapp import alert_app
from tests.support.harness import TZ, token_headers
from tests.support.manual import body, manual_campus
from tests.support.records import ms

NORTH = ("m-dorm1-water", "m-boiler-elec")
SOUTH = ("m-teach-a-water", "m-office-gas")


@pytest.mark.parametrize(("day", "due"), [
    (dt.date(2026, 2, 10), dt.date(2026, 2, 28)),    # Saturday 28 February 2026: a make-up workday (调休)
    (dt.date(2026, 10, 2), dt.date(2026, 10, 30)),   # October ends on a Saturday: due by Friday the 30th
    (dt.date(2027, 1, 5), dt.date(2027, 1, 29)),     # January 2027 ends on a Sunday
    (dt.date(2026, 11, 30), dt.date(2026, 11, 30)),  # a Monday
])
def test_the_round_is_due_by_the_months_last_workday(tmp_path: Path, day: dt.date, due: dt.date) -> None:
    cal = CampusCalendar(load_campus(manual_campus(tmp_path)).calendar)
    month = month_of(day, cal)
    assert (month.start, month.due) == (day.replace(day=1), due)


def _ms(day: dt.date) -> int:
    return ms(dt.datetime.combine(day, dt.time(9), TZ))


def test_due_done_and_overdue_on_frozen_dates(tmp_path: Path) -> None:
    campus = load_campus(manual_campus(tmp_path))
    status = lambda last, today, grace=0: {  # noqa: E731
        m.device.id: (m.status, r.month.key) for r in rounds(campus, last, today, TZ, None, grace) for m in r.meters}

    # never read: asked for from this month on, not blamed for the month before
    assert set(status({}, dt.date(2026, 11, 20)).values()) == {("due", "2026-11")}
    read_oct = {d: _ms(dt.date(2026, 10, 15)) for d in NORTH + SOUTH}
    assert set(status(read_oct, dt.date(2026, 11, 30)).values()) == {("due", "2026-11")}  # the due day itself
    # 1 December: November's reading never came
    assert set(status(read_oct, dt.date(2026, 12, 1)).values()) == {("overdue", "2026-11")}
    # with two grace days it is overdue on the 3rd, not the 2nd
    assert set(status(read_oct, dt.date(2026, 12, 2), 2).values()) == {("due", "2026-12")}
    assert set(status(read_oct, dt.date(2026, 12, 3), 2).values()) == {("overdue", "2026-11")}
    # read late, on 2 December: that meter is done; its zone's round stays overdue for November's other meter
    late = {**read_oct, "m-dorm1-water": _ms(dt.date(2026, 12, 2))}
    got = status(late, dt.date(2026, 12, 3))
    assert got["m-dorm1-water"] == ("done", "2026-11")
    assert got["m-boiler-elec"] == ("overdue", "2026-11")
    # October ends on a Saturday: on Saturday the 31st the month's round is already overdue
    read_sep = {d: _ms(dt.date(2026, 9, 20)) for d in NORTH + SOUTH}
    assert set(status({**read_sep, **{d: _ms(dt.date(2026, 10, 3)) for d in SOUTH}},
                      dt.date(2026, 10, 31)).items()) == {
        ("m-dorm1-water", ("overdue", "2026-10")), ("m-boiler-elec", ("overdue", "2026-10")),
        ("m-teach-a-water", ("done", "2026-10")), ("m-office-gas", ("done", "2026-10"))}


def test_an_overdue_round_alerts_the_zone_electrician_and_reading_the_meters_resolves_it(tmp_path: Path) -> None:
    clock = FrozenClock(ms(dt.datetime(2026, 10, 15, 9, 0, tzinfo=TZ)))
    with alert_app(tmp_path / "data", [], campus=manual_campus(tmp_path), clock=clock) as (c, alerts):
        records = c.app.state.records  # type: ignore[attr-defined]

        def check() -> int:  # what the records' check loop does for reading rounds (the others: check rounds)
            return int(records.check_readings(records.context("yucai"), records.now_ms()))

        electrician = token_headers(tmp_path / "data", "electrician", "王建国")
        for device in NORTH + SOUTH:
            made = c.post("/api/v1/readings/manual", json=body(device, 100.0), headers=electrician)
            assert made.status_code == 201, made.text
        assert check() == 0  # October is read
        clock.set(ms(dt.datetime(2026, 12, 1, 10, 0, tzinfo=TZ)))  # Tuesday: November was never read
        assert check() == 2
        store = alerts.desk.store
        north = store.open_for("yucai", "reading-overdue", "reading:zone-north")
        south = store.open_for("yucai", "reading-overdue", "reading:zone-south")
        assert north is not None
        assert south is not None
        assert (north.category, north.zone, north.value) == ("data", "zone-north", 1)
        assert {n.recipient for n in store.notices(north.id) if n.event == "raised"} == {"wang"}
        assert {n.recipient for n in store.notices(south.id) if n.event == "raised"} == {"zhao"}
        shown = c.get(f"/api/v1/alerts/{north.id}").json()
        assert shown["name"] == "月度抄表未按时完成"
        assert "2026-11-30" in shown["detail"]
        assert "1号楼老水表" in shown["detail"]
        check()  # looking again adds nothing
        assert len(store.events(north.id)) == 1

        due = c.get("/api/v1/readings/manual/due", headers=electrician).json()
        assert [(r["zone"], r["status"], r["month"], r["done"], r["total"]) for r in due] == [
            ("zone-north", "overdue", "2026-11", 0, 2), ("zone-south", "overdue", "2026-11", 0, 2)]
        assert {m["last"]["value"] for r in due for m in r["meters"]} == {100.0}

        for device in NORTH:  # read late: the north zone's alert resolves, the south's stays
            made = c.post("/api/v1/readings/manual", json=body(device, 150.0), headers=electrician)
            assert made.status_code == 201, made.text
        assert store.get(north.id).status == "resolved"
        assert store.get(south.id).status == "active"
        due = c.get("/api/v1/readings/manual/due", headers=electrician).json()
        assert [(r["zone"], r["status"], r["month"], r["done"]) for r in due] == [
            ("zone-north", "done", "2026-12", 2), ("zone-south", "overdue", "2026-11", 0)]


def test_a_manual_meter_is_silent_only_after_three_monthly_rounds_and_never_offline(tmp_path: Path) -> None:
    """Its interval_s left at the 15-minute default, a meter read by hand still owes one reading a month: the stale
    rule waits 3 × 31 days; and a status on its topic (it has no gateway, no Last Will) raises nothing."""
    from alerts.conditions import CONDITIONS, Env
    from campus.model import Device
    from ingest.decode import Inbound

    campus = load_campus(manual_campus(tmp_path))
    env = Env(campus, CampusCalendar(campus.calendar), {}, TZ)
    stale = CONDITIONS["stale"].model_validate({"type": "stale", "intervals": 3})
    dev = Device(id="m-dorm1-water", kind="water", building="dorm-1", manual=True)
    read = _ms(dt.date(2026, 9, 1))
    assert stale.tick(dev, {}, read + 92 * 86_400_000, env, read) is None
    late = stale.tick(dev, {}, read + 94 * 86_400_000, env, read)
    assert late is not None
    assert late.limit == f"> {3 * 31 * 24 * 60} min"

    clock = FrozenClock(ms(dt.datetime(2026, 11, 2, 9, 0, tzinfo=TZ)))
    with alert_app(tmp_path / "data", [], campus=manual_campus(tmp_path), clock=clock) as (_, alerts):
        alerts.evaluate([Inbound("campus/yucai/m-dorm1-water/status", b"offline", clock.now_ms(), 1, 1)])
        assert alerts.desk.store.open_for("yucai", "device-stale", "m-dorm1-water") is None
