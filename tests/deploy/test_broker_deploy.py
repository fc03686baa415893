"""The broker as `meterwatch deploy mosquitto` configures it: a real Mosquitto started with the generated
mosquitto.conf, passwd and acl (a plain and a TLS listener, certificates from `meterwatch deploy certs`),
gateways with credentials from `meterwatch credentials`, and meterwatch's ingest as its own account."""

from __future__ import annotations

import getpass
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr

from alerts.config import AlertSettings
from alerts.service import AlertService
from api.app import create_app
from app.settings import load_settings
from campus.contract import Kind
from campus.db import DataDir
from campus.model import load_campus
from campus.registry import Registry
from cli.main import main
from deploy.credentials import Credentials
from ingest.config import IngestSettings, MqttSettings, StoreSettings
from ingest.mqtt import shut
from ingest.service import IngestService
from simulators.model import Simulation, load_campus_doc
from simulators.publisher import publish
from tests.support.harness import TZ, assert_exactly_once, token_headers
from tests.support.paths import SAMPLE
from tests.support.servers import ConfiguredMosquitto, free_port, wait_for

pytestmark = pytest.mark.integration
INGEST_PW = "ingest-secret-1"


@dataclass
class Campus:
    data: Path
    config: Path
    certs: Path
    broker: ConfiguredMosquitto
    secrets: dict[str, str]
    port: int
    tls_port: int

    def mqtt(self, *, tls: bool = False) -> MqttSettings:
        if tls:
            return MqttSettings(url=f"mqtts://127.0.0.1:{self.tls_port}", cafile=self.certs / "ca.crt",
                                username="mw-ingest", password=SecretStr(INGEST_PW), client_id="mw-ingest")
        return MqttSettings(url=f"mqtt://127.0.0.1:{self.port}", username="mw-ingest",
                            password=SecretStr(INGEST_PW), client_id="mw-ingest")

    def ingest(self, *, tls: bool = False) -> IngestService:
        service = IngestService(data_dir=self.data, mqtt=self.mqtt(tls=tls), store=StoreSettings(),
                                ingest=IngestSettings(retry_max_s=2.0), campus=load_campus(SAMPLE))
        service.start()
        assert service.mqtt is not None
        assert service.mqtt.wait_connected(15), "ingest did not subscribe with its own account"
        return service


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(list(argv))
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


@pytest.fixture
def campus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Campus]:
    data, certs, mq = tmp_path / "data", tmp_path / "certs", tmp_path / "mosquitto"
    mq.mkdir()
    port, tls_port = free_port(), free_port()
    _cli(capsys, "deploy", "certs", "--out", str(certs), "--host", "127.0.0.1", "--host", "localhost")
    config = tmp_path / "meterwatch.toml"
    config.write_text(f"""
data_dir = "{data}"
[mqtt]
url = "mqtt://127.0.0.1:{port}"
username = "mw-ingest"
password = "{INGEST_PW}"
[alerts]
username = "mw-alerts"
password = "alerts-secret-1"
[broker]
host = "127.0.0.1"
port = {port}
tls_port = {tls_port}
cafile = "{certs / 'ca.crt'}"
certfile = "{certs / 'server.crt'}"
keyfile = "{certs / 'server.key'}"
config_dir = "{mq / 'conf'}"
persistence_location = "{mq}"
user = "{getpass.getuser()}"
pid_file = "{mq / 'mosquitto.pid'}"
log_file = "{mq / 'mosquitto.log'}"
service_accounts = {{display = "display-secret-1"}}
""", encoding="utf-8")
    registry = Registry(DataDir(data).state)
    registry.seed(load_campus(SAMPLE))
    publishers = list(registry.campus.publishers())
    registry.close()
    secrets = {"gw-canteen-1": _cli(capsys, "credentials", "issue", "gw-canteen-1", "--config", str(config))
               .splitlines()[-1]}
    store = Credentials(DataDir(data).state)
    secrets |= {who: store.issue(who) for who in publishers if who not in secrets}
    store.close()
    out = _cli(capsys, "deploy", "mosquitto", "--config", str(config))
    assert f"{len(publishers) + 3} accounts" in out  # and ingest, the alert process, a display
    broker = ConfiguredMosquitto(mq, mq / "conf" / "mosquitto.conf", port)
    broker.start()
    yield Campus(data, config, certs, broker, secrets, port, tls_port)
    broker.stop()


