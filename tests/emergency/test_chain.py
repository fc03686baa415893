"""The technical drill's path check through a real Mosquitto started with the files ``meterwatch deploy mosquitto``
writes (passwords and ACL), the real gateway process (a child) reading a simulated meter, meterwatch's ingest
(storing into SQLite, through its worker process) and the alert service, each with its own broker account.

One broker, ingest, alert service and gateway serve the module; the revoked gateway's process is the second test's
own. Every wait is for an exact condition, bounded; the check itself waits on events."""

from __future__ import annotations

import getpass
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.service import AlertService
from api.app import create_app
from app.settings import load_settings
from campus.contract import DRILL_ID_PATTERN, Kind, parse_drill_request, parse_item
from campus.db import DataDir
from campus.errors import PayloadError
from campus.model import Campus, load_campus
from campus.registry import Registry
from deploy.credentials import Credentials
from deploy.mosquitto import deploy_mosquitto
from emergency.chain import SERVER, ChainCheck, ChainResult
from gateway.config import load_gateway_settings
from gateway.process import GatewayProcess
from ingest.config import IngestSettings, StoreSettings
from ingest.decode import Drill, Inbound
from ingest.pipeline import Pipeline
from ingest.service import IngestService
from simulators.meters import SimulatedGateway
from tests.support.harness import token_headers
from tests.support.paths import ROOT
from tests.support.servers import ConfiguredMosquitto, free_port, stop_process, wait_for

SITE, GW, REVOKED, NEVER = "drill", "gw-a", "gw-r", "gw-n"
WEEK_S = 7 * 86_400  # each meter is read once at the gateway's start, then not for days: the store stays still
SERIAL = {"baud": 9600, "parity": "E", "timeout_ms": 300, "retries": 1}
TIMEOUT_S = 10.0  # a check that passes takes well under a second; one that fails waits this long
SILENT_S = 2.0  # a check expected to fail for want of an answer


def campus_doc(tmp: Path) -> dict[str, Any]:
    def meter(device: str, gateway: str, bus: str, address: str) -> dict[str, Any]:
        return {"id": device, "kind": "electricity", "building": "b1", "gateway": gateway, "interval_s": WEEK_S,
                "initial_register": 1200, "meter": {"bus": bus, "protocol": "dlt645", "address": address}}

    return {
        "site": {"id": SITE, "name": "演练校区", "timezone": "Asia/Shanghai"},
        "buildings": [{"id": "b1", "name": "一号宿舍楼", "department": "dormitory"}],
        "zones": [{"id": "z1", "name": "北区", "buildings": ["b1"]}],
        "gateways": [{"id": gw, "building": "b1", "buses": [{"name": "rs485-1", "serial": str(tmp / f"tty-{gw}"),
                                                             **SERIAL}]} for gw in (GW, REVOKED, NEVER)],
        "devices": [meter("e1", GW, "rs485-1", "000000001234"), meter("e2", REVOKED, "rs485-1", "000000005678"),
                    meter("e3", NEVER, "rs485-1", "000000000003"),
                    {"id": "m1", "kind": "water", "building": "b1", "manual": True, "interval_s": 86_400},
                    {"id": "x1", "kind": "electricity", "building": "b1", "gateway": "gw-other"}],
    }


@dataclass
class Path_:
    tmp: Path
    config: Path
    campus_file: Path
    campus: Campus
    broker: ConfiguredMosquitto
    secrets: dict[str, str]
    ingest: IngestService
    alerts: AlertService
    credentials: Credentials
    check: ChainCheck
    port: int

    def gateway(self, gateway_id: str) -> GatewayChild:
        return GatewayChild(self, gateway_id)


