"""The one place paho-mqtt lives: connect with a persistent session, subscribe, turn paho
messages into :class:`Inbound`, acknowledge by hand.

QoS 1, fixed client id, clean session off, ``manual_ack=True``: the broker redelivers anything
we have not acknowledged, and we acknowledge only after the pipeline has committed it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from ingest.config import MqttSettings
from ingest.decode import Inbound

log = logging.getLogger("meterwatch.mqtt")


class MqttSource:
    """Ingest's (and the alert process's) persistent session: every message on ``settings.filters(sites)`` becomes
    an :class:`Inbound` for ``on_message``, acknowledged by hand (:meth:`ack`). Beside it, the same connection
    carries short-lived subscriptions of the process (:meth:`subscribe`, e.g. a drill's answers), whose messages go
    to their own callbacks (acknowledged at once) and never to ``on_message``; :attr:`channel` lends them with
    :meth:`request`, as :class:`MqttPublisher`'s does (one connection per account: the broker meterwatch deploys
    uses the username as the client id)."""

    def __init__(self, settings: MqttSettings, on_message: Callable[[Inbound], None],
                 sites: list[str] | None = None) -> None:
        self.settings = settings
        self.filters = settings.filters(sites)
        self._on_message = on_message
        self._connected = threading.Event()
        self.connected_at: float | None = None
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=settings.client_id,
                             protocol=paho.MQTTv311, clean_session=False, manual_ack=True)
        if settings.username:
            pw = settings.password.get_secret_value() if settings.password else None
            client.username_pw_set(settings.username, pw)
        _tls(client, settings)
        client.reconnect_delay_set(1, 10)
        client.on_connect = self._connect
        client.on_disconnect = self._disconnect
        client.on_message = self._message
        self._subs = subs = _Subscriptions(client, on_own=self._subscribed)
        client.on_subscribe = lambda c, u, mid, reasons, p: subs.answered(mid, reasons)
        self._client = client
        self.channel = MqttChannel(self)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def _connect(self, client: paho.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("mqtt connect refused", extra={"reason": str(reason)})
            return
        self.connected_at = time.monotonic()
        # on every connect, not only the first: Mosquitto 2.0.11 forgets the shared subscriptions of persistent
        # sessions when it restarts, although CONNACK says the session is present
        self._subs.send(self.filters, own=True)
        self._subs.connected()
        log.info("mqtt connected", extra={"broker": f"{self.settings.host}:{self.settings.port}",
                                          "session_present": getattr(flags, "session_present", None)})

    def _subscribed(self) -> None:
        self._connected.set()  # "connected" means subscribed: from here on the broker keeps our messages
        log.info("mqtt subscribed", extra={"filters": self.filters})

    def _disconnect(self, client: paho.Client, userdata: object, flags: object, reason: object,
                    props: object) -> None:
        self._connected.clear()
        self._subs.lost()
        log.warning("mqtt disconnected", extra={"reason": str(reason)})

    def _message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        # paho decodes the topic strictly; a broker that passes invalid UTF-8 must not stop the network loop:
        # the topic is kept with replacement characters and decode refuses it as a dead letter
        topic = msg._topic.decode("utf-8", "replace")  # noqa: SLF001 - the raw bytes paho keeps
        if self._subs.deliver(topic, bytes(msg.payload)):  # one of the process's own subscriptions: done with it
            if msg.qos > 0:
                client.ack(msg.mid, msg.qos)
            return
        self._on_message(Inbound(topic, bytes(msg.payload), time.time_ns() // 1_000_000,
                                 msg.mid, msg.qos, bool(msg.dup), bool(msg.retain)))

    def ack(self, msg: Inbound) -> None:
        if msg.qos > 0:
            self._client.ack(msg.mid, msg.qos)

    def publish(self, topic: str, payload: bytes, timeout_s: float = 5.0) -> None:
        """Publish with QoS 1 and wait until the broker has it (raises on timeout or when offline)."""
        info = self._client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout_s)
        if not info.is_published():
            raise TimeoutError(f"broker did not confirm within {timeout_s:g} s")

    request = publish  # as MqttPublisher's, for the channel

    def send(self, topic: str, payload: bytes) -> None:
        """Hand a QoS 1 message to paho and go on (paho sends it, and again after a reconnect, until the broker
        has it): for a thread that must not wait on the broker. Raises ValueError when paho's queue is full."""
        self._client.publish(topic, payload, qos=1)

    def subscribe(self, topic: str, on_message: OnMessage) -> None:
        """Call ``on_message(topic, payload)`` (on paho's thread: be quick, never publish from it) for each message
        on ``topic`` (a filter outside ``filters``), QoS 1, until :meth:`unsubscribe`."""
        self._subs.add(topic, on_message, self._client.is_connected())

    def unsubscribe(self, topic: str) -> None:
        self._subs.remove(topic, self._client.is_connected())

    def wait_subscribed(self, topic: str, timeout_s: float) -> bool:
        return self._subs.wait(topic, timeout_s)

    def start(self) -> None:
        self._client.connect_async(self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s)
        self._client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def stop(self) -> None:
        shut(self._client)


