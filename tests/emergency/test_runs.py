"""A real alert opens its plan: a night leak from the simulated campus raises night-leak, which activates the burst
plan; the electrician's message carries its first steps, and the incident report (PDF) lists the timeline. And the
run's own rules: a step is ticked once, by whoever does it, nothing after the resolution, a step ticked with a photo
keeps it (the sweep keeps it too), an alert no plan matches has no run."""

from __future__ import annotations

import datetime as dt
import io
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from campus.clock import FrozenClock
from tests.emergency.support import emergency_app
from tests.support.drive import inbound, local, simulation
from tests.support.harness import token_headers
from tests.support.peers import SmtpSink
from tests.support.records import png
from tests.support.servers import wait_for

NOW = int(local(2026, 3, 10, 6).timestamp() * 1000)  # a Tuesday, 06:00: 李强 (li) is on the night shift


@pytest.fixture(scope="module")
def leak(tmp_path_factory: pytest.TempPathFactory) -> Any:
    clock = FrozenClock(NOW)
    batch = inbound(simulation(local(2026, 3, 10, 0), 6, ["water_leak"]).publications())
    data = tmp_path_factory.mktemp("leak")
    with SmtpSink() as smtp, emergency_app(data, smtp.port, clock, batch) as (client, alerts):
        yield client, alerts, smtp, clock, data


def _leak_alert(client: Any) -> dict[str, Any]:
    return next(a for a in client.get("/api/v1/alerts?limit=1000").json() if a["rule"] == "night-leak")


def test_a_night_leak_activates_the_burst_plan(leak: Any) -> None:
    client, _, smtp, _, _ = leak
    a = _leak_alert(client)
    assert (a["plan"], a["plan_name"], a["drill"]) == ("water-burst", "供水管道爆管与夜间漏水应急预案", None)
    wait_for(lambda: any("li@yucai.edu.cn" in m.to for m in smtp.received), 15, "the leak's message to li")
    mail = next(m for m in smtp.received if "li@yucai.edu.cn" in m.to and "夜间" in m.subject)
    assert not mail.subject.startswith("【演练】")
    assert "应急预案：供水管道爆管与夜间漏水应急预案" in mail.body
    assert "第1步（值班电工，30 分钟内（06:30 前））：到现场确认漏点" in mail.body
    assert "第2步（值班电工，45 分钟内（06:45 前））：关闭漏点上游最近的阀门" in mail.body
    assert "第3步" not in mail.body  # the first steps only: the checklist has the rest
    run = client.get(f"/api/v1/alerts/{a['id']}/plan").json()
    assert [s["state"] for s in run["steps"]][:2] == ["open", "open"]
    assert run["places"][0]["building_name"] == "学生宿舍1号楼"
    assert run["places"][0]["photo"]
    assert client.get(run["places"][0]["photo"]).headers["content-type"] == "image/jpeg"
    assert any(c["phone"] == "96116" for c in run["contacts"])


def test_a_step_is_ticked_once_with_its_photo(leak: Any) -> None:
    client, _, _, clock, data = leak
    a = _leak_alert(client)
    li = token_headers(data, "electrician", "li")
    clock.advance(600)
    files = [("photo", ("valve.png", png(), "image/png"))]
    got = client.post(f"/api/v1/alerts/{a['id']}/plan/steps/1", headers=li,
                      data={"record": '{"note": "1号楼地下室管道井渗水"}'}, files=files)
    assert got.status_code == 200, got.text
    step = got.json()["steps"][0]
    assert (step["state"], step["done_by"], step["done_by_name"]) == ("done", "li", "李强")
    assert step["done_at"] == dt.datetime.fromtimestamp((NOW + 600_000) / 1000, dt.UTC).astimezone(
        dt.timezone(dt.timedelta(hours=8))).isoformat()
    photo = step["photos"][0]
    assert client.get(f"/api/v1/files/{photo}", headers=li).status_code == 200  # a photo of a step of its zone
    again = client.post(f"/api/v1/alerts/{a['id']}/plan/steps/1", headers=li, json={})
    assert again.status_code == 409
    assert "李强" not in again.text
    assert "li" in again.text
    assert client.post(f"/api/v1/alerts/{a['id']}/plan/steps/99", headers=li, json={}).status_code == 404
    viewer = token_headers(data, "viewer")
    assert client.post(f"/api/v1/alerts/{a['id']}/plan/steps/2", headers=viewer, json={}).status_code == 403