class GatewayChild:
    """``python -m cli gateway --config FILE`` as gateway ``gateway_id`` with its credentials; its log kept."""

    def __init__(self, p: Path_, gateway_id: str) -> None:
        self.dir = p.tmp / gateway_id
        self.dir.mkdir(exist_ok=True)
        self.config = self.dir / "gateway.toml"
        self.config.write_text(
            f'data_dir = "{self.dir / "data"}"\n[mqtt]\nurl = "mqtt://127.0.0.1:{p.port}"\n'
            f'username = "{gateway_id}"\npassword = "{p.secrets[gateway_id]}"\n[campus]\nfile = "{p.campus_file}"\n'
            f'[gateway]\nid = "{gateway_id}"\nbackfill_days = 0\n', encoding="utf-8")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> GatewayChild:
        with (self.dir / "gateway.log").open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "cli", "gateway", "--config", str(self.config)],
                                         cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, signal.SIGTERM, 30)
            self.proc = None

    def log(self, tail: int = 3000) -> str:
        path = self.dir / "gateway.log"
        return path.read_text(encoding="utf-8", errors="replace")[-tail:] if path.exists() else ""


def _config(tmp: Path, port: int) -> Path:
    mq = tmp / "mosquitto"
    mq.mkdir()
    config = tmp / "meterwatch.toml"
    config.write_text(f"""
data_dir = "{tmp / 'data'}"
[mqtt]
url = "mqtt://127.0.0.1:{port}"
username = "mw-ingest"
password = "ingest-secret-1"
client_id = "mw-ingest"
[alerts]
username = "mw-alerts"
password = "alerts-secret-1"
[broker]
host = "127.0.0.1"
port = {port}
tls_port = 0
config_dir = "{mq / 'conf'}"
persistence_location = "{mq}"
user = "{getpass.getuser()}"
pid_file = "{mq / 'mosquitto.pid'}"
log_file = "{mq / 'mosquitto.log'}"
[records]
plans_file = "{tmp / 'plans.yaml'}"
""", encoding="utf-8")
    (tmp / "plans.yaml").write_text(PLANS, encoding="utf-8")
    return config


# the drill campus's one plan: a building without power
PLANS = """
plans:
  - id: power-cut
    name: {zh: 停电应急预案, en: Power cut}
    activates: {rules: [bus-silent]}
    steps:
      - {id: confirm, text: {zh: 到配电箱确认停电范围, en: Find out at the board what has no power}, role: on_duty,
         within: 10min}
"""


@pytest.fixture(scope="module")
def path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path_]:
    tmp = tmp_path_factory.mktemp("chain")
    doc = campus_doc(tmp)
    campus_file = tmp / "campus.yaml"
    campus_file.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    campus = load_campus(campus_file)
    port = free_port()
    config = _config(tmp, port)
    conf = load_settings(config)
    data = DataDir(conf.data_dir)
    registry = Registry(data.state)
    registry.seed(campus)
    registry.close()
    credentials = Credentials(data.state)
    secrets = {who: credentials.issue(who) for who in (GW, REVOKED)}  # NEVER: none
    deploy_mosquitto(conf)
    broker = ConfiguredMosquitto(tmp / "mosquitto", tmp / "mosquitto" / "conf" / "mosquitto.conf", port)
    sim = SimulatedGateway(doc, GW, answer_delay_s=0.02)
    gateway: GatewayChild | None = None
    ingest: IngestService | None = None
    alerts: AlertService | None = None
    broker.start()
    try:
        ingest = IngestService(data_dir=conf.data_dir, mqtt=conf.mqtt, store=StoreSettings(),
                               ingest=IngestSettings(retry_max_s=2.0), campus=campus)
        ingest.start()
        alerts = AlertService(data_dir=conf.data_dir, mqtt=conf.mqtt, settings=conf.alerts,
                              plans_file=conf.records.plans_file)
        alerts.start()
        assert ingest.mqtt is not None
        assert alerts.mqtt is not None
        assert ingest.mqtt.wait_connected(15), "ingest did not subscribe with its own account"
        assert alerts.mqtt.wait_connected(15), "the alert service did not subscribe with its own account"
        sim.start()
        check = ChainCheck(ingest.mqtt.channel, credentials, lambda: ingest.registry.campuses, "campus")
        p = Path_(tmp, config, campus_file, campus, broker, secrets, ingest, alerts, credentials, check, port)
        gateway = p.gateway(GW).start()
        try:  # the start read of the meter, stored and seen by the alert engine: from here on nothing moves
            wait_for(lambda: ingest.store.count("e1", Kind.ELECTRICITY) == 1, 45, "the gateway's first reading")
            wait_for(lambda: (alerts.engines[SITE].devices.get("e1") or {}).get("ts"), 15, "the engine saw it")
        except BaseException:
            print(gateway.log())
            raise
        yield p
    finally:
        if gateway is not None:
            gateway.stop()
        sim.stop()
        if alerts is not None:
            alerts.stop()
        if ingest is not None:
            ingest.stop()
        credentials.close()
        broker.stop()


