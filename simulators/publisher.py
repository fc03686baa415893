"""Publish a :class:`Simulation` over real MQTT, paced by simulated time.

``speed`` = simulated seconds per wall second (0 = as fast as the broker takes it: backfill).
A device with the ``device_offline`` fault publishes through its own connection whose Last
Will is ``offline``; the fault drops that connection without DISCONNECT so the broker sends it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from simulators.model import Publication, Simulation


@dataclass
class Tally:
    published: int = 0
    readings: int = 0
    by_what: dict[str, int] = field(default_factory=dict)

    def count(self, pub: Publication, progress: Callable[[int], None] | None) -> None:
        self.published += 1
        self.readings += len(pub.readings)
        self.by_what[pub.what] = self.by_what.get(pub.what, 0) + 1
        if progress is not None:
            progress(max(1, len(pub.readings)))


class _Client:
    """A paho client that bounds the number of unacknowledged publishes."""

    def __init__(self, link: Link, client_id: str, window: int = 2000,
                 will: tuple[str, bytes] | None = None, password: str | None = None) -> None:
        self.c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311)
        self.c.max_inflight_messages_set(200)
        self.c.max_queued_messages_set(0)
        if password is not None:  # the broker knows us by our id: username and client id are the same
            self.c.username_pw_set(client_id, password)
        if link.tls:
            self.c.tls_set(ca_certs=link.cafile)
        if will:
            self.c.will_set(will[0], will[1], qos=1, retain=True)
        self._outstanding = threading.Semaphore(window)
        self._window = window
        self.c.on_publish = lambda *a: self._outstanding.release()
        self.c.connect(link.host, link.port, keepalive=30)
        self.c.loop_start()

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self._outstanding.acquire()
        self.c.publish(topic, payload, qos=1, retain=retain)

    def flush(self, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        got = 0
        while got < self._window and time.monotonic() < deadline:
            if self._outstanding.acquire(timeout=0.1):
                got += 1
        for _ in range(got):
            self._outstanding.release()
        return got == self._window

    def close(self, clean: bool = True) -> None:
        if clean:
            self.c.disconnect()  # closed below if paho's thread stopped before it had sent DISCONNECT
        self.c.loop_stop()
        # the connection and paho's wake-up socket pair, which paho itself closes only when the client is
        # collected (ingest.mqtt.shut says why that warns; the simulator does not import meterwatch)
        reset = getattr(self.c, "_reset_sockets", None)
        if callable(reset):
            reset()
        elif (sock := self.c.socket()) is not None:
            sock.close()


@dataclass(frozen=True)
class Link:
    host: str
    port: int
    tls: bool
    cafile: str | None

    @classmethod
    def of(cls, broker: str, cafile: str | None = None) -> Link:
        url = urlsplit(broker if "://" in broker else f"mqtt://{broker}")
        tls = url.scheme in ("mqtts", "ssl")
        return cls(url.hostname or "127.0.0.1", url.port or (8883 if tls else 1883), tls, cafile)


class _Gateways:
    """With credentials: one connection per gateway (or device without one), as itself, opened when first
    needed. A publication for a device the campus does not know goes out on some gateway's connection, and the
    broker's ACL decides (as with a misconfigured gateway)."""

    def __init__(self, sim: Simulation, link: Link, credentials: dict[str, str]) -> None:
        self.sim, self.link, self.credentials = sim, link, credentials
        self.publisher = {d["id"]: d.get("gateway") or d["id"] for d in sim.devices}
        missing = sorted(set(self.publisher.values()) - set(credentials))
        if missing:
            raise ValueError(f"no credentials for {', '.join(missing[:5])}: give every gateway's secret")
        self.open: dict[str, _Client] = {}

    def client(self, device: str, will: bool = False) -> _Client:
        who = self.publisher.get(device) or next(iter(self.credentials))
        if who not in self.open:
            w = (self.sim.topic(device, "status"), b"offline") if will else None
            self.open[who] = _Client(self.link, who, will=w, password=self.credentials[who])
        return self.open[who]

    def drop(self, device: str) -> _Client | None:
        return self.open.pop(self.publisher.get(device, ""), None)


