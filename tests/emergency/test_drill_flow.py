"""A gas-leak drill on the sample campus, on a frozen clock, through the HTTP API, the real alert service and a real
SMTP server (aiosmtpd): the alert is a drill everywhere, the electrician on duty is told the plan's first step, two
steps are ticked, a late step climbs to the crew leader, the record's times are the clock's, and the month's report
and the alert statistics do not see it. (The same drill from the phone console: tests/api/test_console_emergency.py.)"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from campus.clock import FrozenClock
from tests.emergency.support import emergency_app
from tests.support.harness import token_headers
from tests.support.peers import SmtpSink
from tests.support.servers import wait_for

TZ = ZoneInfo("Asia/Shanghai")
T0 = int(dt.datetime(2026, 12, 7, 21, 0, tzinfo=TZ).timestamp() * 1000)  # a Monday night: 李强 (li) is on duty


def _mails_to(smtp: SmtpSink, who: str) -> list[str]:
    return [f"{m.subject}\n{m.body}" for m in smtp.received if f"{who}@yucai.edu.cn" in m.to]


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The whole drill, run once: what each test looks at."""
    clock = FrozenClock(T0)
    data = tmp_path_factory.mktemp("drill")
    with SmtpSink() as smtp, emergency_app(data, smtp.port, clock) as (client, alerts):
        alerts.tick()  # the campus's own alerts first (its meters have sent nothing: they are silent)
        before = {"report": client.get("/api/v1/reports/energy", params={"month": "2026-12"}).json()["alerts"],
                  "alerts": client.get("/api/v1/alerts", params={"drills": "false"}).headers["X-Total-Count"],
                  "metrics": [x for x in client.get("/metrics").text.splitlines()
                              if x.startswith("meterwatch_alerts{")]}
        started = client.post("/api/v1/drills", json={"plan": "canteen-gas", "device": "c1-gas"})
        assert started.status_code == 201, started.text
        d = started.json()
        wait_for(lambda: _mails_to(smtp, "li"), 15, "the drill's message to the electrician on duty")
        li = token_headers(data, "electrician", "li")
        clock.advance(60)
        assert client.post(f"/api/v1/alerts/{d['alert_id']}/ack", headers=li, json={"comment": "到场"}).status_code \
            == 200
        clock.advance(120)
        one = client.post(f"/api/v1/alerts/{d['alert_id']}/plan/steps/1", headers=li, json={"note": "门外无燃气味"})
        assert one.status_code == 200, one.text
        clock.advance(240)
        two = client.post(f"/api/v1/alerts/{d['alert_id']}/plan/steps/2", headers=li, json={"note": "总阀已关"})
        assert two.status_code == 200, two.text
        clock.set(T0 + 901_000)  # steps 3 and 4 had 15 minutes
        alerts.tick()
        wait_for(lambda: len(_mails_to(smtp, "chen")) >= 2, 15, "the late steps' messages to the crew leader")
        zhou = token_headers(data, "electrician", "zhou")
        clock.set(T0 + 1000_000)
        late = client.post(f"/api/v1/alerts/{d['alert_id']}/plan/steps/3", headers=zhou, json={})
        assert late.status_code == 200, late.text
        clock.set(T0 + 1200_000)
        resolved = client.post(f"/api/v1/alerts/{d['alert_id']}/resolve", headers=li, json={"reason": "演练结束"})
        assert resolved.status_code == 200, resolved.text
        after_tick = client.post(f"/api/v1/alerts/{d['alert_id']}/plan/steps/4", headers=li, json={})
        after = {"report": client.get("/api/v1/reports/energy", params={"month": "2026-12"}).json()["alerts"],
                 "alerts": client.get("/api/v1/alerts", params={"drills": "false"}).headers["X-Total-Count"],
                 "metrics": [x for x in client.get("/metrics").text.splitlines()
                             if x.startswith("meterwatch_alerts{")]}
        yield {"drill": client.get(f"/api/v1/drills/{d['id']}").json(), "started": d, "smtp": smtp,
               "alert": client.get(f"/api/v1/alerts/{d['alert_id']}").json(),
               "run": client.get(f"/api/v1/alerts/{d['alert_id']}/plan").json(),
               "record": client.get(f"/api/v1/drills/{d['id']}/record"), "before": before, "after": after,
               "after_tick": after_tick, "metrics": client.get("/metrics").text,
               "listed": client.get("/api/v1/alerts").json(),
               "drills": client.get("/api/v1/alerts", params={"drills": "true"}).json()}


