"""What people read of the alert list: the most severe first everywhere, then the newest."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from alerts.book import NewAlert
from alerts.service import AlertService
from simulators.model import Simulation, load_campus_doc
from tests.support.alertapp import alert_app
from tests.support.drive import inbound, local
from tests.support.harness import TZ, token_headers
from tests.support.paths import SAMPLE
from tests.support.records import records_app


def _raise(svc: AlertService, rule: str, severity: str, subject: str, hour: int) -> int:
    ts = int(local(2026, 12, 3, hour).timestamp() * 1000)
    with svc.store.tx():
        return svc.store.insert_alert(site="yucai", rule=rule, subject=subject, device=None, building=None,
                                      zone="zone-north", department=None, category="data", severity=severity,
                                      status="active", value=None, limit_text=None, unit=None, detail=None,
                                      started_ms=ts, last_ms=ts, route=None, level=0, next_escalation_ms=None)


def test_the_list_is_most_severe_first_then_newest(tmp_path: Path) -> None:
    with alert_app(tmp_path, []) as (c, svc):
        leak = _raise(svc, "night-leak", "critical", "dorm1-water", 3)
        ph = _raise(svc, "drinking-ph", "major", "ta-fountain", 5)
        rounds = [_raise(svc, "round-overdue", "minor", f"round:r{i}", 8 + i) for i in range(6)]
        warn = _raise(svc, "hourly-use-vs-baseline", "warning", "c1-elec", 20)
        ids = [a["id"] for a in c.get("/api/v1/alerts", params={"status": "open"}).json()]
        assert ids == [leak, ph, *reversed(rounds), warn]
        first = c.get("/api/v1/alerts", params={"limit": 2}).json()
        assert [a["id"] for a in first] == [leak, ph]  # a page of the list is the top of it


def test_an_overdue_round_reads_in_names_and_days_in_either_language(tmp_path: Path) -> None:
    # Monday 21 Sep 10:00: Sunday 20 Sep was a make-up workday and nobody walked the north zone's patrol
    with records_app(tmp_path, dt.datetime(2026, 9, 21, 10, 0, tzinfo=TZ)) as (c, alerts, _clock):
        c.app.state.records.check()  # type: ignore[attr-defined]
        north = alerts.desk.store.open_for("yucai", "round-overdue", "round:zone-patrol:zone-north")
        assert north is not None
        zh = c.get(f"/api/v1/alerts/{north.id}").json()
        assert zh["subject_name"] == "责任区日常巡查 · 北区(生活区)责任区"
        assert zh["reading"] == "逾期 1 天 · 应于 2026-09-20 前完成"
        assert zh["limit"] == "应于 2026-09-20 前完成"
        assert (zh["value"], zh["unit"]) == (1, "天")
        en = c.get(f"/api/v1/alerts/{north.id}", params={"lang": "en"}).json()
        assert en["subject_name"] == "Daily zone patrol · 北区(生活区)责任区"
        assert en["reading"] == "1 day late · due by 2026-09-20"
        assert en["detail"].startswith("Daily zone patrol (北区(生活区)责任区) was due by 2026-09-20")
        listed = c.get("/api/v1/alerts", params={"lang": "en"}).json()
        assert all(not re.search(r"[一-龥]{2,}未|应于", a["detail"] or "") for a in listed)  # no Chinese detail
        # the mail: a zone-wide round has no building, and its subject has no empty part
        mail = next(n for n in alerts.desk.store.notices(north.id) if n.channel == "email")
        assert mail.title == "【告警·次要·数据】巡查/检查未按时完成 — 责任区日常巡查 · 北区(生活区)责任区"
        assert "round:" not in mail.body
        assert "情况：逾期 1 天 · 应于 2026-09-20 前完成" in mail.body
        assert "责任区：北区(生活区)责任区" in mail.body


def test_a_water_test_alert_names_its_point_and_parameter_and_a_drift_counts_from_recording(
        tmp_path: Path) -> None:
    now = dt.datetime(2026, 11, 20, 14, 0, tzinfo=TZ)
    sim = Simulation(load_campus_doc(SAMPLE), start=now - dt.timedelta(hours=6), end=now, seed=3, faults=[])
    with records_app(tmp_path, now, inbound(sim.publications())) as (c, _alerts, _clock):
        electrician = token_headers(tmp_path, "electrician", "水电组")
        sampled = (now - dt.timedelta(hours=2)).isoformat()  # sampled at noon, the lab's result recorded at 14:00
        got = c.post("/api/v1/water-tests", headers=electrician, json={
            "point": "ta-fountain", "taken_at": sampled, "kind": "lab", "lab": "市疾控中心",
            "values": {"ph": 8.2, "free_chlorine_mgl": 0.02}})  # a fountain: its carbon removed the chlorine
        assert got.status_code == 201, got.text
        (drift_id,) = got.json()["alerts"]
        drift = c.get(f"/api/v1/alerts/{drift_id}").json()
        assert drift["started"].startswith("2026-11-20T14:00")  # when it was recorded, not sampled
        assert ":" not in drift["subject_name"]
        en = c.get(f"/api/v1/alerts/{drift_id}", params={"lang": "en"}).json()
        assert en["detail"].endswith("calibrate or replace the sensor")
        assert en["subject_name"].endswith("pH sensor")
        got = c.post("/api/v1/water-tests", headers=electrician, json={
            "point": "d2-fountain", "taken_at": now.isoformat(), "kind": "self", "values": {"ph": 5.9}})
        (ph_id,) = got.json()["alerts"]
        ph = c.get(f"/api/v1/alerts/{ph_id}").json()
        assert ph["subject"] == "test:d2-fountain:ph"
        assert ph["subject_name"].endswith(" · pH")
        assert not ph["subject_name"].startswith("test:")
        assert c.get(f"/api/v1/alerts/{ph_id}", params={"lang": "en"}).json()["detail"].startswith(
            ph["subject_name"].split(" · ")[0] + ", water self-test")


def test_a_department_alert_mail_names_the_department_never_its_id(tmp_path: Path) -> None:
    with alert_app(tmp_path, []) as (_c, svc):
        book = svc.desk.book
        ts = int(local(2026, 11, 9, 10).timestamp() * 1000)
        alert_id = book.record(NewAlert(rule="department-over-budget", category="energy", severity="minor",
                                        subject="canteen", detail="projected to month end: 49705.0", ts=ts,
                                        zone=None, department="canteen", value=7268.0, limit="> 30000 / month",
                                        unit="kWh"), ts)
        mails = [n for n in svc.store.notices(alert_id) if n.channel == "email"]
        assert mails
        for mail in mails:
            assert "canteen" not in mail.title + mail.body, mail.body
            assert "— " in mail.title
            assert not mail.title.endswith("— ")
        zh = next(m for m in mails if "部门" in m.body)
        assert "部门：食堂" in zh.body
        assert "楼栋" not in zh.body
        hook = next(n for n in svc.store.notices(alert_id) if n.channel == "webhook")
        assert "canteen" not in hook.title + hook.body


def test_the_month_report_counts_alerts_most_severe_first(tmp_path: Path) -> None:
    with alert_app(tmp_path, []) as (_c, svc):
        _raise(svc, "round-overdue", "minor", "round:a", 3)
        _raise(svc, "night-leak", "critical", "d1-water", 4)
        _raise(svc, "hourly-use-vs-baseline", "warning", "c1-elec", 5)
        ph = _raise(svc, "drinking-ph", "major", "ta-fountain", 6)
        with svc.store.tx():
            svc.store.update_alert(ph, category="safety")
        start, end = (int(local(2026, 12, d).timestamp() * 1000) for d in (1, 31))
        got = [(c, s) for c, s, _, _ in svc.store.raised_between(start, end, "yucai")]
        assert got == [("data", "critical"), ("safety", "major"), ("data", "minor"), ("data", "warning")]
