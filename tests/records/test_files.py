"""Files kept with records (#21): a file belongs to the site it was uploaded for, is served (as a download) only to a
token that may see a record using it, is kept only when its record is taken, and is swept when nothing uses it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from fastapi.testclient import TestClient

from api.tokens import TokenStore
from campus.clock import FrozenClock
from campus.db import DataDir
from campus.scope import Scope
from records.desk import RecordDesk
from tests.support.alertapp import alert_app
from tests.support.district import district_dir
from tests.support.harness import TZ, token_headers
from tests.support.records import ms, png, records_app

NOW = dt.datetime(2026, 11, 16, 9, 30, tzinfo=TZ)
PDF = b"%PDF-1.4\n% a laboratory's report\n%%EOF\n"


def scoped(data: Path, name: str, role: str = "viewer", **scope: list[str]) -> dict[str, str]:
    store = TokenStore(DataDir(data).state)
    try:
        return {"Authorization": f"Bearer {store.create(name, role, Scope.of(**scope))}"}
    finally:
        store.close()


def kept(data: Path) -> list[Path]:
    root = DataDir(data).files
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def upload(c: TestClient, site: str | None = None, colour: tuple[int, int, int] = (200, 30, 30)) -> str:
    got = c.post("/api/v1/photos", params={"site": site} if site else None,
                 files=[("photo", ("p.png", png(colour=colour), "image/png"))])
    assert got.status_code == 201, got.text
    return str(got.json()[0]["sha256"])


def test_a_file_is_served_only_to_a_token_that_sees_a_record_using_it(tmp_path: Path) -> None:
    with records_app(tmp_path, NOW) as (c, _, _):
        sha = upload(c)
        assert c.get(f"/api/v1/files/{sha}").status_code == 404  # uploaded, used by no record yet
        made = c.post("/api/v1/hazards", json={"title": "教学楼A配电箱门损坏", "building": "teach-a", "photos": [sha]})
        assert made.status_code == 201, made.text
        got = c.get(f"/api/v1/files/{sha}")
        assert got.status_code == 200
        assert got.headers["content-disposition"] == f'attachment; filename="photo-{sha[:12]}.png"'
        assert got.headers["x-content-type-options"] == "nosniff"
        south = scoped(tmp_path, "南区", zones=["zone-south"])
        north = scoped(tmp_path, "北区", zones=["zone-north"])
        assert c.get(f"/api/v1/files/{sha}", headers=south).status_code == 200
        hidden = c.get(f"/api/v1/files/{sha}", headers=north)
        assert hidden.status_code == 404
        assert hidden.json()["detail"] == c.get("/api/v1/files/" + "0" * 64, headers=north).json()["detail"].replace(
            "0" * 64, sha)
        record = {"point": "ta-fountain", "taken_at": NOW.isoformat(), "kind": "lab", "lab": "市疾控中心",
                  "values": {"ph": 7.2}}
        test = c.post("/api/v1/water-tests", data={"record": json.dumps(record)},
                      files=[("attachment", ("r.pdf", PDF, "application/pdf"))])
        assert test.status_code == 201, test.text
        pdf = test.json()["attachment"]
        report = c.get(f"/api/v1/files/{pdf}", headers=south)
        assert report.status_code == 200
        assert report.headers["content-disposition"] == f'attachment; filename="report-{pdf[:12]}.pdf"'
        assert c.get(f"/api/v1/files/{pdf}", headers=north).status_code == 404


def test_a_record_cannot_name_another_sites_file(tmp_path: Path) -> None:
    clock = FrozenClock(ms(NOW))
    data = tmp_path / "data"
    with alert_app(data, [], campus=district_dir(tmp_path), clock=clock) as (c, _):
        sha = upload(c, "yucai")
        ours = c.post("/api/v1/hazards", params={"site": "yucai"},
                      json={"title": "饮水机漏水", "building": "teach-b", "photos": [sha]})
        assert ours.status_code == 201, ours.text
        theirs = c.post("/api/v1/hazards", params={"site": "mingde"},
                        json={"title": "借用照片", "building": "teach-b", "photos": [sha]})
        assert theirs.status_code == 422
        assert "was not uploaded for site mingde" in theirs.json()["detail"]
        mingde = scoped(data, "明德", sites=["mingde"])
        assert c.get(f"/api/v1/files/{sha}", headers=mingde).status_code == 404
        assert c.get(f"/api/v1/files/{sha}", headers=scoped(data, "育才", sites=["yucai"])).status_code == 200


def test_a_refused_record_keeps_none_of_its_files(tmp_path: Path) -> None:
    with records_app(tmp_path, NOW) as (c, _, _):
        electrician = token_headers(tmp_path, "electrician", "赵立新")
        photos = [("photo", (f"{i}.png", png(colour=(i, 9, 9)), "image/png")) for i in range(20)]
        unanswered = {"template": "zone-patrol", "zone": "zone-south", "items": [{"item": 0, "ok": True}]}
        got = c.post("/api/v1/inspections", data={"record": json.dumps(unanswered)}, files=photos,
                     headers=electrician)
        assert got.status_code == 422
        nowhere = c.post("/api/v1/hazards", data={"record": json.dumps({"title": "x", "building": "nowhere"})},
                         files=photos[:3], headers=electrician)
        assert nowhere.status_code == 404
        limit = {"point": "ta-fountain", "taken_at": NOW.isoformat(), "kind": "lab", "lab": "市疾控中心",
                 "values": {"ph": {"value": 9.9, "min": 0, "max": 14}}}
        bad = c.post("/api/v1/water-tests", data={"record": json.dumps(limit)},
                     files=[("attachment", ("r.pdf", PDF, "application/pdf"))], headers=electrician)
        assert bad.status_code == 422
        made = c.post("/api/v1/hazards", json={"title": "x", "building": "teach-a"}, headers=electrician)
        moved = c.patch(f"/api/v1/hazards/{made.json()['id']}", data={"record": json.dumps({"status": "assigned"})},
                        files=photos[:2], headers=electrician)
        assert moved.status_code == 422
        assert kept(tmp_path) == []


def test_unused_uploads_are_swept_after_the_grace(tmp_path: Path) -> None:
    with records_app(tmp_path, NOW) as (c, _, clock):
        records: RecordDesk = c.app.state.records  # type: ignore[attr-defined]
        used, unused, late = upload(c), upload(c, colour=(1, 2, 3)), upload(c, colour=(4, 5, 6))
        assert c.post("/api/v1/hazards", json={"title": "x", "building": "teach-a", "photos": [used]}).status_code \
            == 201
        assert records.sweep_files() == (0, 0)  # within the grace ([records] upload_grace_h, 24 h)
        clock.advance(25 * 3600)
        assert records.sweep_files()[0] == 2
        assert [p.stem for p in kept(tmp_path)] == [used]
        assert c.get(f"/api/v1/files/{used}").status_code == 200
        gone = c.post("/api/v1/hazards", json={"title": "x", "building": "teach-a", "photos": [late]})
        assert gone.status_code == 422
        assert "was not uploaded" in gone.json()["detail"]
        assert upload(c, colour=(1, 2, 3)) == unused  # uploaded again: kept again, for another grace
        assert records.sweep_files() == (0, 0)
        assert c.post("/api/v1/hazards", json={"title": "x", "building": "teach-a", "photos": [unused]}).status_code \
            == 201