HOSTILE = [b"", b"{", b"null", b"[]", b'"e1"', b"\xff\xfe", b"{" * 5000, b'{"drill":"d","device":"e1"}' + b" " * 600,
           b'{"drill":"a/b","device":"e1"}', b'{"drill":"#","device":"e1"}',
           b'{"drill":"' + b"x" * 41 + b'","device":"e1"}',
           b'{"drill":"d1","device":"nope"}', b'{"drill":"d1","device":"e2"}', b'{"drill":"d1","device":"e1","x":1}',
           b'{"drill":1,"device":"e1"}', b'{"drill":"d1","device":["e1"]}', b'{"drill":"d1","device":"e1\\n"}',
           b'{"drill":"d1"}', b'{"device":"e1"}']


@pytest.mark.integration
def test_a_technical_drill_passes_through_a_gateway_with_credentials_and_stores_nothing(path: Path_) -> None:
    store, engine = path.ingest.store, path.alerts.engines[SITE]
    stored, letters = store.count(site=SITE), path.ingest.dead_letters.count()
    seen, alerts = dict(engine.devices["e1"]), path.alerts.store.counts()
    # hostile requests first, on the gateway's drill topic (the server's account may write there): each is logged
    # and ignored; the gateway answers the real one after them (one connection, in order)
    for body in HOSTILE:
        path.ingest.mqtt.channel.publish(f"campus/{SITE}/{GW}/drill", body)  # type: ignore[union-attr]
    try:
        result = path.check.run(SITE, "e1", "term1-e1", TIMEOUT_S)
    except BaseException:
        print(path.gateway(GW).log())
        raise
    assert result.said is None, result.said
    assert result == ChainResult(SITE, "e1", "term1-e1", GW, True, True, True, None, True, result.rules, None,
                                 result.seconds)
    assert result.rules == tuple(r.id for r in engine.book.by_device["e1"])
    assert result.rules, "the default rules watch an electricity meter"
    assert result.seconds < TIMEOUT_S
    # nothing stored, nothing kept, nothing moved: the store, the dead letters, the engine, the alerts
    assert store.count(site=SITE) == stored == 1
    assert path.ingest.dead_letters.count() == letters
    assert engine.devices["e1"] == seen
    assert path.alerts.store.counts() == alerts
    log = path.gateway(GW).log(10**6)
    assert log.count('"drill request ignored"') + log.count("does not read: ignored") == len(HOSTILE), log
    assert log.count('"drill answered"') == 1


@pytest.mark.integration
def test_a_meter_read_by_hand_is_drilled_by_the_server_itself(path: Path_) -> None:
    result = path.check.run(SITE, "m1", "term1-m1", TIMEOUT_S)
    assert result.said is None, result.said
    assert (result.via, result.sent, result.ingest_ok, result.alerts_saw) == (SERVER, True, True, True)
    assert path.ingest.store.count("m1", Kind.WATER) == 0


def test_nobody_to_ask_is_said_at_once(path: Path_) -> None:
    result = path.check.run(SITE, "x1", "term1-x1", TIMEOUT_S)
    assert (result.sent, result.via, result.seconds) == (False, None, 0.0)
    assert result.said is not None
    assert result.said.en.startswith("no meterwatch gateway answers for this device")
    assert "没有 meterwatch 网关" in result.said.zh


@pytest.mark.integration
def test_a_gateway_whose_credentials_were_never_issued_is_said(path: Path_) -> None:
    result = path.check.run(SITE, "e3", "term1-e3", SILENT_S)
    assert (result.sent, result.gateway_answered, result.ingest_ok, result.alerts_saw) == (True, False, None, False)
    assert result.said is not None
    assert result.said.en == (f"gateway {NEVER}'s credentials were never issued: it cannot connect (meterwatch "
                              f"credentials issue {NEVER}, then meterwatch deploy mosquitto --reload)")