def test_the_alert_is_a_drill_everywhere(drill) -> None:  # type: ignore[no-untyped-def]
    assert drill["alert"]["drill"] == drill["drill"]["id"]
    assert drill["alert"]["plan"] == "canteen-gas"
    assert drill["alert"]["plan_name"] == "食堂燃气泄漏应急预案"
    assert drill["alert"]["rule"] == "canteen-gas-closed"
    assert drill["alert"]["severity"] == "critical"
    assert [a["drill"] for a in drill["listed"] if a["drill"] is not None] == [drill["drill"]["id"]]
    assert [a["drill"] for a in drill["drills"]] == [drill["drill"]["id"]]
    assert 'meterwatch_drill_alerts{state="resolved"} 1.0' in drill["metrics"]
    for mail in _mails_to(drill["smtp"], "li") + _mails_to(drill["smtp"], "chen"):
        assert mail.startswith("【演练】"), mail
        assert "本次为应急演练，非真实事件" in mail


def test_the_electrician_on_duty_is_told_the_first_step(drill) -> None:  # type: ignore[no-untyped-def]
    first = _mails_to(drill["smtp"], "li")[0]
    assert "应急预案：食堂燃气泄漏应急预案" in first
    assert "第1步（值班电工，10 分钟内（21:10 前））：立即赶到现场" in first
    assert f"/#plan/{drill['started']['alert_id']}" in first


def test_a_late_step_climbs_to_the_crew_leader(drill) -> None:  # type: ignore[no-untyped-def]
    late = _mails_to(drill["smtp"], "chen")
    assert len(late) == 2  # steps 3 and 4, once each; the acknowledged alert itself climbed no further
    assert all("预案步骤超时" in m for m in late)
    assert any("第3步（食堂经理 周敏，15 分钟内（21:15 前））" in m for m in late)
    assert any("第4步（水电组组长 陈志明，15 分钟内（21:15 前））" in m for m in late)


def test_the_record_measures_on_the_clock(drill) -> None:  # type: ignore[no-untyped-def]
    f = drill["drill"]["figures"]
    assert drill["drill"]["status"] == "finished"
    assert f["first_notice_s"] == 0.0
    assert f["ack_s"] == 60.0
    assert f["steps_s"] == [180.0, 420.0, 1000.0, None, None, None]
    assert f["resolved_s"] == 1200.0
    assert (f["skipped"], f["late"]) == (3, 1)
    states = [s["state"] for s in drill["run"]["steps"]]
    assert states == ["done", "done", "late", "skipped", "skipped", "skipped"]
    assert drill["run"]["steps"][0]["done_by_name"] == "李强"
    assert drill["run"]["steps"][2]["done_by_name"] == "周敏"
    assert drill["after_tick"].status_code == 409  # the run closed with the alert


def test_the_report_and_the_statistics_do_not_see_it(drill) -> None:  # type: ignore[no-untyped-def]
    assert drill["after"] == drill["before"]


def test_the_record_is_a_pdf_with_the_timeline(drill) -> None:  # type: ignore[no-untyped-def]
    r = drill["record"]
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
    for words in ("应急演练记录", "食堂燃气泄漏应急预案", "告警产生", "已确认", "第1步完成", "第3步超时",
                  "第3步完成（超时）", "已恢复", "+01:00", "+20:00", "跳过 3 步，超时 1 步"):
        assert words in text, words


def test_a_drill_names_what_the_token_sees(tmp_path: Path) -> None:
    """A plan, a device or a building the token does not see is refused as one that does not exist; only an admin
    starts a drill."""
    with SmtpSink() as smtp, emergency_app(tmp_path, smtp.port, FrozenClock(T0)) as (client, _):
        for body, status in (({"plan": "no-such", "building": "canteen-1"}, 404),
                             ({"plan": "canteen-gas", "building": "nowhere"}, 404),
                             ({"plan": "canteen-gas", "device": "nothing"}, 404),
                             ({"plan": "canteen-gas"}, 422),
                             ({"plan": "canteen-gas", "building": "canteen-1", "device": "c1-gas"}, 422)):
            got = client.post("/api/v1/drills", json=body)
            assert got.status_code == status, (body, got.text)
        electrician = token_headers(tmp_path, "electrician")
        assert client.post("/api/v1/drills", headers=electrician,
                           json={"plan": "canteen-gas", "building": "canteen-1"}).status_code == 403
