"""A bus behind a serial server or DTU in transparent TCP mode (透传), both ways round.

- :class:`TcpServerLine`: the serial server listens on the bus's ``tcp`` address and the gateway connects;
  bytes in are bus requests, bytes out are the meters' answers. One client at a time: a new connection
  replaces the old one, as most serial servers in TCP-server mode do.
- :class:`DialInLine`: the DTU dials in to the gateway's ``listen`` address, sends its registration packet
  (注册包) first, then a heartbeat (心跳包) every ``heartbeat_s`` if the bus has one, and relays bus bytes.
  Dropped, it dials again (every ``redial_s``).

A bus that is down drops its connection and accepts (or dials) none until it is up again.
"""

from __future__ import annotations

import logging
import socket
import time

from simulators.meters.line import Line, Meters

log = logging.getLogger(__name__)


def host_port(text: str) -> tuple[str, int]:
    """``host:port`` → (host, port); a wildcard host (0.0.0.0, ::) is dialled on loopback."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if host in ("0.0.0.0", "::"):  # noqa: S104 - a wildcard to dial, not to bind
        host = "127.0.0.1"
    return host, int(port)


def packet(text: str | None) -> bytes:
    """A registration or heartbeat packet as the campus file writes it: text, or ``hex:…`` for bytes."""
    if not text:
        return b""
    if text.lower().startswith("hex:"):
        return bytes.fromhex(text[4:])
    return text.encode("utf-8")


class _SocketLine(Line):
    def __init__(self, name: str, meters: Meters, *, baud: int, bits: int) -> None:
        super().__init__(name, meters, baud=baud, bits=bits)
        self.conn: socket.socket | None = None

    def _send(self, data: bytes) -> None:
        if self.conn is None:
            raise ConnectionError("no connection")
        try:
            self.conn.sendall(data)
        except OSError:
            self._drop_conn()
            raise

    def _readable_conn(self) -> None:
        conn = self.conn
        if conn is None:
            return
        try:
            data = conn.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop_conn()
            return
        self._incoming(data)

    def _adopt(self, conn: socket.socket) -> None:
        self._drop_conn()
        conn.settimeout(2.0)  # sendall of a few bytes; a peer that stops reading is dropped
        self.conn = conn
        self.watch(conn, self._readable_conn)

    def _drop_conn(self) -> None:
        if self.conn is not None:
            self.unwatch(self.conn)
            self.conn.close()
            self.conn = None


class TcpServerLine(_SocketLine):
    """A serial server listening on ``address``; the gateway connects to it."""

    def __init__(self, name: str, meters: Meters, *, baud: int, bits: int, address: str) -> None:
        super().__init__(name, meters, baud=baud, bits=bits)
        self.address = address
        self.server: socket.socket | None = None
        self.port = 0

    def _open(self) -> None:
        host, port = host_port(self.address)
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind((host, port))
            server.listen(4)
            server.setblocking(False)
        except OSError:
            server.close()
            raise
        self.server = server
        self.port = server.getsockname()[1]
        self.watch(server, self._accept)

    def _accept(self) -> None:
        if self.server is None:
            return
        try:
            conn, _ = self.server.accept()
        except (BlockingIOError, InterruptedError):
            return
        if self.down:
            conn.close()
            return
        self._adopt(conn)

    def _tick(self) -> None:
        if self.down and self.conn is not None:
            self._drop_conn()

    def _close(self) -> None:
        self._drop_conn()
        if self.server is not None:
            self.server.close()
            self.server = None


class DialInLine(_SocketLine):
    """A DTU that dials in to ``address`` and identifies itself with ``register``, then heartbeats."""

    def __init__(self, name: str, meters: Meters, *, baud: int, bits: int, address: str,
                 register: str | None, heartbeat: str | None, heartbeat_s: float = 5.0,
                 redial_s: float = 0.5) -> None:
        super().__init__(name, meters, baud=baud, bits=bits)
        self.address = address
        self.register_packet = packet(register)
        self.heartbeat_packet = packet(heartbeat)
        self.heartbeat_s = heartbeat_s
        self.redial_s = redial_s
        self.tick_s = min(self.tick_s, redial_s, heartbeat_s)
        self._next_dial = 0.0
        self._next_beat = 0.0
        self.dials = 0

    def _open(self) -> None:
        host_port(self.address)  # a bad address fails at start, not in the thread

    def _tick(self) -> None:
        now = time.monotonic()
        if self.down:
            self._drop_conn()
            return
        if self.conn is None and now >= self._next_dial:
            self._next_dial = now + self.redial_s
            self._dial()
        elif self.conn is not None and self.heartbeat_packet and now >= self._next_beat:
            self._next_beat = now + self.heartbeat_s
            if not self._out:  # never inside an answer's bytes
                try:
                    self.conn.sendall(self.heartbeat_packet)
                except OSError:
                    self._drop_conn()

    def _dial(self) -> None:
        try:
            conn = socket.create_connection(host_port(self.address), timeout=1.0)
        except OSError as exc:
            log.debug("simulated DTU %s: cannot dial %s: %s", self.name, self.address, exc)
            return
        try:
            if self.register_packet:
                conn.sendall(self.register_packet)
        except OSError:
            conn.close()
            return
        self.dials += 1
        self._next_beat = time.monotonic() + self.heartbeat_s
        self._adopt(conn)

    def _close(self) -> None:
        self._drop_conn()
