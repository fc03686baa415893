"""When each plan is drilled, on the sample campus's school calendar (frozen dates): due in the term, overdue once the
term ended without one, and the overdue drill's alert — a ``data`` alert routed like an overdue round — settled by
the next drill of that plan."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from alerts.plans import load_plans, sample_plans_file
from campus.clock import FrozenClock
from campus.model import load_campus
from emergency.schedule import due_drills, windows
from tests.emergency.support import emergency_app
from tests.support.paths import SAMPLE
from tests.support.peers import SmtpSink
from tests.support.servers import wait_for

TZ = ZoneInfo("Asia/Shanghai")
CALENDAR = load_campus(SAMPLE).calendar
PLANS = load_plans(sample_plans_file())[None].plans
AUTUMN = (dt.date(2026, 9, 1), dt.date(2027, 1, 22))   # the sample's 2026秋季学期
SPRING = (dt.date(2026, 2, 24), dt.date(2026, 7, 10))


def ms(day: dt.date, hour: int = 10) -> int:
    return int(dt.datetime.combine(day, dt.time(hour), TZ).timestamp() * 1000)


def by_plan(today: dt.date, last: dict[str, int], grace: int = 0) -> dict[str, tuple[str, dt.date, dt.date]]:
    return {d.plan.id: (d.status, d.window.start, d.window.end) for d in due_drills(PLANS, CALENDAR, last, today, TZ,
                                                                                   grace)}


def test_each_term_each_month_each_year() -> None:
    from campus.calendar import CampusCalendar

    cal = CampusCalendar(CALENDAR)
    now, past = windows("term", cal, dt.date(2026, 12, 6))
    assert (now.start, now.end) == AUTUMN if now else False
    assert past is not None
    assert (past.start, past.end) == SPRING
    assert windows("term", cal, dt.date(2026, 8, 1))[0] is None  # the summer vacation: no term window
    now, past = windows("month", cal, dt.date(2026, 12, 31))
    assert now is not None
    assert past is not None
    assert (now.start, now.end, past.start, past.end) == (dt.date(2026, 12, 1), dt.date(2026, 12, 31),
                                                          dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert windows("never", cal, dt.date(2026, 12, 6)) == (None, None)


def test_due_in_the_term_overdue_once_the_last_term_passed_without_one() -> None:
    today = dt.date(2026, 12, 6)
    none = by_plan(today, {})
    # drilled each term and never: the spring term ended without one
    assert none["canteen-gas"] == ("overdue", *SPRING)
    # drilled each year, never drilled: 2025 ended without one
    assert none["drinking-water"] == ("overdue", dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    spring_drill = {"canteen-gas": ms(dt.date(2026, 5, 20))}
    assert by_plan(today, spring_drill)["canteen-gas"] == ("due", *AUTUMN)
    autumn_drill = {"canteen-gas": ms(dt.date(2026, 10, 9))}
    assert "canteen-gas" not in by_plan(today, autumn_drill)
    # in the summer vacation a term's plan is not due, but the spring term's missed drill is overdue
    assert by_plan(dt.date(2026, 8, 1), {})["canteen-gas"] == ("overdue", *SPRING)
    assert "canteen-gas" not in by_plan(dt.date(2026, 8, 1), spring_drill)
    # grace: the days after a window before its drill is overdue
    assert "canteen-gas" not in by_plan(dt.date(2026, 7, 13), {}, grace=3)
    assert by_plan(dt.date(2026, 7, 14), {}, grace=3)["canteen-gas"] == ("overdue", *SPRING)


def test_an_overdue_drill_raises_a_data_alert_settled_by_the_next_drill(tmp_path: Path) -> None:
    clock = FrozenClock(ms(dt.date(2026, 12, 7), 9))  # a Monday morning
    with SmtpSink() as smtp, emergency_app(tmp_path, smtp.port, clock) as (client, _):
        watch = client.app.state.drills  # type: ignore[attr-defined]
        assert watch.check() == 6  # every sample plan: none was ever drilled
        overdue = {a["subject"]: a for a in client.get("/api/v1/alerts", params={"status": "open"}).json()
                   if a["rule"] == "drill-overdue"}
        gas = overdue["drill:canteen-gas"]
        assert (gas["category"], gas["severity"], gas["drill"]) == ("data", "minor", None)
        assert gas["name"] == "应急演练逾期未开展"
        assert gas["detail"] == "食堂燃气泄漏应急预案应每学期演练一次，2026-02-24 至 2026-07-10 未开展"
        wait_for(lambda: any("drill:" not in m.body and "应急演练逾期" in m.subject for m in smtp.received), 15,
                 "the overdue drill's message")
        assert watch.check() == 6  # kept current, not raised again
        assert len([a for a in client.get("/api/v1/alerts").json() if a["rule"] == "drill-overdue"]) == 6
        started = client.post("/api/v1/drills", json={"plan": "canteen-gas", "building": "canteen-1"})
        assert started.status_code == 201, started.text
        assert client.get(f"/api/v1/alerts/{gas['id']}").json()["status"] == "resolved"
        assert watch.check() == 5
        due = {d["plan"]: d for d in client.get("/api/v1/drills/due").json()}
        assert "canteen-gas" not in due
        assert due["power-loss"]["status"] == "overdue"
        assert due["power-loss"]["every"] == "term"


@pytest.mark.parametrize("plan", [p.id for p in PLANS])
def test_every_sample_plan_can_be_drilled(plan: str) -> None:
    assert any(p.id == plan and p.drill in ("term", "month", "year") for p in PLANS)
