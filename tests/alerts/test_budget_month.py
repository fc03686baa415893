"""A monthly budget alert belongs to its month: its value is that month's use, it closes when the month ends in
the site's time zone (with or without a reading after it), and the next month starts without one. Driven through
the real AlertService on a frozen clock."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from alerts.service import AlertService
from campus.clock import FrozenClock
from ingest.decode import Inbound
from tests.support.drive import alert_service, local

PER_HOUR = 2.5  # on c1-elec's register (×40): 100 kWh an hour, 72,000 a month against the canteens' 30,000


def readings(start: datetime, hours: int, register: float) -> tuple[list[Inbound], float]:
    """c1-elec every 15 minutes from ``start``."""
    out = []
    for q in range(hours * 4):
        ts = int((start + timedelta(minutes=15 * q)).timestamp())
        out.append(Inbound("campus/yucai/c1-elec/reading", json.dumps(
            {"ts": ts, "values": {"energy_kwh": round(register, 3)}}).encode(), ts * 1000))
        register += PER_HOUR / 4
    return out, register


def feed(svc: AlertService, msgs: list[Inbound]) -> None:
    for i in range(0, len(msgs), 200):
        svc.evaluate(msgs[i:i + 200])


def budget(svc: AlertService) -> list[tuple[str, int, int | None, float | None]]:
    return [(a.status, a.started_ms, a.resolved_ms, a.value)
            for a in sorted(svc.store.query(), key=lambda a: a.id) if a.rule == "department-over-budget"]


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def test_the_month_end_closes_the_alert_even_without_a_reading(tmp_path: Path) -> None:
    clock = FrozenClock(ms(local(2026, 11, 30, 23)))
    svc = alert_service(tmp_path, clock)
    november, reg = readings(local(2026, 11, 22), 8 * 24, 1000.0)  # to 30 Nov 23:45
    feed(svc, november)
    ((status, started, resolved, value),) = budget(svc)
    assert status == "active"
    assert started == ms(local(2026, 11, 29))  # a week of data
    assert value is not None
    assert abs(value - 8 * 24 * 100 + 10) < 20  # November's use so far, not a projection (kWh)
    clock.set(ms(local(2026, 12, 1) + timedelta(minutes=1)))  # midnight in Shanghai, not in UTC
    svc.tick()
    ((status, _, resolved, final),) = budget(svc)
    assert (status, resolved) == ("resolved", ms(local(2026, 12, 1)))
    (alert,) = [a for a in svc.store.query() if a.rule == "department-over-budget"]
    assert alert.resolve_reason == "month ended: 2026-11"
    # December starts with no alert: a week of its own data before one is raised again
    december, _ = readings(local(2026, 12, 1), 3 * 24, reg)
    feed(svc, december)
    assert len(budget(svc)) == 1
    svc.stop()


def test_a_reading_of_the_next_month_closes_the_alert_at_the_month_end(tmp_path: Path) -> None:
    clock = FrozenClock(ms(local(2026, 12, 4, 12)))
    svc = alert_service(tmp_path, clock)
    msgs, _ = readings(local(2026, 11, 20), 11 * 24 + 12, 1000.0)  # to 1 Dec 11:45
    feed(svc, msgs)
    ((status, _, resolved, value),) = budget(svc)
    assert (status, resolved) == ("resolved", ms(local(2026, 12, 1)))
    assert value is not None
    assert abs(value - 11 * 24 * 100) < 150  # November's use, not December's, not a projection
    svc.stop()
