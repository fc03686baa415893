"""Two alert processes (``meterwatch alerts run``, real processes, each with its own MQTT session on a real
Mosquitto) configured for the same site: the one holding the site's lease evaluates, the other waits holding
nothing, and each fault raises one alert and one message. SIGKILL the holder: the other takes the lease within
the failover time (campus/leases.py FAILOVER_S) and the unacknowledged alert escalates once, on time.

Once on one machine (a shared data directory: the lease is a flock) and once as two hosts (their own data
directories and one [state] url on a real PostgreSQL: the lease is an advisory lock)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from alerts.store import AlertStore
from campus.db import DataDir
from campus.leases import FAILOVER_S
from campus.model import load_campus
from campus.registry import Registry
from tests.support.drive import evaluated_up_to, last_word, local, publish, roster_text, simulation
from tests.support.paths import ROOT, SAMPLE
from tests.support.peers import SmtpSink, WebhookServer
from tests.support.servers import Mosquitto, stop_process, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.fault]

TO_LEADER_S = 20  # the alert climbs to the crew leader this long after it is raised, unacknowledged


class Runner:
    """``meterwatch alerts run`` for site yucai, its log in its own file."""

    def __init__(self, root: Path, name: str, data: Path, state: str | None, broker: Mosquitto, roster: Path) -> None:
        self.name, self.log = name, root / f"{name}.log"
        self.config = root / f"{name}.toml"
        self.config.write_text(
            f'data_dir = "{data}"\nlog_level = "INFO"\n[mqtt]\nurl = "{broker.url}"\n'
            f'[alerts]\nroster_file = "{roster}"\ntick_s = 0.2\nsites = ["yucai"]\nclient_id = "alerts-{name}"\n'
            'fresh_s = 0\nmqtt_publish = false\n', encoding="utf-8")
        self.env = {**os.environ, "PYTHONPATH": str(ROOT)}
        if state is not None:
            self.env["METERWATCH_STATE__URL"] = state
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "cli", "alerts", "run", "--config", str(self.config)],
                                         cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=self.env)

    def said(self, words: str) -> bool:
        return words in self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None:
            stop_process(self.proc, sig)
            self.proc = None


@pytest.fixture(params=["one machine", "two hosts"])
def pair(request: pytest.FixtureRequest, tmp_path: Path, mosquitto: Mosquitto
         ) -> Iterator[tuple[Runner, Runner, Callable[[], AlertStore], Callable[[str, int], bool], SmtpSink]]:
    two_hosts = request.param == "two hosts"
    state = request.getfixturevalue("postgres").database() if two_hosts else None
    data_a = tmp_path / "a"
    data_b = tmp_path / "b" if two_hosts else data_a
    registry = Registry(DataDir(data_a, state).shared)
    registry.seed(load_campus(SAMPLE))
    registry.close()
    with WebhookServer() as hooks, SmtpSink() as smtp:
        roster = tmp_path / "roster.yaml"
        roster.write_text(roster_text(hooks.port, smtp.port, to_leader_s=TO_LEADER_S, to_head_s=3600),
                          encoding="utf-8")
        a = Runner(tmp_path, "a", data_a, state, mosquitto, roster)
        b = Runner(tmp_path, "b", data_b, state, mosquitto, roster)
        try:
            yield (a, b, lambda: AlertStore(DataDir(data_a, state).shared_alerts),
                   lambda device, ts: evaluated_up_to(data_a, device, ts, state=state), smtp)
        finally:
            a.stop()
            b.stop()


def test_one_of_two_evaluates_and_the_other_takes_over_when_it_is_killed(
        pair: tuple[Runner, Runner, Callable[[], AlertStore], Callable[[str, int], bool], SmtpSink],
        mosquitto: Mosquitto) -> None:
    a, b, open_store, evaluated, smtp = pair
    a.start()
    wait_for(lambda: a.said("lease alerts:yucai taken"), 60, "a holding site yucai")
    b.start()
    wait_for(lambda: b.said("is evaluated by another alert process"), 60, "b waiting for site yucai")

    pubs = list(simulation(local(2026, 3, 10, 20), 4, ["gas_after_hours"]).publications())  # critical
    word, word_ms = last_word(pubs)
    publish(mosquitto.port, [*pubs, word])
    wait_for(lambda: evaluated(word.device, word_ms), 60, "the holder evaluated everything")
    store = open_store()
    try:
        (alert,) = [a for a in store.query() if a.subject == "c1-gas"]  # one alert, not one per process
        assert (alert.rule, alert.status) == ("canteen-gas-closed", "active")
        wait_for(lambda: [n.status for n in store.notices(alert.id) if n.channel == "email"] == ["sent"], 30,
                 "the one e-mail sent")
        assert len(smtp.received) == 1
        assert store.failure_count() == 0
        assert not b.said("lease alerts:yucai taken")  # b evaluated nothing while a held the site

        assert a.proc is not None
        a.proc.send_signal(signal.SIGKILL)  # the holder dies, its alert unacknowledged
        a.proc.wait(10)
        killed = time.monotonic()
        wait_for(lambda: b.said("lease alerts:yucai taken"), FAILOVER_S, "b taking site yucai over")
        took_s = time.monotonic() - killed
        assert took_s <= FAILOVER_S
        escalated = wait_for(lambda: [e for e in store.events(alert.id) if e.type == "escalated"], TO_LEADER_S + 30,
                             "the alert escalated by b")
        wait_for(lambda: all(n.status == "sent" for n in store.notices(alert.id) if n.channel == "email"), 30,
                 "the escalation's e-mail sent")
        assert len(escalated) == 1
        assert store.get(alert.id).level == 1
        assert [n.event for n in store.notices(alert.id) if n.channel == "email"] == ["raised", "escalated"]
        assert len(smtp.received) == 2
    finally:
        store.close()