def _tls(client: paho.Client, settings: MqttSettings) -> None:
    if settings.tls:
        client.tls_set(ca_certs=str(settings.cafile) if settings.cafile else None,
                       certfile=str(settings.certfile) if settings.certfile else None,
                       keyfile=str(settings.keyfile) if settings.keyfile else None)


def take_over(settings: MqttSettings, username: str, password: str, timeout_s: float) -> bool:
    """Connect once as ``username`` with a clean session and leave: a broker that uses the username as the
    client id disconnects whoever was connected under it and forgets its session. True once the broker
    accepted us (within ``timeout_s``, trying again while it refuses, e.g. before it has re-read its files)."""
    deadline = time.monotonic() + timeout_s
    while not _connect_once(settings, username, password, max(0.1, min(2.0, deadline - time.monotonic()))):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)  # refused: the broker has not re-read its files yet
    return True


def _connect_once(settings: MqttSettings, username: str, password: str, wait_s: float) -> bool:
    accepted = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=username, protocol=paho.MQTTv311, clean_session=True)
    client.username_pw_set(username, password)
    _tls(client, settings)

    def connected(c: paho.Client, u: object, f: object, reason: object, p: object) -> None:
        if not getattr(reason, "is_failure", False):
            accepted.set()

    client.on_connect = connected
    try:
        client.connect(settings.host, settings.port, keepalive=10)
        client.loop_start()
        accepted.wait(wait_s)
    except OSError:
        return False
    finally:
        shut(client)
    return accepted.is_set()


def shut(client: paho.Client, *, clean: bool = True) -> None:
    """Stop a client and close every socket it holds. ``clean``: say DISCONNECT first (else the broker sees the
    connection drop, and publishes the Last Will).

    paho closes its socket only once its thread has written DISCONNECT, and loop_stop() right after disconnect()
    can end that thread first. It closes the socket pair that wakes its thread only in ``Client.__del__``, and
    a client in a reference cycle is finalised by the garbage collector in no particular order with those
    sockets: their own finalisers may run first and warn (an unclosed socket, found in a later, unrelated test).
    So both are closed here, through paho's own ``_reset_sockets``, the one place that knows them all."""
    if clean:
        client.disconnect()
    client.loop_stop()
    reset = getattr(client, "_reset_sockets", None)
    if callable(reset):
        with contextlib.suppress(OSError):
            reset()
        return
    sock = client.socket()  # a paho without _reset_sockets: at least the connection
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.close()


OnMessage = Callable[[str, bytes], None]  # (topic, payload) of a message on a subscribed topic


