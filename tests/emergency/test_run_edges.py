"""The edges a hostile review found in plans at work, each pinned: a phone photo (over the API's 1 MiB body limit)
ticks a step; a refused tick keeps no photo; a tick at the very deadline is in time and lateness is told only after
it; a run keeps its plan when the plans file changes; a drill's record is filed once it is over; a virtual meter is
not drilled; an overdue drill of a plan gone from the file is settled; a long note still makes a report."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pypdf import PdfReader

from alerts.plans import PlanBook, PlanFile, known_rules
from alerts.runs import minutes
from campus.clock import FrozenClock
from tests.emergency.support import emergency_app
from tests.emergency.test_drill_flow import T0
from tests.support.harness import token_headers
from tests.support.peers import SmtpSink


def noisy_png(size: tuple[int, int] = (1000, 800)) -> bytes:
    """A photo as a phone takes it, in bytes: noise does not compress (about 2.4 MB)."""
    rnd = random.Random(7)
    img = Image.frombytes("RGB", size, bytes(rnd.getrandbits(8) for _ in range(size[0] * size[1] * 3)))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    clock = FrozenClock(T0)
    data = tmp_path_factory.mktemp("edges")
    with SmtpSink() as smtp, emergency_app(data, smtp.port, clock) as (client, alerts):
        yield client, alerts, clock, token_headers(data, "electrician", "li")


def _drill(client: Any, plan: str = "canteen-gas", **where: str) -> dict[str, Any]:
    got = client.post("/api/v1/drills", json={"plan": plan, **(where or {"building": "canteen-1"})})
    assert got.status_code == 201, got.text
    return dict(got.json())


def test_a_phone_photo_ticks_a_step_and_a_refused_tick_keeps_none(app: Any) -> None:
    client, _, _, li = app
    d = _drill(client)
    big = noisy_png()
    assert len(big) > 2 * 1024 * 1024
    url = f"/api/v1/alerts/{d['alert_id']}/plan/steps/1"
    ok = client.post(url, headers=li, data={"record": "{}"}, files=[("photo", ("valve.png", big, "image/png"))])
    assert ok.status_code == 200, ok.text[:300]
    assert len(ok.json()["steps"][0]["photos"]) == 1
    other = noisy_png((300, 200))
    again = client.post(url, headers=li, data={"record": "{}"}, files=[("photo", ("again.png", other, "image/png"))])
    assert again.status_code == 409
    import hashlib

    assert client.get(f"/api/v1/files/{hashlib.sha256(other).hexdigest()}", headers=li).status_code == 404
    assert client.post(f"/api/v1/alerts/{d['alert_id']}/ack", headers=li, json={}).status_code == 200


def test_a_tick_at_the_deadline_is_in_time_and_lateness_is_told_after_it(app: Any) -> None:
    client, alerts, clock, li = app
    clock.set(T0 + 3_600_000)
    d = _drill(client)
    due = clock.now_ms() + 600_000  # step 1: 10 minutes
    clock.set(due)
    alerts.tick()
    assert not [e for e in alerts.store.events(d["alert_id"]) if e.type == "step_late"]
    step = client.post(f"/api/v1/alerts/{d['alert_id']}/plan/steps/1", headers=li, json={}).json()["steps"][0]
    assert step["state"] == "done"
    clock.set(due + 1)
    alerts.tick()
    late = [e.detail["n"] for e in alerts.store.events(d["alert_id"]) if e.type == "step_late"]
    assert late == []  # steps 2-4 have 15 minutes; step 1 was done in time
    clock.set(due + 300_001)
    alerts.tick()
    late = [e.detail["n"] for e in alerts.store.events(d["alert_id"]) if e.type == "step_late"]
    assert sorted(late) == [2, 3, 4]


def test_a_run_keeps_its_plan_when_the_plans_file_changes(app: Any) -> None:
    client, alerts, _, _ = app
    d = _drill(client)
    before = client.get(f"/api/v1/alerts/{d['alert_id']}/plan").json()
    book = alerts.desk.book
    old = book.plans
    assert old is not None
    changed = [p.model_copy(update={"places": list(reversed(p.places)), "contacts": p.contacts[:1]})
               if p.id == "canteen-gas" else p for p in old.file.plans]
    book.plans = PlanBook(PlanFile(plans=changed), book.rules.campus, known_rules(book.rules.file),
                          book.roster.file.role_names(), old.base)
    try:
        after = client.get(f"/api/v1/alerts/{d['alert_id']}/plan").json()
    finally:
        book.plans = old
    assert [p["name"] for p in after["places"]] == [p["name"] for p in before["places"]]
    assert after["contacts"] == before["contacts"]
    assert after["places"][0]["photo"] is None  # the file's place 1 is another place now: its photo is not this one's
    assert before["places"][0]["photo"] is not None


def test_a_drills_record_is_filed_once_it_is_over(app: Any) -> None:
    client, alerts, clock, li = app
    d = _drill(client)
    running = client.get(f"/api/v1/drills/{d['id']}/record")
    assert running.status_code == 200
    note = "长" * 2000  # a long note still makes a report: cut in its cell, whole in the checklist
    assert client.post(f"/api/v1/alerts/{d['alert_id']}/plan/steps/1", headers=li, json={"note": note}).status_code \
        == 200
    assert client.post(f"/api/v1/alerts/{d['alert_id']}/resolve", headers=li, json={"reason": "演练结束"}) \
        .status_code == 200
    client.app.state.drills.check()  # type: ignore[attr-defined]  # the server's pass files it
    filed = client.get(f"/api/v1/drills/{d['id']}/record").content
    clock.advance(3600)
    assert client.get(f"/api/v1/drills/{d['id']}/record").content == filed  # the same bytes, an hour on
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(filed)).pages)
    assert "全文见预案清单" in text
    assert client.get(f"/api/v1/alerts/{d['alert_id']}/report").status_code == 200


def test_a_virtual_meter_is_not_drilled(app: Any) -> None:
    client, *_ = app
    got = client.post("/api/v1/drills", json={"plan": "power-loss", "device": "pr-public"})
    assert got.status_code == 422
    assert "virtual meter" in got.text


def test_an_overdue_drill_of_a_plan_gone_from_the_file_is_settled(app: Any) -> None:
    client, alerts, _, _ = app
    watch = client.app.state.drills
    watch.check()
    book = alerts.desk.book
    old = book.plans
    assert old is not None
    fewer = [p for p in old.file.plans if p.id != "severe-weather"]
    book.plans = PlanBook(PlanFile(plans=fewer), book.rules.campus, known_rules(book.rules.file),
                          book.roster.file.role_names(), old.base)
    try:
        watch.check()
    finally:
        book.plans = old
    gone = [a for a in client.get("/api/v1/alerts").json() if a["subject"] == "drill:severe-weather"]
    assert [a["status"] for a in gone] == ["resolved"]


def test_time_limits_as_people_say_them() -> None:
    said = [minutes(s, True) for s in (30, 600, 900, 7200, 5400)]
    assert said == ["30 秒", "10 分钟", "15 分钟", "2 小时", "90 分钟"]
    assert minutes(7200, False) == "2 h"


def test_an_alert_from_history_opens_its_plan_once_a_live_reading_confirms_it(tmp_path: Path) -> None:
    """A backfilled day raises the fountain's pH alert quietly: nobody told, no run. Acknowledged meanwhile, it opens
    its plan when a live reading confirms it (and an unacknowledged one does too, its message with the first
    steps)."""
    import json

    from ingest.decode import Inbound
    from simulators.model import Publication
    from tests.support.drive import local, simulation

    now_ms = int(local(2026, 3, 11, 12).timestamp() * 1000)
    history = [Inbound(p.topic, p.payload, now_ms, qos=0) for p in
               simulation(local(2026, 3, 10, 8), 24, ["ph_excursion:ta-fountain"]).publications()]
    with SmtpSink() as smtp, emergency_app(tmp_path, smtp.port, FrozenClock(now_ms), history) as (client, alerts):
        ph = alerts.store.open_for("yucai", "purified-ph", "ta-fountain")
        assert ph is not None
        assert (ph.quiet, ph.plan) == (1, "drinking-water")
        assert client.get(f"/api/v1/alerts/{ph.id}/plan").status_code == 404  # nobody told: no run yet
        assert client.post(f"/api/v1/alerts/{ph.id}/ack", json={"comment": "已知"}).status_code == 200
        reading = Publication(now_ms, "campus/yucai/ta-fountain/reading", json.dumps(
            {"ts": now_ms // 1000, "values": {"ph": 9.4, "turbidity_ntu": 0.3, "free_chlorine_mgl": 0.4}}).encode(),
            "ta-fountain")
        alerts.evaluate([Inbound(reading.topic, reading.payload, now_ms, qos=0)])
        run = client.get(f"/api/v1/alerts/{ph.id}/plan")
        assert run.status_code == 200, run.text
        assert run.json()["name"] == "饮用水水质异常应急预案"


def test_a_plan_started_by_hand_is_a_real_alert_with_its_checklist(app: Any) -> None:
    """A typhoon warning: the electrician on duty starts the severe-weather plan (no meter raises it) for the power
    room. A real alert, counted as one, its checklist open at once; started again while open: refused, naming it."""
    client, alerts, clock, li = app
    before = client.get("/api/v1/alerts", params={"drills": "false"}).headers["X-Total-Count"]
    got = client.post("/api/v1/plans/severe-weather/start", headers=li,
                      json={"building": "power-room", "note": "台风红色预警"})
    assert got.status_code == 201, got.text
    run = got.json()
    assert (run["plan"], run["drill"]) == ("severe-weather", None)
    assert [s["state"] for s in run["steps"]] == ["open"] * len(run["steps"])
    a = client.get(f"/api/v1/alerts/{run['alert_id']}").json()
    assert (a["rule"], a["name"], a["drill"], a["building"]) == ("emergency", "应急预案启动", None, "power-room")
    assert a["reading"] == "人工启动：台风红色预警"
    assert int(client.get("/api/v1/alerts", params={"drills": "false"}).headers["X-Total-Count"]) == int(before) + 1
    again = client.post("/api/v1/plans/severe-weather/start", headers=li, json={"building": "power-room"})
    assert again.status_code == 409
    assert f"#{run['alert_id']}" in again.text
    assert client.post("/api/v1/plans/severe-weather/start", headers=li, json={}).status_code == 422
    assert client.post("/api/v1/plans/no-such/start", headers=li, json={"building": "office"}).status_code == 404
