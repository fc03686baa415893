"""Two ``meterwatch serve`` processes (two API hosts: separate data directories) on one ``[state] url``, a real
PostgreSQL and a real Mosquitto: a token made through one works on the other, a device added on one is stored
through the other; both hosts' alert engines watch the campus, one evaluates it (the site's lease), so a
drinking-water excursion raises one alert and one message, and the alert acknowledged on one host is
acknowledged on the other; and PostgreSQL stopped for 30 s makes the API answer 503 with the reason while
ingest goes on storing readings, and everything works again without a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest

from alerts.store import AlertStore
from api.tokens import Role, TokenStore
from campus.db import DataDir
from campus.model import load_campus
from tests.support.drive import evaluated_up_to, last_word, local, publish, roster_text, simulation
from tests.support.paths import ROOT, SAMPLE
from tests.support.peers import SmtpSink, WebhookServer
from tests.support.servers import Mosquitto, Postgres, free_port, stop_process, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.fault]

SITE = load_campus(SAMPLE).site.id
OUTAGE_S = 30


class Host:
    """One ``meterwatch serve`` with a data directory of its own and the shared ``[state] url``."""

    def __init__(self, root: Path, name: str, state_url: str, broker: str, roster: Path) -> None:
        self.name, self.root, self.port = name, root, free_port()
        self.data = root / "data"
        root.mkdir(parents=True)
        self.config = root / "meterwatch.toml"
        self.config.write_text(
            f'data_dir = "{self.data}"\n'
            f'[mqtt]\nurl = "{broker}"\nclient_id = "mw-{name}"\n'
            f'[api]\nport = {self.port}\n[campus]\nfile = "{SAMPLE}"\n'
            f'[alerts]\nroster_file = "{roster}"\nclient_id = "alerts-{name}"\nfresh_s = 0\nmqtt_publish = false\n')
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "METERWATCH_STATE__URL": state_url}  # not in the file
        self.proc: subprocess.Popen[bytes] | None = None
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)

    def start(self) -> None:
        with (self.root / "serve.log").open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--config", str(self.config)],
                                         cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=self.env)
        wait_for(lambda: self.health()["mqtt_connected"], 60, f"host {self.name} serving and subscribed")

    def health(self) -> dict[str, object]:
        return dict(self.client.get("/api/v1/health").json())

    def call(self, method: str, path: str, token: str, **kw: object) -> httpx.Response:
        return self.client.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kw)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None
        self.client.close()

    @property
    def log(self) -> str:
        return (self.root / "serve.log").read_text(errors="replace")


@dataclass
class Cluster:
    pg: Postgres
    broker: Mosquitto
    a: Host
    b: Host
    admin: str
    url: str
    smtp: SmtpSink


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("two-hosts")
    pg, broker = Postgres(root / "pg"), Mosquitto(root / "mosquitto")
    pg.start()
    broker.start()
    url = pg.database()
    tokens = TokenStore(DataDir(root, url).shared)  # as `meterwatch token create` does on either host
    admin = tokens.create("后勤管理员", Role.ADMIN)
    tokens.close()
    with ExitStack() as peers:
        hooks, smtp = peers.enter_context(WebhookServer()), peers.enter_context(SmtpSink())
        roster = root / "roster.yaml"
        roster.write_text(roster_text(hooks.port, smtp.port), encoding="utf-8")
        a, b = Host(root / "a", "a", url, broker.url, roster), Host(root / "b", "b", url, broker.url, roster)
        try:
            a.start()
            b.start()
            yield Cluster(pg, broker, a, b, admin, url, smtp)
        finally:
            a.stop()
            b.stop()
            broker.stop()
            pg.remove()
    for host in (a, b):
        assert pg.password not in host.log, f"host {host.name} logged the state database's password"


def _publish(broker: Mosquitto, device: str, volume: float) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{device}-{volume}")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        info = client.publish(f"campus/{SITE}/{device}/reading",
                              json.dumps({"ts": int(time.time() * 1000), "values": {"volume_m3": volume}}), qos=1)
        info.wait_for_publish(10)
        assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


def test_a_token_made_through_one_host_works_on_the_other(cluster: Cluster) -> None:
    made = cluster.a.call("POST", "/api/v1/tokens", cluster.admin, json={"name": "张电工", "role": "electrician"})
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    me = cluster.b.call("GET", "/api/v1/me", token)
    assert me.status_code == 200, me.text
    assert me.json()["name"] == "张电工"
    assert cluster.b.call("DELETE", "/api/v1/tokens/张电工", cluster.admin).status_code == 204
    assert cluster.a.call("GET", "/api/v1/me", token).status_code == 401


def test_a_device_added_on_one_host_is_stored_through_the_other(cluster: Cluster) -> None:
    building = load_campus(SAMPLE).buildings[0].id
    added = cluster.a.call("POST", "/api/v1/devices", cluster.admin,
                           json={"id": "lib-water-9", "kind": "water", "building": building, "name": "图书馆新水表"})
    assert added.status_code == 201, added.text
    # the other host's ingest learns of it from the shared registry (it looks again every second)
    wait_for(lambda: cluster.b.call("GET", "/api/v1/devices/lib-water-9", cluster.admin).status_code == 200, 10,
             "the device known to host b")
    _publish(cluster.broker, "lib-water-9", 12.5)
    readings = wait_for(lambda: (r := cluster.b.call("GET", "/api/v1/devices/lib-water-9/readings", cluster.admin))
                        .status_code == 200 and r.json()["count"] >= 1 and r.json(), 30, "the reading stored by b")
    assert readings["count"] == 1


def test_a_drinking_water_excursion_raises_one_alert_and_one_message(cluster: Cluster) -> None:
    """Both hosts' alert engines get every reading; the one holding the site's lease evaluates them."""
    pubs = list(simulation(local(2026, 3, 10, 9), 2, ["ph_excursion:ta-fountain"]).publications())
    word, word_ms = last_word(pubs)
    publish(cluster.broker.port, [*pubs, word])
    wait_for(lambda: evaluated_up_to(cluster.a.data, word.device, word_ms, state=cluster.url), 90,
             "the site's holder evaluated everything")
    listed = cluster.a.call("GET", "/api/v1/alerts", cluster.admin).json()
    (alert,) = [a for a in listed if a["device"] == "ta-fountain"]
    store = AlertStore(DataDir(cluster.a.data, cluster.url).shared_alerts)
    try:
        wait_for(lambda: [n.status for n in store.notices(alert["id"]) if n.channel == "email"] == ["sent"], 30,
                 "the one e-mail sent")
        assert store.failure_count() == 0
    finally:
        store.close()
    assert len(cluster.smtp.received) == 1
    acked = cluster.b.call("POST", f"/api/v1/alerts/{alert['id']}/ack", cluster.admin, json={"comment": "在路上"})
    assert acked.status_code == 200, acked.text
    seen = cluster.a.call("GET", f"/api/v1/alerts/{alert['id']}", cluster.admin).json()
    assert (seen["status"], seen["ack_comment"]) == ("acknowledged", "在路上")


def test_the_state_database_away_for_30_s(cluster: Cluster) -> None:
    """503 with the reason (never the password) for what needs the state; /health says so; readings of known
    devices are still stored; once PostgreSQL is back, the same processes answer again."""
    stored = int(cluster.b.health()["stored"])  # type: ignore[call-overload]
    cluster.pg.stop()
    back_at = time.monotonic() + OUTAGE_S
    try:
        for host in (cluster.a, cluster.b):
            answer = host.call("GET", "/api/v1/devices", cluster.admin)
            assert answer.status_code == 503, answer.text
            assert "state database" in answer.json()["detail"]
            assert cluster.pg.password not in answer.text
            assert str(cluster.pg.port) not in answer.text
        health = wait_for(lambda: (h := cluster.b.health()) and not h["state_reachable"] and h, 10,
                          "/health telling the state database is away")
        assert health["status"] == "degraded"
        assert health["state_backend"] == "postgresql"
        assert "state database" in str(health["state_error"])
        for secret in (cluster.pg.password, f":{cluster.pg.port}", cluster.pg.user):  # /health is open to anyone
            assert secret not in json.dumps(health)
        _publish(cluster.broker, "lib-water-9", 13.0)  # a device the registry in memory knows
        wait_for(lambda: int(cluster.b.health()["stored"]) > stored, 30,  # type: ignore[call-overload]
                 "the reading stored while the state database is away")
        time.sleep(max(0.0, back_at - time.monotonic()))  # the outage lasts its 30 s
    finally:
        cluster.pg.start()
    for host in (cluster.a, cluster.b):
        wait_for(lambda host=host: host.call("GET", "/api/v1/devices", cluster.admin).status_code == 200,  # type: ignore[misc]
                 30, f"host {host.name} answering again")
    assert cluster.b.health()["state_reachable"] is True
    made = cluster.b.call("POST", "/api/v1/tokens", cluster.admin, json={"name": "after", "role": "viewer"})
    assert made.status_code == 201, made.text
    assert cluster.a.call("GET", "/api/v1/me", made.json()["token"]).status_code == 200
    readings = cluster.b.call("GET", "/api/v1/devices/lib-water-9/readings", cluster.admin).json()
    assert readings["count"] == 2
