"""The DTUs (数据传输单元) that carry a bus's bytes over the network to the gateway, each a :class:`gateway.links.Link`:

- :class:`ListenLink`: DTUs dial in to the gateway's ``listen`` address and first send their registration packet
  (注册包); heartbeats (心跳包) between the bus bytes are dropped;
- :class:`MqttLink`: a 4G DTU that carries the bus bytes over MQTT (requests to ``down``, answers on ``up``),
  over the gateway process's one broker connection (:class:`MqttChannel`).

The rules of every link (errors in words, bounded waits, dropped input) are ``gateway.links``'s.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Protocol

from campus.errors import ConfigError
from campus.model import Bus
from gateway.links import MAX_BUFFER, LinkDown, PacketFilter, drain, host_port, packet, recv_by
from ingest.config import MqttSettings
from ingest.mqtt import MqttPublisher

log = logging.getLogger("meterwatch.gateway.dtu")

HANDSHAKE_S = 10.0      # a dialling DTU sends its registration packet within this long, or is closed
MAX_PENDING = 16        # dialled-in connections waiting for their registration packet at once


class ListenLink:
    """DTUs dial in (``listen: HOST:PORT``) and first send the registration packet (注册包, ``register``); then the
    connection carries the bus bytes, with heartbeats (心跳包) between them, which are dropped.

    A connection whose first bytes are not the packet (or that sends nothing within 10 s) is closed and counted
    (``rejected``). A newer connection with the packet replaces the older one (a DTU that reconnected after its
    4G link dropped). Without ``register``, the newest connection is the bus. One thread accepts; the bus's own
    thread reads and writes the connection in use."""

    def __init__(self, bus: Bus, *, handshake_s: float = HANDSHAKE_S) -> None:
        self.where = bus.listen or ""
        self.handshake_s = handshake_s
        self._arrived = threading.Condition()
        self.registration = packet(bus.registration) if bus.registration else b""
        self.registration_text = bus.registration or ""
        heartbeat = packet(bus.heartbeat) if bus.heartbeat else b""
        self._stream = PacketFilter([heartbeat, self.registration])
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = -1, -1
        self._sock: socket.socket | None = None        # the connection in use (the bus's thread)
        self._next: socket.socket | None = None        # a newer registered connection, taken on the next use
        self._stopping = False
        self._accepted = 0
        self._rejected = 0
        self._replaced = 0
        self._drops = 0

    def open(self) -> None:
        if self._server is not None:
            return
        host, port = host_port(self.where)
        try:
            server = socket.create_server((host, port), backlog=16, reuse_port=False)
        except OSError as exc:
            raise LinkDown(f"cannot listen on {self.where} ({exc}): is another program using the port, "
                           "is the address one of this box's?") from None
        server.setblocking(False)
        self._server = server
        self._wake_r, self._wake_w = os.pipe()
        self._stopping = False
        self._thread = threading.Thread(target=self._accept_loop, name=f"dtu-listen-{self.where}", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        """The port listened on (the configured one, or the one the system chose for port 0)."""
        return int(self._server.getsockname()[1]) if self._server is not None else 0

    def _accept_loop(self) -> None:
        server = self._server
        assert server is not None  # noqa: S101 - open() sets it before starting this thread
        pending: dict[socket.socket, tuple[float, bytes]] = {}
        try:
            while not self._stopping:
                now = time.monotonic()
                for s, (until, _) in list(pending.items()):
                    if now >= until:
                        self._reject(s, pending, "sent no registration packet in time")
                timeout = min((u for u, _ in pending.values()), default=now + 5) - now
                fds: list[socket.socket | int] = [server, self._wake_r, *pending]
                ready, _, _ = select.select(fds, [], [], max(0.01, timeout))
                for r in ready:
                    if r is server:
                        self._accept(server, pending)
                    elif isinstance(r, socket.socket) and r in pending:
                        self._handshake(r, pending)
        finally:
            for s in pending:
                s.close()

    def _accept(self, server: socket.socket, pending: dict[socket.socket, tuple[float, bytes]]) -> None:
        try:
            conn, peer = server.accept()
        except OSError:
            return
        conn.setblocking(True)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if len(pending) >= MAX_PENDING:
            self._reject(conn, pending, "too many connections waiting to register")
            return
        if not self.registration:
            self._promote(conn)
            return
        pending[conn] = (time.monotonic() + self.handshake_s, b"")

    def _handshake(self, conn: socket.socket, pending: dict[socket.socket, tuple[float, bytes]]) -> None:
        until, got = pending[conn]
        try:
            data = conn.recv(len(self.registration) - len(got))
        except OSError:
            data = b""
        got += data
        if not data or not self.registration.startswith(got):
            self._reject(conn, pending, "sent something other than the registration packet")
            return
        if got == self.registration:
            del pending[conn]
            self._promote(conn)
        else:
            pending[conn] = (until, got)

    def _reject(self, conn: socket.socket, pending: dict[socket.socket, tuple[float, bytes]], why: str) -> None:
        pending.pop(conn, None)
        log.warning("dtu connection closed", extra={"listen": self.where, "why": why})
        conn.close()
        with self._arrived:
            self._rejected += 1
            self._arrived.notify_all()

    def _promote(self, conn: socket.socket) -> None:
        with self._lock:
            old, self._next = self._next, conn
        if old is not None:
            old.close()
        with self._arrived:
            self._accepted += 1
            self._arrived.notify_all()

    def wait_dialled(self, count: int, timeout_s: float) -> bool:
        """True once ``count`` DTU connections in all have registered (within ``timeout_s``)."""
        with self._arrived:
            return self._arrived.wait_for(lambda: self._accepted >= count, timeout_s)

    def wait_rejected(self, count: int, timeout_s: float) -> bool:
        """True once ``count`` connections in all have been refused (within ``timeout_s``)."""
        with self._arrived:
            return self._arrived.wait_for(lambda: self._rejected >= count, timeout_s)

    def _current(self) -> socket.socket:
        with self._lock:
            newer, self._next = self._next, None
        if newer is not None:
            if self._sock is not None:
                self._replaced += 1
                self._sock.close()
            self._sock = newer
            self._stream.flush()
        if self._sock is None:
            packet_words = f" with registration packet {self.registration_text!r}" if self.registration else ""
            raise LinkDown(f"no DTU has dialled in to {self.where}{packet_words}: check the DTU's server address "
                           "and port, its registration packet, and its 4G/network signal")
        return self._sock

    def _drop(self, why: str) -> LinkDown:
        self._drops += 1
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        self._stream.flush()
        return LinkDown(f"the DTU's connection to {self.where} dropped ({why}); waiting for it to dial in again")

    def close(self) -> None:
        self._stopping = True
        if self._thread is not None:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")
            self._thread.join(timeout=5)
            self._thread = None
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                _close_fd(fd)
        self._wake_r, self._wake_w = -1, -1
        with self._lock:
            newer, self._next = self._next, None
        for s in (newer, self._sock, self._server):
            if s is not None:
                s.close()
        self._sock, self._server = None, None

    def write(self, data: bytes) -> None:
        sock = self._current()
        try:
            sock.sendall(data)
        except OSError as exc:
            raise self._drop(str(exc)) from None

    def read(self, max_bytes: int, deadline: float) -> bytes:
        sock = self._current()
        while True:
            try:
                data = recv_by(sock, max_bytes, deadline)
            except OSError as exc:
                raise self._drop(str(exc)) from None
            if data is None:
                raise self._drop("end of stream")
            if not data:
                return self._stream.flush()
            out = self._stream.feed(data)
            if out:
                return out

    def discard(self) -> None:
        try:
            sock = self._current()
        except LinkDown:
            return
        try:
            stale = drain(sock)
        except OSError as exc:
            raise self._drop(str(exc)) from None
        self._stream.feed(stale or b"")  # counts the heartbeats among what is dropped
        self._stream.flush()
        if stale is None:
            raise self._drop("end of stream")

    def counters(self) -> dict[str, int]:
        return {"link_opens": self._accepted, "link_drops": self._drops, "rejected": self._rejected,
                "replaced": self._replaced, "heartbeats": self._stream.removed}


def _close_fd(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


class MqttChannel(Protocol):
    """An MQTT connection the bus borrows (``ingest.mqtt.MqttChannel``, the gateway publisher's): one connection
    per gateway process, because a broker that uses the username as the client id (``use_username_as_clientid``,
    as ``meterwatch deploy mosquitto`` writes it) lets a second connection of the same account take the first
    one's place."""

    @property
    def connected(self) -> bool: ...
    def subscribe(self, topic: str, on_message: Callable[[str, bytes], None]) -> None: ...
    def unsubscribe(self, topic: str) -> None: ...
    def wait_subscribed(self, topic: str, timeout_s: float) -> bool: ...
    def publish(self, topic: str, payload: bytes, timeout_s: float = 5.0) -> None: ...


def _nothing(*_: object) -> None:
    return None


class MqttLink:
    """A 4G DTU that carries the bus bytes over MQTT: requests are published QoS 1 to ``down``, the answer's bytes
    arrive on ``up`` (in as many messages as the DTU cuts them into; the bus's ``heartbeat`` messages dropped).

    Over ``channel`` when one is given (the gateway process's own connection: ``up`` is subscribed on open and
    unsubscribed on close); else over a connection of its own (client id ``client_id``), made with ``ingest.mqtt``
    on open and closed on close — for one-off commands (``meterwatch gateway scan/read``), which must not run
    while the gateway process runs as the same account: the broker would let them take each other's place."""

    def __init__(self, bus: Bus, settings: MqttSettings | None, client_id: str = "meterwatch-gateway", *,
                 channel: MqttChannel | None = None) -> None:
        if bus.mqtt is None:
            raise ConfigError(f"bus {bus.name!r} is not an mqtt bus")
        if settings is None and channel is None:
            raise ConfigError(f"bus {bus.name!r} is reached over MQTT: the gateway needs an [mqtt] section")
        self.up, self.down = bus.mqtt.up, bus.mqtt.down
        self.settings = settings.model_copy(update={"client_id": client_id}) if settings is not None else None
        self.where = f"{settings.host}:{settings.port}" if settings is not None else "the broker"
        self._shared = channel
        self._stream = PacketFilter([packet(bus.heartbeat)] if bus.heartbeat else [])  # a DTU's heartbeat messages
        self._cond = threading.Condition()
        self._buf = bytearray()
        self._own: MqttPublisher | None = None
        self._channel: MqttChannel | None = None
        self._overflow = 0

    def open(self) -> None:
        if self._channel is not None:
            return
        channel = self._shared
        if channel is None:
            assert self.settings is not None  # noqa: S101 - __init__ refuses neither
            own = MqttPublisher(self.settings, will=None, on_connected=_nothing, on_acked=_nothing)
            own.start()
            self._own, channel = own, own.channel
        channel.subscribe(self.up, self._arrived)  # the DTU's answers, not readings
        self._channel = channel

    def wait_ready(self, timeout_s: float) -> bool:
        """True once subscribed to ``up`` (within ``timeout_s``)."""
        channel = self._channel
        return channel is not None and channel.wait_subscribed(self.up, timeout_s)

    def _arrived(self, topic: str, payload: bytes) -> None:
        with self._cond:
            data = self._stream.feed(payload) + self._stream.flush()  # a message is whole: nothing held
            if len(self._buf) + len(data) > MAX_BUFFER:
                self._overflow += 1
                self._buf.clear()
            self._buf += data
            self._cond.notify_all()

    def close(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.unsubscribe(self.up)
        own, self._own = self._own, None
        if own is not None:
            own.stop()

    def write(self, data: bytes) -> None:
        channel = self._channel
        if channel is None or not channel.connected:
            raise LinkDown(f"not connected to the broker at {self.where}; cannot send to the DTU on {self.down}")
        try:
            channel.publish(self.down, data, timeout_s=3.0)
        except (TimeoutError, RuntimeError, ValueError, OSError) as exc:
            raise LinkDown(f"could not publish to {self.down} ({exc}): is the broker up, may this account "
                           "write the DTU's down topic?") from None

    def read(self, max_bytes: int, deadline: float) -> bytes:
        with self._cond:
            while not self._buf:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return b""
                self._cond.wait(remaining)
            out = bytes(self._buf[:max_bytes])
            del self._buf[:max_bytes]
            return out

    def discard(self) -> None:
        with self._cond:
            self._buf.clear()

    def counters(self) -> dict[str, int]:
        return {"overflow": self._overflow, "heartbeats": self._stream.removed}