@pytest.mark.integration
def test_a_technical_drill_fails_saying_why_for_a_gateway_whose_credentials_were_revoked(path: Path_) -> None:
    gateway = path.gateway(REVOKED).start()
    try:  # connected (and so subscribed first, on the same connection): its meter's health, a failed read, came in
        wait_for(lambda: "e2" in path.ingest.presence.health(SITE), 30, "the gateway's word on its meter")
        before = path.check.run(SITE, "e2", "term1-e2-a", TIMEOUT_S)  # connected: its meter is not there, but the
        assert before.said is None, (before.said, gateway.log())      # gateway answers with the initial register
        path.credentials.revoke(REVOKED)
        done = deploy_mosquitto(load_settings(path.config), reload=True)
        assert done.disconnected == (REVOKED,)
        after = path.check.run(SITE, "e2", "term1-e2-b", SILENT_S)
        assert (after.sent, after.gateway_answered, after.ingest_ok, after.alerts_saw) == (True, False, None, False)
        assert after.said is not None
        day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))  # the site's day (Asia/Shanghai)
        assert after.said.en == (f"gateway {REVOKED}'s credentials were revoked on {day}: the broker refuses it "
                                 f"(meterwatch credentials issue {REVOKED}, then meterwatch deploy mosquitto --reload)")
        assert f"网关 {REVOKED} 的代理凭据已于 {day} 吊销" in after.said.zh
        wait_for(lambda: "mqtt connect refused" in gateway.log(), 15, "the broker refuses the revoked gateway")
    finally:
        gateway.stop()


@pytest.mark.integration
def test_a_drill_with_chain_through_the_api_keeps_the_check_with_its_record(path: Path_) -> None:
    """POST /api/v1/drills with chain: the server checks the path through its own broker connection first; the
    drill keeps the verdict, passed or failed with why, and raises its alert either way (the crew drills still)."""
    conf = load_settings(path.config)
    app = create_app(conf, service=path.ingest, alerts=path.alerts)
    with TestClient(app, headers=token_headers(conf.data_dir)) as client:
        good = client.post("/api/v1/drills", json={"plan": "power-cut", "device": "e1", "chain": True})
        assert good.status_code == 201, good.text
        chain = good.json()["chain"]
        assert chain["ok"] is True, chain
        assert [s["stage"] for s in chain["stages"]] == ["request", "gateway", "ingest", "alerts"]
        assert all(s["ok"] for s in chain["stages"])
        assert chain["said"].startswith("数据链路正常")
        bad = client.post("/api/v1/drills", json={"plan": "power-cut", "device": "e3", "chain": True},
                          params={"lang": "en"})
        assert bad.status_code == 201, bad.text
        assert bad.json()["chain"]["ok"] is False
        assert bad.json()["chain"]["said"].startswith(f"gateway {NEVER}'s credentials were never issued")
        assert bad.json()["alert_id"] is not None
        assert client.post("/api/v1/drills", json={"plan": "power-cut", "building": "b1", "chain": True}
                           ).status_code == 422  # the path from one device: name it


# -- hostile input, fuzzed: the gateway's request handler and ingest's drill readings -----------------------------
FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
IDS = st.one_of(st.from_regex(DRILL_ID_PATTERN, fullmatch=True), st.text(max_size=50), st.integers(), st.none(),
                st.lists(st.text(max_size=3), max_size=2), st.sampled_from(["a/b", "#", "+", "x" * 41, "$SYS", "d\n"]))
DEVICES = st.one_of(st.sampled_from(["e1", "e2", "m1", "x1", "nope"]), st.text(max_size=80), st.integers())
VALUES = st.dictionaries(st.sampled_from(["energy_kwh", "power_kw", "volume_m3", "ph", "bogus"]),
                         st.one_of(st.floats(), st.integers(), st.text(max_size=5), st.none()), max_size=4)


class _Publisher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def drill(self, device: str, body: bytes) -> bool:
        self.sent.append((device, body))
        return True