class _Handed:
    """Message ids paho handed out, matched with their acknowledgement whichever comes first: paho may read the
    broker's answer on its own thread before the call that sent the message has returned its id. Neither side
    holds this lock while it calls paho (paho calls back holding its own locks)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[int, Any] = {}  # message id → what it was sent for
        self._early: dict[int, Any] = {}  # message id → its answer, come before the id was registered

    def sent(self, mid: int, what: Any) -> tuple[bool, Any]:
        """Register ``mid``; (True, the answer) if it came already."""
        with self._lock:
            if mid in self._early:
                return True, self._early.pop(mid)
            self._waiting[mid] = what
            return False, None

    def answered(self, mid: int, answer: Any) -> tuple[bool, Any]:
        """The broker answered ``mid``: (True, what it was sent for), or (False, None) until it is registered."""
        with self._lock:
            if mid in self._waiting:
                return True, self._waiting.pop(mid)
            self._early[mid] = answer
            return False, None


class _Subscriptions:
    """Topic filters subscribed on one paho client, a callback each (QoS 1), subscribed again on every connect, and
    which of them the broker has granted on the current connection. Callbacks run on paho's thread."""

    def __init__(self, client: paho.Client, on_own: Callable[[], None] = lambda: None) -> None:
        self._client = client
        self._on_own = on_own  # the owner's own filters were granted (MqttSource's persistent ones)
        self._acks = _Handed()  # SUBSCRIBE id → its topics (None: the owner's own)
        self._lock = threading.Condition()
        self._subs: dict[str, OnMessage] = {}  # topic filter → its callback
        self._granted: set[str] = set()  # filters the broker has granted on this connection
        self.unclaimed = 0  # messages that arrived for no subscribed topic (one unsubscribed a moment ago)

    def add(self, topic: str, on_message: OnMessage, connected: bool) -> None:
        with self._lock:
            self._subs[topic] = on_message
            self._granted.discard(topic)
        if connected:
            self.send([topic])

    def remove(self, topic: str, connected: bool) -> None:
        with self._lock:
            known = self._subs.pop(topic, None) is not None
            self._granted.discard(topic)
        if known and connected:
            self._client.unsubscribe(topic)

    def wait(self, topic: str, timeout_s: float) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: topic in self._granted, timeout_s)

    @property
    def topics(self) -> list[str]:
        with self._lock:
            return sorted(self._subs)

    def connected(self) -> None:
        """On every connect: the broker may have forgotten them (a clean session, or Mosquitto's restart)."""
        topics = self.topics
        if topics:
            self.send(topics)

    def lost(self) -> None:
        with self._lock:
            self._granted.clear()

    def send(self, topics: list[str], *, own: bool = False) -> None:
        rc, mid = self._client.subscribe([(t, 1) for t in topics])
        if rc != paho.MQTT_ERR_SUCCESS or mid is None:
            return  # not connected after all: the next connect subscribes them
        came, reasons = self._acks.sent(int(mid), None if own else topics)
        if came:
            self._grant(None if own else topics, reasons)

    def answered(self, mid: int, reasons: object) -> None:
        """paho's on_subscribe."""
        known, topics = self._acks.answered(mid, reasons)
        if known:
            self._grant(topics, reasons)

    def _grant(self, topics: list[str] | None, reasons: object) -> None:
        if topics is None:
            self._on_own()
            return
        codes = list(reasons) if isinstance(reasons, list) else [reasons] * len(topics)
        with self._lock:
            for topic, code in zip(topics, codes, strict=False):
                if getattr(code, "is_failure", False):
                    log.warning("mqtt subscription refused: may this account read the topic? (the broker's ACL)",
                                extra={"topic": topic, "reason": str(code)})
                elif topic in self._subs:
                    self._granted.add(topic)
            self._lock.notify_all()

    def deliver(self, topic: str, payload: bytes) -> bool:
        """Call the callbacks of every filter ``topic`` matches; False if none does."""
        with self._lock:
            handlers = [h for f, h in self._subs.items() if paho.topic_matches_sub(f, topic)]
        for handler in handlers:
            try:
                handler(topic, payload)
            except Exception:  # a subscriber's fault must not stop paho's thread, nor the other subscribers
                log.exception("mqtt message handler failed", extra={"topic": topic})
        return bool(handlers)


