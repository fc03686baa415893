"""Check rounds on the school calendar: which are due across a public holiday and a make-up workday (调休), an
overdue round raised as a `data` alert to the zone's electrician on duty and settled by recording it, recording
with photos (who from the token, when from the server's clock), and photos that are refused with a clear message."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from campus.calendar import CampusCalendar
from campus.model import load_campus
from records.rounds import Every, load_rounds, windows
from tests.support.harness import TZ, token_headers
from tests.support.paths import SAMPLE
from tests.support.records import ms, png, records_app

CAL = CampusCalendar(load_campus(SAMPLE).calendar)
D = dt.date


def _days(every: Every, start: dt.date, end: dt.date) -> list[str]:
    return [w.key for w in windows(every, CAL, start, end)]


def test_school_days_skip_the_holidays_and_keep_the_make_up_workdays() -> None:
    """Mid-Autumn (25-27 Sep 2026) and National Day (1-7 Oct) are off; Sunday 20 Sep and Saturday 10 Oct are
    make-up workdays, so the daily patrol is due on them."""
    got = _days(Every.SCHOOL_DAY, D(2026, 9, 19), D(2026, 10, 11))
    assert got == ["2026-09-20", "2026-09-21", "2026-09-22", "2026-09-23", "2026-09-24", "2026-09-28",
                   "2026-09-29", "2026-09-30", "2026-10-08", "2026-10-09", "2026-10-10"]
    assert _days(Every.BEFORE_HOLIDAY, D(2026, 9, 19), D(2026, 10, 11)) == ["2026-09-24", "2026-09-30"]
    assert _days(Every.WEEKLY, D(2026, 9, 28), D(2026, 10, 11)) == ["2026-09-28/2026-10-04",
                                                                     "2026-10-05/2026-10-11"]
    assert _days(Every.DAILY, D(2026, 10, 1), D(2026, 10, 3)) == ["2026-10-01", "2026-10-02", "2026-10-03"]
    # after the spring term (ends 10 Jul 2026): the shut-down check is due over the three days after
    assert _days(Every.TERM_END, D(2026, 7, 1), D(2026, 7, 20)) == ["2026-07-11/2026-07-13"]
    # the last school day before the summer vacation is a day to check before the break
    assert "2026-07-10" in _days(Every.BEFORE_HOLIDAY, D(2026, 7, 1), D(2026, 7, 20))
    assert _days(Every.ON_DEMAND, D(2026, 1, 1), D(2026, 12, 31)) == []


def test_the_default_templates_load_and_cover_the_duties() -> None:
    rounds = load_rounds(None)
    every = {t.id: t.every for t in rounds.rounds}
    assert every["zone-patrol"] is Every.SCHOOL_DAY
    assert every["lines-weekly"] is Every.WEEKLY
    assert every["before-holiday"] is Every.BEFORE_HOLIDAY
    assert every["after-term"] is Every.TERM_END
    assert every["severe-weather"] is Every.ON_DEMAND


def test_due_list_after_national_day_and_on_a_make_up_saturday(tmp_path: Path) -> None:
    with records_app(tmp_path, dt.datetime(2026, 10, 8, 10, 0, tzinfo=TZ)) as (c, _, clock):
        due = c.get("/api/v1/inspections/due").json()
        patrol = sorted((d["start"], d["status"]) for d in due if d["template"] == "zone-patrol"
                        and d["zone"] == "zone-north")
        # overdue: the school days of the last two weeks; none in the holiday; today's is due
        assert patrol == [("2026-09-24", "overdue"), ("2026-09-28", "overdue"), ("2026-09-29", "overdue"),
                          ("2026-09-30", "overdue"), ("2026-10-08", "due")]
        today = next(d for d in due if d["template"] == "zone-patrol" and d["zone"] == "zone-north"
                     and d["status"] == "due")
        assert [p["id"] for p in today["assigned"]] == ["wang"]  # the north zone's electrician on a workday
        facilities = {d["building"] for d in due if d["template"] == "key-facility" and d["status"] == "due"}
        assert facilities == {"boiler", "power-room"}
        clock.set(ms(dt.datetime(2026, 10, 10, 9, 0, tzinfo=TZ)))  # Saturday, a make-up workday
        due = c.get("/api/v1/inspections/due").json()
        assert any(d["template"] == "zone-patrol" and d["start"] == "2026-10-10" and d["status"] == "due"
                   for d in due)
        clock.set(ms(dt.datetime(2026, 10, 11, 9, 0, tzinfo=TZ)))  # Sunday: a plain day off
        due = c.get("/api/v1/inspections/due").json()
        assert not any(d["template"] == "zone-patrol" and d["status"] == "due" for d in due)


def _answers(n: int, problem: int | None = None) -> list[dict[str, object]]:
    return [{"item": i, "ok": i != problem, "note": "东侧配电箱有焦味" if i == problem else ""} for i in range(n)]


def test_an_overdue_round_goes_to_the_zone_electrician_and_recording_it_settles_the_alert(tmp_path: Path) -> None:
    # Monday 21 Sep 10:00: Sunday 20 Sep was a make-up workday and nobody walked the patrol
    with records_app(tmp_path, dt.datetime(2026, 9, 21, 10, 0, tzinfo=TZ)) as (c, alerts, clock):
        records = c.app.state.records  # type: ignore[attr-defined]
        assert records.check() > 0
        store = alerts.desk.store
        north = store.open_for("yucai", "round-overdue", "round:zone-patrol:zone-north")
        south = store.open_for("yucai", "round-overdue", "round:zone-patrol:zone-south")
        assert north is not None
        assert south is not None
        assert (north.category, north.zone) == ("data", "zone-north")
        assert {n.recipient for n in store.notices(north.id) if n.event == "raised"} == {"wang"}
        assert {n.recipient for n in store.notices(south.id) if n.event == "raised"} == {"zhao"}
        shown = c.get(f"/api/v1/alerts/{north.id}").json()
        assert shown["name"] == "巡查/检查未按时完成"
        assert "2026-09-20" in shown["detail"]
        records.check()  # looking again adds nothing
        assert len(store.events(north.id)) == 1

        electrician = token_headers(tmp_path, "electrician", "王建国")
        body = {"template": "zone-patrol", "zone": "zone-north", "items": _answers(5)}
        made = c.post("/api/v1/inspections", json=body, headers=electrician)
        assert made.status_code == 201, made.text
        r = made.json()
        assert r["recorded_by"] == "王建国"
        assert r["day"] == "2026-09-21"
        assert r["recorded_at"].startswith("2026-09-21T10:00:00")  # the server's clock
        assert store.get(north.id).status == "resolved"
        assert store.get(south.id).status == "active"


def test_recording_a_round_with_photos_a_problem_becomes_a_hazard(tmp_path: Path) -> None:
    with records_app(tmp_path, dt.datetime(2026, 10, 9, 15, 30, tzinfo=TZ)) as (c, _, _clock):
        electrician = token_headers(tmp_path, "electrician", "赵立新")
        viewer = token_headers(tmp_path, "viewer", "看板")
        record = {"template": "zone-patrol", "zone": "zone-south", "items": _answers(5, problem=0),
                  "note": "下午巡查"}
        files = [("photo", ("a.png", png(), "image/png")), ("photo", ("b.png", png(colour=(0, 90, 200)), "image/png"))]
        assert c.post("/api/v1/inspections", data={"record": json.dumps(record)}, files=files,
                      headers=viewer).status_code == 403
        made = c.post("/api/v1/inspections", data={"record": json.dumps(record)}, files=files, headers=electrician)
        assert made.status_code == 201, made.text
        r = made.json()
        assert len(r["photos"]) == 2
        assert r["problems"] == 1
        assert len(r["hazards"]) == 1
        for sha in r["photos"]:
            got = c.get(f"/api/v1/files/{sha}")
            assert got.status_code == 200
            assert got.headers["content-type"] == "image/png"
        hazard = c.get(f"/api/v1/hazards/{r['hazards'][0]}").json()
        assert hazard["status"] == "open"
        assert hazard["inspection"] == r["id"]
        assert "焦味" in hazard["title"]
        assert hazard["reported_by"] == "赵立新"
        listed = c.get("/api/v1/inspections", params={"zone": "zone-south"}).json()
        assert [x["id"] for x in listed] == [r["id"]]
        assert c.get("/api/v1/inspections", params={"zone": "zone-north"}).json() == []
        # no back-dating: a field for when is refused, and every item must be answered
        bad = c.post("/api/v1/inspections", json={**record, "recorded_at": "2026-10-01T09:00:00+08:00"},
                     headers=electrician)
        assert bad.status_code == 422
        half = c.post("/api/v1/inspections", json={**record, "items": _answers(3)}, headers=electrician)
        assert half.status_code == 422
        assert "not answered: item 3" in half.json()["detail"]
        vague = c.post("/api/v1/inspections", json={**record, "items": [
            {"item": i, "ok": i != 2} for i in range(5)]}, headers=electrician)
        assert vague.status_code == 422
        assert "say what was found" in vague.json()["detail"]


def test_photos_that_are_not_images_or_too_large_are_refused_clearly(tmp_path: Path) -> None:
    with records_app(tmp_path, dt.datetime(2026, 10, 9, 15, 30, tzinfo=TZ)) as (c, _, _clock):
        electrician = token_headers(tmp_path, "electrician", "赵立新")
        not_image = c.post("/api/v1/photos", files=[("photo", ("notes.png", b"%PDF-1.4 not a photo", "image/png"))],
                           headers=electrician)
        assert not_image.status_code == 422
        assert "is not a photo" in not_image.json()["detail"]
        assert "JPEG, PNG or WebP" in not_image.json()["detail"]
        limit = c.app.state.settings.records.photo_max_bytes  # type: ignore[attr-defined]
        big = png() + b"\0" * limit
        too_big = c.post("/api/v1/photos", files=[("photo", ("huge.png", big, "image/png"))], headers=electrician)
        assert too_big.status_code == 422
        assert "the limit is 8.0 MiB" in too_big.json()["detail"]
        gif = c.post("/api/v1/photos", files=[("photo", ("x.gif", _gif(), "image/gif"))], headers=electrician)
        assert gif.status_code == 422
        assert "GIF" in gif.json()["detail"]
        ok = c.post("/api/v1/photos", files=[("photo", ("ok.png", png(), "image/png"))], headers=electrician)
        assert ok.status_code == 201
        assert ok.json()[0]["width"] == 8
        again = c.post("/api/v1/photos", files=[("photo", ("same.png", png(), "image/png"))], headers=electrician)
        assert again.json()[0]["sha256"] == ok.json()[0]["sha256"]  # the same bytes are kept once
        unknown = c.post("/api/v1/inspections", json={"template": "zone-patrol", "zone": "zone-south",
                                                      "items": _answers(5), "photos": ["0" * 64]},
                         headers=electrician)
        assert unknown.status_code == 422
        assert "was not uploaded" in unknown.json()["detail"]
        assert c.get("/api/v1/files/" + "0" * 64).status_code == 404
        assert c.get("/api/v1/files/..%2F..%2Fmeterwatch.db").status_code in (404, 422)


def _gif() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("P", (4, 4)).save(buf, "GIF")
    return buf.getvalue()
