"""The byte links to a bus, against real ptys, real sockets and a real Mosquitto: bytes both ways, stale input
dropped, heartbeats removed, a dialling DTU's registration checked, drops turned into LinkDown in words and
reconnected."""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from campus.errors import ConfigError
from campus.model import Bus
from campus.model import Protocol as P
from gateway.links import LinkDown, ListenLink, MqttLink, SerialLink, TcpLink, packet, serial_settings
from ingest.config import MqttSettings
from ingest.decode import Inbound
from ingest.mqtt import MqttSource
from tests.support.servers import Mosquitto, free_port


def _read_all(fd: int, n: int, timeout_s: float = 5.0) -> bytes:
    deadline = time.monotonic() + timeout_s
    out = b""
    while len(out) < n:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"only {out!r} of {n} bytes arrived"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            out += os.read(fd, n - len(out))
    return out


def _read_link(link: SerialLink | TcpLink | ListenLink | MqttLink, n: int, timeout_s: float = 5.0) -> bytes:
    deadline = time.monotonic() + timeout_s
    out = b""
    while len(out) < n and time.monotonic() < deadline:
        out += link.read(n - len(out), deadline)
    return out


@pytest.fixture
def pty_path(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    master, slave = os.openpty()
    path = tmp_path / "ttyUSB0"
    path.symlink_to(os.ttyname(slave))
    yield master, path
    for fd in (master, slave):
        try:
            os.close(fd)
        except OSError:
            pass


def test_serial_settings_follow_the_protocols_or_the_bus() -> None:
    bus = Bus(name="rs485-1", serial="/dev/ttyUSB0")
    assert serial_settings(bus, [P.DLT645]) == (2400, "E")
    assert serial_settings(bus, [P.MODBUS]) == (9600, "N")
    assert serial_settings(bus, [P.DLT645, P.CJT188]) == (2400, "E")
    with pytest.raises(ConfigError, match=r"disagree on the baud \(dlt645 2400, modbus 9600\); set baud"):
        serial_settings(bus, [P.DLT645, P.MODBUS])
    assert serial_settings(Bus(name="b", serial="/x", baud=4800, parity="E"), [P.DLT645, P.MODBUS]) == (4800, "E")
    with pytest.raises(ConfigError, match="disagree on the parity"):
        serial_settings(Bus(name="b", serial="/x", baud=9600), [P.DLT645, P.MODBUS])


def test_packets_are_text_or_hex() -> None:
    assert packet("GW3") == b"GW3"
    assert packet("hex:4757 3031") == b"GW01"
    with pytest.raises(ConfigError, match="hex digits"):
        packet("hex:zz")


def test_serial_moves_bytes_and_drops_stale_input(pty_path: tuple[int, Path]) -> None:
    master, path = pty_path
    link = SerialLink(Bus(name="rs485-1", serial=str(path)), 2400, "E")
    link.open()
    try:
        link.write(b"\x68\x01\x16")
        assert _read_all(master, 3) == b"\x68\x01\x16"
        os.write(master, b"stale")
        assert _wait_readable_link(link)
        link.discard()
        os.write(master, b"\xfe\x68answer")
        assert _read_link(link, 8) == b"\xfe\x68answer"
        assert link.read(10, time.monotonic() + 0.05) == b""  # nothing more: b"" at the deadline
    finally:
        link.close()
        link.close()  # idempotent


def _wait_readable_link(link: SerialLink) -> bool:
    port = link._port  # noqa: SLF001 - the test waits until the pty delivered the stale bytes
    assert port is not None
    ready, _, _ = select.select([port.fileno()], [], [], 5)
    return bool(ready)


def test_serial_port_missing_or_gone_is_link_down_in_words(tmp_path: Path, pty_path: tuple[int, Path]) -> None:
    missing = SerialLink(Bus(name="rs485-1", serial=str(tmp_path / "nope")), 2400, "E", backoff_s=30)
    missing.open()  # not raising: the bus is tried again on each use
    with pytest.raises(LinkDown, match=r"cannot open serial port .*nope .*is the adapter plugged in"):
        missing.write(b"x")
    t0 = time.monotonic()
    with pytest.raises(LinkDown, match="cannot open serial port"):  # within the backoff: refused at once
        missing.write(b"x")
    assert time.monotonic() - t0 < 0.1
    missing.close()

    master, path = pty_path
    link = SerialLink(Bus(name="rs485-1", serial=str(path)), 2400, "E", backoff_s=0.01)
    link.open()
    try:
        link.write(b"x")
        assert _read_all(master, 1) == b"x"
        os.close(master)  # the adapter unplugged: the slave side reads EIO / hang-up
        with pytest.raises(LinkDown, match="failed"):
            link.read(10, time.monotonic() + 2)
        assert link.counters()["link_drops"] == 1
    finally:
        link.close()


class _Server:
    """A TCP peer playing a serial server: accepts connections one after the other."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []

    def accept(self) -> socket.socket:
        self.sock.settimeout(5)
        conn, _ = self.sock.accept()
        conn.settimeout(5)
        self.conns.append(conn)
        return conn

    def close(self) -> None:
        for c in self.conns:
            c.close()
        self.sock.close()


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        data = sock.recv(n - len(out))
        assert data, "peer closed"
        out += data
    return out


def test_tcp_link_reconnects_after_a_drop_and_removes_heartbeats() -> None:
    server = _Server()
    link = TcpLink(Bus(name="dtu-2", tcp=f"127.0.0.1:{server.port}", heartbeat="hex:FFAA"), backoff_s=0.01)
    try:
        link.open()
        conn = server.accept()
        link.write(b"req")
        assert _recv_exactly(conn, 3) == b"req"
        conn.sendall(b"\xff\xaaan\xff")
        conn.sendall(b"\xaaswer\xff\xaa")
        assert _read_link(link, 6) == b"answer"
        assert link.read(10, time.monotonic() + 0.2) == b""  # the last heartbeat, and nothing else
        assert link.counters()["heartbeats"] == 3
        conn.close()  # the serial server drops us
        with pytest.raises(LinkDown, match=r"closed the connection \(end of stream\)"):
            link.read(10, time.monotonic() + 2)
        deadline = time.monotonic() + 5
        while True:  # the backoff is 10 ms: the next use connects again
            try:
                link.write(b"again")
                break
            except LinkDown:
                assert time.monotonic() < deadline
        conn2 = server.accept()
        assert _recv_exactly(conn2, 5) == b"again"
        assert link.counters()["link_opens"] == 2
        assert link.counters()["link_drops"] == 1
    finally:
        link.close()
        server.close()


def test_tcp_link_to_nobody_says_what_to_check() -> None:
    link = TcpLink(Bus(name="dtu-2", tcp=f"127.0.0.1:{free_port()}"), backoff_s=30)
    link.open()
    with pytest.raises(LinkDown, match=r"cannot connect to the serial server at 127\.0\.0\.1:\d+ .*powered"):
        link.write(b"x")
    link.close()


def _closed_by_peer(sock: socket.socket) -> bool:
    """The gateway closed it: end of stream, or a reset when it closed with our bytes unread."""
    try:
        return sock.recv(10) == b""
    except ConnectionResetError:
        return True


@pytest.fixture
def listen_link() -> Iterator[ListenLink]:
    link = ListenLink(Bus(name="dtu-3", listen="127.0.0.1:0", register="GW3", heartbeat="HB"), handshake_s=0.3)
    link.open()
    yield link
    link.close()


def _dial(link: ListenLink, first: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", link.port), timeout=5)
    if first:
        sock.sendall(first)
    return sock


def test_listen_takes_a_registered_dtu_and_drops_heartbeats(listen_link: ListenLink) -> None:
    with pytest.raises(LinkDown, match=r"no DTU has dialled in to 127\.0\.0\.1:0 with registration packet 'GW3'"):
        listen_link.write(b"x")
    dtu = _dial(listen_link, b"GW3")
    try:
        assert listen_link.wait_dialled(1, 5)
        listen_link.write(b"request")
        assert _recv_exactly(dtu, 7) == b"request"
        dtu.sendall(b"HBans")
        dtu.sendall(b"wer H")
        dtu.sendall(b"B")
        assert _read_link(listen_link, 7) == b"answer "
        assert listen_link.read(10, time.monotonic() + 0.2) == b""
        assert listen_link.counters()["heartbeats"] == 2
    finally:
        dtu.close()


def test_listen_closes_strangers_and_silent_dialers(listen_link: ListenLink) -> None:
    stranger = _dial(listen_link, b"GET / HTTP/1.1\r\n")
    silent = _dial(listen_link, b"")
    try:
        assert listen_link.wait_rejected(2, 5)
        for s in (stranger, silent):
            assert _closed_by_peer(s)
        assert listen_link.counters()["rejected"] == 2
        with pytest.raises(LinkDown, match="no DTU has dialled in"):
            listen_link.write(b"x")
    finally:
        stranger.close()
        silent.close()


def test_a_newer_registered_connection_replaces_the_old(listen_link: ListenLink) -> None:
    old = _dial(listen_link, b"GW3")
    new: socket.socket | None = None
    try:
        assert listen_link.wait_dialled(1, 5)
        listen_link.write(b"one")
        assert _recv_exactly(old, 3) == b"one"
        new = _dial(listen_link, b"G")
        new.sendall(b"W3")  # the packet in pieces
        assert listen_link.wait_dialled(2, 5)
        listen_link.write(b"two")
        assert _recv_exactly(new, 3) == b"two"
        assert _closed_by_peer(old)
        assert listen_link.counters()["replaced"] == 1
        new.close()  # the DTU's connection drops
        with pytest.raises(LinkDown, match="dropped"):
            listen_link.read(10, time.monotonic() + 2)
    finally:
        old.close()
        if new is not None:
            new.close()


def test_mqtt_link_carries_bytes_through_the_broker(mosquitto: Mosquitto) -> None:
    settings = MqttSettings(url=mosquitto.url, client_id="gw-test")
    bus = Bus(name="dtu-4", mqtt={"up": "dtu/GW4/up", "down": "dtu/GW4/down"})
    got: list[bytes] = []
    arrived = threading.Event()

    def dtu_received(msg: Inbound) -> None:
        got.append(msg.payload)
        arrived.set()
        dtu.ack(msg)

    dtu = MqttSource(settings.model_copy(update={"client_id": "dtu-GW4"}), dtu_received)
    dtu.filters = ["dtu/GW4/down"]
    link = MqttLink(bus, settings, "gw-test-dtu-4")
    dtu.start()
    link.open()
    try:
        assert dtu.wait_connected(10)
        assert link.wait_ready(10)
        link.write(b"\x68request\x16")
        assert arrived.wait(10)
        assert got == [b"\x68request\x16"]
        dtu.publish("dtu/GW4/up", b"ans", timeout_s=5)  # the answer in two pieces, as a DTU cuts it
        dtu.publish("dtu/GW4/up", b"wer", timeout_s=5)
        assert _read_link(link, 6) == b"answer"
        link.discard()
        assert link.read(10, time.monotonic() + 0.05) == b""
    finally:
        link.close()
        dtu.stop()
    with pytest.raises(LinkDown, match="not connected to the broker"):
        link.write(b"x")