@pytest.fixture(scope="module")
def gateway_alone(tmp_path_factory: pytest.TempPathFactory) -> GatewayProcess:
    """The gateway process's request handler without its broker or buses: the device list read, a publisher that
    keeps what it is given."""
    tmp = tmp_path_factory.mktemp("gw-fuzz")
    campus_file = tmp / "campus.yaml"
    campus_file.write_text(yaml.safe_dump(campus_doc(tmp), allow_unicode=True), encoding="utf-8")
    config = tmp / "gateway.toml"
    config.write_text(f'data_dir = "{tmp / "data"}"\n[campus]\nfile = "{campus_file}"\n[gateway]\nid = "{GW}"\n',
                      encoding="utf-8")
    proc = GatewayProcess(load_gateway_settings(config))
    proc.view = proc.source.fetch()
    proc.publisher = _Publisher()  # type: ignore[assignment]
    return proc


@FUZZ
@given(body=st.one_of(
    st.binary(max_size=700),
    st.fixed_dictionaries({"drill": IDS, "device": DEVICES}).map(lambda d: json.dumps(d).encode()),
    st.dictionaries(st.sampled_from(["drill", "device", "values", "x"]), st.one_of(IDS, DEVICES), max_size=4)
    .map(lambda d: json.dumps(d).encode())))
def test_the_gateway_answers_only_a_well_formed_request_for_its_own_meter(gateway_alone: GatewayProcess,
                                                                          body: bytes) -> None:
    sent: list[tuple[str, bytes]] = gateway_alone.publisher.sent  # type: ignore[union-attr]
    sent.clear()
    gateway_alone._drill(f"campus/{SITE}/{GW}/drill", body)  # never raises, whatever the payload
    try:
        drill, device = parse_drill_request(body)
    except PayloadError:
        assert sent == []
        return
    if device != "e1":  # not this gateway's meter
        assert sent == []
        return
    ((to, answer),) = sent
    doc = orjson.loads(answer)
    assert (to, doc.pop("drill")) == ("e1", drill)
    parse_item(Kind.ELECTRICITY, doc, int(time.time() * 1000))  # a valid reading, as ingest will check it


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Pipeline, list[Drill]]]:
    tmp = tmp_path_factory.mktemp("ingest-fuzz")
    campus_file = tmp / "campus.yaml"
    campus_file.write_text(yaml.safe_dump(campus_doc(tmp), allow_unicode=True), encoding="utf-8")
    p = Pipeline.open(tmp / "data", StoreSettings(), IngestSettings(), "campus")
    p.registry.seed(load_campus(campus_file))
    told: list[Drill] = []
    p.on_drill = told.extend
    yield p, told
    p.close()


@FUZZ
@given(drill=IDS, device=st.sampled_from(["e1", "m1"]), values=VALUES,
       ts=st.one_of(st.none(), st.integers(min_value=-(2**40), max_value=2**45), st.text(max_size=10)),
       batch=st.integers(min_value=0, max_value=3))
def test_ingest_stores_no_drill_reading_and_answers_each_valid_drill(pipeline: tuple[Pipeline, list[Drill]],
                                                                     drill: Any, device: str, values: dict[str, Any],
                                                                     ts: Any, batch: int) -> None:
    p, told = pipeline
    told.clear()
    item = {"ts": ts, "values": values, "drill": drill}
    body = json.dumps([item] * batch if batch else item).encode()  # NaN, 1e400-like ints: as a gateway may
    letters = p.dead_letters.count()
    (decoded,) = p.commit([Inbound(f"campus/{SITE}/{device}/reading", body, int(time.time() * 1000))])
    assert p.store.count(site=SITE) == 0  # never, whatever came
    assert decoded.readings == []
    valid = isinstance(drill, str) and re.fullmatch(DRILL_ID_PATTERN, drill) is not None
    if batch or not valid:  # a drill tag in a batch item, or a bad drill id: a bad payload, kept as any
        assert told == []
        assert p.dead_letters.count() == letters + 1
        return
    assert p.dead_letters.count() == letters  # a drill's reading is never a dead letter, refused or not
    (seen,) = told
    assert (seen.site, seen.drill, seen.device) == (SITE, drill, device)
    assert decoded.drill == seen
