"""The hazard ledger: reported, assigned, fixed (who, when, photos), never moved back; a token narrowed to a zone
sees only its zone's hazards; the ledger as XLSX and PDF holds every row."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from api.access import Scope
from api.tokens import TokenStore
from campus.db import DataDir
from tests.support.harness import TZ, token_headers
from tests.support.records import png, records_app

NOW = dt.datetime(2026, 11, 16, 9, 30, tzinfo=TZ)


def _scoped(tmp: Path, name: str, zone: str) -> dict[str, str]:
    store = TokenStore(DataDir(tmp).state)
    try:
        return {"Authorization": f"Bearer {store.create(name, 'electrician', Scope.of(zones=[zone]))}"}
    finally:
        store.close()


def test_a_hazard_moves_open_assigned_fixed_and_the_ledger_exports(tmp_path: Path) -> None:
    with records_app(tmp_path, NOW) as (c, _, clock):
        wang = token_headers(tmp_path, "electrician", "王建国")
        made = c.post("/api/v1/hazards", json={"title": "二食堂后厨燃气软管老化", "building": "canteen-2",
                                               "due": "2026-11-20", "note": "软管表面龟裂"}, headers=wang)
        assert made.status_code == 201, made.text
        h = made.json()
        assert (h["status"], h["zone"], h["reported_by"]) == ("open", "zone-north", "王建国")
        assert h["reported_at"].startswith("2026-11-16T09:30")
        bad = c.patch(f"/api/v1/hazards/{h['id']}", json={"status": "assigned"}, headers=wang)
        assert bad.status_code == 422
        assert "assigned_to" in bad.json()["detail"]
        clock.advance(3600)
        moved = c.patch(f"/api/v1/hazards/{h['id']}", json={"status": "assigned", "assigned_to": "燃气公司维修班",
                                                             "note": "已报修"}, headers=wang)
        assert moved.status_code == 200
        assert moved.json()["assigned_to"] == "燃气公司维修班"
        unsaid = c.patch(f"/api/v1/hazards/{h['id']}", json={"status": "fixed"}, headers=wang)
        assert unsaid.status_code == 422
        assert "what was done" in unsaid.json()["detail"]
        clock.advance(86_400)
        fixed = c.patch(f"/api/v1/hazards/{h['id']}", data={"record": json.dumps(
            {"status": "fixed", "note": "更换为不锈钢波纹管"})}, files=[("photo", ("after.png", png(), "image/png"))],
            headers=wang)
        assert fixed.status_code == 200, fixed.text
        f = fixed.json()
        assert (f["status"], f["fixed_by"]) == ("fixed", "王建国")
        assert f["fixed_at"].startswith("2026-11-17T10:30")
        assert [s["status"] for s in f["steps"]] == ["open", "assigned", "fixed"]
        assert len(f["steps"][-1]["photos"]) == 1
        back = c.patch(f"/api/v1/hazards/{h['id']}", json={"status": "assigned", "assigned_to": "x"}, headers=wang)
        assert back.status_code == 422
        assert "it is fixed" in back.json()["detail"]
        other = c.post("/api/v1/hazards", json={"title": "教学楼A三楼走廊灯具松动", "building": "teach-a"},
                       headers=wang).json()

        south = _scoped(tmp_path, "赵立新", "zone-south")
        seen = [x["id"] for x in c.get("/api/v1/hazards", headers=south).json()]
        assert seen == [other["id"]]
        assert c.get(f"/api/v1/hazards/{h['id']}", headers=south).status_code == 404
        assert c.patch(f"/api/v1/hazards/{h['id']}", json={"status": "fixed", "note": "x"},
                       headers=south).status_code == 404
        assert c.post("/api/v1/hazards", json={"title": "x", "building": "canteen-1"},
                      headers=south).status_code == 404  # a building outside its zone does not exist for it

        xlsx = c.get("/api/v1/hazards", params={"format": "xlsx"})
        assert xlsx.status_code == 200
        ws = load_workbook(io.BytesIO(xlsx.content)).active
        rows = list(ws.iter_rows(values_only=True))
        assert rows[0][:4] == ("编号", "发现时间", "位置", "隐患描述")
        assert rows[1][2:4] == ("第二食堂", "二食堂后厨燃气软管老化")
        assert rows[1][5] == "燃气公司维修班"
        assert rows[1][9] == "已整改"
        assert rows[2][9] == "待处理"
        pdf = c.get("/api/v1/hazards", params={"format": "pdf", "lang": "en"})
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
        assert "Hazard ledger" in text
        assert "2 hazards, 1 fixed, 1 open" in text
        assert c.get("/api/v1/hazards", params={"status": "open"}).json()[0]["id"] == other["id"]


def test_a_fixed_hazard_stays_fixed_when_an_earlier_read_moves_it(tmp_path: Path) -> None:
    """Two PATCHes at once (two desks on one database): both read the hazard as assigned, one fixes it, the
    other's "assign again" must then be refused, not written over the fix."""
    from records.context import RecordRefused
    from records.desk import RecordDesk
    from records.recording import move_hazard

    with records_app(tmp_path, NOW) as (c, _, _):
        made = c.post("/api/v1/hazards", json={"title": "配电箱门锁损坏", "building": "teach-a"}).json()
        c.patch(f"/api/v1/hazards/{made['id']}", json={"status": "assigned", "assigned_to": "王建国"})
        desk: RecordDesk = c.app.state.records  # type: ignore[attr-defined]
        other = RecordDesk(tmp_path, desk.settings, desk._campuses, None, desk.readings, desk.now_ms)
        try:
            stale = other.store.hazard(made["id"])  # the second request read it while it was assigned
            fixed = c.patch(f"/api/v1/hazards/{made['id']}", json={"status": "fixed", "note": "已更换门锁"})
            assert fixed.status_code == 200
            with pytest.raises(RecordRefused, match="is fixed"):
                move_hazard(other, stale, status="assigned", assigned_to="李师傅", due=None, note="", photos=[],
                            by="李师傅")
        finally:
            other.close()
        after = c.get(f"/api/v1/hazards/{made['id']}").json()
        assert after["status"] == "fixed"
        assert [s["status"] for s in after["steps"]] == ["open", "assigned", "fixed"]
