"""A small in-process MQTT 3.1.1 broker for the single-machine default and the demo.

Why not a library: amqtt (the maintained pure-Python broker) cancels in-flight QoS 1
deliveries when a subscriber disconnects and does not redeliver them, which breaks the
"acknowledged only after durably stored" guarantee. This broker does the parts meterwatch
needs, correctly: QoS 0/1 (QoS 2 accepted inbound, delivered as QoS 1), persistent sessions
(clean session off) with an offline queue, redelivery of unacknowledged messages with DUP on
reconnect, an inflight window, retained messages, Last Will, keep-alive and client takeover.
State is in memory: a restart of the process loses what the broker still held, so production
uses Mosquitto (see deploy/).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field

log = logging.getLogger("meterwatch.broker")

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

    def pid(self) -> int:
        while True:
            pid, self.next_pid = self.next_pid, self.next_pid % 65535 + 1
            if pid not in self.inflight:
                return pid


class EmbeddedBroker:
    def __init__(self, host: str = "127.0.0.1", port: int = 1883, *, max_inflight: int = 1000,
                 max_queued: int = 5_000_000) -> None:
        self.host, self.port = host, port
        self.max_inflight, self.max_queued = max_inflight, max_queued
        self.sessions: dict[str, Session] = {}
        self.retained: dict[str, Message] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self.dropped = 0

    # -- lifecycle (thread) ------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> EmbeddedBroker:
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._client, self.host, self.port, limit=1 << 20))
                self.port = self._server.sockets[0].getsockname()[1]
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
                self._server.close()
            for s in self.sessions.values():
                if s.writer is not None:
                    s.writer.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), loop)
        if self._thread is not None:
            self._thread.join(10)

    # -- routing -----------------------------------------------------------------------
    def _route(self, msg: Message) -> None:
        if msg.retain:
            if msg.payload:
                self.retained[msg.topic] = msg
            else:
                self.retained.pop(msg.topic, None)
        for session in self.sessions.values():
            granted = [q for f, q in session.subscriptions.items() if topic_matches(f, msg.topic)]
            if not granted:
                continue
            qos = min(msg.qos, max(granted), 1)
            if qos == 0 and session.writer is None:
                continue
            if len(session.queue) >= self.max_queued:
                self.dropped += 1
                log.error("queue full, message dropped", extra={"client": session.client_id})
                continue
            session.queue.append((Message(msg.topic, msg.payload, qos), qos))
            self._pump(session)

    def _pump(self, session: Session) -> None:
        w = session.writer
        if w is None:
            return
        while session.queue and len(session.inflight) < self.max_inflight:
            msg, qos = session.queue.popleft()
            pid = session.pid() if qos else 0
            if qos:
                session.inflight[pid] = (msg, qos)
            w.write(_publish(msg, qos, pid, retain=msg.retain))

    # -- connection --------------------------------------------------------------------
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session: Session | None = None
        clean_exit = False
        keepalive = 0
        qos2: dict[int, Message] = {}
        try:
            ptype, flags, body = await asyncio.wait_for(self._read(reader), 10)
            if ptype != CONNECT:
                return
            session, keepalive = self._connect(body, writer)
            if session is None:
                return
            while True:
                timeout = keepalive * 1.5 if keepalive else None
                ptype, flags, body = await asyncio.wait_for(self._read(reader), timeout)
                if ptype == PUBLISH:
                    qos = (flags >> 1) & 3
                    topic, pos = _str(body, 0)
                    pid = 0
                    if qos:
                        (pid,) = struct.unpack_from("!H", body, pos)
                        pos += 2
                    msg = Message(topic, body[pos:], min(qos, 1), bool(flags & 1))
                    if qos == 2:
                        qos2[pid] = msg
                        writer.write(_packet(PUBREC, 0, struct.pack("!H", pid)))
                        continue
                    self._route(msg)
                    if qos == 1:
                        writer.write(_packet(PUBACK, 0, struct.pack("!H", pid)))
                elif ptype == PUBACK:
                    (pid,) = struct.unpack_from("!H", body)
                    session.inflight.pop(pid, None)
                    self._pump(session)
                elif ptype == PUBREL:
                    (pid,) = struct.unpack_from("!H", body)
                    if pid in qos2:
                        self._route(qos2.pop(pid))
                    writer.write(_packet(PUBCOMP, 0, struct.pack("!H", pid)))
                elif ptype == SUBSCRIBE:
                    self._subscribe(session, body, writer)
                elif ptype == UNSUBSCRIBE:
                    (pid,) = struct.unpack_from("!H", body)
                    pos = 2
                    while pos < len(body):
                        filt, pos = _str(body, pos)
                        session.subscriptions.pop(filt, None)
                    writer.write(_packet(UNSUBACK, 0, struct.pack("!H", pid)))
                elif ptype == PINGREQ:
                    writer.write(_packet(PINGRESP, 0, b""))
                elif ptype == DISCONNECT:
                    clean_exit = True
                    return
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.CancelledError, ConnectionError, TimeoutError,
                struct.error, UnicodeDecodeError, IndexError):
            pass
        finally:
            if session is not None and session.writer is writer:
                session.writer = None
                if session.will is not None and not clean_exit:
                    self._route(session.will)
                if session.clean:
                    self.sessions.pop(session.client_id, None)
            with contextlib.suppress(Exception):
                writer.close()

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> tuple[int, int, bytes]:
        first = (await reader.readexactly(1))[0]
        mult, length = 1, 0
        while True:
            byte = (await reader.readexactly(1))[0]
            length += (byte & 0x7F) * mult
            if not byte & 0x80:
                break
            mult *= 128
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
            session.subscriptions[filt] = qos
            granted.append(qos)
            new.append((filt, qos))
        writer.write(_packet(SUBACK, 0, struct.pack("!H", pid) + bytes(granted)))
        for topic, msg in list(self.retained.items()):
            qs = [q for f, q in new if topic_matches(f, topic)]
            if qs:
                qos = min(msg.qos, max(qs))
                session.queue.append((Message(topic, msg.payload, qos, True), qos))
        self._pump(session)
