"""A district's alert processes split by site ([alerts] sites): two real alert processes, each with its own MQTT
session on a real Mosquitto, one owning 育才 (yucai), the other 明德 (mingde), sharing the data directory. The same
fault in both sites: each site's alert is raised once, by its own process, and its people are told once."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.config import AlertSettings
from alerts.process import AlertProcess, AlertProcessConfig
from alerts.store import AlertStore
from campus.db import DataDir
from campus.model import load_sites
from campus.registry import Registry
from ingest.config import MqttSettings
from tests.support.district import at_site, district_dir
from tests.support.drive import evaluated_up_to, last_word, local, publish, roster_text, simulation
from tests.support.peers import SmtpSink, WebhookServer
from tests.support.servers import Mosquitto, wait_for

pytestmark = pytest.mark.integration


def _owner(data: Path, broker: Mosquitto, roster: Path, site: str) -> AlertProcess:
    # a morning of March 2026 published now, as if live (readings that old would otherwise page nobody)
    settings = AlertSettings(roster_file=roster, tick_s=0.2, sites=[site], client_id=f"alerts-{site}",
                             fresh_s=0)
    return AlertProcess(AlertProcessConfig(data, MqttSettings(url=broker.url), settings, "zh-CN", "WARNING"))


def test_two_alert_processes_own_different_sites_and_raise_each_alert_once(tmp_path: Path,
                                                                           mosquitto: Mosquitto) -> None:
    data = tmp_path / "data"
    data.mkdir()
    registry = Registry(DataDir(data).state)
    registry.seed_all(load_sites(district_dir(tmp_path)))
    registry.close()
    with WebhookServer() as hooks, SmtpSink() as smtp:
        roster = tmp_path / "roster.yaml"
        roster.write_text(roster_text(hooks.port, smtp.port, to_leader_s=600, to_head_s=1200), encoding="utf-8")
        owners = {site: _owner(data, mosquitto, roster, site) for site in ("yucai", "mingde")}
        for p in owners.values():
            p.start()  # returns once subscribed
        try:
            pubs = list(simulation(local(2026, 3, 10, 9), 2, ["ph_excursion:ta-fountain"]).publications())
            word, word_ms = last_word(pubs)
            for site in ("yucai", "mingde"):
                publish(mosquitto.port, at_site([*pubs, word], site))
            store = AlertStore(DataDir(data).alerts)
            for site in ("yucai", "mingde"):
                wait_for(lambda s=site: evaluated_up_to(data, word.device, word_ms, s), 60, f"{site} evaluated")
            raised = [(a.site, a.rule, a.subject) for a in store.query() if a.subject == "ta-fountain"]
            # ta-fountain is a direct-drinking fountain: its pH rule is CJ 94-2005's purified-ph
            assert sorted(raised) == [("mingde", "purified-ph", "ta-fountain"), ("yucai", "purified-ph", "ta-fountain")]
            by_id = {a.id: a.site for a in store.query()}
            wait_for(lambda: {n.status for n in store.notices() if n.channel == "email"} == {"sent"}, 30,
                     "every e-mail sent")
            mails = [n for n in store.notices() if n.channel == "email" and n.event == "raised"]
            assert sorted(by_id[n.alert_id] for n in mails) == ["mingde", "yucai"]  # one on-duty person each
            assert len(smtp.received) == 2
            assert store.failure_count() == 0  # neither process touched the other's site
            store.close()
        finally:
            for p in owners.values():
                p.stop()
