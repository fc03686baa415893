"""Alerts under faults, in the production layout (ingest worker process + alert process):
the time-series store down, and the alert process killed mid-stream."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from alerts.config import AlertSettings
from alerts.process import AlertProcess, AlertProcessConfig
from alerts.store import AlertStore
from campus.db import DataDir
from ingest.config import MqttSettings, StoreSettings
from tests.support.drive import evaluated_up_to, last_word, local, publish, roster_text, simulation
from tests.support.harness import make_service, start_connected
from tests.support.peers import SmtpSink, WebhookServer
from tests.support.servers import Influx, Mosquitto, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.fault]


def _alert_process(data: Path, broker: Mosquitto, roster: Path) -> AlertProcess:
    # a day of March 2026 published now, as if live (readings that old would otherwise page nobody)
    settings = AlertSettings(roster_file=roster, tick_s=0.2, retry_initial_s=0.5, fresh_s=0)
    return AlertProcess(AlertProcessConfig(data, MqttSettings(url=broker.url), settings, "zh-CN", "WARNING"))


def test_alerts_reach_people_while_the_store_is_down(tmp_path: Path, mosquitto: Mosquitto, influx: Influx) -> None:
    with WebhookServer() as hooks, SmtpSink() as smtp:
        roster = tmp_path / "roster.yaml"
        roster.write_text(roster_text(hooks.port, smtp.port), encoding="utf-8")
        data = tmp_path / "data"
        ingest = start_connected(make_service(data, mosquitto.url, StoreSettings(
            backend="influxdb", url=influx.url, database="mw", timeout_s=2)))
        alerts = _alert_process(data, mosquitto, roster)
        alerts.start()
        try:
            influx.stop()  # the alert process is subscribed: start() returns once it is
            publish(mosquitto.port, simulation(local(2026, 3, 10, 12), 1, ["ph_excursion:ta-fountain"]).publications())
            wait_for(lambda: any(h.path == "/duty/zhao" for h in hooks.received), 30, "webhook with InfluxDB down")
            wait_for(lambda: ingest.spool.depth > 0 and ingest.health().store_reachable is False, 10,
                     "readings spooled and the store reported down while InfluxDB is down")
        finally:
            alerts.stop()
            ingest.stop()


def test_alert_process_killed_mid_stream_misses_nothing_and_raises_nothing_twice(tmp_path: Path,
                                                                                 mosquitto: Mosquitto) -> None:
    with WebhookServer() as hooks, SmtpSink() as smtp:
        roster = tmp_path / "roster.yaml"
        roster.write_text(roster_text(hooks.port, smtp.port, to_leader_s=600, to_head_s=1200), encoding="utf-8")
        data = tmp_path / "data"
        make_service(data, mosquitto.url).stop()  # seeds the campus registry
        alerts = _alert_process(data, mosquitto, roster)
        alerts.start()  # returns once it is subscribed
        try:
            # a school day: a kettle in a dorm room at 20:00, canteen gas on from 21:00, a leak all night
            pubs = list(simulation(local(2026, 3, 10, 18), 12, ["dorm_appliance", "gas_after_hours",
                                                                  "water_leak"]).publications())
            third = len(pubs) // 3
            publish(mosquitto.port, pubs[:third])
            for chunk in (pubs[third:2 * third], pubs[2 * third:]):
                assert alerts._proc is not None
                os.kill(alerts._proc.pid, signal.SIGKILL)  # mid-stream: the next chunk arrives while it is down
                publish(mosquitto.port, chunk)
                wait_for(lambda: alerts.alive, 30, "alert process restarted")
            store = AlertStore(DataDir(data).alerts)
            want = {("dorm-appliance", "d1-r101"), ("canteen-gas-closed", "c1-gas"), ("night-leak", "d1-water")}
            wait_for(lambda: want <= {(a.rule, a.subject) for a in store.query()}, 60, "the three alerts")
            word, word_ms = last_word(pubs)  # once it is evaluated, so is everything redelivered before it
            publish(mosquitto.port, [word])
            wait_for(lambda: evaluated_up_to(data, word.device, word_ms), 60, "every message evaluated")
            alerts_seen = [(a.rule, a.subject) for a in store.query() if a.rule != "device-stale"]
            assert sorted(alerts_seen) == sorted(want), alerts_seen
            assert alerts.restarts == 2
            raised = [n for n in store.notices() if n.event == "raised" and n.channel == "email"]
            assert sorted(n.alert_id for n in raised) == sorted({n.alert_id for n in raised})
            store.close()
        finally:
            alerts.stop()