class Client:
    """A paho client that records what happens to it."""

    def __init__(self, username: str | None, password: str | None, *, port: int, client_id: str = "",
                 protocol: int = paho.MQTTv311, cafile: Path | None = None) -> None:
        self.c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id or (username or "anon"),
                             protocol=protocol)  # type: ignore[arg-type]
        if username is not None:
            self.c.username_pw_set(username, password)
        if cafile is not None:
            self.c.tls_set(ca_certs=str(cafile))
        self.connack: object = None
        self.answered, self.gone, self.subscribed = threading.Event(), threading.Event(), threading.Event()
        self.puback: dict[int, object] = {}
        self.received: list[str] = []
        self.c.on_connect = self._connected
        self.c.on_disconnect = lambda c, u, f, r, p: self.gone.set()
        self.c.on_publish = lambda c, u, mid, reason, p: self.puback.__setitem__(mid, reason)
        self.c.on_message = lambda c, u, m: self.received.append(m.topic)
        self.c.on_subscribe = lambda c, u, mid, reasons, p: self.subscribed.set()
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        assert self.answered.wait(10), "no CONNACK"

    def _connected(self, c: paho.Client, u: object, f: object, reason: object, p: object) -> None:
        self.connack = reason
        self.answered.set()

    @property
    def accepted(self) -> bool:
        return not getattr(self.connack, "is_failure", True)

    def close(self) -> None:
        shut(self.c)


def reading(device: str, ts_s: int, value: float) -> bytes:
    return f'{{"ts": {ts_s}, "values": {{"energy_kwh": {value}}}}}'.encode()


def stored(service: IngestService, device: str) -> int:
    return service.store.count(device, Kind.ELECTRICITY)


def test_the_broker_listens_only_where_configured(campus: Campus) -> None:
    log = (campus.broker.workdir / "mosquitto.log").read_text(encoding="utf-8")
    ports = {int(line.rsplit(" ", 1)[1].rstrip(".")) for line in log.splitlines() if "listen socket on port" in line}
    assert ports == {campus.port, campus.tls_port}


def test_nobody_gets_in_without_credentials(campus: Campus) -> None:
    anonymous = Client(None, None, port=campus.port)
    wrong = Client("gw-canteen-1", "not-the-secret", port=campus.port)
    thief = Client(None, None, port=campus.port, client_id="mw-ingest")  # ingest's session, anonymously
    right = Client("gw-canteen-1", campus.secrets["gw-canteen-1"], port=campus.port)
    try:
        assert not anonymous.accepted
        assert not wrong.accepted
        assert not thief.accepted
        assert right.accepted
    finally:
        for c in (anonymous, wrong, thief, right):
            c.close()


def test_a_gateway_publishes_only_for_its_own_devices(campus: Campus) -> None:
    service = campus.ingest()
    now = int(datetime.now(TZ).timestamp())
    gw = Client("gw-canteen-1", campus.secrets["gw-canteen-1"], port=campus.port)
    v5 = Client("gw-canteen-1", campus.secrets["gw-canteen-1"], port=campus.port, protocol=paho.MQTTv5)
    try:
        # MQTT 3.1.1: the broker acknowledges and drops it; the same client's next, allowed message is stored
        # after it (one connection, in order), so once that is in the store the other one would be too
        gw.c.publish("campus/yucai/d1-elec/reading", reading("d1-elec", now - 120, 500.0), qos=1)
        gw.c.publish("campus/yucai/c1-elec/reading", reading("c1-elec", now - 60, 12_345.0), qos=1)
        wait_for(lambda: stored(service, "c1-elec") == 1, 30, "the gateway's own reading stored")
        assert stored(service, "d1-elec") == 0
        # MQTT 5: the broker says so
        mid = v5.c.publish("campus/yucai/d1-elec/reading", reading("d1-elec", now - 30, 501.0), qos=1).mid
        reason = wait_for(lambda: v5.puback.get(mid), 10, "PUBACK for the foreign device")
        assert reason.is_failure
        assert reason.value == 135, reason  # Not authorized
        ok = v5.c.publish("campus/yucai/c1-elec/reading", reading("c1-elec", now - 30, 12_346.0), qos=1).mid
        assert not wait_for(lambda: v5.puback.get(ok), 10, "PUBACK for its own device").is_failure
        wait_for(lambda: stored(service, "c1-elec") == 2, 30, "the MQTT 5 reading stored")
        assert stored(service, "d1-elec") == 0
    finally:
        gw.close()
        v5.close()
        service.stop()


