"""The ways a gateway reaches a bus, each as a byte :class:`Link`: a serial port on the gateway box and a serial
server or DTU we connect to (``tcp``) here; DTUs that dial in to us (``listen``) and a 4G DTU that carries the bus
bytes over MQTT in ``gateway.dtu``. A Modbus TCP device is no byte link: ``gateway.reading`` speaks to it with
pymodbus.

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
import select
import socket
import time
from collections.abc import Sequence
from typing import Protocol

import serial

from campus.errors import ConfigError, MeterwatchError
from campus.model import SERIAL_DEFAULTS, Bus
from campus.model import Protocol as MeterProtocol

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
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


def host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) → (host, port)."""
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
            dropped = 0
            while dropped < MAX_BUFFER and _wait_readable(self._port.fileno(), time.monotonic() + 0.0001):
                got = self._port.read(self._port.in_waiting or 1)
                if not got:
                    break
                dropped += len(got)
        except (serial.SerialException, OSError) as exc:
            raise self._drop(exc) from None

    def counters(self) -> dict[str, int]:
        return {"link_opens": self._opens, "link_drops": self._drops}

    @property
    def retry_at(self) -> float:
        """When (``time.monotonic()``) a port that failed is tried again; 0 when it is open or free to try."""
        return self._backoff.not_before


class PacketFilter:
    """Bytes from a DTU with its heartbeat (and repeated registration) packets taken out.

    A packet of 4 bytes or more is taken out wherever it is (a random match inside a frame is vanishingly rare),
    and one split across reads is held back until it completes or the read's deadline comes. A shorter packet
    (``hex:FE``) could well be a byte of a frame: it is taken out only where a DTU puts it, at the edges of what
    arrived (its own TCP segment, before or after the bus bytes); elsewhere the bus's deframer skips it as noise."""

    LONG = 4

    def __init__(self, packets: Sequence[bytes]) -> None:
        self.long = sorted({p for p in packets if len(p) >= self.LONG}, key=len, reverse=True)
        self.short = sorted({p for p in packets if 0 < len(p) < self.LONG}, key=len, reverse=True)
        self.pending = b""
        self.removed = 0

    def feed(self, data: bytes) -> bytes:
        buf = self.pending + data
        for p in self.long:
            n = buf.count(p)
            if n:
                self.removed += n
                buf = buf.replace(p, b"")
        buf = self._edges(buf)
        hold = 0
        for p in self.long:  # the longest tail of buf that starts a long packet
            for k in range(min(len(p) - 1, len(buf)), 0, -1):
                if buf.endswith(p[:k]):
                    hold = max(hold, k)
                    break
        self.pending = buf[len(buf) - hold:] if hold else b""
        return buf[: len(buf) - hold] if hold else buf

    def _edges(self, buf: bytes) -> bytes:
        changed = True
        while changed and buf:
            changed = False
            for p in self.short:
                if buf.startswith(p):
                    buf, changed = buf[len(p):], True
                    self.removed += 1
                elif buf.endswith(p):
                    buf, changed = buf[: len(buf) - len(p)], True
                    self.removed += 1
        return buf

    def flush(self) -> bytes:
        out, self.pending = self.pending, b""
        return out


def recv_by(sock: socket.socket, max_bytes: int, deadline: float) -> bytes | None:
    """What a connected socket has by ``deadline`` (b"" if nothing); None when the peer has gone."""
    if not _wait_readable(sock.fileno(), deadline):
        return b""
    data = sock.recv(max_bytes)
    return data if data else None


def drain(sock: socket.socket) -> bytes | None:
    """What a socket has waiting (to be dropped); None when the peer has gone."""
    out = b""
    while _wait_readable(sock.fileno(), time.monotonic() + 0.0001) and len(out) < MAX_BUFFER:
        data = sock.recv(4096)
        if not data:
            return None
        out += data
    return out


class TcpLink:
    """A serial server or DTU in transparent mode (透传) that we connect to (``tcp: HOST:PORT``). A dropped connection
    is made again on the next use, after the backoff."""

    def __init__(self, bus: Bus, *, backoff_s: float = BACKOFF_FIRST_S) -> None:
        self.where = bus.tcp or ""
        self._addr = host_port(self.where)
        self._sock: socket.socket | None = None
        self._backoff = _Backoff(backoff_s)
        heartbeat = packet(bus.heartbeat) if bus.heartbeat else b""
        self._stream = PacketFilter([heartbeat])
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
        if self._sock is None:
            return
        try:
            stale = drain(self._sock)
        except OSError as exc:
            raise self._drop(str(exc)) from None
        self._stream.feed(stale or b"")  # counts the heartbeats among what is dropped
        self._stream.flush()
        if stale is None:
            raise self._drop("end of stream")

    def counters(self) -> dict[str, int]:
        return {"link_opens": self._connects, "link_drops": self._drops, "heartbeats": self._stream.removed}

    @property
    def retry_at(self) -> float:
        """When (``time.monotonic()``) a connection that failed is tried again; 0 when connected or free to try."""
        return self._backoff.not_before
