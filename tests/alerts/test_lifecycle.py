"""The alert lifecycle driven through the real AlertService (its store, engine and book; each test on SQLite and
on a real PostgreSQL, ``[state] url``) with a frozen clock: one alert per (rule, device), ack, hand resolve,
escalation, and restarts inside a ``for`` window and during escalation that behave as if there had been none."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from alerts.service import AlertService
from alerts.store import Alert
from campus.clock import FrozenClock
from campus.contract import Limits
from ingest.decode import Inbound
from simulators.model import Publication
from tests.support.drive import alert_service, inbound, local, simulation

StateFor = Callable[[Path], str | None]

T0 = 1_900_000_000_000  # the service's clock (escalation runs on it); readings carry simulated times


def feed(svc: AlertService, pubs: list[Publication], batch: int = 40) -> None:
    msgs: list[Inbound] = inbound(pubs)
    for i in range(0, len(msgs), batch):
        svc.evaluate(msgs[i:i + batch])


def summary(svc: AlertService) -> list[tuple[str, str, int, str]]:
    return sorted((a.rule, a.subject, a.started_ms, a.status) for a in svc.store.query())


def gas(svc: AlertService) -> list[Alert]:
    """The canteen gas alerts (the frozen service clock also makes silent devices stale: other tests)."""
    return svc.store.query(severity="critical")


def notices(svc: AlertService) -> list[tuple[str, int, str | None]]:
    return [(n.event, n.level, n.recipient) for a in gas(svc) for n in svc.store.notices(a.id)
            if n.channel == "email"]


def test_one_alert_per_rule_and_device_then_resolved_by_clear(tmp_path: Path, state_for: StateFor) -> None:
    svc = alert_service(tmp_path, FrozenClock(T0), state=state_for(tmp_path))
    feed(svc, list(simulation(local(2026, 3, 10, 20), 10, ["gas_after_hours"]).publications()))
    alerts = gas(svc)
    assert [(a.rule, a.subject, a.status) for a in alerts] == [("canteen-gas-closed", "c1-gas", "resolved")]
    a = alerts[0]
    assert a.last_ms > a.started_ms
    assert a.resolved_by == "system"
    types = [e.type for e in svc.store.events(a.id)]
    assert types == ["raised", "resolved"]
    svc.stop()


def test_the_engine_refuses_what_ingest_refuses(tmp_path: Path, state_for: StateFor) -> None:
    """With ``[ingest] register_ceiling`` lowered below the gas register, ingest dead-letters those readings;
    the alert engine, given the same limits, never sees them either (no alert on data that was not stored)."""
    svc = alert_service(tmp_path, FrozenClock(T0), Limits(register_ceiling=1.0), state=state_for(tmp_path))
    feed(svc, list(simulation(local(2026, 3, 10, 20), 10, ["gas_after_hours"]).publications()))
    assert gas(svc) == []
    assert svc.failed == 0  # refused by the contract, not failures of the engine
    svc.stop()


def test_ack_stops_escalation_and_hand_resolve_holds_until_clear(tmp_path: Path, state_for: StateFor) -> None:
    clock = FrozenClock(T0)
    svc = alert_service(tmp_path, clock, state=state_for(tmp_path))
    pubs = list(simulation(local(2026, 3, 10, 20), 10, ["gas_after_hours"]).publications())
    night = local(2026, 3, 10, 23).timestamp() * 1000
    feed(svc, [p for p in pubs if p.ts_ms < night])
    (alert,) = gas(svc)
    assert notices(svc) == [("raised", 0, "li")]
    clock.advance(301)
    svc.tick()
    assert notices(svc)[-1] == ("escalated", 1, "chen")
    svc.desk.ack(alert.id, "chen", "on my way")
    clock.advance(3600)
    svc.tick()
    assert [n for n in notices(svc) if n[2] == "liu"] == []
    assert ("acknowledged", 1, "li") in notices(svc)  # the others told hear who took it
    with pytest.raises(Exception, match="only an active alert"):
        svc.desk.ack(alert.id, "li", None)
    svc.desk.resolve(alert.id, "chen", "valve closed by hand")
    feed(svc, [p for p in pubs if night <= p.ts_ms < night + 3_600_000])  # gas still flowing: same episode
    assert len(gas(svc)) == 1
    feed(svc, [p for p in pubs if p.ts_ms >= night + 3_600_000])
    assert len(gas(svc)) == 1
    assert svc.store.get(alert.id).resolve_reason == "valve closed by hand"
    svc.stop()


def test_restart_inside_a_for_window_changes_nothing(tmp_path: Path, state_for: StateFor) -> None:
    pubs = list(simulation(local(2026, 3, 10, 0), 3, ["heater_cold"]).publications())
    ref = alert_service(tmp_path / "ref", FrozenClock(T0), state=state_for(tmp_path / "ref"))
    feed(ref, pubs)
    want = summary(ref)
    assert [w[:2] for w in want] == [("hot-water-outlet-cold", "c1-heater")]
    ref.stop()

    cut = local(2026, 3, 10, 0).timestamp() * 1000 + 15 * 60_000  # 15 min into the 30-min `for`
    first = alert_service(tmp_path / "run", FrozenClock(T0), state=state_for(tmp_path / "run"))
    before = [p for p in pubs if p.ts_ms < cut]
    feed(first, before)
    assert first.store.query() == []
    first.stop()
    second = alert_service(tmp_path / "run", FrozenClock(T0), state=state_for(tmp_path / "run"))
    feed(second, before[-40:])  # the broker redelivers the last, unacknowledged batch
    feed(second, [p for p in pubs if p.ts_ms >= cut])
    assert summary(second) == want
    second.stop()


def test_restart_during_escalation_resumes_where_it_was(tmp_path: Path, state_for: StateFor) -> None:
    pubs = list(simulation(local(2026, 3, 10, 20), 4, ["gas_after_hours"]).publications())

    def run(restart: bool) -> list[tuple[str, int, str | None]]:
        data = tmp_path / ("restart" if restart else "ref")
        clock = FrozenClock(T0)
        svc = alert_service(data, clock, state=state_for(data))
        feed(svc, pubs)
        for step in range(20):  # 20 ticks a minute apart: 0 … 19 min
            if restart and step == 7:
                svc.stop()
                svc = alert_service(data, clock, state=state_for(data))
            svc.tick()
            clock.advance(60)
        out = notices(svc)
        svc.stop()
        return out

    want = run(False)
    assert want == [("raised", 0, "li"), ("escalated", 1, "chen"), ("escalated", 2, "liu")]
    assert run(True) == want


def test_severity_rises_while_active_and_the_rise_is_an_event(tmp_path: Path, state_for: StateFor) -> None:
    svc = alert_service(tmp_path, FrozenClock(T0), state=state_for(tmp_path))
    feed(svc, list(simulation(local(2026, 3, 10), 4 * 24, ["water_leak"]).publications()), batch=200)
    (leak,) = [a for a in svc.store.query() if a.rule == "night-leak"]
    assert leak.severity == "critical"
    assert leak.status == "active"
    rise = [e for e in svc.store.events(leak.id) if e.type == "severity"]
    assert [(e.detail["old"], e.detail["new"]) for e in rise] == [("major", "critical")]
    svc.stop()


def test_english_text_for_people_who_want_it(tmp_path: Path, state_for: StateFor) -> None:
    clock = FrozenClock(T0)
    svc = alert_service(tmp_path, clock, state=state_for(tmp_path))
    feed(svc, list(simulation(local(2026, 3, 10, 20), 4, ["gas_after_hours"]).publications()))
    for _ in range(20):
        clock.advance(60)
        svc.tick()
    by_person = {n.recipient: n for a in gas(svc) for n in svc.store.notices(a.id) if n.channel == "email"}
    assert by_person["li"].title.startswith("【告警·严重·安全】食堂非营业时间燃气使用 — 第一食堂")
    assert "确认（停止升级）：http://127.0.0.1:8000/api/v1/alerts/" in by_person["li"].body
    assert by_person["liu"].title.startswith("[ESCALATED · CRITICAL · safety] Canteen gas used while closed")
    assert "Acknowledge (stops escalation):" in by_person["liu"].body
    alert_id = gas(svc)[0].id  # and where to see it, with the device's last 24 h: the console on a phone
    assert f"详情与近24小时曲线：http://127.0.0.1:8000/#alerts/{alert_id}" in by_person["li"].body
    assert f"Details and the last 24 h: http://127.0.0.1:8000/#alerts/{alert_id}" in by_person["liu"].body
    svc.stop()
