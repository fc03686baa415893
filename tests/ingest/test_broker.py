"""The embedded broker with real paho clients: persistent sessions, redelivery, Last Will, retained."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ingest.broker import EmbeddedBroker, topic_matches
from ingest.mqtt import shut
from tests.support.servers import wait_for


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    b = EmbeddedBroker(port=0).start()
    yield b
    b.stop()


def _subscriber(port: int, got: list[paho.MQTTMessage], ack: threading.Event) -> paho.Client:
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id="sub", clean_session=False, manual_ack=True)
    subscribed = threading.Event()
    c.on_connect = lambda c, *a: c.subscribe("campus/#", qos=1)
    c.on_subscribe = lambda *a: subscribed.set()

    def on_message(client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        got.append(msg)
        if ack.is_set():
            client.ack(msg.mid, msg.qos)

    c.on_message = on_message
    c.connect("127.0.0.1", port)
    c.loop_start()
    assert subscribed.wait(30)
    return c


def test_topic_filters() -> None:
    assert topic_matches("campus/+/+/reading", "campus/s/d/reading")
    assert topic_matches("campus/#", "campus/s/d/status")
    assert not topic_matches("campus/+/reading", "campus/s/d/reading")
    assert not topic_matches("#", "$SYS/x")


def test_unacknowledged_messages_are_redelivered_and_offline_ones_queued(broker: EmbeddedBroker) -> None:
    got: list[paho.MQTTMessage] = []
    ack = threading.Event()
    sub = _subscriber(broker.port, got, ack)
    pub = paho.Client(CallbackAPIVersion.VERSION2, client_id="pub")
    pub.will_set("campus/s/gw/status", "offline", qos=1, retain=True)
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    for i in range(50):
        pub.publish("campus/s/d/reading", str(i), qos=1).wait_for_publish(30)
    wait_for(lambda: len(got) == 50, 30, "50 deliveries")
    shut(sub)  # none acknowledged
    for i in range(50, 60):
        pub.publish("campus/s/d/reading", str(i), qos=1).wait_for_publish(30)
    assert pub.socket() is not None
    shut(pub, clean=False)  # unclean: the broker publishes the Will
    got.clear()
    ack.set()
    sub = _subscriber(broker.port, got, ack)
    wait_for(lambda: len(got) >= 61, 30, "redelivery")
    readings = [int(m.payload) for m in got if m.topic.endswith("reading")]
    assert sorted(readings) == list(range(60))
    assert sum(1 for m in got if m.dup) == 50
    assert any(m.topic == "campus/s/gw/status" and m.payload == b"offline" for m in got)
    shut(sub)


def test_shut_leaves_no_socket_of_the_client_open(broker: EmbeddedBroker) -> None:
    """shut closes the connection and paho's wake-up socket pair, which paho closes only when the client is
    collected: in a reference cycle that warns of an unclosed socket in whatever test the collector runs in."""
    for clean in (True, False):
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"shut-{clean}")
        connected = threading.Event()
        c.on_connect = lambda *a, done=connected: done.set()
        c.connect("127.0.0.1", broker.port)  # then loop_start: the pattern that makes a second socket pair
        c.loop_start()
        assert connected.wait(10)
        held = [s for s in (c.socket(), c._sockpairR, c._sockpairW) if s is not None]  # noqa: SLF001
        assert len(held) == 3
        shut(c, clean=clean)
        assert [s.fileno() for s in held] == [-1, -1, -1], f"clean={clean}: a socket of the client is still open"
