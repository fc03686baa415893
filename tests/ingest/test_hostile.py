"""End to end through a real Mosquitto: hostile messages mixed into a simulated campus day. Ingest runs with
its worker process (the default) and the alert service subscribes beside it. Every valid reading is stored
exactly once, every hostile message is one dead letter with its reason, the alert engine evaluates every
message, and health is ok afterwards."""

from __future__ import annotations

from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from alerts.config import AlertSettings
from alerts.service import AlertService
from ingest.config import MqttSettings
from ingest.mqtt import shut
from simulators.publisher import publish
from tests.support.harness import assert_exactly_once, make_service, malformed_count, simulation, start_connected
from tests.support.servers import Mosquitto, wait_for

pytestmark = pytest.mark.integration

T = "campus/yucai/c1-water/reading"
Q = "campus/yucai/ta-fountain/reading"
HOSTILE: list[tuple[str, bytes]] = [
    (T, b'[{"values":' * 300 + b'{"volume_m3":1}' + b"}]" * 300),          # the crafted message: deep batch item
    (T, b"[" * 5000 + b"]" * 5000),                                          # deeper than the parser allows
    (T, b'{"values":{"volume_m3":1e400}}'),                                  # infinity
    (T, b'{"values":{"volume_m3":NaN}}'),
    (T, b'{"values":{"volume_m3":123456789012345678901234567890}}'),         # a huge integer
    (T, b'{"values":{"volume_m3":1e10}}'),                                   # over the register ceiling
    (T, b'{"values":{"volume_m3":"12.5"}}'),                                 # a string is not a number
    (T, b'{"values":{"volume_m3":true}}'),                                   # nor is a boolean
    (T, b'{"seq":9223372036854775808,"values":{"volume_m3":1}}'),            # seq beyond int64
    (T, b'{"ts":true,"values":{"volume_m3":1}}'),
    (T, b'{"ts":"' + b"9" * 5000 + b'","values":{"volume_m3":1}}'),
    (T, b'{"values":{"volume_m3":-1,"volume_m3":-2}}'),                      # duplicate keys, both bad
    (T, b'{"values":{"volume_m3":1,"flow_m3h":100000000}}'),                 # over the physical range
    (T, b"\xff\xfe\x00garbage"),                                             # not UTF-8
    (T, b'{"values":{"volume_m3":"\xed\xa0\x80"}}'),                         # an encoded lone surrogate
    (T, b"[" + b",".join([b"{}"] * 10_001) + b"]"),                           # over the item limit
    (T, b" " * (256 * 1024 + 1)),                                            # over the payload limit
    (T, b"[]"),
    (T, b"null"),
    (Q, b'[{"values":{"ph":7.2,"ph":99}},{"values":[1,2,3]},{"values":{"ph":{"$gt":1}}}]'),
    (Q, b'{"values":{"ph":7,"__proto__":{"x":1}}}'),
    ("campus/yucai/no-such-meter/reading", b'{"values":{"volume_m3":1}}'),
    ("campus/yucai/" + "x" * 200 + "/reading", b'{"values":{"volume_m3":1}}'),
    ("campus/yucai/c1-water/status", b"maybe"),
    (T, b'{"values":{}}'),
]


def _send_raw(port: int, messages: list[tuple[str, bytes]]) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="", protocol=paho.MQTTv311)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for info in [client.publish(t, p, qos=1) for t, p in messages]:
            info.wait_for_publish(30)
            assert info.is_published()
    finally:
        shut(client)


def test_hostile_messages_mixed_into_a_day_stop_nothing(tmp_path: Path, mosquitto: Mosquitto) -> None:
    sim = simulation(days=1, faults=["malformed", "duplicates", "out_of_order"])
    service = make_service(tmp_path / "data", mosquitto.url)
    alerts = AlertService(data_dir=tmp_path / "data", mqtt=MqttSettings(url=mosquitto.url),
                          settings=AlertSettings(mqtt_publish=False))
    start_connected(service)
    alerts.start()
    assert alerts.mqtt is not None
    assert alerts.mqtt.wait_connected(10)
    try:
        _send_raw(mosquitto.port, HOSTILE[:12])
        tally = publish(sim, mosquitto.url)
        _send_raw(mosquitto.port, HOSTILE[12:])
        assert_exactly_once(service, sim)
        expected = malformed_count(sim) + len(HOSTILE)
        wait_for(lambda: service.dead_letters.count() >= expected, 60, f"{expected} dead letters")
        letters = service.dead_letters.list(limit=10_000)
        assert len(letters) == expected
        hostile = {(t, p) for t, p in HOSTILE}
        mine = [d for d in letters if (d.topic, d.payload) in hostile]
        assert len(mine) == len(HOSTILE)  # each one whole, one letter each
        assert all(d.reason.strip() for d in mine)
        batch = next(d for d in mine if d.topic == Q and d.payload.startswith(b"["))
        assert [i for i, _ in batch.items] == [0, 1, 2]
        total = sum(tally.by_what.values()) + len(HOSTILE)
        wait_for(lambda: alerts.evaluated >= total, 60, f"the alert engine evaluated {total} messages")
        assert alerts.failed == 0
        health = service.health()
        assert health.status == "ok"
        assert health.spool_depth == 0
        assert service.link is not None
        assert service.link.restarts == 0  # no message killed the worker
    finally:
        alerts.stop()
        service.stop()