def test_the_incident_report_lists_the_timeline(leak: Any) -> None:
    client, _, smtp, _, _ = leak
    a = _leak_alert(client)
    events = f"/api/v1/alerts/{a['id']}/events"
    wait_for(lambda: any(e["type"] == "notified" for e in client.get(events).json()), 15, "the message noted as sent")
    r = client.get(f"/api/v1/alerts/{a['id']}/report")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
    for words in ("事件报告", "夜间最小流量不为零", "供水管道爆管与夜间漏水应急预案", "告警产生",
                  "告警通知已送达（邮件）", "第1步完成", "1号楼地下室管道井渗水", "填报人"):
        assert words in text, words
    en = client.get(f"/api/v1/alerts/{a['id']}/report", params={"lang": "en"})
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(en.content)).pages)
    assert "Incident report" in text
    assert "step 1 done" in text
    as_json = client.get(f"/api/v1/alerts/{a['id']}/report", params={"format": "json"}).json()
    assert [t["key"] for t in as_json["tables"]] == ["summary", "steps", "timeline"]


def test_an_alert_no_plan_matches_has_no_run(leak: Any) -> None:
    client, *_ = leak
    other = [a for a in client.get("/api/v1/alerts?limit=1000").json() if a["plan"] is None]
    for a in other:
        assert client.get(f"/api/v1/alerts/{a['id']}/plan").status_code == 404


# -- the run's rules, under any order of what people and the clock do -------------------------------------------------

ACTIONS = st.lists(st.one_of(st.tuples(st.just("tick"), st.integers(1, 7)), st.tuples(st.just("wait"),
                                                                                        st.integers(0, 1200)),
                             st.just(("tick_late",)), st.just(("resolve",))), max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ACTIONS)
def test_any_order_of_ticks_waits_and_resolving_keeps_the_rules(tmp_path: Path, actions: list[Any]) -> None:
    """Each step is done at most once, its lateness told at most once, nothing changes after the resolution, and
    the states add up (done + late + skipped + overdue + open = the steps)."""
    from alerts.book import AlertStateError, NewAlert
    from alerts.runs import StepRefused
    from campus.errors import NotFound

    with SmtpSink() as smtp, emergency_app(Path(tempfile.mkdtemp(dir=tmp_path)), smtp.port,
                                           FrozenClock(NOW)) as (_, alerts):
        clock = alerts.clock
        assert isinstance(clock, FrozenClock)
        book = alerts.desk.book
        alert_id = book.record(NewAlert(rule="emergency", category="safety", severity="major", subject="x",
                                        detail="x", ts=NOW, plan="canteen-gas"), NOW)
        ticked: set[int] = set()
        resolved = False
        for action in actions:
            try:
                if action[0] == "tick":
                    book.tick(alert_id, action[1], "li", None, [], clock.now_ms())
                    assert not resolved
                    assert action[1] not in ticked
                    assert action[1] <= 6
                    ticked.add(action[1])
                elif action[0] == "wait":
                    clock.advance(action[1])
                elif action[0] == "tick_late":
                    book.escalate(clock.now_ms())
                else:
                    book.resolve(alert_id, "li", "done", clock.now_ms())
                    resolved = True
            except (AlertStateError, StepRefused, NotFound):
                assert resolved or action[1] in ticked or action[1] > 6
        run = book.runs.run(alert_id)
        assert run is not None
        assert {s.n for s in run.steps if s.done_ms is not None} == ticked
        late_told = [e for e in alerts.store.events(alert_id) if e.type == "step_late"]
        assert len(late_told) == len({e.detail["n"] for e in late_told})
        # a step is told late only while it is not done: ticked, if at all, at or after that moment (the same
        # millisecond is a tick right after the late notice)
        assert all(e.detail["n"] not in ticked or run.step(e.detail["n"]).done_ms >= e.ts_ms for e in late_told)
        closed = alerts.store.get(alert_id).status == "resolved"
        states = [s.state(closed, clock.now_ms()) for s in run.steps]
        assert len(states) == 6
        assert ("open" not in states or not closed)
