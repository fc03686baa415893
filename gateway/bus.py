"""One bus of a gateway, read one transaction at a time: :class:`FieldBus`.

The rules of a transaction, plainly:

- one at a time per bus (a lock): RS-485 is half duplex, one master, one question, one answer;
- before a request: wait the inter-frame gap since the last byte on the line, then drop stale input (a late answer
  to an earlier question, heartbeats);
- the gap: Modbus RTU 3.5 character times, at least 1.75 ms above 19200 baud (Modbus over serial line v1.02
  §2.5.1.1); DL/T 645 and CJ/T 188 want a pause of a few bytes between frames, and a DL/T 645-2007 meter may
  take 20 ms to 500 ms to answer (its answer delay; shared/METERS.md "Answer time"): we keep max(20 ms, 4
  character times) of silence before each request; a character is 11 bits (start, 8 data, parity or second
  stop, stop);
- an answer must start within ``timeout_ms`` of our request leaving the wire; once it has started it may take
  its own wire time; the whole wait is bounded (``timeout_ms`` + the wire time of 300 bytes);
- ``retries`` more tries after a silent or broken answer; an abnormal reply is an answer and is not retried;
- frames that are not the answer are counted and skipped, never taken: our own request echoed by the adapter
  (``echo``), a frame from another address (``wrong_address``), an answer to another question (``stale``: a late
  answer), a wrong checksum (``checksum``), a broken frame (``garbled``), bytes between frames (``noise``);
- so a meter that stops answering costs its bus at most (wire time + ``timeout_ms`` + gap) × tries, and the next
  meter is asked right after.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from campus.errors import ConfigError
from campus.model import SERIAL_DEFAULTS, Bus, Device
from campus.model import Protocol as MeterProtocol
from gateway import reading
from gateway.dtu import ListenLink, MqttChannel, MqttLink
from gateway.links import Link, LinkDown, SerialLink, TcpLink, serial_settings
from gateway.protocols import dlt645, modbus
from gateway.protocols.frames import Garbled
from gateway.reading import Answer, Code, Deframer, ModbusTcp, ReadFailed, Verdict
from ingest.config import MqttSettings

__all__ = ["Answer", "FieldBus", "ReadFailed"]

log = logging.getLogger("meterwatch.gateway.bus")

BITS_PER_CHAR = 11          # start + 8 data + parity (or a second stop) + stop
MAX_ANSWER_BYTES = 300      # longer than any answer we ask for (DL/T 645 ≤ 200 data bytes; Modbus RTU ≤ 256)
DLT645_GAP_S = 0.020        # DL/T 645 and CJ/T 188: a few bytes' pause; 20 ms, a meter's shortest answer delay
MODBUS_MIN_GAP_S = 0.00175  # Modbus over serial line v1.02 §2.5.1.1: fixed 1.75 ms above 19200 baud
COUNTERS = ("frames", "garbled", "checksum", "noise", "wrong_address", "echo", "stale", "timeouts", "abnormal",
            "link_down")


def char_time(baud: int) -> float:
    return BITS_PER_CHAR / baud


def gap_s(protocol: MeterProtocol, baud: int) -> float:
    """The silence to keep before a request on a line at ``baud`` (see the module's rules)."""
    if protocol is MeterProtocol.MODBUS:
        return MODBUS_MIN_GAP_S if baud > 19200 else 3.5 * char_time(baud)
    return max(DLT645_GAP_S, 4 * char_time(baud))


def _garbled_code(reason: str) -> Literal["checksum", "noise", "garbled"]:
    """checksum (a wrong CS or CRC), noise (bytes before or between frames) or garbled (a broken frame)."""
    words = reason.lower()
    if "checksum" in words or "crc" in words:
        return "checksum"
    if "not a frame" in words or "cut off" in words:
        return "noise"
    return "garbled"


class _Missed(Exception):  # noqa: N818 - a try's outcome inside ask(), never seen outside
    """One try without an answer: ``code`` as in ReadFailed, ``detail`` in words."""

    def __init__(self, code: Code, detail: str) -> None:
        super().__init__(detail)
        self.code: Code = code
        self.detail = detail


def _link_for(bus: Bus, protocols: Sequence[MeterProtocol], *, mqtt: MqttSettings | None = None,
              client_id: str = "meterwatch-gateway", channel: MqttChannel | None = None) -> Link:
    """The byte link for a bus (not for ``modbus_tcp``, which pymodbus reaches itself). An MQTT bus runs over
    ``channel`` when given (the process's one connection), else over a connection of its own as ``client_id``."""
    way = bus.way
    if way == "serial":
        baud, parity = serial_settings(bus, protocols)
        return SerialLink(bus, baud, parity)
    if way == "tcp":
        return TcpLink(bus)
    if way == "listen":
        return ListenLink(bus)
    if way == "mqtt":
        if mqtt is None and channel is None:
            raise ConfigError(f"bus {bus.name!r} is reached over MQTT: the gateway needs an [mqtt] section")
        return MqttLink(bus, mqtt, client_id, channel=channel)
    raise ConfigError(f"bus {bus.name!r}: a {way} bus has no byte link")


class FieldBus:
    """One campus ``Bus`` of one gateway and the devices on it. Thread-safe; one transaction at a time.

    ``zone``: the site's time zone (``campus.site.timezone``), in which the meters' clocks tell their freeze times.
    ``mqtt``: the broker settings, for a bus reached through a 4G DTU over MQTT (its client id gets ``-BUS``).
    ``channel``: an MQTT connection to borrow for such a bus instead of opening one of its own (the gateway
    process hands its publisher's: one connection per account, see ``gateway.dtu.MqttChannel``).
    ``protocols``: what is spoken on the bus (default: its devices' protocols; commissioning names one).
    ``link``: a byte link to use instead of the one the bus's way makes (tests, tools).
    ``gap_s``: the silence kept before each request, for an adapter or DTU that needs more than the protocol's
    (default: computed from the protocol and the baud, see the module's rules)."""

    def __init__(self, gateway_id: str, bus: Bus, devices: Sequence[Device], *,
                 mqtt: MqttSettings | None = None, zone: str = "Asia/Shanghai",
                 protocols: Sequence[MeterProtocol] | None = None, link: Link | None = None,
                 gap_s: float | None = None, channel: MqttChannel | None = None) -> None:
        self.gateway_id = gateway_id
        self.bus = bus
        self.name = bus.name
        self.devices = [d for d in devices if d.meter is not None and d.meter.bus == bus.name]
        self.zone = ZoneInfo(zone)
        self.protocols: list[MeterProtocol] = sorted(
            set(protocols) if protocols is not None else {d.meter.protocol for d in self.devices if d.meter})
        protocols = self.protocols
        self.tap: Callable[[str, bytes], None] | None = None  # sees every frame sent (→) and bytes received (←)
        self._lock = threading.RLock()
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._last_activity = 0.0
        self._gap_s = gap_s
        self._opened = False
        self._link: Link | None = None
        self._modbus_tcp: ModbusTcp | None = None
        if bus.way == "modbus_tcp":
            self._modbus_tcp = ModbusTcp(bus.name, bus.modbus_tcp or "", bus.timeout_ms, bus.retries)
            self.baud = 0
        else:
            client_id = f"{mqtt.client_id if mqtt else gateway_id}-{bus.name}"
            self._link = link if link is not None else _link_for(bus, protocols, mqtt=mqtt, client_id=client_id,
                                                                 channel=channel)
            if bus.way == "serial":
                self.baud = serial_settings(bus, protocols)[0]
            else:  # the DTU's own serial side, for gaps and wire times: the protocols' convention
                self.baud = min((SERIAL_DEFAULTS[p][0] for p in protocols), default=2400)

    # --- life ------------------------------------------------------------------------------------------------

    def open(self) -> None:
        """Start reaching the bus (idempotent). A bus that cannot be reached now is tried again on each read;
        only a listen address that cannot be bound raises here (LinkDown, in words)."""
        with self._lock:
            if self._opened:
                return
            if self._link is not None:
                self._link.open()
            if self._modbus_tcp is not None:
                self._modbus_tcp.open()
            self._opened = True

    def close(self) -> None:
        """Release every port, socket and thread (idempotent)."""
        with self._lock:
            if self._link is not None:
                self._link.close()
            if self._modbus_tcp is not None:
                self._modbus_tcp.close()
            self._opened = False

    def __enter__(self) -> FieldBus:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def link(self) -> Link | None:
        """The byte link (None for Modbus TCP): tests and commissioning read its counters."""
        return self._link

    def wait_ready(self, timeout_s: float) -> bool:
        """True once the bus can be asked (within ``timeout_s``): an MQTT bus subscribed to the DTU's up topic,
        a listen bus with a DTU dialled in and registered. Other buses: True at once."""
        if isinstance(self._link, MqttLink):
            return self._link.wait_ready(timeout_s)
        if isinstance(self._link, ListenLink):
            return self._link.wait_dialled(1, timeout_s)
        return True

    @property
    def listen_port(self) -> int:
        """For a listen bus: the port DTUs dial in to (0 before open)."""
        return self._link.port if isinstance(self._link, ListenLink) else 0

    # --- reading ---------------------------------------------------------------------------------------------

    def read(self, device: Device) -> Answer:
        """Read a device's values once (raises :class:`ReadFailed`). Optional fields a meter answers "no such
        data" are left out."""
        meter = device.meter
        if meter is None or meter.bus != self.name:
            raise ReadFailed("link_down", f"{device.id} is not on bus {self.name}")
        with self._transaction():
            if meter.protocol is MeterProtocol.DLT645:
                return reading.read_dlt645(self.ask, self.name, device, 2007)
            if meter.protocol is MeterProtocol.DLT645_1997:
                return reading.read_dlt645(self.ask, self.name, device, 1997)
            if meter.protocol is MeterProtocol.CJT188:
                return reading.read_cjt188(self.ask, self.name, device)
            raw: list[tuple[bytes, bytes]] = []
            return reading.read_modbus(lambda unit, block: self.fetch_block(unit, block, raw), device, raw)

    def freezes(self, device: Device, days: Sequence[int]) -> list[tuple[int, dict[str, float]]]:
        """DL/T 645-2007 daily freezes n in ``days`` (1 = yesterday's): (freeze time, epoch ms, from the meter's
        YYMMDDhhmm in the site's zone; {"energy_kwh": total}). [] for protocols without freezes."""
        if device.meter is None or device.meter.protocol is not MeterProtocol.DLT645:
            return []
        with self._transaction():
            return reading.read_freezes(self.ask, self.name, device, days, self.zone)

    def sync_time(self, at: datetime) -> None:
        """Broadcast the time to every DL/T 645 meter on the bus (address 99…99, control 08; no answer). ``at`` is
        written as wall time in the site's zone. Does nothing on a bus without DL/T 645 meters."""
        if not any(p in (MeterProtocol.DLT645, MeterProtocol.DLT645_1997) for p in self.protocols):
            return
        local = at.astimezone(self.zone) if at.tzinfo is not None else at
        with self._transaction():
            self.send(dlt645.broadcast_time_request(local))

    def counters(self) -> dict[str, int]:
        """frames, garbled, checksum, noise, wrong_address, echo, stale, timeouts, abnormal, link_down, and the
        link's own (link_opens, link_drops; rejected, replaced, heartbeats for DTUs)."""
        out = dict(self._counts)  # without the bus's lock: a health check never waits for a transaction
        if self._link is not None:
            out.update(self._link.counters())
        if self._modbus_tcp is not None:
            for k, v in dict(self._modbus_tcp.counts).items():
                out[k] = out.get(k, 0) + v
        return out

    # --- the wire --------------------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            if not self._opened:
                try:
                    self.open()
                except LinkDown as exc:
                    self._counts["link_down"] += 1
                    raise ReadFailed("link_down", f"{self.name}: {exc.words}") from None
            yield

    def _gap(self) -> float:
        if self._gap_s is not None:
            return self._gap_s
        protocol = MeterProtocol.MODBUS if self.protocols == [MeterProtocol.MODBUS] else MeterProtocol.DLT645
        return gap_s(protocol, self.baud or 9600)

    def _wire(self, n: int) -> float:
        return n * char_time(self.baud or 9600)

    def _link_or_fail(self) -> Link:
        if self._link is None:
            raise ReadFailed("link_down", f"bus {self.name} is Modbus TCP: it has no byte link")
        return self._link

    def _write(self, link: Link, request: bytes) -> None:
        wait = self._last_activity + self._gap() - time.monotonic()
        if wait > 0:
            time.sleep(wait)  # the protocol's inter-frame silence, not a wait for a condition
        try:
            link.discard()
            link.write(request)
        except LinkDown as exc:
            self._counts["link_down"] += 1
            raise ReadFailed("link_down", f"{self.name}: {exc.words}") from None
        self._last_activity = time.monotonic() + self._wire(len(request))
        if self.tap is not None:
            self.tap("→", request)

    def send(self, request: bytes) -> None:
        """Send a frame that has no answer (a broadcast)."""
        with self._transaction():
            self._write(self._link_or_fail(), request)

    def ask(self, who: str, request: bytes, deframer: Callable[[], Deframer],
            accept: Callable[[Any], Verdict], *, tries: int | None = None, timeout_ms: int | None = None,
            renew: Callable[[], tuple[bytes, Callable[[Any], Verdict]]] | None = None) -> tuple[Any, bytes]:
        """Send ``request`` to ``who`` and return (the frame ``accept`` calls the answer, its raw bytes), asking
        up to ``tries`` times (default: 1 + the bus's retries); ``renew`` gives each retry a new request and
        accept (a new serial number, so a late answer to the try before is not taken). Raises
        :class:`ReadFailed` in words."""
        with self._transaction():
            link = self._link_or_fail()
            tries = tries if tries is not None else self.bus.retries + 1
            timeout_s = (timeout_ms if timeout_ms is not None else self.bus.timeout_ms) / 1000
            failure = _Missed("no_answer", "")
            for attempt in range(tries):
                if attempt and renew is not None:
                    request, accept = renew()
                self._write(link, request)
                try:
                    got = self._await(link, request, deframer(), accept, timeout_s)
                except _Missed as missed:
                    failure = missed
                    continue
                self._counts["frames"] += 1
                return got
            code, detail = failure.code, failure.detail
            where = f"{who} on {self.name} after {tries} {'try' if tries == 1 else 'tries'}"
            words = {
                "no_answer": f"no answer from {where}",
                "checksum": f"checksum error from {where}",
                "garbled": f"garbled answer from {where}{': ' + detail if detail else ''}",
                "wrong_address": f"only other addresses answered ({detail}) instead of {where}: two meters with "
                                 "one address, or the wrong address in the campus file?",
            }[code]
            raise ReadFailed(code, words)

    def _await(self, link: Link, request: bytes, deframer: Deframer, accept: Callable[[Any], Verdict],
               timeout_s: float) -> tuple[Any, bytes]:
        start = time.monotonic()
        first_byte_by = start + self._wire(len(request)) + timeout_s
        raw = bytearray()
        try:
            return self._take(link, request, deframer, accept, first_byte_by, raw)
        finally:
            if self.tap is not None and raw:
                self.tap("←", bytes(raw))

    def _take(self, link: Link, request: bytes, deframer: Deframer, accept: Callable[[Any], Verdict],
              first_byte_by: float, raw: bytearray) -> tuple[Any, bytes]:
        hard_stop = first_byte_by + self._wire(MAX_ANSWER_BYTES)
        deadline = first_byte_by
        worst = _Missed("no_answer", "")
        echoing, held = True, b""  # an adapter that echoes sends our request back first
        while True:
            try:
                data = link.read(MAX_ANSWER_BYTES, deadline)
            except LinkDown as exc:
                self._counts["link_down"] += 1
                raise ReadFailed("link_down", f"{self.name}: {exc.words}") from None
            now = time.monotonic()
            if not data:
                if worst.code == "no_answer":
                    self._counts["timeouts"] += 1
                raise worst
            self._last_activity = now
            raw += data
            if echoing:  # is it our own request coming back first, byte for byte? hold it until we know
                held += data
                if request.startswith(held) and len(held) < len(request):
                    continue
                echoing = False
                if held.startswith(request):
                    self._counts["echo"] += 1
                    held = held[len(request):]
                data, held = held, b""
                if not data:
                    continue
            # an answer has started: give it its own wire time (bounded by hard_stop)
            deadline = min(hard_stop, max(deadline, now + self._wire(40) + 0.05))
            for item in deframer.feed(data):
                if isinstance(item, Garbled):
                    code = _garbled_code(item.reason)
                    self._counts[code] += 1
                    log.info("bus %s: %s: %s", self.name, code, item.reason)
                    if code != "noise":
                        worst = _Missed(code, item.reason)
                    continue
                verdict = accept(item)
                if verdict == "answer":
                    return item, bytes(raw)
                self._counts[verdict] += 1
                if verdict == "wrong_address" and worst.code == "no_answer":
                    worst = _Missed("wrong_address", str(getattr(item, "address", getattr(item, "unit", "?"))))
            if worst.code in ("checksum", "garbled"):
                raise worst  # the meter answered, brokenly: ask again now, not after the timeout

    def fetch_block(self, unit: int, block: modbus.Block, raw: list[tuple[bytes, bytes]], *,
                    tries: int | None = None, timeout_ms: int | None = None) -> list[int]:
        """A Modbus block from ``unit``: over Modbus TCP with pymodbus, else as RTU frames over the byte link."""
        if self._modbus_tcp is not None:
            with self._transaction():
                return self._modbus_tcp.fetch(unit, block, raw, tries=tries, timeout_ms=timeout_ms, tap=self.tap)
        request = modbus.rtu_request(unit, block)
        frame, answer = self.ask(f"unit {unit}", request, modbus.RtuDeframer, reading.rtu_accept(unit, block),
                                 tries=tries, timeout_ms=timeout_ms)
        raw.append((request, answer))
        return reading.rtu_registers(frame, unit, block, self.name)
