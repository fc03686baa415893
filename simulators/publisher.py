"""Publish a :class:`Simulation` over real MQTT, paced by simulated time.

``speed`` = simulated seconds per wall second (0 = as fast as the broker takes it: backfill).
A device with the ``device_offline`` fault publishes through its own connection whose Last
Will is ``offline``; the fault drops that connection without DISCONNECT so the broker sends it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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


class _Client:
    """A paho client that bounds the number of unacknowledged publishes."""

    def __init__(self, host: str, port: int, client_id: str, window: int = 2000,
                 will: tuple[str, bytes] | None = None) -> None:
        self.c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311)
        self.c.max_inflight_messages_set(200)
        self.c.max_queued_messages_set(0)
        if will:
            self.c.will_set(will[0], will[1], qos=1, retain=True)
        self._outstanding = threading.Semaphore(window)
        self._window = window
        self.c.on_publish = lambda *a: self._outstanding.release()
        self.c.connect(host, port, keepalive=30)
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
            self.c.disconnect()
            self.c.loop_stop()
        else:
            self.c.loop_stop()
            sock = self.c.socket()
            if sock is not None:
                sock.close()


def publish(sim: Simulation, broker: str, *, speed: float = 0.0, live: bool = False,
            client_id: str = "meterwatch-simulator",
            progress: Callable[[int], None] | None = None, stop: threading.Event | None = None) -> Tally:
    url = urlsplit(broker if "://" in broker else f"mqtt://{broker}")
    host, port = url.hostname or "127.0.0.1", url.port or 1883
    main = _Client(host, port, client_id)
    offline = {f.device for f in sim.faults if f.name == "device_offline" and f.device}
    gateways = {d: _Client(host, port, f"{client_id}-{d}", will=(sim.topic(d, "status"), b"offline"))
                for d in offline}
    tally = Tally()
    wall0 = time.monotonic()
    try:
        for pub in sim.publications():
            if stop is not None and stop.is_set():
                break
            delay = 0.0
            if live:  # the past at full speed, then in step with the wall clock
                delay = pub.ts_ms / 1000 - time.time()
            elif speed > 0:
                delay = wall0 + (pub.ts_ms - sim.start_ms) / 1000 / speed - time.monotonic()
            if delay > 0:
                main.flush(5)
                if stop is None:
                    time.sleep(delay)
                elif stop.wait(delay):
                    break
            _send(pub, main, gateways)
            tally.published += 1
            tally.readings += len(pub.readings)
            tally.by_what[pub.what] = tally.by_what.get(pub.what, 0) + 1
            if progress is not None:
                progress(1)
        main.flush()
        for g in gateways.values():
            g.flush()
    finally:
        main.close()
        for g in gateways.values():
            g.close(clean=True)
    return tally


def _send(pub: Publication, main: _Client, gateways: dict[str, _Client]) -> None:
    gw = gateways.get(pub.device)
    if pub.what == "disconnect":
        if gw is not None:
            gw.flush(10)
            gw.close(clean=False)  # the broker now publishes the Last Will: offline
            del gateways[pub.device]
        return
    (gw or main).publish(pub.topic, pub.payload, retain=pub.retain)
