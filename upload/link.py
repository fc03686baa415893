"""The gateway's side of the TCP protocol: it opens the connection, authenticates, keeps it alive and sends.

1. Connect to ``host:port`` (``timeout_s``), then ``id_validate``: request → the centre's ``sequence`` → our
   ``md5`` of sequence + key → the centre's ``result``. ``fail`` is AuthRefused (the key is wrong: the uploader
   waits its longest retry before trying again, and says so).
2. ``heart_beat notify`` every ``heartbeat_s`` while connected; the centre answers ``time``.
3. A packet goes as ``data report`` (the newest period, first try) or ``data continuous`` (a resend, or older
   periods after an outage), and is done when ``report_ack``/``continuous_ack`` with its sequence says ``pass``.
Every wait is bounded by ``timeout_s``; a message the gateway did not ask for (a centre's own query) is logged and
skipped, at most 100 while one answer is awaited. Anything else wrong closes the connection: LinkDown.
"""

from __future__ import annotations

import logging
import socket
import time
from collections import deque

from upload.config import UploadSettings
from upload.crypto import Aes, CryptoError, key_bytes, md5_answer
from upload.frame import FrameError, FrameReader, Framing
from upload.outbox import Queued
from upload.wire import Message, WireError, from_xml, to_xml

log = logging.getLogger("meterwatch.upload")
XML_START = b"<?xml"
MAX_SKIPPED = 100


class LinkDown(Exception):  # noqa: N818 - reads as what happened
    """The centre is not reachable or broke the exchange: try again later."""


class AuthRefused(LinkDown):
    """The centre answered id_validate with fail: the key (or the gateway's id) is not the one it knows."""


class PacketRefused(LinkDown):
    """The centre answered a packet with ack fail."""


def aes_for(cfg: UploadSettings) -> Aes | None:
    if cfg.aes == "off":
        return None
    key = cfg.aes_key.get_secret_value() if cfg.aes_key is not None else cfg.key.get_secret_value()
    iv = key_bytes(cfg.aes_iv, "[upload] aes_iv") if cfg.aes_iv else bytes(16)
    return Aes(key_bytes(key, "[upload] aes_key (or key)"), cfg.aes_mode, cfg.aes_padding, iv)


def seal(cfg: UploadSettings, aes: Aes | None, m: Message) -> bytes:
    data = to_xml(m)
    if aes is not None and (cfg.aes == "all" or m.element == "data"):
        return aes.encrypt(data)
    return data


def unseal(aes: Aes | None, payload: bytes) -> Message:
    if not payload.lstrip().startswith(XML_START):
        if aes is None:
            raise WireError("payload is not XML (<?xml …) and AES is off: is the centre encrypting ([upload] aes)?")
        try:
            payload = aes.decrypt(payload)
        except CryptoError as exc:
            raise WireError(str(exc)) from None
    return from_xml(payload)


