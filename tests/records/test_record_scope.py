"""One scope rule for records and alerts (``Scope.sees``): a token narrowed to zones or buildings neither sees nor
changes a site-wide record, a zone's round only with that zone; a round that is not the token's does not exist
for it, whatever the reason (another site, another zone, nobody's)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from api.tokens import TokenStore
from campus.clock import FrozenClock
from campus.db import DataDir
from campus.scope import Scope
from tests.support.alertapp import alert_app
from tests.support.district import district_dir
from tests.support.harness import TZ
from tests.support.records import ms, records_app

NOW = dt.datetime(2026, 11, 16, 9, 30, tzinfo=TZ)  # a Monday in term: zone-patrol is due
ZONE_PATROL = [{"item": i, "ok": True} for i in range(5)]


def scoped(tmp: Path, name: str, **scope: list[str]) -> dict[str, str]:
    store = TokenStore(DataDir(tmp).state)
    try:
        return {"Authorization": f"Bearer {store.create(name, 'electrician', Scope.of(**scope))}"}
    finally:
        store.close()


def test_a_one_building_electrician_neither_sees_nor_fixes_a_site_wide_hazard(tmp_path: Path) -> None:
    with records_app(tmp_path, NOW) as (c, _, _):
        site_wide = c.post("/api/v1/hazards", json={"title": "全校停电应急预案未更新"})
        assert site_wide.status_code == 201, site_wide.text
        hid = site_wide.json()["id"]
        li = scoped(tmp_path, "李师傅", buildings=["canteen-2"])
        assert c.get("/api/v1/hazards", headers=li).json() == []
        assert c.get(f"/api/v1/hazards/{hid}", headers=li).status_code == 404
        fix = c.patch(f"/api/v1/hazards/{hid}", json={"status": "fixed", "note": "已更新"}, headers=li)
        assert fix.status_code == 404
        assert fix.json()["detail"] == f"no hazard #{hid}"
        other = c.post("/api/v1/hazards", json={"title": "x", "building": "teach-a"}, headers=li)
        nowhere = c.post("/api/v1/hazards", json={"title": "x", "building": "teach-z"}, headers=li)
        assert (other.status_code, nowhere.status_code) == (404, 404)
        assert other.json()["detail"] == nowhere.json()["detail"].replace("teach-z", "teach-a")
        mine = c.post("/api/v1/hazards", json={"title": "没有楼栋的隐患"}, headers=li)
        assert mine.status_code == 422
        assert "name the building" in mine.json()["detail"]
        assert c.post("/api/v1/hazards", json={"title": "二食堂灯坏", "building": "canteen-2"},
                      headers=li).status_code == 201


def test_a_zone_round_belongs_to_tokens_of_that_zone_only(tmp_path: Path) -> None:
    with records_app(tmp_path, NOW) as (c, _, _):
        li = scoped(tmp_path, "李师傅", buildings=["canteen-2"])
        north = scoped(tmp_path, "王建国", zones=["zone-north"])
        due = c.get("/api/v1/inspections/due", headers=li).json()
        assert [d for d in due if d["template"] == "zone-patrol"] == []
        assert any(d["template"] == "zone-patrol" and d["zone"] == "zone-north"
                   for d in c.get("/api/v1/inspections/due", headers=north).json())
        refused = c.post("/api/v1/inspections", json={"template": "zone-patrol", "zone": "zone-north",
                                                      "items": ZONE_PATROL}, headers=li)
        assert refused.status_code == 404, refused.text  # as for a zone nobody has
        nowhere = c.post("/api/v1/inspections", json={"template": "zone-patrol", "zone": "zone-west",
                                                      "items": ZONE_PATROL}, headers=li)
        assert nowhere.status_code == 404
        assert nowhere.json()["detail"] == refused.json()["detail"].replace("zone-north", "zone-west")
        made = c.post("/api/v1/inspections", json={"template": "zone-patrol", "zone": "zone-north",
                                                   "items": ZONE_PATROL}, headers=north)
        assert made.status_code == 201, made.text
        rid = made.json()["id"]
        assert c.get(f"/api/v1/inspections/{rid}", headers=li).status_code == 404
        assert c.get("/api/v1/inspections", headers=li).json() == []


def test_a_round_outside_the_token_is_answered_as_one_nobody_recorded(tmp_path: Path) -> None:
    clock = FrozenClock(ms(NOW))
    with alert_app(tmp_path / "data", [], campus=district_dir(tmp_path), clock=clock) as (c, _):
        data = tmp_path / "data"
        south = c.post("/api/v1/inspections", params={"site": "yucai"}, json={
            "template": "zone-patrol", "zone": "zone-south", "items": ZONE_PATROL})
        assert south.status_code == 201, south.text
        rid = south.json()["id"]
        mingde = scoped(data, "明德电工", sites=["mingde"])
        north = scoped(data, "王建国", sites=["yucai"], zones=["zone-north"])
        none = c.post("/api/v1/hazards", json={"title": "x", "inspection": rid + 100}, headers=mingde)
        assert none.status_code == 404
        for headers, body in ((mingde, {"title": "x", "inspection": rid}),
                              (north, {"title": "x", "building": "canteen-2", "inspection": rid})):
            other = c.post("/api/v1/hazards", json=body, headers=headers)
            assert other.status_code == 404, other.text
            assert other.json()["detail"] == none.json()["detail"].replace(str(rid + 100), str(rid))
            assert "another site" not in other.text
