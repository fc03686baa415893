"""The buffer → the broker: readings as per-device JSON arrays on ``{prefix}/{site}/{device}/reading`` (QoS 1),
deleted from the buffer on the broker's PUBACK; each meter's health, retained; the gateway's own status.

Rules:
- Message id → buffer ids: a reading leaves the buffer only when the message that carried it is acknowledged.
  paho sends unacknowledged messages again after a reconnect under the same id; after a restart, whatever
  is still in the buffer goes again (ingest stores device + time once, so a second copy changes nothing).
- In order: rows go in buffer order, at most ``window`` messages unacknowledged at a time, each holding up to
  ``batch_max`` readings of one device and at most ``MAX_BYTES`` (the contract: 10,000 readings, 256 KiB).
- Status: ``online`` (retained) on every connect, ``offline`` as the Last Will and on a clean stop, on
  ``{prefix}/{site}/{gateway_id}/status``.
- Health (the contract h4 → h7): ``{prefix}/{site}/{device}/health``, QoS 1, retained; while the broker is
  away only the latest per meter is kept, and sent on reconnect.
- A drill's answer (one reading tagged ``"drill"``) goes straight out on the meter's reading topic, never through
  the buffer (nothing may keep or send it again after a restart); at most ``MAX_DRILLS`` wait, more are dropped.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from gateway.buffer import Buffer, Row
from ingest.config import MqttSettings
from ingest.mqtt import MqttChannel, MqttPublisher

log = logging.getLogger("meterwatch.gateway.publisher")
MAX_BYTES = 200 * 1024  # under the contract's 256 KiB a payload, with room for the topic and headers
WINDOW = 20  # reading messages unacknowledged at a time
MAX_DRILLS = 8  # drill answers waiting to be sent at a time


def payload(rows: Sequence[Row]) -> bytes:
    """One device's readings as the contract's JSON: an object for one, an array for more. ``ts`` in epoch
    milliseconds, ``seq`` the buffer id (the order the gateway took them)."""
    items = [{"ts": r.ts, "seq": r.id, "values": r.values} for r in rows]
    return json.dumps(items[0] if len(items) == 1 else items, separators=(",", ":")).encode()


def batches(rows: Sequence[Row], batch_max: int) -> list[list[Row]]:
    """Rows grouped per device, each device's in buffer order, at most ``batch_max`` and about ``MAX_BYTES``
    a group; groups ordered by their first row."""
    per_device: dict[str, list[list[Row]]] = {}
    sizes: dict[str, int] = {}
    order: list[list[Row]] = []
    for r in rows:
        groups = per_device.setdefault(r.device, [])
        size = 40 + 24 * len(r.values) + sum(len(k) for k in r.values)
        if not groups or len(groups[-1]) >= batch_max or sizes[r.device] + size > MAX_BYTES:
            groups.append([])
            order.append(groups[-1])
            sizes[r.device] = 0
        groups[-1].append(r)
        sizes[r.device] += size
    return order


class Publisher:
    def __init__(self, mqtt: MqttSettings, site: str, gateway_id: str, buffer: Buffer, *,
                 batch_max: int = 500, window: int = WINDOW) -> None:
        self.prefix, self.site, self.gateway_id = mqtt.topic_prefix, site, gateway_id
        self.buffer = buffer
        self.batch_max, self.window = batch_max, window
        self.status_topic = f"{self.prefix}/{site}/{gateway_id}/status"
        self._lock = threading.Lock()
        self._inflight: dict[int, list[int]] = {}  # message id → buffer ids
        self._handed: set[int] = set()  # buffer ids handed to paho, not yet removed
        self._early: set[int] = set()  # message ids acknowledged before we registered them
        self._done: list[int] = []  # buffer ids acknowledged, to remove (by the sender thread, not paho's)
        self._want_online = threading.Event()
        self._removing = 0  # removals under way (the sender thread, or stop)
        self._health: dict[str, bytes] = {}  # device → its latest health, not yet handed to paho
        self._drills: list[tuple[str, bytes]] = []  # (device, drill-tagged reading) not yet handed to paho
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.acked = 0  # readings the broker has acknowledged, since start
        self._client = MqttPublisher(mqtt, will=(self.status_topic, b"offline"), on_connected=self._connected,
                                     on_acked=self._acked, on_disconnected=self._disconnected)
        self._thread = threading.Thread(target=self._run, name="mw-gateway-publisher", daemon=True)

    def topic(self, device: str, channel: str) -> str:
        return f"{self.prefix}/{self.site}/{device}/{channel}"

    @property
    def connected(self) -> bool:
        return self._client.connected

    @property
    def channel(self) -> MqttChannel:
        """This publisher's connection, for the buses behind 4G DTUs over MQTT (subscribe ``up``, publish ``down``):
        their messages' PUBACKs never reach :meth:`_acked`, which sees only the ids of what this publisher sent."""
        return self._client.channel

    def start(self) -> None:
        self._client.start()
        self._thread.start()

    def wake(self) -> None:
        """New readings are in the buffer."""
        self._wake.set()

    def health(self, device: str, message: dict[str, Any]) -> None:
        """Publish ``device``'s health (retained); only the latest waits while the broker is away."""
        body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
        with self._lock:
            self._health[device] = body
        self._wake.set()

    def drill(self, device: str, body: bytes) -> bool:
        """Publish ``body`` (a drill-tagged reading) on ``device``'s reading topic, from the sender's thread; False
        (and nothing sent) while ``MAX_DRILLS`` wait already."""
        with self._lock:
            if len(self._drills) >= MAX_DRILLS:
                return False
            self._drills.append((device, body))
        self._wake.set()
        return True

    def wait_drained(self, timeout_s: float) -> bool:
        """True once the buffer is empty and nothing is in flight (or False after ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                idle = not any(self._inflight.values()) and not self._done and not self._health \
                    and not self._removing
            if idle and self.buffer.depth == 0:
                return True
            self._wake.set()
            time.sleep(0.05)
        return False

    def stop(self, drain_s: float = 5.0) -> None:
        """Send what can be sent within ``drain_s``, say ``offline``, disconnect cleanly."""
        if self._client.connected:
            self.wait_drained(drain_s)
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(10)
        if self._client.connected:
            mid = self._send(self.status_topic, b"offline", retain=True)
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline and self._client.connected:
                with self._lock:
                    if mid not in self._inflight:
                        break
                time.sleep(0.02)
        self._client.stop(clean=True)
        self._remove_done()

    # --- paho's thread (it holds its own lock here: nothing below may wait for ours long, or publish) -------
    def _connected(self) -> None:
        log.info("gateway connected to the broker", extra={"gateway": self.gateway_id})
        self._want_online.set()
        self._wake.set()

    def _disconnected(self, reason: str) -> None:
        log.warning("gateway disconnected from the broker", extra={"reason": reason, "buffered": self.buffer.depth})

    def _acked(self, mid: int) -> None:
        # only the ids of this publisher's own messages come here (MqttPublisher keeps the channel's DTU messages
        # out): an id not registered yet is one of ours whose PUBACK beat publish() returning it
        with self._lock:
            ids = self._inflight.pop(mid, None)
            if ids is None:
                self._early.add(mid)  # acknowledged before publish() returned its id to us
            else:
                self._done.extend(ids)
        self._wake.set()

    # --- the sender -----------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            try:
                self._remove_done()
                if self._stop.is_set() or not self._client.connected:
                    continue
                if self._want_online.is_set():
                    self._want_online.clear()
                    self._send(self.status_topic, b"online", retain=True)
                self._send_health()
                self._send_drills()
                self._send_readings()
            except Exception:  # a full disk, a closed file on the way out: said, and tried again
                log.exception("gateway publisher: sending failed; trying again")

    def _remove_done(self) -> None:
        with self._lock:
            done, self._done = self._done, []
            self._removing += bool(done)
        if done:
            try:
                self.buffer.remove(done)
            finally:
                with self._lock:
                    self._handed.difference_update(done)
                    self.acked += len(done)
                    self._removing -= 1

    def _send_health(self) -> None:
        with self._lock:
            pending, self._health = self._health, {}
        for device, body in pending.items():
            self._send(self.topic(device, "health"), body, retain=True)

    def _send_drills(self) -> None:
        with self._lock:
            pending, self._drills = self._drills, []
        for device, body in pending:
            self._send(self.topic(device, "reading"), body)

    def _send(self, topic: str, body: bytes, *, retain: bool = False, ids: list[int] | None = None) -> int:
        """Publish and register the message id with the buffer ids it carries (none for status and health).
        Every message is registered, so an id acknowledged before it was registered is never mistaken, after
        the ids wrap around, for a later message's."""
        ids = ids or []
        with self._lock:
            self._handed.update(ids)
        mid = self._client.publish(topic, body, retain=retain)
        with self._lock:
            if mid in self._early:
                self._early.discard(mid)
                self._done.extend(ids)
            else:
                self._inflight[mid] = ids
        return mid

    def _publish_group(self, group: list[Row]) -> None:
        self._send(self.topic(group[0].device, "reading"), payload(group), ids=[r.id for r in group])

    def _send_readings(self) -> None:
        while self._client.connected and not self._stop.is_set():
            with self._lock:
                room = self.window - sum(1 for ids in self._inflight.values() if ids)
                handed = set(self._handed)
            if room <= 0:
                return
            rows = [r for r in self.buffer.take(0, room * self.batch_max + len(handed)) if r.id not in handed]
            if not rows:
                return
            for group in batches(rows, self.batch_max)[:room]:
                self._publish_group(group)
