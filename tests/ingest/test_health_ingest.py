"""Meter health through ingest: a gateway publishes ``…/health`` for its own meters (the ACL lets it, and only it),
ingest keeps each meter's newest health per site, committed before it is acknowledged, and a health message it
cannot take is a dead letter saying why, like any other refused input."""

from __future__ import annotations

import getpass
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr

from campus.contract import parse_health
from campus.db import DataDir, connect
from campus.errors import PayloadError
from campus.migrations import migrate, version
from deploy.brokerfiles import ServiceAccount, render, write
from deploy.credentials import mosquitto_hash
from ingest.broker import EmbeddedBroker
from ingest.config import BrokerSettings, IngestSettings, MqttSettings, StoreSettings
from ingest.decode import Inbound
from ingest.mqtt import shut
from ingest.pipeline import Pipeline
from ingest.service import IngestService
from ingest.status import MIGRATIONS, PresenceStore
from tests.support.meterhealth import answered, campus, failed
from tests.support.servers import ConfiguredMosquitto, free_port, wait_for

NOW_S = 1_795_320_000


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    p = Pipeline.open(tmp_path, StoreSettings(), IngestSettings(), "campus")
    p.registry.seed(campus())
    yield p
    p.close()


def _msg(device: str, payload: bytes, mid: int = 1, site: str = "s1") -> Inbound:
    return Inbound(f"campus/{site}/{device}/health", payload, NOW_S * 1000, mid, 1)


def test_the_newest_health_is_kept_per_site_and_acknowledged_after_the_commit(pipeline: Pipeline) -> None:
    acked: list[Inbound] = []

    def ack(msg: Inbound) -> None:  # acknowledged only once the health is committed
        assert pipeline.presence.health("s1").get("c1-elec") is not None
        acked.append(msg)

    pipeline.ack = ack
    first = _msg("c1-elec", failed("c1-elec", NOW_S - 60, last_answer=NOW_S - 3600), 1)
    pipeline.commit([first])
    assert acked == [first]
    h = pipeline.presence.health("s1")["c1-elec"]
    assert (h.ok, h.code, h.last_answer, h.success_rate, h.gateway, h.bus) == \
        (False, "no_answer", (NOW_S - 3600) * 1000, 0.82, "gw-canteen-1", "rs485-1")
    assert h.error == "no answer from 000012345678 on rs485-1 after 3 tries"
    pipeline.commit([_msg("c1-elec", answered("c1-elec", NOW_S - 120), 2)])  # an older one, delivered again
    assert pipeline.presence.health("s1")["c1-elec"].ok is False
    pipeline.commit([_msg("c1-elec", answered("c1-elec", NOW_S), 3)])
    assert pipeline.presence.health("s1")["c1-elec"].ok is True
    assert pipeline.presence.of_site("s1")["c1-elec"].health is not None  # with presence, where the API reads it
    assert pipeline.presence.health("other") == {}
    assert pipeline.counters.acknowledged == 3
    assert pipeline.dead_letters.count() == 0


@pytest.mark.parametrize(("device", "payload", "words"), [
    ("c1-elec", failed("d1-elec", NOW_S), "says gateway 'gw-dorm-1', but the registry has it on 'gw-canteen-1'"),
    ("c1-gas", failed("c1-elec", NOW_S).replace(b"gw-canteen-1", b"gw-canteen-1"),
     "says bus 'rs485-1', but the registry has it on bus 'rs485-2'"),
    ("c1-elec", b'{"ok": "no"}', "health: ok='no': Input should be a valid boolean"),
    ("c1-elec", b"offline", "health payload is not JSON"),
    ("nobody", failed("c1-elec", NOW_S), "unknown device 'nobody'"),
])
def test_refused_health_is_a_dead_letter_with_its_reason(pipeline: Pipeline, device: str, payload: bytes,
                                                         words: str) -> None:
    acked: list[Inbound] = []
    pipeline.ack = acked.append
    msg = _msg(device, payload)
    pipeline.commit([msg])
    assert acked == [msg]
    letters = pipeline.dead_letters.list(limit=10)
    assert len(letters) == 1
    assert words in letters[0].reason
    assert letters[0].payload == payload
    assert pipeline.presence.health("s1") == {}


