"""End to end through a real Mosquitto: simulated faults → ingest and the alert service → a real
local webhook server and a real local SMTP server, addressed to whoever is on duty for the
zone at that simulated time; escalation, acknowledgement from the message's link, clearing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from alerts.config import AlertSettings
from alerts.service import AlertService
from alerts.store import Notice
from api.app import create_app
from app.settings import Settings
from ingest.config import MqttSettings
from ingest.mqtt import shut
from tests.support.drive import local, publish, roster_text, simulation
from tests.support.harness import make_service, start_connected, token_headers
from tests.support.peers import SmtpSink, WebhookServer
from tests.support.servers import Mosquitto, wait_for

pytestmark = pytest.mark.integration


def _alert_service(data_dir: Path, broker: Mosquitto, roster: Path) -> AlertService:
    # the tests publish a day of March 2026 now, as if it were live (fresh_s = 0): readings that old would otherwise
    # be history (they move alerts but page nobody: tests/alerts/test_backfill_quiet.py)
    return AlertService(data_dir=data_dir, mqtt=MqttSettings(url=broker.url),
                        settings=AlertSettings(roster_file=roster, tick_s=0.2, retry_initial_s=0.5,
                                               fresh_s=0))


def test_fault_reaches_the_person_on_duty_escalates_until_acked_and_resolves(tmp_path: Path,
                                                                             mosquitto: Mosquitto) -> None:
    with WebhookServer() as hooks, SmtpSink() as smtp:
        roster = tmp_path / "roster.yaml"
        roster.write_text(roster_text(hooks.port, smtp.port, to_leader_s=3, to_head_s=8), encoding="utf-8")
        data = tmp_path / "data"
        ingest = start_connected(make_service(data, mosquitto.url))
        alerts = _alert_service(data, mosquitto, roster)
        alerts.start()
        assert alerts.mqtt is not None
        assert alerts.mqtt.wait_connected(10)
        app = create_app(Settings(data_dir=data), service=ingest, alerts=alerts)
        displays: list[tuple[str, dict[str, object]]] = []  # an on-site display subscribed to the alerts
        display = paho.Client(CallbackAPIVersion.VERSION2, client_id="display")
        display.on_message = lambda c, u, m: displays.append((m.topic, json.loads(m.payload)))
        display.connect("127.0.0.1", mosquitto.port)
        display.subscribe("campus/yucai/alerts/#", qos=1)
        display.loop_start()
        try:
            # Tuesday 10 March 2026, a school day: pH off at a south-zone fountain from noon, canteen gas
            # left on from 21:00 in the north zone
            sim = simulation(local(2026, 3, 10, 12), 18, ["gas_after_hours", "ph_excursion:ta-fountain"])
            split = local(2026, 3, 10, 23).timestamp() * 1000
            pubs = list(sim.publications())
            publish(mosquitto.port, [p for p in pubs if p.ts_ms < split])

            # pH at 12:xx in zone-south → zhao (day shift); gas at 21:30 in zone-north → li (night shift)
            wait_for(lambda: any(m.to == ["zhao@yucai.edu.cn"] and "pH" in m.subject for m in smtp.received), 20,
                     "pH e-mail to zhao")
            wait_for(lambda: any(m.to == ["li@yucai.edu.cn"] and "燃气" in m.subject for m in smtp.received), 20,
                     "gas e-mail to li")
            gas_mail = next(m for m in smtp.received if m.to == ["li@yucai.edu.cn"] and "燃气" in m.subject)
            assert "第一食堂" in gas_mail.body
            assert "限值" in gas_mail.body
            assert "2026-03-10 21:" in gas_mail.body
            assert not any(m.to == ["wang@yucai.edu.cn"] for m in smtp.received), "wang is off duty at night"
            hook = next(h for h in hooks.received if h.path == "/duty/li")
            assert hook.body["event"] == "raised"
            assert hook.body["severity"] == "critical"
            gas_id = int(hook.body["alert_id"])

            wait_for(lambda: any(t == "campus/yucai/alerts/critical" and p["alert_id"] == gas_id
                                 and p["event"] == "raised" for t, p in displays), 10, "alert on the display topic")

            # nobody acknowledges: after 3 s the crew leader hears of it
            wait_for(lambda: any(h.path == "/duty/chen" and h.body.get("event") == "escalated"
                                 for h in hooks.received), 15, "escalation to chen")
            # li acknowledges with the link in his e-mail: escalation stops before the head of office
            link = re.search(r"(/api/v1/alerts/\d+/ack\?by=li&exp=\d+&sig=\w+)", gas_mail.body)
            assert link is not None, gas_mail.body
            with TestClient(app) as client:  # the link needs no token: it is signed for li
                page = client.get(link.group(1))  # what a mail scanner does: it changes nothing
                assert page.status_code == 200
                assert "<form method=\"post\"" in page.text
                assert alerts.desk.store.get(gas_id).status == "active"
                confirmed = client.post(link.group(1))  # the page's button
                assert confirmed.status_code == 200
                assert "已由 李强 确认" in confirmed.text  # by name, never the roster id
                assert client.get(link.group(1).replace("sig=", "sig=0")).status_code == 403
                assert client.post(link.group(1).replace("sig=", "sig=0")).status_code == 403
                assert client.get(f"/api/v1/alerts/{gas_id}").status_code == 401
                body = client.get(f"/api/v1/alerts/{gas_id}", headers=token_headers(data)).json()
                assert body["status"] == "acknowledged"
                assert body["acknowledged_by"] == "li"
                assert body["escalation_level"] == 1
                assert body["next_escalation"] is None
            # the head of office (liu) was due 5 s after the leader's escalation: once a tick has run past that,
            # the acknowledgement has held (escalation writes its notices in the tick's own transaction)
            leader_ms = next(e.ts_ms for e in alerts.store.events(gas_id) if e.type == "escalated")
            wait_for(lambda: (alerts.ticked_ms or 0) > leader_ms + 5_000, 20, "a tick past the head's due time")
            assert not any(n.recipient == "liu" for n in alerts.store.notices(gas_id)), "escalated past an ack"
            assert not any(h.path == "/duty/liu" for h in hooks.received)
            assert not any(m.to == ["liu@yucai.edu.cn"] for m in smtp.received)

            # the gas stops at 05:00; 30 min of clear readings resolve it, and both people told hear so
            publish(mosquitto.port, [p for p in pubs if p.ts_ms >= split])
            wait_for(lambda: alerts.store.get(gas_id).status == "resolved", 30, "gas alert resolved")
            for who in ("li", "chen"):
                wait_for(lambda who=who: any(h.path == f"/duty/{who}" and h.body.get("event") == "resolved"
                                             for h in hooks.received), 15, f"resolved notice to {who}")
            wait_for(lambda: any(m.to == ["li@yucai.edu.cn"] and "已恢复" in m.subject for m in smtp.received), 15,
                     "resolved e-mail to li")
            resolved = next(m for m in smtp.received if m.to == ["li@yucai.edu.cn"] and "已恢复" in m.subject)
            assert "条件已解除" in resolved.body or "condition cleared" in resolved.body
            types = [e.type for e in alerts.store.events(gas_id)]
            assert types[0] == "raised"
            assert "escalated" in types
            assert "acknowledged" in types
            assert types.index("resolved") > types.index("acknowledged")
            # one alert per (rule, device), however many readings repeated it
            gas_alerts = alerts.store.query(category="safety", severity="critical")
            assert [(a.rule, a.subject) for a in gas_alerts] == [("canteen-gas-closed", "c1-gas")]
        finally:
            shut(display)
            alerts.stop()
            ingest.stop()


def test_a_dead_channel_is_retried_and_never_blocks_the_others(tmp_path: Path, mosquitto: Mosquitto) -> None:
    with WebhookServer() as hooks, SmtpSink() as smtp:
        hooks.failing = True
        roster = tmp_path / "roster.yaml"
        roster.write_text(roster_text(hooks.port, smtp.port), encoding="utf-8")
        data = tmp_path / "data"
        make_service(data, mosquitto.url).stop()  # seeds the campus registry
        alerts = _alert_service(data, mosquitto, roster)
        alerts.start()
        try:
            assert alerts.mqtt is not None
            assert alerts.mqtt.wait_connected(10)
            sim = simulation(local(2026, 3, 10, 12), 2, ["ph_excursion:ta-fountain"])
            publish(mosquitto.port, sim.publications())
            wait_for(lambda: any(m.to == ["zhao@yucai.edu.cn"] for m in smtp.received), 20, "e-mail despite webhook")
            alert = alerts.store.query()[0]
            wait_for(lambda: any(e.type == "notify_retry" for e in alerts.store.events(alert.id)), 10,
                     "a recorded failed attempt")
            hooks.failing = False
            wait_for(lambda: any(h.path == "/duty/zhao" for h in hooks.received), 20, "webhook after the outage")

            def zhaos() -> dict[str, Notice]:
                return {n.channel: n for n in alerts.store.notices(alert.id) if n.recipient == "zhao"}

            # the dispatcher records a send after the server answered: wait for the record itself
            wait_for(lambda: {n.status for n in zhaos().values()} == {"sent"}, 20, "both of zhao's notices sent")
            notices = zhaos()
            assert notices["webhook"].status == "sent"
            assert notices["webhook"].attempts >= 2
            assert notices["email"].attempts == 1
        finally:
            alerts.stop()
