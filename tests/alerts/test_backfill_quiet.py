"""History being loaded pages nobody: a day of readings that reach the alert engine long after they were taken
(a gateway's backlog, a backfill) moves the alerts exactly as live readings would, but sends no mail; an alert it
left open is told once a live reading confirms it. The real AlertService and its dispatcher, a real SMTP server
(aiosmtpd) and webhook server."""

from __future__ import annotations

import json
from pathlib import Path

from alerts.service import AlertService
from campus.clock import FrozenClock
from ingest.decode import Inbound
from simulators.model import Publication
from tests.support.drive import alert_service, local, simulation
from tests.support.peers import SmtpSink, WebhookServer
from tests.support.servers import wait_for

FAULTS = ["dorm_appliance", "ph_excursion:ta-fountain"]
NOW = local(2026, 3, 11, 12)  # Wednesday noon: a day after the history starts


def feed(svc: AlertService, pubs: list[Publication], received_ms: int | None) -> None:
    """``received_ms``: when the messages reach the engine (None: as they are published, live)."""
    msgs = [Inbound(p.topic, p.payload, p.ts_ms if received_ms is None else received_ms, qos=0) for p in pubs]
    for i in range(0, len(msgs), 200):
        svc.evaluate(msgs[i:i + 200])


def state(svc: AlertService) -> list[tuple[str, str, int, str, int | None]]:
    return sorted((a.rule, a.subject, a.started_ms, a.status, a.resolved_ms) for a in svc.store.query())


def test_a_backfilled_day_sends_no_mail_and_leaves_the_state_live_readings_would(tmp_path: Path) -> None:
    now_ms = int(NOW.timestamp() * 1000)
    history = list(simulation(local(2026, 3, 10, 8), 24, FAULTS).publications())
    live = alert_service(tmp_path / "live", FrozenClock(now_ms))  # the same day as it happened, for reference
    feed(live, history, None)
    expected = state(live)
    kettle = [a for a in live.store.query() if a.rule == "dorm-appliance"]
    assert kettle
    assert all(a.status == "resolved" for a in kettle)  # raised and recovered: two mails a day, live
    assert any(n.channel == "email" for a in kettle for n in live.store.notices(a.id))
    live.stop()

    with SmtpSink() as smtp, WebhookServer() as hooks:
        svc = alert_service(tmp_path / "backfill", FrozenClock(now_ms), peers=(hooks.port, smtp.port))
        svc.dispatcher.start()
        try:
            feed(svc, history, now_ms)  # the whole day arrives now
            assert state(svc) == expected  # the state is what live readings would have left
            assert [n for a in svc.store.query() for n in svc.store.notices(a.id)] == []
            ph = svc.store.open_for("yucai", "purified-ph", "ta-fountain")  # a direct-drinking fountain
            assert ph is not None
            assert ph.next_escalation_ms is None  # nobody told, nobody to escalate to yet

            # a live reading still out of range confirms it: told now, to whoever is on duty now
            ts = now_ms
            reading = Publication(ts, "campus/yucai/ta-fountain/reading", json.dumps(
                {"ts": ts // 1000, "values": {"ph": 9.4, "turbidity_ntu": 0.3, "free_chlorine_mgl": 0.4}}).encode(),
                "ta-fountain")
            feed(svc, [reading], None)
            wait_for(lambda: any("pH" in m.subject for m in smtp.received), 20, "the pH mail")
            wait_for(lambda: all(n.status != "pending" for a in svc.store.query()
                                 for n in svc.store.notices(a.id)), 20, "every notice sent")
            assert [(m.to, "pH" in m.subject) for m in smtp.received] == [(["zhao@yucai.edu.cn"], True)]
            assert not any("kettle" in h.body.get("rule", "") or h.body.get("rule") == "dorm-appliance"
                           for h in hooks.received)
            confirmed = svc.store.get(ph.id)
            assert (confirmed.quiet, confirmed.status) == (0, "active")
            assert confirmed.next_escalation_ms is not None  # and escalates from now while nobody acknowledges
        finally:
            svc.stop()
