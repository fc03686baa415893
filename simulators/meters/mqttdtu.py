"""A 4G DTU that carries the bus bytes over MQTT (透传 over MQTT): what arrives on its ``down`` topic goes
onto the bus; what the meters answer is published on ``up``, one message per answer frame (a DTU packs
bytes by the gap after them), QoS 1 both ways. paho reconnects by itself if the broker goes away.
``mqtt://USER:PASSWORD@HOST:PORT`` logs in as USER (a real DTU has an account of its own; a broker with
``use_username_as_clientid`` refuses a client without one).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from simulators.meters.line import Line, Meters

log = logging.getLogger(__name__)
_ids = itertools.count(1)


class MqttDtuLine(Line):
    whole_frames = True

    def __init__(self, name: str, meters: Meters, *, baud: int, bits: int, url: str, up: str, down: str,
                 client_id: str | None = None) -> None:
        super().__init__(name, meters, baud=baud, bits=bits)
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
            raise ValueError(f"simulated DTU {name}: the broker is mqtt://HOST:PORT, not {url!r}")
        self.host, self.port = parts.hostname, parts.port or 1883
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.up, self.down_topic = up, down
        self.client_id = client_id or f"sim-dtu-{name}-{next(_ids)}"
        self.subscribed = threading.Event()
        self._inbox: deque[bytes] = deque()
        self.client: paho.Client | None = None

    def _open(self) -> None:
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=paho.MQTTv311)
        if self.username:
            client.username_pw_set(self.username, self.password)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.reconnect_delay_set(1, 2)
        self.client = client
        client.connect_async(self.host, self.port, keepalive=30)
        client.loop_start()

    def _on_connect(self, client: paho.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("simulated DTU %s: broker refused: %s", self.name, reason)
            return
        client.subscribe(self.down_topic, qos=1)

    def _on_subscribe(self, *_args: Any) -> None:
        self.subscribed.set()

    def _on_message(self, _client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
        self._inbox.append(bytes(message.payload))
        self._wake()

    def _tick(self) -> None:
        while self._inbox:
            self._incoming(self._inbox.popleft())

    def _send(self, data: bytes) -> None:
        if self.client is not None:
            self.client.publish(self.up, data, qos=1)

    def _close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        client.disconnect()
        client.loop_stop()
        # paho closes its sockets (the connection and its wake-up pair) only when the client is collected,
        # which warns; close them now
        reset = getattr(client, "_reset_sockets", None)
        if callable(reset):
            reset()
        elif (sock := client.socket()) is not None:
            sock.close()