def test_a_dead_letter_replays_once_the_registry_agrees(pipeline: Pipeline) -> None:
    pipeline.commit([_msg("c1-gas", failed("c1-elec", NOW_S))])  # the gateway polls it on rs485-1 now
    letter = pipeline.dead_letters.list(limit=1)[0]
    with pytest.raises(PayloadError):
        pipeline.replay(letter.id)
    meter = pipeline.registry.device("c1-gas", "s1").meter
    assert meter is not None
    pipeline.registry.update_device("c1-gas", {"meter": meter.model_copy(update={"bus": "rs485-1"})}, "s1")
    pipeline.replay(letter.id)
    assert pipeline.presence.health("s1")["c1-gas"].bus == "rs485-1"


def test_presence_of_an_older_data_directory_gains_health_by_its_migration(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    conn = connect(db)
    migrate(conn, "presence", MIGRATIONS[:1])
    conn.execute("INSERT INTO device_presence (site, device, online, status_ms, last_seen_ms) "
                 "VALUES ('s1', 'c1-elec', 1, 5, 7)")
    conn.commit()
    conn.close()
    store = PresenceStore(db)
    try:
        p = store.of_site("s1")["c1-elec"]
        assert (p.online, p.last_seen_ms, p.health) == (True, 7, None)
        store.record({}, {}, health={("s1", "c1-elec"): parse_health(failed("c1-elec", NOW_S), NOW_S * 1000)})
        assert store.of_site("s1")["c1-elec"].health is not None
        assert store.of_site("s1")["c1-elec"].last_seen_ms == 7
    finally:
        store.close()
    check = sqlite3.connect(db)
    try:
        assert version(check, "presence") == 2
    finally:
        check.close()


_FUZZ = settings(max_examples=400, deadline=None, derandomize=True, database=None,
                 suppress_health_check=list(HealthCheck))


def test_any_health_message_is_kept_or_one_dead_letter(pipeline: Pipeline) -> None:
    acked: list[Inbound] = []
    pipeline.ack = acked.append

    @seed(0)
    @_FUZZ
    @given(st.lists(st.tuples(st.sampled_from(["c1-elec", "c1-gas", "d1-elec", "ghost"]),
                              st.one_of(st.binary(max_size=200),
                                        st.sampled_from(["c1-elec", "c1-gas", "d1-elec"]).map(
                                            lambda d: failed(d, NOW_S)),
                                        st.just(answered("c1-elec", NOW_S)))),
                    min_size=1, max_size=6))
    def run(batch: list[tuple[str, bytes]]) -> None:
        acked.clear()
        before = pipeline.dead_letters.count()
        inbound = [_msg(d, p, i) for i, (d, p) in enumerate(batch)]
        decoded = pipeline.commit(inbound)
        assert acked == inbound
        refused = 0
        for msg, d in zip(inbound, decoded, strict=True):
            assert len(d.refusals) + (d.health is not None) == 1, msg
            refused += len(d.refusals)
            if d.health is not None:
                assert d.health[0] == ("s1", msg.topic.split("/")[2])
        assert pipeline.dead_letters.count() >= before  # repeats of one payload count as one letter
        assert refused == sum(len(d.refusals) for d in decoded)

    run()


# -- through a real Mosquitto, configured as `meterwatch deploy mosquitto` writes it -----------------------------
INGEST_PW, GW_PW = "ingest-secret-1", "gateway-secret-1"


@pytest.fixture
def acl_broker(tmp_path: Path) -> Iterator[int]:
    port, conf = free_port(), tmp_path / "broker"
    settings = BrokerSettings(host="127.0.0.1", port=port, tls_port=0, user=getpass.getuser(), pid_file=None,
                              persistence_location=tmp_path / "broker", log_file=tmp_path / "broker" / "log")
    hashes = {"gw-canteen-1": mosquitto_hash(GW_PW), "gw-dorm-1": mosquitto_hash("dorm-secret")}
    files = render(settings, campus(), hashes, [ServiceAccount("mw-ingest", INGEST_PW)], "campus", conf)
    write(files, conf)
    broker = ConfiguredMosquitto(tmp_path / "broker", conf / "mosquitto.conf", port)
    broker.start()
    yield port
    broker.stop()


@pytest.mark.integration
def test_a_gateway_publishes_health_for_its_own_meters_only(tmp_path: Path, acl_broker: int) -> None:
    service = IngestService(data_dir=tmp_path / "data", store=StoreSettings(), ingest=IngestSettings(retry_max_s=2.0),
                            mqtt=MqttSettings(url=f"mqtt://127.0.0.1:{acl_broker}", username="mw-ingest",
                                              password=SecretStr(INGEST_PW), client_id="mw-ingest"),
                            campus=campus())
    service.start()
    acks: dict[int, object] = {}
    gw = paho.Client(CallbackAPIVersion.VERSION2, client_id="gw-canteen-1", protocol=paho.MQTTv5)
    gw.username_pw_set("gw-canteen-1", GW_PW)
    gw.on_publish = lambda c, u, mid, reason, p: acks.__setitem__(mid, reason)
    try:
        assert service.mqtt is not None
        assert service.mqtt.wait_connected(15), "ingest did not subscribe"
        gw.connect("127.0.0.1", acl_broker)
        gw.loop_start()
        now = int(time.time())
        foreign = gw.publish("campus/s1/d1-elec/health", failed("d1-elec", now), qos=1, retain=True).mid
        refused = wait_for(lambda: acks.get(foreign), 10, "PUBACK for another gateway's meter")
        assert getattr(refused, "value", None) == 135  # Not authorized
        own = gw.publish("campus/s1/c1-elec/health", failed("c1-elec", now, last_answer=now - 3600),
                         qos=1, retain=True).mid
        assert not getattr(wait_for(lambda: acks.get(own), 10, "PUBACK for its own meter"), "is_failure", True)
        gw.publish("campus/s1/c1-kitchen/health", b'{"ok": maybe}', qos=1)
        wait_for(lambda: "c1-elec" in service.presence.health("s1"), 30, "the health stored")
        wait_for(lambda: service.dead_letters.count() == 1, 30, "the bad health a dead letter")
        h = service.presence.health("s1")["c1-elec"]
        assert (h.ok, h.code, h.last_answer) == (False, "no_answer", (now - 3600) * 1000)
        assert "d1-elec" not in service.presence.health("s1")
        assert "health payload is not JSON" in service.dead_letters.list(limit=1)[0].reason
    finally:
        shut(gw)
        service.stop()
    assert DataDir(tmp_path / "data").state.exists()


@pytest.mark.integration
def test_retained_health_through_the_embedded_broker_reaches_an_ingest_that_starts_later(tmp_path: Path) -> None:
    """The single-machine default: the embedded broker has no ACL; a retained health published before ingest
    subscribes is delivered when it does."""
    broker = EmbeddedBroker(port=0).start()
    gw = paho.Client(CallbackAPIVersion.VERSION2, client_id="gw-canteen-1")
    service: IngestService | None = None
    try:
        gw.connect("127.0.0.1", broker.port)
        gw.loop_start()
        now = int(time.time())
        gw.publish("campus/s1/c1-water/health", failed("c1-water", now), qos=1, retain=True).wait_for_publish(10)
        service = IngestService(data_dir=tmp_path / "data", store=StoreSettings(), ingest=IngestSettings(),
                                mqtt=MqttSettings(url=f"mqtt://127.0.0.1:{broker.port}", client_id="mw-ingest"),
                                campus=campus())
        service.start()
        assert service.mqtt is not None
        assert service.mqtt.wait_connected(15), "ingest did not subscribe"
        wait_for(lambda: "c1-water" in service.presence.health("s1"), 30, "the retained health stored")
        stored = service.presence.health("s1")["c1-water"]
        assert stored.error == "no answer from 12345678901234 on rs485-1 after 3 tries"
    finally:
        shut(gw)
        if service is not None:
            service.stop()
        broker.stop()