def publish(sim: Simulation, broker: str, *, speed: float = 0.0, live: bool = False,
            client_id: str = "meterwatch-simulator", credentials: dict[str, str] | None = None,
            cafile: str | None = None,
            progress: Callable[[int], None] | None = None, stop: threading.Event | None = None,
            caught_up: threading.Event | None = None, backfill_batch: int = 1) -> Tally:
    """Publish ``sim`` to ``broker`` (mqtt:// or mqtts://, with ``cafile``). With ``credentials`` (gateway or
    device id → secret) every gateway publishes as itself, the way a campus in production does. ``live``: the
    past at full speed (``backfill_batch`` readings of a device per message, as a gateway sends a backlog), then
    in step with the clock. ``progress`` is told readings (or messages without any)."""
    link = Link.of(broker, cafile)
    offline = {f.device for f in sim.faults if f.name == "device_offline" and f.device}
    if credentials is not None:
        return _publish_as_gateways(sim, _Gateways(sim, link, credentials), offline, speed, live, progress, stop,
                                    caught_up)
    main = _Client(link, client_id)
    gateways = {d: _Client(link, f"{client_id}-{d}", will=(sim.topic(d, "status"), b"offline"))
                for d in offline}
    tally = Tally()
    try:
        for pub in _paced(sim, speed, live, stop, [main], caught_up, backfill_batch):
            _send(pub, main, gateways)
            tally.count(pub, progress)
        main.flush()
        for g in gateways.values():
            g.flush()
    finally:
        main.close()
        for g in gateways.values():
            g.close(clean=True)
    return tally


def _batched(pubs: Iterator[Publication], size: int, until_ms: int) -> Iterator[Publication]:
    """What a gateway does with a backlog: up to ``size`` readings of one device in one JSON array, for the
    readings before ``until_ms``; everything else (and everything after) as it comes, each device in order."""
    held: dict[str, list[Publication]] = {}

    def merged(topic: str) -> Publication | None:
        group = held.pop(topic, [])
        if not group:
            return None
        if len(group) == 1:
            return group[0]
        return Publication(group[-1].ts_ms, topic, b"[" + b",".join(p.payload for p in group) + b"]",
                           group[-1].device, "batch", [r for p in group for r in p.readings])

    for pub in pubs:
        if pub.ts_ms >= until_ms:
            for topic in list(held):
                out = merged(topic)
                if out is not None:
                    yield out
            yield pub
            yield from pubs  # the live part, as it comes
            return
        if pub.what == "reading":
            held.setdefault(pub.topic, []).append(pub)
            if len(held[pub.topic]) >= size:
                out = merged(pub.topic)
                if out is not None:
                    yield out
            continue
        out = merged(pub.topic)
        if out is not None:
            yield out
        yield pub
    for topic in list(held):
        out = merged(topic)
        if out is not None:
            yield out


def _paced(sim: Simulation, speed: float, live: bool, stop: threading.Event | None,
           clients: list[_Client] | dict[str, _Client],
           caught_up: threading.Event | None = None, backfill_batch: int = 1) -> Iterator[Publication]:
    """The publications in order, each when it is due (``clients`` are flushed before a wait). ``caught_up`` is
    set at the first wait: a live run has published its backfill, in arrays of ``backfill_batch`` readings."""
    wall0 = time.monotonic()
    source = sim.publications()
    if live and backfill_batch > 1:
        source = _batched(source, backfill_batch, int(time.time() * 1000))
    for pub in source:
        if stop is not None and stop.is_set():
            return
        delay = 0.0
        if live:  # the past at full speed, then in step with the wall clock
            delay = pub.ts_ms / 1000 - time.time()
        elif speed > 0:
            delay = wall0 + (pub.ts_ms - sim.start_ms) / 1000 / speed - time.monotonic()
        if delay > 0:
            for c in list(clients.values() if isinstance(clients, dict) else clients):
                c.flush(5)
            if caught_up is not None:
                caught_up.set()
            if stop is None:
                time.sleep(delay)
            elif stop.wait(delay):
                return
        yield pub


def _send(pub: Publication, main: _Client, gateways: dict[str, _Client]) -> None:
    gw = gateways.get(pub.device)
    if pub.what == "disconnect":
        if gw is not None:
            gw.flush(10)
            gw.close(clean=False)  # the broker now publishes the Last Will: offline
            del gateways[pub.device]
        return
    (gw or main).publish(pub.topic, pub.payload, retain=pub.retain)


def _publish_as_gateways(sim: Simulation, gws: _Gateways, offline: set[str], speed: float, live: bool,
                         progress: Callable[[int], None] | None, stop: threading.Event | None,
                         caught_up: threading.Event | None = None) -> Tally:
    for d in sorted(offline):
        gws.client(d, will=True)  # its Last Will is the offline device's status
    tally = Tally()
    try:
        for pub in _paced(sim, speed, live, stop, gws.open, caught_up):
            if pub.what == "disconnect":
                gone = gws.drop(pub.device)
                if gone is not None:
                    gone.flush(10)
                    gone.close(clean=False)  # the broker publishes its Last Will: offline
            else:
                gws.client(pub.device).publish(pub.topic, pub.payload, retain=pub.retain)
            tally.count(pub, progress)
        for c in gws.open.values():
            c.flush()
    finally:
        for c in gws.open.values():
            c.close(clean=True)
    return tally
