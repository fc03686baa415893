"""A data-centre emulator: the provincial or municipal centre meterwatch uploads to, speaking the same protocol on
127.0.0.1 — the 导则's TCP/XML (id_validate, heart_beat, data report/continuous with their acks, AES-128 when
configured) and the HTTPS/JSON profile (here plain HTTP on loopback).

This is a fake. No real provincial data centre can run here (they are government systems reached over their own
networks with issued keys), so the tests run against this one. It is written from the protocol as the README
describes it, not from meterwatch's uploader (it imports nothing of meterwatch), so the two are checked against
each other. ``down()`` makes it go away (listeners closed, connections cut) and ``up()`` brings it back on the same
port. It keeps every data packet in the order it arrived (``arrivals``) and one copy per building and period
(``stored``): the centre is the side that deduplicates, by building id and period time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import socket
import threading
import xml.etree.ElementTree as ET  # noqa: S405 - trees are built through expat below, DOCTYPE refused
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.parsers import expat
from xml.sax.saxutils import escape

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from gateway.protocols.modbus import crc16  # the frame's CRC is CRC-16/MODBUS: the meters' wire has it, not upload's

HEAD, TAIL = b"\x68\x68\x16\x16", b"\x55\xaa\x55\xaa"


def parse_xml(data: bytes) -> ET.Element:
    """Parse with expat, refusing any document type declaration (so no entity is ever declared or expanded)."""
    builder = ET.TreeBuilder()
    p = expat.ParserCreate()

    def refuse(*_: object) -> int:
        raise ValueError("DOCTYPE refused")

    p.StartDoctypeDeclHandler = refuse
    p.StartElementHandler = builder.start
    p.EndElementHandler = builder.end
    p.CharacterDataHandler = builder.data
    p.Parse(data, True)
    return builder.close()


@dataclass
class Arrival:
    building_id: str
    time: str
    operation: str
    sequence: str
    items: dict[str, float]
    meters: dict[str, float]


@dataclass
class DataCentre:
    key: str
    protocol: str = "xml"              # xml | json
    aes: str = "off"                   # off | data | all
    aes_mode: str = "cbc"
    aes_padding: str = "pkcs7"
    aes_iv: bytes = bytes(16)
    byte_order: str = "little"
    crc: bool = True
    max_frame: int = 1024 * 1024
    port: int = 0
    drop_before_ack: int = 0           # the next N data packets are stored, then the connection is cut (no ack)
    arrivals: list[Arrival] = field(default_factory=list)
    stored: dict[tuple[str, str], Arrival] = field(default_factory=dict)
    auth: list[str] = field(default_factory=list)        # pass / fail, per id_validate
    heartbeats: int = 0
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._listener: socket.socket | None = None
        self._http: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._conns: set[socket.socket] = set()

    # -- life
    def start(self) -> DataCentre:
        self.up()
        return self

    def up(self) -> None:
        if self.protocol == "json":
            self._http = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
            self._http.daemon_threads = True
            self.port = self._http.server_address[1]
            self._spawn(self._http.serve_forever, 0.01)
            return
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(16)
        self.port = s.getsockname()[1]
        self._listener = s
        self._spawn(self._accept, s)

    def down(self) -> None:
        """Go away: nothing listens, every connection is cut (as a centre that is down or unreachable)."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept (close alone does not, on Linux)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self._threads:
            t.join(10)
        self._threads = []

    def stop(self) -> None:
        self.down()

    def wait_stored(self, n: int, timeout_s: float) -> bool:
        """Wait (at most ``timeout_s``) until ``n`` packets are stored; whether they are."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.stored) >= n, timeout_s)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/upload"

    def _spawn(self, target: Any, *args: Any) -> None:
        t = threading.Thread(target=target, args=args, daemon=True, name="datacentre")
        t.start()
        self._threads.append(t)

    # -- AES
    def _cipher(self) -> Cipher[Any]:
        key = self.key.encode("utf-8")
        return Cipher(algorithms.AES(key), modes.CBC(self.aes_iv) if self.aes_mode == "cbc" else modes.ECB())  # noqa: S305

    def encrypt(self, data: bytes) -> bytes:
        if self.aes_padding == "pkcs7":
            p = padding.PKCS7(128).padder()
            data = p.update(data) + p.finalize()
        else:
            data += bytes(-len(data) % 16)
        e = self._cipher().encryptor()
        return e.update(data) + e.finalize()

    def decrypt(self, data: bytes) -> bytes:
        d = self._cipher().decryptor()
        plain = d.update(data) + d.finalize()
        if self.aes_padding == "zeros":
            return plain.rstrip(b"\0")
        u = padding.PKCS7(128).unpadder()
        return u.update(plain) + u.finalize()

    def md5_ok(self, sequence: str, answer: str) -> bool:
        return hashlib.md5((sequence + self.key).encode(), usedforsecurity=False).hexdigest() == answer

    # -- TCP/XML
    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                self._conns.add(conn)
            self._spawn(self._serve, conn)

    def _frame(self, number: int, xml: str, encrypt: bool) -> bytes:
        payload = xml.encode("utf-8")
        if encrypt:
            payload = self.encrypt(payload)
        order = "little" if self.byte_order == "little" else "big"
        body = HEAD + (4 + len(payload)).to_bytes(4, order) + number.to_bytes(4, order) + payload  # type: ignore[arg-type]
        return body + (crc16(body).to_bytes(2, "little") if self.crc else b"") + TAIL

    def _serve(self, conn: socket.socket) -> None:
        buf, n, sequence, authed = b"", 0, "", False
        order = "little" if self.byte_order == "little" else "big"
        crc_len = 2 if self.crc else 0
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
                while len(buf) >= 8:
                    if buf[:4] != HEAD:
                        raise ValueError("bad head")
                    length = int.from_bytes(buf[4:8], order)  # type: ignore[arg-type]
                    total = 8 + length + crc_len + 4
                    if length < 4 or total > self.max_frame:
                        raise ValueError("bad length")
                    if len(buf) < total:
                        break
                    frame, buf = buf[:total], buf[total:]
                    if frame[-4:] != TAIL or (crc_len and int.from_bytes(frame[8 + length:10 + length], "little")
                                              != crc16(frame[:8 + length])):
                        raise ValueError("bad tail or CRC")
                    payload = frame[12:8 + length]
                    was_encrypted = not payload.startswith(b"<?xml")
                    if was_encrypted:
                        if self.aes == "off":
                            raise ValueError("encrypted payload, AES off")
                        payload = self.decrypt(payload)
                    root = parse_xml(payload)
                    body = next(el for el in root if el.tag in ("id_validate", "heart_beat", "data"))
                    op = body.get("operation", "")
                    bid = root.findtext("common/building_id", "")
                    gid = root.findtext("common/gateway_id", "")

                    def reply(element: str, operation: str, inner: str, *, enc: bool = False,
                              _bid: str = bid, _gid: str = gid) -> None:
                        nonlocal n
                        n += 1
                        xml = (f'<?xml version="1.0" encoding="UTF-8"?><root><common><building_id>{escape(_bid)}'
                               f"</building_id><gateway_id>{escape(_gid)}</gateway_id><type>{operation}</type>"
                               f'</common><{element} operation="{operation}">{inner}</{element}></root>')
                        conn.sendall(self._frame(n, xml, enc or self.aes == "all"))

                    if body.tag == "id_validate" and op == "request":
                        sequence = str(secrets.randbelow(10**8)).zfill(8)
                        reply("id_validate", "sequence", f"<sequence>{sequence}</sequence>")
                    elif body.tag == "id_validate" and op == "md5":
                        authed = bool(sequence) and self.md5_ok(sequence, body.findtext("md5", ""))
                        self.auth.append("pass" if authed else "fail")
                        reply("id_validate", "result", f"<result>{'pass' if authed else 'fail'}</result>")
                        if not authed:
                            return
                    elif not authed:
                        raise ValueError(f"{body.tag} before id_validate")
                    elif body.tag == "heart_beat":
                        self.heartbeats += 1
                        reply("heart_beat", "time", "<time>20260302120000</time>")
                    elif body.tag == "data" and op in ("report", "continuous"):
                        if self.aes != "off" and not was_encrypted:
                            raise ValueError("data packet in the clear, AES required")
                        arrival = Arrival(bid, body.findtext("time", ""), op, body.findtext("sequence", ""),
                                          {el.get("code", ""): float(el.text or "nan")
                                           for el in body.iterfind("energy_items/energy_item")},
                                          {el.get("id", ""): float(el.findtext("function", "nan"))
                                           for el in body.iterfind("meter")})
                        with self._lock:
                            self.arrivals.append(arrival)
                            self.stored.setdefault((arrival.building_id, arrival.time), arrival)
                            self._arrived.notify_all()
                            if self.drop_before_ack > 0:
                                self.drop_before_ack -= 1
                                return
                        reply("data", f"{op}_ack", f"<sequence>{escape(arrival.sequence)}</sequence><ack>pass</ack>",
                              enc=self.aes != "off")
        except Exception as exc:  # the emulator says what it refused and cuts the connection, as a centre would
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()

    # -- HTTP/JSON
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        centre = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # headers and body in separate writes: no 40 ms delayed-ACK stall

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                return None

            def do_POST(self) -> None:  # noqa: N802 - the base class's name
                size = int(self.headers.get("Content-Length", "0"))
                if size > centre.max_frame:
                    self._answer(413, {"error": "too large"})
                    return
                doc = json.loads(self.rfile.read(size))
                v, common = doc.get("validate", {}), doc.get("common", {})
                if not centre.md5_ok(str(v.get("sequence", "")), str(v.get("md5", ""))):
                    centre.auth.append("fail")
                    self._answer(401, {"error": "md5"})
                    return
                centre.auth.append("pass")
                data = doc.get("data")
                if data is None:
                    data = json.loads(centre.decrypt(base64.b64decode(doc["data_aes"])))
                arrival = Arrival(common["building_id"], data["time"], common["type"], data["sequence"],
                                  {i["code"]: float(i["value"]) for i in data["energy_items"]},
                                  {m["id"]: float(m["value"]) for m in data["meters"]})
                with centre._lock:
                    centre.arrivals.append(arrival)
                    centre.stored.setdefault((arrival.building_id, arrival.time), arrival)
                    centre._arrived.notify_all()
                    if centre.drop_before_ack > 0:
                        centre.drop_before_ack -= 1
                        self._answer(503, {"error": "dropped"})
                        return
                self._answer(200, {"sequence": arrival.sequence, "ack": "pass"})

            def _answer(self, status: int, doc: dict[str, str]) -> None:
                raw = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        return Handler