class XmlLink:
    """One gateway's connection to the centre (one per site)."""

    def __init__(self, cfg: UploadSettings, building_id: str, gateway_id: str) -> None:
        self.cfg, self.building_id, self.gateway_id = cfg, building_id, gateway_id
        self.framing = Framing(cfg.byte_order, cfg.crc, cfg.max_frame_bytes)
        self.aes = aes_for(cfg)
        self.sock: socket.socket | None = None
        self.reader = FrameReader(self.framing)
        self.pending: deque[Message] = deque()  # read but not yet asked for: several frames come in one recv
        self.number = 0
        self.last_heard = 0.0

    @property
    def open(self) -> bool:
        return self.sock is not None

    def connect(self) -> None:
        try:
            self.sock = socket.create_connection((self.cfg.host, self.cfg.port), timeout=self.cfg.timeout_s)
        except OSError as exc:
            raise LinkDown(f"cannot reach the data centre {self.cfg.host}:{self.cfg.port}: {exc}") from None
        self.reader = FrameReader(self.framing)
        self.pending.clear()
        try:
            self._send(Message("id_validate", "request", self.building_id, self.gateway_id))
            seq = self._await("id_validate", "sequence").fields.get("sequence", "")
            if not seq:
                raise LinkDown("the centre's id_validate sequence is empty")
            answer = md5_answer(seq, self.cfg.key.get_secret_value())
            self._send(Message("id_validate", "md5", self.building_id, self.gateway_id, {"md5": answer}))
            result = self._await("id_validate", "result").fields.get("result", "")
            if result != "pass":
                raise AuthRefused(f"the data centre refused gateway {self.gateway_id} (id_validate result "
                                  f"{result[:20]!r}): check [upload] key and gateway_id")
        except BaseException:
            self.close()
            raise
        log.info("authenticated at the data centre", extra={"centre": f"{self.cfg.host}:{self.cfg.port}",
                                                             "gateway": self.gateway_id})

    def heartbeat(self) -> None:
        self._send(Message("heart_beat", "notify", self.building_id, self.gateway_id))
        self._await("heart_beat", "time")

    def heartbeat_due(self) -> bool:
        return self.open and time.monotonic() - self.last_heard >= self.cfg.heartbeat_s

    def deliver(self, queued: Queued, operation: str) -> None:
        p = queued.packet
        self._send(Message("data", operation, p.building_id, p.gateway_id,
                           {"sequence": str(queued.id), "parser": "yes", "time": p.time}, p))
        for _ in range(MAX_SKIPPED):
            ack = self._await("data", f"{operation}_ack")
            if ack.fields.get("sequence") == str(queued.id):
                if ack.fields.get("ack") != "pass":
                    raise PacketRefused(f"the data centre refused packet {queued.id} ({p.building_id} {p.time}): "
                                        f"ack {ack.fields.get('ack', '')[:20]!r}")
                return
            log.info("ack for another packet skipped", extra={"sequence": ack.fields.get("sequence", "")[:20]})
        raise LinkDown(f"no ack for packet {queued.id}")

    def _send(self, m: Message) -> None:
        assert self.sock is not None  # noqa: S101
        self.number += 1
        try:
            self.sock.sendall(self.framing.encode(self.number, seal(self.cfg, self.aes, m)))
        except (OSError, FrameError) as exc:
            self.close()
            raise LinkDown(f"sending to the data centre failed: {exc}") from None

    def _await(self, element: str, operation: str) -> Message:
        """The next message that is ``element``/``operation``; others are skipped (bounded)."""
        skipped = 0
        deadline = time.monotonic() + self.cfg.timeout_s
        while True:
            if not self.pending:
                self.pending.extend(self._frames(deadline))
                continue
            m = self.pending.popleft()
            if m.element == element and m.operation == operation:
                self.last_heard = time.monotonic()
                return m
            skipped += 1
            log.info("message from the data centre skipped", extra={"element": m.element, "operation": m.operation})
            if skipped > MAX_SKIPPED:
                self.close()
                raise LinkDown(f"no {element} {operation} among {MAX_SKIPPED} messages from the centre")

    def _frames(self, deadline: float) -> list[Message]:
        assert self.sock is not None  # noqa: S101
        left = deadline - time.monotonic()
        if left <= 0:
            self.close()
            raise LinkDown(f"the data centre did not answer within {self.cfg.timeout_s:g} s")
        try:
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise LinkDown("the data centre closed the connection")
            return [unseal(self.aes, payload) for _, payload in self.reader.feed(data)]
        except TimeoutError:
            self.close()
            raise LinkDown(f"the data centre did not answer within {self.cfg.timeout_s:g} s") from None
        except (FrameError, WireError) as exc:
            self.close()
            raise LinkDown(f"the data centre sent what the protocol does not allow: {exc}") from None
        except LinkDown:
            self.close()
            raise
        except OSError as exc:
            self.close()
            raise LinkDown(f"the connection to the data centre failed: {exc}") from None

    def drop(self) -> None:
        """Forget the connection after a failure (the next pass connects and authenticates again)."""
        self.close()

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None
