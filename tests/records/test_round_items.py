"""A round is answered item by item (#21): no item has a default answer, one left unanswered is refused by name; a
photo goes with each item; templates and rounds read in the language asked."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from tests.support.harness import TZ, token_headers
from tests.support.records import png, records_app

NOW = dt.datetime(2026, 11, 16, 9, 30, tzinfo=TZ)


def test_an_item_left_unanswered_is_refused_by_name(tmp_path: Path) -> None:
    with records_app(tmp_path, NOW) as (c, _, _):
        electrician = token_headers(tmp_path, "electrician", "赵立新")
        items = [{"item": 0, "ok": True}, {"item": 1, "ok": True}, {"item": 2, "ok": None}, {"item": 3},
                 {"item": 4, "ok": False, "note": "饮水机漏水"}]
        got = c.post("/api/v1/inspections", json={"template": "zone-patrol", "zone": "zone-south", "items": items},
                     headers=electrician)
        assert got.status_code == 422, got.text
        detail = got.json()["detail"]
        assert "not answered: item 2 (水龙头、水箱、管道无跑冒滴漏 / Taps, tanks and pipes: no leaks); item 3" in detail
        assert "item 0" not in detail
        twice = c.post("/api/v1/inspections", json={"template": "zone-patrol", "zone": "zone-south",
                                                    "items": [*items[:2], items[1]]}, headers=electrician)
        assert twice.status_code == 422
        assert "answered twice" in twice.json()["detail"]


def test_each_item_has_its_own_photos_and_its_hazard_takes_them(tmp_path: Path) -> None:
    with records_app(tmp_path, NOW) as (c, _, _):
        electrician = token_headers(tmp_path, "electrician", "赵立新")
        items = [{"item": i, "ok": i != 2, "note": "水箱溢流" if i == 2 else ""} for i in range(5)]
        record = {"template": "zone-patrol", "zone": "zone-south", "items": items}
        made = c.post("/api/v1/inspections", data={"record": json.dumps(record)}, headers=electrician, files=[
            ("photo-2", ("leak.png", png(colour=(0, 0, 200)), "image/png")),
            ("photo-0", ("board.png", png(colour=(0, 200, 0)), "image/png"))])
        assert made.status_code == 201, made.text
        r = made.json()
        assert r["photos"] == []
        shots = [i["photos"] for i in r["items"]]
        assert [len(s) for s in shots] == [1, 0, 1, 0, 0]
        hazard = c.get(f"/api/v1/hazards/{r['hazards'][0]}").json()
        assert hazard["photos"] == shots[2]
        assert c.get(f"/api/v1/files/{shots[0][0]}").status_code == 200
        stray = c.post("/api/v1/inspections", data={"record": json.dumps(record)}, headers=electrician,
                       files=[("photo-7", ("x.png", png(), "image/png"))])
        assert stray.status_code == 422
        assert "photo-7" in stray.json()["detail"]
        unknown = c.post("/api/v1/inspections", data={"record": json.dumps(record)}, headers=electrician,
                         files=[("picture", ("x.png", png(), "image/png"))])
        assert unknown.status_code == 422
        said = unknown.json()["detail"]  # the fields it takes, shortened, not a list of 101 names
        assert said == "file field 'picture': use 'photo', 'photo-0', 'photo-1' … 'photo-99'", said


def test_templates_due_rounds_and_rounds_read_in_english(tmp_path: Path) -> None:
    with records_app(tmp_path, NOW) as (c, _, _):
        templates = {t["id"]: t for t in c.get("/api/v1/inspections/templates", params={"lang": "en"}).json()}
        assert templates["zone-patrol"]["name"] == "Daily zone patrol"
        assert templates["zone-patrol"]["items"][2] == "Taps, tanks and pipes: no leaks"
        due = c.get("/api/v1/inspections/due", params={"lang": "en"}).json()
        assert "Daily zone patrol" in {d["name"] for d in due}
        c.post("/api/v1/inspections", json={"template": "zone-patrol", "zone": "zone-south",
                                            "items": [{"item": i, "ok": True} for i in range(5)]})
        assert [r["template_name"] for r in c.get("/api/v1/inspections", params={"lang": "en"}).json()] == [
            "Daily zone patrol"]
        assert c.get("/api/v1/inspections/templates").json()[0]["name"] == "责任区日常巡查"