class MqttPublisher:
    """A publishing client with a Last Will (the field gateway's): QoS 1, a fixed client id, and a callback
    with the message id of each PUBACK, so the caller deletes what it sent only once the broker has it.

    paho keeps unacknowledged QoS 1 messages and sends them again (DUP) after a reconnect, under the same
    message id: an id handed out by :meth:`publish` is answered by ``on_acked`` once, whenever that is.

    The same connection carries other traffic of the process, so that it needs one connection only (a broker
    with ``use_username_as_clientid`` makes a second connection of the same account take the first one's place):
    :meth:`subscribe` a topic with a callback for its messages (QoS 1; subscribed again on every connect, since
    the session is clean), :meth:`unsubscribe`, and :meth:`request` a QoS 1 message and wait for the broker to
    have it. ``on_acked`` sees only the ids :meth:`publish` returned, never a :meth:`request`'s.
    :attr:`channel` is all of that as one object (``gateway.dtu.MqttChannel``)."""

    def __init__(self, settings: MqttSettings, *, will: tuple[str, bytes] | None,
                 on_connected: Callable[[], None], on_acked: Callable[[int], None],
                 on_disconnected: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self._connected = threading.Event()
        self._on_acked = on_acked
        self._handed = _Handed()  # publish(): True (said to on_acked), request(): False
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=settings.client_id,
                             protocol=paho.MQTTv311, clean_session=True)
        if settings.username:
            pw = settings.password.get_secret_value() if settings.password else None
            client.username_pw_set(settings.username, pw)
        if will is not None:
            client.will_set(will[0], will[1], qos=1, retain=True)
        _tls(client, settings)
        client.reconnect_delay_set(1, 10)
        client.max_inflight_messages_set(100)
        client.max_queued_messages_set(0)

        def connected(c: paho.Client, u: object, f: object, reason: object, p: object) -> None:
            if getattr(reason, "is_failure", False):
                log.warning("mqtt connect refused: check [mqtt] username and password (meterwatch credentials "
                            "issue ID) and the broker's ACL", extra={"reason": str(reason),
                                                                     "username": settings.username})
                return
            self._connected.set()
            self._subs.connected()  # a clean session: the broker has forgotten them
            on_connected()

        def disconnected(c: paho.Client, u: object, f: object, reason: object, p: object) -> None:
            self._connected.clear()
            self._subs.lost()
            if on_disconnected is not None:
                on_disconnected(str(reason))

        client.on_connect = connected
        client.on_disconnect = disconnected
        client.on_publish = self._published
        self._subs = subs = _Subscriptions(client)
        client.on_subscribe = lambda c, u, mid, reasons, p: subs.answered(mid, reasons)
        client.on_message = self._message
        self._client = client
        self.channel = MqttChannel(self)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> int:
        """Hand a QoS 1 message to paho; its message id (``on_acked`` is called with it on PUBACK)."""
        mid = int(self._client.publish(topic, payload, qos=1, retain=retain).mid)
        came, _ = self._handed.sent(mid, True)
        if came:
            self._on_acked(mid)
        return mid

    def request(self, topic: str, payload: bytes, timeout_s: float = 5.0) -> None:
        """Publish with QoS 1 and wait until the broker has it; never said to ``on_acked``. Raises TimeoutError
        (not confirmed within ``timeout_s``), RuntimeError or ValueError (not connected: paho's words)."""
        info = self._client.publish(topic, payload, qos=1)
        self._handed.sent(int(info.mid), False)
        info.wait_for_publish(timeout_s)
        if not info.is_published():
            raise TimeoutError(f"broker did not confirm within {timeout_s:g} s")

    def _published(self, c: paho.Client, u: object, mid: int, reason: object, p: object) -> None:
        known, said = self._handed.answered(mid, None)
        if known and said:
            self._on_acked(mid)

    def subscribe(self, topic: str, on_message: OnMessage) -> None:
        """Call ``on_message(topic, payload)`` (on paho's thread: be quick, never publish from it) for each
        message on ``topic`` (a filter), QoS 1, from now on and after every reconnect. One callback a filter."""
        self._subs.add(topic, on_message, self.connected)

    def unsubscribe(self, topic: str) -> None:
        """Stop the messages of ``topic``: nothing is called for it from now on (idempotent)."""
        self._subs.remove(topic, self.connected)

    def wait_subscribed(self, topic: str, timeout_s: float) -> bool:
        """True once the broker has granted ``topic`` on the current connection (within ``timeout_s``)."""
        return self._subs.wait(topic, timeout_s)

    @property
    def subscriptions(self) -> list[str]:
        return self._subs.topics

    @property
    def unclaimed(self) -> int:
        """Messages that arrived for no subscribed topic (one unsubscribed a moment ago)."""
        return self._subs.unclaimed

    def _message(self, c: paho.Client, u: object, msg: paho.MQTTMessage) -> None:
        # as MqttSource: a topic that is not UTF-8 must not stop paho's thread
        topic = msg._topic.decode("utf-8", "replace")  # noqa: SLF001 - the raw bytes paho keeps
        if not self._subs.deliver(topic, bytes(msg.payload)):
            self._subs.unclaimed += 1

    def start(self) -> None:
        self._client.connect_async(self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s)
        self._client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def stop(self, *, clean: bool = True) -> None:
        shut(self._client, clean=clean)


class MqttChannel:
    """A :class:`MqttPublisher`'s (or :class:`MqttSource`'s) connection lent to someone else (a bus behind a 4G
    DTU, a drill's check): ``subscribe``, ``unsubscribe``, ``wait_subscribed``, ``connected``, and ``publish``,
    which waits for the broker's PUBACK (``request``) and is never mistaken for the owner's messages."""

    def __init__(self, owner: MqttPublisher | MqttSource) -> None:
        self._owner = owner
        self.where = f"{owner.settings.host}:{owner.settings.port}"

    @property
    def connected(self) -> bool:
        return self._owner.connected

    def subscribe(self, topic: str, on_message: OnMessage) -> None:
        self._owner.subscribe(topic, on_message)

    def unsubscribe(self, topic: str) -> None:
        self._owner.unsubscribe(topic)

    def wait_subscribed(self, topic: str, timeout_s: float) -> bool:
        return self._owner.wait_subscribed(topic, timeout_s)

    def publish(self, topic: str, payload: bytes, timeout_s: float = 5.0) -> None:
        self._owner.request(topic, payload, timeout_s)
