"""The ways a gateway reaches a bus, each as a byte :class:`Link`: a serial port on the gateway box, a serial server
or DTU we connect to (``tcp``), DTUs that dial in to us (``listen``), and a 4G DTU that carries the bus bytes over
MQTT. A Modbus TCP device is no byte link: ``gateway.reading`` speaks to it with pymodbus.

Rules, plainly:

- a link moves bytes and nothing else: frames, addresses and retries are the bus's (``gateway.bus``);
- every failure of the way to the bus is a :class:`LinkDown` in words that say what to check; third-party errors
  (pyserial, sockets, paho) are translated here;
- a link that is down is opened again on the next use, no sooner than its backoff (1 s doubling to 30 s), so a
  dead DTU costs one quick refusal per poll, never a wait;
- ``read`` returns what has arrived by ``deadline`` (``time.monotonic()``), at most ``max_bytes``; ``b""`` when
  nothing did. Every wait is bounded by that deadline.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Sequence
from typing import Protocol

import serial

from campus.errors import ConfigError, MeterwatchError
from campus.model import SERIAL_DEFAULTS, Bus
from campus.model import Protocol as MeterProtocol
from ingest.config import MqttSettings
from ingest.decode import Inbound
from ingest.mqtt import MqttSource

log = logging.getLogger("meterwatch.gateway.links")

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
HANDSHAKE_S = 10.0      # a dialling DTU sends its registration packet within this long, or is closed
MAX_PENDING = 16        # dialled-in connections waiting for their registration packet at once
MAX_BUFFER = 64 * 1024  # bytes a link keeps unread (a DTU that sends anything cannot grow it further)


class LinkDown(MeterwatchError):
    """The way to a bus is broken (port gone, DTU unreachable, nobody dialled in, broker away); says what to check."""

    def __init__(self, words: str) -> None:
        super().__init__(words)
        self.words = words


class Link(Protocol):
    """Bytes to and from one bus."""

    def open(self) -> None: ...          # start (idempotent); failures to reach the bus show on write/read
    def close(self) -> None: ...         # release every fd and thread (idempotent)
    def write(self, data: bytes) -> None: ...
    def read(self, max_bytes: int, deadline: float) -> bytes: ...
    def discard(self) -> None: ...       # drop input that arrived before our request (late answers, heartbeats)
    def counters(self) -> dict[str, int]: ...


def packet(text: str) -> bytes:
    """A registration or heartbeat packet as configured: text (UTF-8) or ``hex:4757…`` for bytes."""
    if text.startswith("hex:"):
        try:
            return bytes.fromhex(text[4:])
        except ValueError:
            raise ConfigError(f"packet {text!r}: after 'hex:' give hex digits, e.g. hex:47573031") from None
    return text.encode()


def serial_settings(bus: Bus, protocols: Sequence[MeterProtocol]) -> tuple[int, str]:
    """Baud and parity of a serial bus: as configured, else the convention of its meters' protocols
    (``campus.model.SERIAL_DEFAULTS``). Meters whose conventions disagree need the bus to say which."""
    out: list[int | str] = []
    for i, (given, what) in enumerate(((bus.baud, "baud"), (bus.parity, "parity"))):
        if given is not None:
            out.append(given)
            continue
        defaults = {p.value: SERIAL_DEFAULTS[p][i] for p in protocols}
        if len(set(defaults.values())) > 1:
            listed = ", ".join(f"{p} {v}" for p, v in sorted(defaults.items()))
            raise ConfigError(f"bus {bus.name!r}: its meters' protocols disagree on the {what} ({listed}); "
                              f"set {what} on the bus to what the meters are set to")
        out.append(next(iter(defaults.values()), SERIAL_DEFAULTS[MeterProtocol.DLT645][i]))
    return int(out[0]), str(out[1])


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


class _Backoff:
    """When a link that failed may be tried again: 1 s, doubling to 30 s, reset by a success."""

    def __init__(self, first_s: float = BACKOFF_FIRST_S) -> None:
        self.first_s = first_s
        self.delay = 0.0
        self.not_before = 0.0
        self.last = ""

    def ready(self) -> bool:
        return time.monotonic() >= self.not_before

    def failed(self, words: str) -> LinkDown:
        self.delay = min(BACKOFF_MAX_S, max(self.first_s, self.delay * 2))
        self.not_before = time.monotonic() + self.delay
        self.last = words
        return LinkDown(words)

    def ok(self) -> None:
        self.delay = 0.0
        self.not_before = 0.0


def _wait_readable(fd: int, deadline: float) -> bool:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return False
    ready, _, _ = select.select([fd], [], [], remaining)
    return bool(ready)


class SerialLink:
    """An RS-485 adapter on the gateway box (``serial: /dev/ttyUSB0``), 8 data bits, the bus's parity and stop bits."""

    def __init__(self, bus: Bus, baud: int, parity: str, *, backoff_s: float = BACKOFF_FIRST_S) -> None:
        self.path = bus.serial or ""
        self.baud, self.parity, self.stopbits = baud, parity, bus.stopbits
        self._port: serial.Serial | None = None
        self._backoff = _Backoff(backoff_s)
        self._opens = 0
        self._drops = 0

    def open(self) -> None:
        with contextlib.suppress(LinkDown):
            self._ensure()

    def _ensure(self) -> serial.Serial:
        if self._port is not None:
            return self._port
        if not self._backoff.ready():
            raise LinkDown(self._backoff.last)
        try:
            port = serial.Serial(port=self.path, baudrate=self.baud, bytesize=serial.EIGHTBITS, parity=self.parity,
                                 stopbits=self.stopbits, timeout=0, write_timeout=5, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise self._backoff.failed(
                f"cannot open serial port {self.path} ({exc}): is the adapter plugged in, is the path right, "
                "may this user open it (group dialout), is another program using it?") from None
        self._backoff.ok()
        self._opens += 1
        self._port = port
        return port

    def _drop(self, exc: Exception) -> LinkDown:
        self._drops += 1
        self.close()
        return self._backoff.failed(f"serial port {self.path} failed ({exc}): was the adapter unplugged?")

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()

    def write(self, data: bytes) -> None:
        port = self._ensure()
        try:
            port.write(data)
        except (serial.SerialException, OSError) as exc:
            raise self._drop(exc) from None

    def read(self, max_bytes: int, deadline: float) -> bytes:
        port = self._ensure()
        try:
            if not _wait_readable(port.fileno(), deadline):
                return b""
            return bytes(port.read(max(1, min(max_bytes, port.in_waiting))))
        except (serial.SerialException, OSError) as exc:
            raise self._drop(exc) from None

    def discard(self) -> None:
        if self._port is None:
            return
        try:
            self._port.reset_input_buffer()
            while _wait_readable(self._port.fileno(), time.monotonic() + 0.0001):
                if not self._port.read(self._port.in_waiting or 1):
                    break
        except (serial.SerialException, OSError) as exc:
            raise self._drop(exc) from None

    def counters(self) -> dict[str, int]:
        return {"link_opens": self._opens, "link_drops": self._drops}


class _Stream:
    """Bytes from a socket with the DTU's heartbeat (and repeated registration) packets taken out. A packet split
    across reads is held back until it completes or the read's deadline comes."""

    def __init__(self, packets: Sequence[bytes]) -> None:
        self.packets = [p for p in packets if p]
        self.pending = b""
        self.removed = 0

    def feed(self, data: bytes) -> bytes:
        buf = self.pending + data
        for p in self.packets:
            n = buf.count(p)
            if n:
                self.removed += n
                buf = buf.replace(p, b"")
        hold = 0
        for p in self.packets:  # the longest tail of buf that starts a packet
            for k in range(min(len(p) - 1, len(buf)), 0, -1):
                if buf.endswith(p[:k]):
                    hold = max(hold, k)
                    break
        self.pending = buf[len(buf) - hold:] if hold else b""
        return buf[: len(buf) - hold] if hold else buf

    def flush(self) -> bytes:
        out, self.pending = self.pending, b""
        return out


def _recv(sock: socket.socket, max_bytes: int, deadline: float) -> bytes | None:
    """What a connected socket has by ``deadline`` (b"" if nothing); None when the peer has gone."""
    if not _wait_readable(sock.fileno(), deadline):
        return b""
    data = sock.recv(max_bytes)
    return data if data else None


def _drain(sock: socket.socket) -> bool:
    """Drop what a socket has waiting; False when the peer has gone."""
    while _wait_readable(sock.fileno(), time.monotonic() + 0.0001):
        if not sock.recv(4096):
            return False
    return True


class TcpLink:
    """A serial server or DTU in transparent mode (透传) that we connect to (``tcp: HOST:PORT``). A dropped connection
    is made again on the next use, after the backoff."""

    def __init__(self, bus: Bus, *, backoff_s: float = BACKOFF_FIRST_S) -> None:
        self.where = bus.tcp or ""
        self._addr = _host_port(self.where)
        self._sock: socket.socket | None = None
        self._backoff = _Backoff(backoff_s)
        heartbeat = packet(bus.heartbeat) if bus.heartbeat else b""
        self._stream = _Stream([heartbeat])
        self._connects = 0
        self._drops = 0

    def open(self) -> None:
        with contextlib.suppress(LinkDown):
            self._ensure()

    def _ensure(self) -> socket.socket:
        if self._sock is not None:
            return self._sock
        if not self._backoff.ready():
            raise LinkDown(self._backoff.last)
        try:
            sock = socket.create_connection(self._addr, timeout=3)
        except OSError as exc:
            raise self._backoff.failed(f"cannot connect to the serial server at {self.where} ({exc}): is it "
                                       "powered and on the network, is the port right, is it in TCP server "
                                       "mode?") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        self._backoff.ok()
        self._connects += 1
        self._sock = sock
        return sock

    def _drop(self, why: str) -> LinkDown:
        self._drops += 1
        self.close()
        return self._backoff.failed(f"the serial server at {self.where} closed the connection ({why}); "
                                    "connecting again")

    def close(self) -> None:
        sock, self._sock = self._sock, None
        self._stream.flush()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def write(self, data: bytes) -> None:
        sock = self._ensure()
        try:
            sock.sendall(data)
        except OSError as exc:
            raise self._drop(str(exc)) from None

    def read(self, max_bytes: int, deadline: float) -> bytes:
        sock = self._ensure()
        while True:
            try:
                data = _recv(sock, max_bytes, deadline)
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
        if self._sock is None:
            return
        try:
            gone = not _drain(self._sock)
        except OSError as exc:
            raise self._drop(str(exc)) from None
        self._stream.flush()
        if gone:
            raise self._drop("end of stream")

    def counters(self) -> dict[str, int]:
        return {"link_opens": self._connects, "link_drops": self._drops, "heartbeats": self._stream.removed}


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
        self._stream = _Stream([heartbeat, self.registration])
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
        host, port = _host_port(self.where)
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
                data = _recv(sock, max_bytes, deadline)
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
            gone = not _drain(sock)
        except OSError as exc:
            raise self._drop(str(exc)) from None
        self._stream.flush()
        if gone:
            raise self._drop("end of stream")

    def counters(self) -> dict[str, int]:
        return {"link_opens": self._accepted, "link_drops": self._drops, "rejected": self._rejected,
                "replaced": self._replaced, "heartbeats": self._stream.removed}


def _close_fd(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


class MqttLink:
    """A 4G DTU that carries the bus bytes over MQTT: requests are published QoS 1 to ``down``, the answer's bytes
    arrive on ``up`` (in as many messages as the DTU cuts them into). Connects through ``ingest.mqtt``."""

    def __init__(self, bus: Bus, settings: MqttSettings, client_id: str) -> None:
        if bus.mqtt is None:
            raise ConfigError(f"bus {bus.name!r} is not an mqtt bus")
        self.up, self.down = bus.mqtt.up, bus.mqtt.down
        self.settings = settings.model_copy(update={"client_id": client_id})
        self._cond = threading.Condition()
        self._buf = bytearray()
        self._source: MqttSource | None = None
        self._overflow = 0

    def open(self) -> None:
        if self._source is not None:
            return
        source = MqttSource(self.settings, self._arrived)
        source.filters = [self.up]  # the DTU's answers, not readings
        source.start()
        self._source = source

    def wait_ready(self, timeout_s: float) -> bool:
        """True once subscribed to ``up`` (within ``timeout_s``)."""
        return self._source is not None and self._source.wait_connected(timeout_s)

    def _arrived(self, msg: Inbound) -> None:
        with self._cond:
            if len(self._buf) + len(msg.payload) > MAX_BUFFER:
                self._overflow += 1
                self._buf.clear()
            self._buf += msg.payload
            self._cond.notify_all()
        if self._source is not None:
            self._source.ack(msg)

    def close(self) -> None:
        source, self._source = self._source, None
        if source is not None:
            source.stop()

    def write(self, data: bytes) -> None:
        source = self._source
        if source is None or not source.connected:
            raise LinkDown(f"not connected to the broker at {self.settings.host}:{self.settings.port}; "
                           f"cannot send to the DTU on {self.down}")
        try:
            source.publish(self.down, data, timeout_s=3.0)
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
        return {"overflow": self._overflow}


def link_for(bus: Bus, protocols: Sequence[MeterProtocol], *, mqtt: MqttSettings | None = None,
             client_id: str = "meterwatch-gateway") -> Link:
    """The byte link for a bus (not for ``modbus_tcp``, which pymodbus reaches itself)."""
    way = bus.way
    if way == "serial":
        baud, parity = serial_settings(bus, protocols)
        return SerialLink(bus, baud, parity)
    if way == "tcp":
        return TcpLink(bus)
    if way == "listen":
        return ListenLink(bus)
    if way == "mqtt":
        if mqtt is None:
            raise ConfigError(f"bus {bus.name!r} is reached over MQTT: the gateway needs an [mqtt] section")
        return MqttLink(bus, mqtt, client_id)
    raise ConfigError(f"bus {bus.name!r}: a {way} bus has no byte link")
