"""What people read of the alert list: the most severe first everywhere, then the newest."""

from __future__ import annotations

from pathlib import Path

from alerts.service import AlertService
from tests.support.alertapp import alert_app
from tests.support.drive import local


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