def test_a_client_using_ingests_client_id_gets_nothing(campus: Campus) -> None:
    service = campus.ingest()
    now = int(datetime.now(TZ).timestamp())
    # a gateway's valid account, ingest's client id: the broker uses the username instead, so ingest's session
    # is not taken over, and the ACL lets a gateway read nothing
    thief = Client("gw-dorm-1", campus.secrets["gw-dorm-1"], port=campus.port, client_id="mw-ingest")
    gw = Client("gw-canteen-1", campus.secrets["gw-canteen-1"], port=campus.port)
    try:
        assert thief.accepted
        thief.c.subscribe([("campus/#", 1), ("#", 1)])
        gw.c.publish("campus/yucai/c1-elec/reading", reading("c1-elec", now - 60, 12_345.0), qos=1)
        wait_for(lambda: stored(service, "c1-elec") == 1, 30, "ingest still receives (its session is its own)")
        assert service.mqtt is not None
        assert service.mqtt.connected
        assert thief.received == []
    finally:
        thief.close()
        gw.close()
        service.stop()


def test_tls_with_the_campus_ca_and_plain_mqtt_refused_on_the_tls_port(campus: Campus) -> None:
    service = campus.ingest(tls=True)
    now = int(datetime.now(TZ).timestamp())
    gw = Client("gw-canteen-1", campus.secrets["gw-canteen-1"], port=campus.tls_port, cafile=campus.certs / "ca.crt")
    try:
        assert gw.accepted
        gw.c.publish("campus/yucai/c1-elec/reading", reading("c1-elec", now - 60, 12_345.0), qos=1)
        wait_for(lambda: stored(service, "c1-elec") == 1, 30, "a reading over TLS stored")
    finally:
        gw.close()
        service.stop()
    # plain MQTT to the TLS port: the TLS handshake fails and the broker closes the connection, no CONNACK
    connect = bytes([0x10, 12, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 30, 0, 0])
    with socket.create_connection(("127.0.0.1", campus.tls_port), timeout=10) as sock:
        sock.sendall(connect)
        try:
            answer = sock.recv(16)
        except ConnectionResetError:
            answer = b""
        assert answer[:1] != b"\x20", "plain MQTT got a CONNACK on the TLS port"
    # and a client that does not trust the campus CA cannot connect
    with socket.create_connection(("127.0.0.1", campus.tls_port), timeout=10) as sock, \
            pytest.raises(ssl.SSLCertVerificationError):
        ssl.create_default_context().wrap_socket(sock, server_hostname="127.0.0.1")


