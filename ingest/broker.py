"""A small in-process MQTT 3.1.1 broker for the single-machine default and the demo.

Why not a library: amqtt (the maintained pure-Python broker) cancels in-flight QoS 1
deliveries when a subscriber disconnects and does not redeliver them, which breaks the
"acknowledged only after durably stored" guarantee. This broker does the parts meterwatch
needs, correctly: QoS 0/1 (QoS 2 accepted inbound, delivered as QoS 1), persistent sessions
(clean session off) with an offline queue, redelivery of unacknowledged messages with DUP on
reconnect, an inflight window, retained messages, Last Will, keep-alive and client takeover.
State is in memory: a restart of the process loses what the broker still held, so production
uses Mosquitto (see deploy/).

Anyone on the network can reach it, so everything a client can make it hold is bounded
(:class:`BrokerLimits`): the remaining length (4 bytes, as MQTT says), the packet size, the time
to send CONNECT and to finish any packet once started (a client that trickles bytes is cut off),
connections, sessions, subscriptions per session, each session's queue (messages and bytes),
retained messages, and how long an offline persistent session is kept. A packet that breaks the
protocol closes that connection and nothing else.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("meterwatch.broker")


class ProtocolViolation(Exception):
    """A client broke MQTT 3.1.1 or a limit: its connection is closed."""


@dataclass(frozen=True, slots=True)
class BrokerLimits:
    max_packet_bytes: int = 256 * 1024 + 4096  # a 256 KiB payload (the ingest limit) plus topic and header
    connect_timeout_s: float = 10.0  # from TCP accept to a complete CONNECT, however the bytes trickle in
    packet_timeout_s: float = 30.0  # from a packet's first byte to its last
    max_connections: int = 1000
    max_sessions: int = 10_000
    max_subscriptions: int = 100  # per session
    max_queued_messages: int = 100_000  # per session; past it QoS 1 messages for that session are dropped
    max_queued_bytes: int = 64 * 1024 * 1024  # per session
    max_retained: int = 100_000
    session_expiry_s: float = 86_400.0  # an offline persistent session is forgotten after this

CLOSE_WAIT_S = 5.0  # a closing connection's unsent data waits this long for the peer to read it
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 10, 11, 12, 13, 14


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool = False


def topic_matches(filt: str, topic: str) -> bool:
    if topic.startswith("$") and filt[:1] in ("+", "#"):
        return False
    f_parts, t_parts = filt.split("/"), topic.split("/")
    for i, part in enumerate(f_parts):
        if part == "#":
            return True
        if i >= len(t_parts) or (part != "+" and part != t_parts[i]):
            return False
    return len(f_parts) == len(t_parts)


def _str(buf: bytes, pos: int) -> tuple[str, int]:
    (n,) = struct.unpack_from("!H", buf, pos)
    return buf[pos + 2:pos + 2 + n].decode("utf-8"), pos + 2 + n


def _bin(buf: bytes, pos: int) -> tuple[bytes, int]:
    (n,) = struct.unpack_from("!H", buf, pos)
    return buf[pos + 2:pos + 2 + n], pos + 2 + n


def _packet(ptype: int, flags: int, body: bytes) -> bytes:
    n, length = len(body), bytearray()
    while True:
        byte, n = n % 128, n // 128
        length.append(byte | (0x80 if n else 0))
        if not n:
            break
    return bytes([(ptype << 4) | flags]) + bytes(length) + body


def _publish(msg: Message, qos: int, pid: int, dup: bool = False, retain: bool = False) -> bytes:
    t = msg.topic.encode()
    head = struct.pack("!H", len(t)) + t + (struct.pack("!H", pid) if qos else b"")
    return _packet(PUBLISH, (0x08 if dup else 0) | (qos << 1) | int(retain), head + msg.payload)


@dataclass
class Session:
    client_id: str
    clean: bool
    subscriptions: dict[str, int] = field(default_factory=dict)
    queue: deque[tuple[Message, int]] = field(default_factory=deque)
    inflight: OrderedDict[int, tuple[Message, int]] = field(default_factory=OrderedDict)
    next_pid: int = 1
    writer: asyncio.StreamWriter | None = None
    will: Message | None = None
    queued_bytes: int = 0
    offline_since: float = 0.0

    def pid(self) -> int:
        while True:
            pid, self.next_pid = self.next_pid, self.next_pid % 65535 + 1
            if pid not in self.inflight:
                return pid


@dataclass
class Connection:
    """One client connection after CONNECT: its writer, its session, its QoS 2 messages awaiting PUBREL, and
    whether it has said DISCONNECT (a clean exit)."""

    writer: asyncio.StreamWriter
    session: Session
    qos2: dict[int, Message] = field(default_factory=dict)
    done: bool = False


class EmbeddedBroker:
    def __init__(self, host: str = "127.0.0.1", port: int = 1883, *, max_inflight: int = 1000,
                 limits: BrokerLimits | None = None) -> None:
        self.host, self.port = host, port
        self.max_inflight = max_inflight
        self.limits = limits or BrokerLimits()
        self.connections = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self.refused = 0  # connections closed for breaking the protocol or a limit
        self.sessions: dict[str, Session] = {}
        self.retained: dict[str, Message] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self._handlers: dict[int, Callable[[Connection, int, bytes], None]] = {
            PUBLISH: self._on_publish, PUBACK: self._on_puback, PUBREL: self._on_pubrel,
            SUBSCRIBE: self._on_subscribe, UNSUBSCRIBE: self._on_unsubscribe, PINGREQ: self._on_pingreq,
            DISCONNECT: self._on_disconnect}

    # -- lifecycle (thread) ------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> EmbeddedBroker:
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._accepted, self.host, self.port, limit=1 << 20))
                self.port = self._server.sockets[0].getsockname()[1]
                loop.create_task(self._expire_sessions())
            except OSError as exc:
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="mw-broker", daemon=True)
        self._thread.start()
        ready.wait(timeout)
        if errors:
            raise OSError(f"embedded MQTT broker cannot listen on {self.host}:{self.port}: {errors[0]}")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None or self._server is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                # Accept no more, but do not close the server yet: a connection accepted in the loop's last turn
                # builds its transport one turn later, and a transport built after Server.close() fails to attach
                # and is dropped unclosed (CPython gh-109564). The ready queue is first in, first out: one yield and
                # every accepted connection has its transport, a second and its connection_made has registered it
                # (``_accepted``).
                for sock in self._server.sockets:
                    asyncio.get_running_loop().remove_reader(sock.fileno())
                await asyncio.sleep(0)
                self._server.close()
                await asyncio.sleep(0)
            # Until nothing is left: every tracked connection cut (a handler cancelled before its first step never
            # reaches its finally, so it is cut here), every task cancelled and finished. A connection accepted in
            # the loop's last turn shows up in the next one (its connection_made, then its handler): round again.
            for _ in range(100):
                for writer in list(self._writers):
                    writer.transport.abort()  # now, unsent data or not: a peer that does not read cannot hold it
                    self._writers.discard(writer)
                tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                if not tasks and not self._writers:
                    break
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await asyncio.sleep(0)  # what the cancellations scheduled (connection_made, connection_lost)
            await asyncio.sleep(0.01)  # the transports' close callbacks: every socket closed before the loop stops
            loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), loop)
        if self._thread is not None:
            self._thread.join(10)

    # -- routing -----------------------------------------------------------------------
    def _route(self, msg: Message) -> None:
        if msg.retain:
            if not msg.payload:
                self.retained.pop(msg.topic, None)
            elif msg.topic in self.retained or len(self.retained) < self.limits.max_retained:
                self.retained[msg.topic] = msg
            else:
                log.warning("retained message limit reached; not retained", extra={"topic": msg.topic[:200]})
        for session in self.sessions.values():
            granted = [q for f, q in session.subscriptions.items() if topic_matches(f, msg.topic)]
            if not granted:
                continue
            qos = min(msg.qos, max(granted), 1)
            if qos == 0 and session.writer is None:
                continue
            if not self._enqueue(session, Message(msg.topic, msg.payload, qos), qos):
                continue
            self._pump(session)

    def _enqueue(self, session: Session, msg: Message, qos: int) -> bool:
        lim = self.limits
        if len(session.queue) >= lim.max_queued_messages or session.queued_bytes >= lim.max_queued_bytes:
            self.dropped += 1
            log.error("queue full, message dropped", extra={"client": session.client_id[:100]})
            return False
        session.queue.append((msg, qos))
        session.queued_bytes += len(msg.payload)
        return True

    def _pump(self, session: Session) -> None:
        w = session.writer
        if w is None:
            return
        while session.queue and len(session.inflight) < self.max_inflight:
            msg, qos = session.queue.popleft()
            session.queued_bytes -= len(msg.payload)
            pid = session.pid() if qos else 0
            if qos:
                session.inflight[pid] = (msg, qos)
            w.write(_publish(msg, qos, pid, retain=msg.retain))

    # -- connection --------------------------------------------------------------------
    async def _expire_sessions(self) -> None:
        """Forget persistent sessions that have been offline longer than ``session_expiry_s``."""
        while True:
            await asyncio.sleep(min(60.0, self.limits.session_expiry_s / 2))
            cutoff = time.monotonic() - self.limits.session_expiry_s
            for cid in [c for c, s in self.sessions.items() if s.writer is None and s.offline_since < cutoff]:
                log.info("offline session expired", extra={"client": cid[:100]})
                del self.sessions[cid]

    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A new connection, from its transport's connection_made: tracked from this moment, so ``stop`` closes it
        even when its handler has not run a step yet."""
        self._writers.add(writer)
        asyncio.get_running_loop().create_task(self._client(reader, writer))

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session: Session | None = None
        conn: Connection | None = None
        self.connections += 1
        try:
            if self.connections > self.limits.max_connections:
                raise ProtocolViolation("too many connections")
            ptype, flags, body = await asyncio.wait_for(self._read(reader, None), self.limits.connect_timeout_s)
            if ptype != CONNECT:
                raise ProtocolViolation("first packet is not CONNECT")
            session, keepalive = self._connect(body, writer)
            if session is None:
                return
            conn = Connection(writer, session)
            idle = keepalive * 1.5 if keepalive else None
            while not conn.done:
                ptype, flags, body = await self._read(reader, idle)
                handler = self._handlers.get(ptype)
                if handler is None:
                    raise ProtocolViolation(f"unexpected packet type {ptype}")
                handler(conn, flags, body)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.CancelledError, ConnectionError, TimeoutError):
            pass
        except Exception as exc:  # noqa: BLE001 - malformed input: close this connection, nothing else
            self.refused += 1
            log.info("connection closed: protocol violation", extra={"error": f"{type(exc).__name__}: {exc}"[:200]})
        finally:
            self.connections -= 1
            if session is not None and session.writer is writer:
                session.writer = None
                session.offline_since = time.monotonic()
                if session.will is not None and not (conn is not None and conn.done):
                    self._route(session.will)
                if session.clean:
                    self.sessions.pop(session.client_id, None)
            await self._close(writer)

    # -- packets after CONNECT, one method each (MQTT 3.1.1, section 3) ---------------------------
    def _on_publish(self, conn: Connection, flags: int, body: bytes) -> None:
        qos = (flags >> 1) & 3
        if qos == 3:
            raise ProtocolViolation("PUBLISH with QoS 3")
        topic, pos = _str(body, 0)
        if not topic or "+" in topic or "#" in topic or "\0" in topic:
            raise ProtocolViolation("PUBLISH to an invalid topic name")
        pid = 0
        if qos:
            (pid,) = struct.unpack_from("!H", body, pos)
            pos += 2
        msg = Message(topic, body[pos:], min(qos, 1), bool(flags & 1))
        if qos == 2:
            if pid not in conn.qos2 and len(conn.qos2) >= self.max_inflight:
                raise ProtocolViolation("too many QoS 2 messages in flight")
            conn.qos2[pid] = msg
            conn.writer.write(_packet(PUBREC, 0, struct.pack("!H", pid)))
            return
        self._route(msg)
        if qos == 1:
            conn.writer.write(_packet(PUBACK, 0, struct.pack("!H", pid)))

    def _on_puback(self, conn: Connection, flags: int, body: bytes) -> None:
        (pid,) = struct.unpack_from("!H", body)
        conn.session.inflight.pop(pid, None)
        self._pump(conn.session)

    def _on_pubrel(self, conn: Connection, flags: int, body: bytes) -> None:
        (pid,) = struct.unpack_from("!H", body)
        if pid in conn.qos2:
            self._route(conn.qos2.pop(pid))
        conn.writer.write(_packet(PUBCOMP, 0, struct.pack("!H", pid)))

    def _on_subscribe(self, conn: Connection, flags: int, body: bytes) -> None:
        self._subscribe(conn.session, body, conn.writer)

    def _on_unsubscribe(self, conn: Connection, flags: int, body: bytes) -> None:
        (pid,) = struct.unpack_from("!H", body)
        pos = 2
        while pos < len(body):
            filt, pos = _str(body, pos)
            conn.session.subscriptions.pop(filt, None)
        conn.writer.write(_packet(UNSUBACK, 0, struct.pack("!H", pid)))

    def _on_pingreq(self, conn: Connection, flags: int, body: bytes) -> None:
        conn.writer.write(_packet(PINGRESP, 0, b""))

    def _on_disconnect(self, conn: Connection, flags: int, body: bytes) -> None:
        conn.done = True  # a clean exit: the Last Will is not sent

    async def _close(self, writer: asyncio.StreamWriter) -> None:
        """Close a connection: what it still has to send goes out if the peer reads it within CLOSE_WAIT_S, else
        the socket is cut. Tracked until it is closed, so ``stop`` finds every open one."""
        try:
            writer.close()
            await asyncio.wait_for(writer.wait_closed(), CLOSE_WAIT_S)
        except (Exception, asyncio.CancelledError):  # noqa: BLE001 - a peer that does not read, a reset, a stop
            writer.transport.abort()
        finally:
            self._writers.discard(writer)

    async def _read(self, reader: asyncio.StreamReader, idle: float | None) -> tuple[int, int, bytes]:
        """One packet: wait up to ``idle`` for its first byte, then ``packet_timeout_s`` for the rest."""
        first = (await asyncio.wait_for(reader.readexactly(1), idle))[0]
        return await asyncio.wait_for(self._rest(reader, first), self.limits.packet_timeout_s)

    async def _rest(self, reader: asyncio.StreamReader, first: int) -> tuple[int, int, bytes]:
        mult, length = 1, 0
        for _ in range(4):  # the remaining length takes at most 4 bytes (MQTT 3.1.1, 2.2.3)
            byte = (await reader.readexactly(1))[0]
            length += (byte & 0x7F) * mult
            if not byte & 0x80:
                break
            mult *= 128
        else:
            raise ProtocolViolation("remaining length longer than 4 bytes")
        if length > self.limits.max_packet_bytes:
            raise ProtocolViolation(f"packet of {length} bytes is over the {self.limits.max_packet_bytes} limit")
        return first >> 4, first & 0x0F, await reader.readexactly(length) if length else b""

    def _connect(self, body: bytes, writer: asyncio.StreamWriter) -> tuple[Session | None, int]:
        proto, pos = _str(body, 0)
        level, cflags = body[pos], body[pos + 1]
        (keepalive,) = struct.unpack_from("!H", body, pos + 2)
        pos += 4
        if proto not in ("MQTT", "MQIsdp") or level not in (3, 4):
            writer.write(_packet(CONNACK, 0, b"\x00\x01"))
            return None, 0
        client_id, pos = _str(body, pos)
        clean = bool(cflags & 0x02)
        will = None
        if cflags & 0x04:
            wtopic, pos = _str(body, pos)
            wmsg, pos = _bin(body, pos)
            will = Message(wtopic, wmsg, min((cflags >> 3) & 3, 1), bool(cflags & 0x20))
        if not client_id:
            client_id = f"anon-{id(writer):x}"
            clean = True
        old = self.sessions.get(client_id)
        if old is None and len(self.sessions) >= self.limits.max_sessions:
            writer.write(_packet(CONNACK, 0, b"\x00\x03"))  # server unavailable
            raise ProtocolViolation("too many sessions")
        if old is not None and old.writer is not None:  # takeover: the old connection goes
            old.writer.close()
            old.writer = None
        present = old is not None and not clean
        if clean or old is None:
            session = Session(client_id, clean)
            self.sessions[client_id] = session
        else:
            session = old
        session.writer, session.will = writer, will
        writer.write(_packet(CONNACK, 0, bytes([int(present), 0])))
        for pid, (msg, qos) in session.inflight.items():  # redeliver what was never acknowledged
            writer.write(_publish(msg, qos, pid, dup=True))
        self._pump(session)
        return session, keepalive

    def _subscribe(self, session: Session, body: bytes, writer: asyncio.StreamWriter) -> None:
        (pid,) = struct.unpack_from("!H", body)
        pos, granted, new = 2, bytearray(), []
        while pos < len(body):
            filt, pos = _str(body, pos)
            qos = min(body[pos] & 3, 1)
            pos += 1
            if not filt or filt not in session.subscriptions and len(session.subscriptions) >= \
                    self.limits.max_subscriptions:
                raise ProtocolViolation("empty topic filter or too many subscriptions")
            session.subscriptions[filt] = qos
            granted.append(qos)
            new.append((filt, qos))
        writer.write(_packet(SUBACK, 0, struct.pack("!H", pid) + bytes(granted)))
        for topic, msg in list(self.retained.items()):
            qs = [q for f, q in new if topic_matches(f, topic)]
            if qs:
                qos = min(msg.qos, max(qs))
                self._enqueue(session, Message(topic, msg.payload, qos, True), qos)
        self._pump(session)
