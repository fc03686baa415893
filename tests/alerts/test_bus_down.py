"""A bus where no meter answers raises ONE `data` alert for the bus, naming the gateway, the bus and its meters by
name, with the gateway's reason in both languages; one silent meter on a live bus raises its own alert, which says
why in words. Driven through the real AlertService on a frozen clock."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from alerts.messages import localize
from alerts.service import AlertService
from alerts.store import Alert
from campus.clock import FrozenClock
from campus.db import DataDir
from campus.registry import Registry
from ingest.decode import Inbound
from tests.support.drive import alert_service, local
from tests.support.meterhealth import answered, campus, failed

START = local(2026, 11, 23, 9)  # a Monday morning in Shanghai
METERS = ("c1-elec", "c1-kitchen", "c1-water", "c1-gas", "d1-elec")
REGISTER = {"c1-water": "volume_m3", "c1-gas": "volume_m3"}


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def service(tmp_path: Path) -> tuple[AlertService, FrozenClock]:
    data = tmp_path / "data"
    data.mkdir()
    reg = Registry(DataDir(data).state)
    reg.seed(campus())
    reg.close()
    clock = FrozenClock(ms(START))
    return alert_service(data, clock), clock


def reading(device: str, at: datetime, value: float) -> Inbound:
    ts = int(at.timestamp())
    body = {"ts": ts, "values": {REGISTER.get(device, "energy_kwh"): value}}
    return Inbound(f"campus/s1/{device}/reading", json.dumps(body).encode(), ts * 1000)


def health(device: str, payload: bytes, at: datetime) -> Inbound:
    return Inbound(f"campus/s1/{device}/health", payload, ms(at))


def run(svc: AlertService, clock: FrozenClock, until: datetime, answering: set[str], silent: set[str]) -> None:
    """Every 15 minutes to ``until``: the answering meters' readings, the silent ones' failed polls; a tick each."""
    at, n = START, 0
    while at <= until:
        clock.set(ms(at))
        msgs = [reading(d, at, 1000.0 + n) for d in sorted(answering)]
        msgs += [health(d, failed(d, int(at.timestamp()), last_answer=int(START.timestamp())), at)
                 for d in sorted(silent)]
        if msgs:
            svc.evaluate(msgs)
        svc.tick()
        at, n = at + timedelta(minutes=15), n + 1


def open_alerts(svc: AlertService) -> dict[tuple[str, str], Alert]:
    return {(a.rule, a.subject): a for a in svc.store.query() if a.status != "resolved"}


def test_a_dead_bus_is_one_alert_naming_gateway_bus_and_meters(tmp_path: Path) -> None:
    svc, clock = service(tmp_path)
    try:
        run(svc, clock, START, set(METERS), set())  # everyone answers once
        dead = {"c1-elec", "c1-kitchen", "c1-water"}  # the whole of gw-canteen-1's rs485-1
        at = START + timedelta(minutes=15)
        for _ in range(3):  # 09:15 … 09:45: failed polls, but not yet more than three intervals of silence
            clock.set(ms(at))
            svc.evaluate([reading(d, at, 2000.0) for d in METERS if d not in dead] +
                         [health(d, failed(d, int(at.timestamp()), last_answer=int(START.timestamp())), at)
                          for d in sorted(dead)])
            svc.tick()
            at += timedelta(minutes=15)
        assert open_alerts(svc) == {}
        clock.set(ms(START + timedelta(minutes=46)))  # past three intervals since the last reading
        svc.tick()
        alerts = open_alerts(svc)
        assert list(alerts) == [("bus-silent", "gw-canteen-1/rs485-1")], alerts  # one, not one per meter
        bus = alerts[("bus-silent", "gw-canteen-1/rs485-1")]
        assert (bus.category, bus.severity, bus.device, bus.building) == ("data", "major", None, "canteen-1")
        texts = json.loads(bus.texts or "{}")
        assert texts["subject"] == {"zh": "一食堂集中器 · rs485-1", "en": "一食堂集中器 · rs485-1"}
        assert texts["detail"]["zh"] == ("一食堂集中器 的 rs485-1 上 3 块表都没有应答：一食堂总电表、一食堂厨房电表、"
                                         "一食堂水表。最近原因：没有应答：rs485-1 上的 000012345678 三次未应答")
        assert texts["detail"]["en"].startswith("no meter answers on rs485-1 of 一食堂集中器: 一食堂总电表, "
                                                "一食堂厨房电表, 一食堂水表; last: no answer from ")
        assert svc.books["s1"].subject_name(bus, "en") == "一食堂集中器 · rs485-1"  # what lists show
        notices = svc.store.notices(bus.id)
        assert notices
        body = notices[0].body
        for words in ("一食堂集中器 · rs485-1", "一食堂总电表", "第一食堂", "三次未应答", "3/3 块表无应答"):
            assert words in body, body
        assert "c1-elec" not in body  # names, not ids
        # the engine's state, health included, survives a restart: still one alert, no meter speaks for itself
        svc.stop()
        svc = alert_service(tmp_path / "data", clock)
        clock.set(ms(START + timedelta(minutes=47)))
        svc.tick()
        assert list(open_alerts(svc)) == [("bus-silent", "gw-canteen-1/rs485-1")]
        # one meter answers again: the bus is alive, the alert clears; the two still silent now speak for
        # themselves, each with its reason
        back = START + timedelta(minutes=50)
        clock.set(ms(back))
        svc.evaluate([reading("c1-kitchen", back, 2001.0), health("c1-kitchen", answered("c1-kitchen", int(
            back.timestamp())), back)])
        svc.tick()
        alerts = open_alerts(svc)
        assert set(alerts) == {("device-stale", "c1-elec"), ("device-stale", "c1-water")}, alerts
        stale = json.loads(alerts[("device-stale", "c1-elec")].texts or "{}")
        assert stale["detail"] == {"zh": "没有应答：rs485-1 上的 000012345678 三次未应答",
                                   "en": "no answer from 000012345678 on rs485-1 after 3 tries"}
        resolved = [a for a in svc.store.query() if a.rule == "bus-silent"]
        assert [a.status for a in resolved] == ["resolved"]
    finally:
        svc.stop()


def test_one_silent_meter_on_a_live_bus_says_why(tmp_path: Path) -> None:
    svc, clock = service(tmp_path)
    try:
        run(svc, clock, START + timedelta(minutes=60), set(METERS) - {"c1-elec"}, {"c1-elec"})
        alerts = open_alerts(svc)
        assert list(alerts) == [("device-stale", "c1-elec")], alerts
        alert = alerts[("device-stale", "c1-elec")]
        assert alert.detail == "no answer from 000012345678 on rs485-1 after 3 tries"
        body = svc.store.notices(alert.id)[0].body
        assert "说明：没有应答：rs485-1 上的 000012345678 三次未应答" in body
        assert "设备：一食堂总电表" in body
        assert localize(alert.detail, "zh-CN") == "rs485-1 上的 000012345678 三次未应答"  # without its own words too
    finally:
        svc.stop()


def test_silence_without_a_reason_stays_per_meter(tmp_path: Path) -> None:
    """A gateway that says nothing (no health) gives no grounds to blame the bus: each meter alerts as before."""
    svc, clock = service(tmp_path)
    try:
        run(svc, clock, START, set(METERS), set())
        run_at = START + timedelta(minutes=60)
        clock.set(ms(run_at))
        svc.evaluate([reading(d, run_at, 3000.0) for d in ("c1-gas", "d1-elec")])
        svc.tick()
        assert set(open_alerts(svc)) == {("device-stale", d) for d in ("c1-elec", "c1-kitchen", "c1-water")}
        assert all(a.detail == "no readings" for a in open_alerts(svc).values())
    finally:
        svc.stop()