def test_a_revoked_gateway_is_disconnected_and_cannot_come_back(campus: Campus,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    gw = Client("gw-dorm-1", campus.secrets["gw-dorm-1"], port=campus.port)
    other = Client("gw-canteen-1", campus.secrets["gw-canteen-1"], port=campus.port)
    try:
        assert gw.accepted
        _cli(capsys, "credentials", "revoke", "gw-dorm-1", "--config", str(campus.config))
        listing = _cli(capsys, "credentials", "list", "--config", str(campus.config))
        assert "revoked" in next(line for line in listing.splitlines() if line.startswith("gw-dorm-1"))
        assert campus.secrets["gw-dorm-1"] not in listing
        out = _cli(capsys, "deploy", "mosquitto", "--config", str(campus.config), "--reload")
        assert "disconnected 已断开: gw-dorm-1" in out
        assert gw.gone.wait(10), "the revoked gateway is still connected"
        assert not other.gone.is_set()  # everyone else stays
        again = Client("gw-dorm-1", campus.secrets["gw-dorm-1"], port=campus.port)
        assert not again.accepted
        again.close()
    finally:
        gw.close()
        other.close()


def test_a_campus_day_over_tls_with_each_gateways_credentials_is_stored_exactly_once(campus: Campus) -> None:
    service = campus.ingest(tls=True)
    end = datetime.now(TZ).replace(second=0, microsecond=0) - timedelta(minutes=10)
    sim = Simulation(load_campus_doc(SAMPLE), start=end - timedelta(days=1), end=end, seed=11,
                     faults=["duplicates", "out_of_order", "gateway_backfill", "device_offline"])
    try:
        tally = publish(sim, f"mqtts://127.0.0.1:{campus.tls_port}", credentials=campus.secrets,
                        cafile=str(campus.certs / "ca.crt"))
        assert tally.readings > 0
        assert_exactly_once(service, sim)
        assert service.dead_letters.count() == 0
    finally:
        service.stop()


def test_the_alert_process_has_its_own_account_and_only_it_announces_alerts(campus: Campus) -> None:
    alerts = AlertService(data_dir=campus.data, mqtt=campus.mqtt(), settings=AlertSettings(
        username="mw-alerts", password=SecretStr("alerts-secret-1"), client_id="ignored-by-the-broker"))
    display = Client("display", "display-secret-1", port=campus.port)
    gw = Client("gw-canteen-1", campus.secrets["gw-canteen-1"], port=campus.port)
    alerts.start()
    try:
        assert alerts.mqtt is not None
        assert alerts.mqtt.wait_connected(15), "the alert process did not subscribe with its own account"
        display.c.subscribe("campus/yucai/alerts/#", qos=1)
        assert display.subscribed.wait(10), "no SUBACK"
        # the broker routes (or drops) a QoS 1 message before it acknowledges it: once the forged one's PUBACK
        # is in, it would be queued for the display ahead of the real announcement
        forged = gw.c.publish("campus/yucai/alerts/critical", b'{"forged": true}', qos=1).mid
        wait_for(lambda: forged in gw.puback, 10, "PUBACK of the forged announcement")
        alerts.mqtt.publish("campus/yucai/alerts/critical", b'{"alert_id": 1}')
        wait_for(lambda: display.received, 10, "the alert process's announcement on the display")
        assert display.received == ["campus/yucai/alerts/critical"]  # one: the forged one was dropped
    finally:
        alerts.stop()
        display.close()
        gw.close()


def test_with_manage_a_device_added_through_the_api_can_be_published_at_once(campus: Campus) -> None:
    """[broker] manage: the API's change rewrites the ACL and reloads the broker; the gateway may then publish for
    the new meter (MQTT 5, so each try is answered; tries the broker refused are dropped, never stored)."""
    with campus.config.open("a", encoding="utf-8") as fh:
        fh.write("manage = true\n")  # the [broker] section is the file's last
    settings = load_settings(campus.config)
    service = campus.ingest()
    gw = Client("gw-canteen-1", campus.secrets["gw-canteen-1"], port=campus.port, protocol=paho.MQTTv5)
    try:
        with TestClient(create_app(settings, service=service), headers=token_headers(campus.data)) as api:
            made = api.post("/api/v1/devices", json={"id": "c1-elec-2", "kind": "electricity", "building": "canteen-1",
                                                     "gateway": "gw-canteen-1", "rated_capacity": 100})
            assert made.status_code == 201, made.text
            assert made.json()["gateway"] == "gw-canteen-1"
            listed = {g["id"]: g for g in api.get("/api/v1/gateways").json()}
            assert "c1-elec-2" in listed["gw-canteen-1"]["devices"]
            assert listed["gw-canteen-1"]["credentials"] == "active"
            assert listed["ta-fountain"]["is_device"] is True
        assert "topic write campus/yucai/c1-elec-2/reading" in (campus.data.parent / "mosquitto" / "conf" / "acl"
                                                                 ).read_text(encoding="utf-8")
        now = int(datetime.now(TZ).timestamp())

        def allowed() -> bool:
            nonlocal now
            now += 1
            mid = gw.c.publish("campus/yucai/c1-elec-2/reading", reading("c1-elec-2", now, 1.0), qos=1).mid
            return not wait_for(lambda: gw.puback.get(mid), 10, "PUBACK").is_failure

        wait_for(allowed, 20, "the broker lets the gateway publish for its new meter")
        wait_for(lambda: stored(service, "c1-elec-2") == 1, 30, "the new meter's reading stored")
    finally:
        gw.close()
        service.stop()


def test_certificate_identity_is_the_username_on_the_tls_listener(campus: Campus,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """[broker] require_certificate + use_identity_as_username: a gateway shows the client certificate
    `deploy certs --client` made for it (CN = its id) and no password; the ACL is the same."""
    _cli(capsys, "deploy", "certs", "--out", str(campus.certs), "--client", "gw-canteen-1")
    with campus.config.open("a", encoding="utf-8") as fh:
        fh.write("require_certificate = true\nuse_identity_as_username = true\n")
    _cli(capsys, "deploy", "mosquitto", "--config", str(campus.config))
    campus.broker.restart()  # listener settings take a restart, not a reload
    service = campus.ingest()  # the plain listener: its own password, as before
    now = int(datetime.now(TZ).timestamp())
    gw = paho.Client(CallbackAPIVersion.VERSION2, client_id="gw-canteen-1", protocol=paho.MQTTv5)
    gw.tls_set(ca_certs=str(campus.certs / "ca.crt"), certfile=str(campus.certs / "clients" / "gw-canteen-1.crt"),
               keyfile=str(campus.certs / "clients" / "gw-canteen-1.key"))
    acks: dict[int, object] = {}
    connected = threading.Event()
    gw.on_connect = lambda c, u, f, reason, p: connected.set() if not reason.is_failure else None
    gw.on_publish = lambda c, u, mid, reason, p: acks.__setitem__(mid, reason)
    gw.connect("127.0.0.1", campus.tls_port)
    gw.loop_start()
    try:
        assert connected.wait(10), "the gateway's certificate was not accepted"
        foreign = gw.publish("campus/yucai/d1-elec/reading", reading("d1-elec", now - 90, 1.0), qos=1).mid
        assert wait_for(lambda: acks.get(foreign), 10, "PUBACK").value == 135  # not its meter: not authorised
        own = gw.publish("campus/yucai/c1-elec/reading", reading("c1-elec", now - 60, 12_345.0), qos=1).mid
        assert not wait_for(lambda: acks.get(own), 10, "PUBACK").is_failure
        wait_for(lambda: stored(service, "c1-elec") == 1, 30, "the reading stored")
        with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
            _connect_without_certificate(campus)
    finally:
        shut(gw)
        service.stop()


def _connect_without_certificate(campus: Campus) -> None:
    """TLS to the broker trusting its CA but showing no client certificate, then an MQTT CONNECT."""
    with socket.create_connection(("127.0.0.1", campus.tls_port), timeout=10) as sock:
        ctx = ssl.create_default_context(cafile=str(campus.certs / "ca.crt"))
        with ctx.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
            tls.sendall(bytes([0x10, 12, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 30, 0, 0]))
            if tls.recv(4) == b"":
                raise ConnectionResetError("closed without a CONNACK")


def test_two_ingest_workers_share_the_stream_each_as_its_own_service_account(campus: Campus) -> None:
    """Under the generated configuration (use_username_as_clientid) each worker of a shared group is a service
    account of its own; the ACL lets both subscribe through $share/…, and each gets a share."""

    def worker(user: str, password: str) -> IngestService:
        mqtt = MqttSettings(url=f"mqtt://127.0.0.1:{campus.port}", username=user, password=SecretStr(password),
                            client_id=user, shared_group="ingest")
        service = IngestService(data_dir=campus.data, mqtt=mqtt, store=StoreSettings(),
                                ingest=IngestSettings(retry_max_s=2.0), campus=load_campus(SAMPLE))
        service.start()
        assert service.mqtt is not None
        assert service.mqtt.wait_connected(15), f"{user} did not subscribe"
        return service

    first, second = worker("mw-ingest", INGEST_PW), worker("display", "display-secret-1")
    end = datetime.now(TZ).replace(second=0, microsecond=0) - timedelta(minutes=10)
    sim = Simulation(load_campus_doc(SAMPLE), start=end - timedelta(hours=6), end=end, seed=12, faults=[])
    try:
        publish(sim, f"mqtt://127.0.0.1:{campus.port}", credentials=campus.secrets)
        assert_exactly_once(first, sim)  # one data directory: both write to the same store
        assert first.counters.received > 0
        assert second.counters.received > 0
    finally:
        first.stop()
        second.stop()
