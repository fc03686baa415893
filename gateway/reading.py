"""What the gateway asks each kind of meter, and how the answers become meterwatch's value fields.

The bus (``gateway.bus``) owns the wire: one transaction at a time, gaps, timeouts, retries, echoes and strangers.
This module owns the questions:

- DL/T 645-2007 (and 1997 with its own DIs): ``energy_kwh`` first, and it is required; then ``power_kw``,
  ``voltage_v``, ``current_a``, ``power_factor``. An optional field the meter answers "no such data" (abnormal
  reply, error byte 02, DL/T 645-2007 §7.1.2 / table A.1) is left out, not an error. An optional field the meter
  does not answer at all ends the read with what it has: a meter that stops answering mid-read costs one field's
  timeout × tries, not five.
- CJ/T 188-2004: the cumulative volume (DI 901F), in its unit code, as m³. The meter type byte comes from the
  meter link (``meter_type``) or the device's kind: water 0x10 (cold water), gas 0x30 (CJ/T 188-2004 table 1).
- Modbus: the device's profile (``gateway.protocols.profiles.PROFILES``) or inline register map, read in the few
  contiguous blocks ``gateway.protocols.modbus.plan`` makes; over RTU through the bus's byte link, or over Modbus
  TCP with pymodbus (:class:`ModbusTcp`).
- Daily freezes (DL/T 645-2007 DI 0506000n freeze time, 0506010n frozen positive active energy): stamped at the
  meter's freeze time, read as wall time in the site's zone.

Registers are returned raw: meterwatch's ``multiplier`` (CT ratio) is applied downstream.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusIOException

from campus.contract import KIND_FIELDS, Kind
from campus.errors import MeterwatchError
from campus.model import Device, Meter
from campus.model import Protocol as MeterProtocol
from gateway.protocols import cjt188, dlt645, modbus
from gateway.protocols.profiles import PROFILES

Verdict = Literal["answer", "echo", "wrong_address", "stale"]
Code = Literal["no_answer", "checksum", "garbled", "abnormal", "wrong_address", "link_down"]

# CJ/T 188-2004 table 1, meter type T: 10 cold water, 30 gas (the default for a device of that kind)
CJT188_TYPE_BY_KIND: dict[Kind, int] = {Kind.WATER: 0x10, Kind.GAS: 0x30}
DLT645_REQUIRED = "energy_kwh"
DLT645_ANSWER = 0x80  # control bit D7: direction, 1 = from the meter (DL/T 645-2007 §7.1.2)
CJT188_ANSWER = 0x80  # control bit D7: direction, 1 = from the meter (CJ/T 188-2004 §5.3)
MODBUS_EXCEPTION = 0x80  # function code with bit 7 set: an exception response (Modbus application protocol §7)
MODBUS_EXCEPTIONS = {1: "illegal function", 2: "illegal data address", 3: "illegal data value",
                     4: "server device failure", 5: "acknowledge", 6: "server device busy",
                     10: "gateway path unavailable", 11: "gateway target device failed to respond"}


class ReadFailed(MeterwatchError):
    """A meter could not be read. ``code``: no_answer, checksum, garbled, abnormal, wrong_address or link_down;
    ``words``: what happened, e.g. "no answer from 000012345678 on rs485-1 after 3 tries"."""

    def __init__(self, code: Code, words: str) -> None:
        super().__init__(words)
        self.code: Code = code
        self.words = words


@dataclass(frozen=True)
class Answer:
    """What one read of a meter gave: its values (raw registers), when the first answer came (epoch ms), and
    every request and answer on the wire (for ``meterwatch gateway read``)."""

    values: dict[str, float]
    at_ms: int
    raw: list[tuple[bytes, bytes]] = field(default_factory=list)


class Deframer(Protocol):
    def feed(self, data: bytes) -> list[Any]: ...


class Ask(Protocol):
    """The bus's transaction: send ``request`` and return the first frame that ``accept`` takes as the answer
    (with the answer's raw bytes), retrying per the bus; raises :class:`ReadFailed`."""

    def __call__(self, who: str, request: bytes, deframer: Callable[[], Deframer],
                 accept: Callable[[Any], Verdict]) -> tuple[Any, bytes]: ...


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# --- DL/T 645 -------------------------------------------------------------------------------------------------

def dlt645_accept(address: str, di: int | None = None, version: int = 2007) -> Callable[[Any], Verdict]:
    """Which DL/T 645 frames answer a read of ``di`` from ``address`` (AA…AA: any meter; di None: read-address).
    A normal answer for another DI is ``stale`` (a late answer to an earlier question): skipped, not taken."""
    size = 4 if version == 2007 else 2

    def accept(frame: Any) -> Verdict:
        if not frame.control & DLT645_ANSWER:
            return "echo"  # a master's frame: our own request echoed by the adapter (or a second master)
        if address != "AAAAAAAAAAAA" and frame.address != address:
            return "wrong_address"
        if di is not None and not frame.control & 0x40 and frame.data[:size] != di.to_bytes(size, "little"):
            return "stale"
        return "answer"

    return accept


def dlt645_value(ask: Ask, bus_name: str, address: str, di: int, version: int) -> tuple[Any, bytes]:
    """Ask a DL/T 645 meter for one DI; the decoded value and the request/answer bytes. Abnormal replies and
    undecodable answers raise :class:`ReadFailed` (``abnormal``/``garbled``)."""
    request = dlt645.read_request(address, di, version=version)
    frame, raw = ask(address, request, dlt645.Deframer, dlt645_accept(address, di, version))
    try:
        return dlt645.decode_answer(frame, di, version=version), raw
    except dlt645.Abnormal as exc:
        raise ReadFailed("abnormal", f"abnormal reply from {address} on {bus_name}: "
                                     f"{exc.words.removeprefix('abnormal reply: ')} (DI {di:08X})") from None
    except ValueError as exc:
        raise ReadFailed("garbled", f"garbled answer from {address} on {bus_name}: {exc}") from None


def read_dlt645(ask: Ask, bus_name: str, device: Device, version: int = 2007) -> Answer:
    meter = _meter(device)
    address = meter.address or ""
    fields = dlt645.FIELDS if version == 2007 else dlt645.FIELDS_1997
    wanted = [DLT645_REQUIRED, *(f for f in KIND_FIELDS[device.kind] if f in fields and f != DLT645_REQUIRED)]
    values: dict[str, float] = {}
    raw: list[tuple[bytes, bytes]] = []
    at_ms = 0
    for name in wanted:
        request = dlt645.read_request(address, fields[name], version=version)
        try:
            value, answer = dlt645_value(ask, bus_name, address, fields[name], version)
        except ReadFailed as exc:
            if name == DLT645_REQUIRED:
                raise
            if exc.code == "abnormal":
                raw.append((request, b""))
                continue  # the meter has no such data: the field is left out
            break  # it stopped answering: keep what we have, do not spend another timeout per field
        if not isinstance(value, float | int):
            raise ReadFailed("garbled", f"garbled answer from {address} on {bus_name}: {name} is not a number")
        if not at_ms:
            at_ms = now_ms()
        values[name] = float(value)
        raw.append((request, answer))
    return Answer(values, at_ms, raw)


def read_freezes(ask: Ask, bus_name: str, device: Device, days: Iterable[int],
                 zone: ZoneInfo) -> list[tuple[int, dict[str, float]]]:
    """DL/T 645-2007 daily freezes: for each n in ``days`` (1 = the last), the freeze time (the meter's clock,
    wall time in the site's zone) as epoch ms and the frozen total positive active energy. A freeze the meter does
    not have (abnormal reply) is skipped; no answer raises."""
    meter = _meter(device)
    if meter.protocol is not MeterProtocol.DLT645:
        return []
    address = meter.address or ""
    out: list[tuple[int, dict[str, float]]] = []
    for n in days:
        try:
            at, _ = dlt645_value(ask, bus_name, address, dlt645.freeze_time_di(n), 2007)
            energy, _ = dlt645_value(ask, bus_name, address, dlt645.freeze_energy_di(n), 2007)
        except ReadFailed as exc:
            if exc.code == "abnormal":
                continue
            raise
        if not isinstance(at, datetime) or not isinstance(energy, list) or not energy:
            raise ReadFailed("garbled", f"garbled freeze {n} from {address} on {bus_name}")
        stamp = at.replace(tzinfo=zone) if at.tzinfo is None else at
        out.append((int(stamp.timestamp() * 1000), {"energy_kwh": float(energy[0])}))
    return out


# --- CJ/T 188 -------------------------------------------------------------------------------------------------

def cjt188_type(device: Device) -> int:
    meter = _meter(device)
    if meter.meter_type is not None:
        return meter.meter_type
    return CJT188_TYPE_BY_KIND.get(device.kind, 0x10)


def cjt188_accept(address: str, di: int = cjt188.DI_VOLUME) -> Callable[[Any], Verdict]:
    """Which CJ/T 188 frames answer a read of ``di`` from ``address`` (AA…AA: any meter). A normal answer for
    another DI is ``stale``."""
    dis = (di.to_bytes(2, "little"), di.to_bytes(2, "big"))

    def accept(frame: Any) -> Verdict:
        if not frame.control & CJT188_ANSWER:
            return "echo"
        if address != "A" * 14 and frame.address.upper() != address.upper():
            return "wrong_address"
        if not frame.control & 0x40 and frame.data[:2] not in dis:
            return "stale"
        return "answer"

    return accept


def cjt188_volume(ask: Ask, bus_name: str, meter_type: int, address: str) -> tuple[Any, Any, bytes, bytes]:
    """Ask a CJ/T 188 meter for its cumulative flow: (Volume, frame, request, answer bytes)."""
    request = cjt188.read_request(meter_type, address)
    frame, raw = ask(address, request, cjt188.Deframer, cjt188_accept(address))
    try:
        return cjt188.decode_answer(frame), frame, request, raw
    except cjt188.Abnormal as exc:  # C1 (CJ/T 188-2004 §5.3, D6 = 1)
        raise ReadFailed("abnormal", f"abnormal reply from {frame.address} on {bus_name}: "
                                     f"{exc.words.removeprefix('abnormal reply: ')}") from None
    except ValueError as exc:
        raise ReadFailed("garbled", f"garbled answer from {address} on {bus_name}: {exc}") from None


def read_cjt188(ask: Ask, bus_name: str, device: Device) -> Answer:
    meter = _meter(device)
    volume, _, request, raw = cjt188_volume(ask, bus_name, cjt188_type(device), meter.address or "")
    return Answer({"volume_m3": float(volume.volume_m3)}, now_ms(), [(request, raw)])


# --- Modbus ---------------------------------------------------------------------------------------------------

def modbus_registers(device: Device) -> dict[str, modbus.Register]:
    """The register map of a Modbus meter: its profile's, or its inline one; only its kind's fields."""
    meter = _meter(device)
    if meter.profile is not None:
        profile = PROFILES.get(meter.profile)
        if profile is None:
            raise ReadFailed("abnormal", f"unknown Modbus profile {meter.profile!r} for {device.id}; "
                                         f"shipped: {', '.join(sorted(PROFILES))}")
        regs: Mapping[str, modbus.Register] = profile.registers
    else:
        regs = {name: modbus.Register(address=r.address, type=r.type, scale=r.scale, word_order=r.word_order,
                                      function=r.function) for name, r in (meter.registers or {}).items()}
    return {name: r for name, r in regs.items() if name in KIND_FIELDS[device.kind]}


FetchBlock = Callable[[int, Any], Sequence[int]]


def read_modbus(fetch: FetchBlock, device: Device, raw: list[tuple[bytes, bytes]]) -> Answer:
    """Read a Modbus meter's blocks with ``fetch(unit, block) -> registers`` and decode its map."""
    meter = _meter(device)
    regs = modbus_registers(device)
    blocks: dict[Any, Sequence[int]] = {}
    at_ms = 0
    for block in modbus.plan(regs):
        blocks[block] = fetch(meter.unit or 0, block)
        at_ms = at_ms or now_ms()
    try:
        values = modbus.decode(regs, blocks)
    except ValueError as exc:
        raise ReadFailed("garbled", f"garbled answer from unit {meter.unit}: {exc}") from None
    return Answer({k: float(v) for k, v in values.items()}, at_ms, raw)


def _meter(device: Device) -> Meter:
    if device.meter is None:
        raise ReadFailed("link_down", f"{device.id} has no meter link (meter: bus, protocol, address)")
    return device.meter


class ModbusTcp:
    """A Modbus TCP meter or gateway (``modbus_tcp: HOST:PORT``), through pymodbus's synchronous client. Our own
    retries and timeout (the bus's), pymodbus's errors translated into :class:`ReadFailed`."""

    def __init__(self, bus_name: str, where: str, timeout_ms: int, retries: int) -> None:
        self.bus_name, self.where = bus_name, where
        host, _, port = where.rpartition(":")
        self._host, self._port = host.strip("[]"), int(port)
        self.timeout_s, self.tries = timeout_ms / 1000, retries + 1
        self._client: ModbusTcpClient | None = None
        self._trace: list[bytes] = []
        self.counts = {"frames": 0, "timeouts": 0, "abnormal": 0, "link_drops": 0}

    def open(self) -> None:
        if self._client is None:
            self._client = ModbusTcpClient(self._host, port=self._port, timeout=self.timeout_s, retries=0,
                                           trace_packet=self._traced)

    def _traced(self, sending: bool, data: bytes) -> bytes:
        self._trace.append(bytes(data))
        return data

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def fetch(self, unit: int, block: modbus.Block, raw: list[tuple[bytes, bytes]], *, tries: int | None = None,
              timeout_ms: int | None = None, tap: Callable[[str, bytes], None] | None = None) -> list[int]:
        """The ``block``'s registers from ``unit``; the bytes both ways appended to ``raw`` (and shown to
        ``tap``). ``tries``, ``timeout_ms``: the bus's unless given (commissioning scans with short ones)."""
        self.open()
        client = self._client
        assert client is not None  # noqa: S101 - open() made it
        client.comm_params.timeout_connect = (timeout_ms / 1000) if timeout_ms is not None else self.timeout_s
        who = f"unit {unit}"
        tries = tries if tries is not None else self.tries
        for _ in range(tries):
            self._trace.clear()
            try:
                if not client.connect():
                    self.counts["link_drops"] += 1
                    raise ReadFailed("link_down", f"cannot connect to the Modbus TCP device at {self.where} "
                                                  f"({self.bus_name}): is it powered and on the network, is the "
                                                  "port 502 or the one set on it?")
                read = client.read_holding_registers if block.function == 3 else client.read_input_registers
                response = read(block.start, count=block.count, device_id=unit)
            except ModbusIOException:
                self.counts["timeouts"] += 1
                client.close()  # a late answer must not be taken as the next one's
                continue
            except (ConnectionException, OSError) as exc:
                self.counts["link_drops"] += 1
                client.close()
                raise ReadFailed("link_down", f"the Modbus TCP device at {self.where} ({self.bus_name}) dropped "
                                              f"the connection: {exc}") from None
            finally:
                sent = b"".join(self._trace[:1])
                got = b"".join(self._trace[1:])
                raw.append((sent, got))
                if tap is not None:
                    tap("→", sent)
                    if got:
                        tap("←", got)
            if response.isError():
                self.counts["abnormal"] += 1
                code = int(getattr(response, "exception_code", 0))
                raise ReadFailed("abnormal", f"abnormal reply from {who} on {self.bus_name}: "
                                             f"{MODBUS_EXCEPTIONS.get(code, f'exception {code}')}")
            registers = list(response.registers)
            if len(registers) < block.count:
                raise ReadFailed("garbled", f"garbled answer from {who} on {self.bus_name}: "
                                            f"{len(registers)} registers for {block.count}")
            self.counts["frames"] += 1
            return registers[: block.count]
        raise ReadFailed("no_answer", f"no answer from {who} on {self.bus_name} after {tries} "
                                      f"{'try' if tries == 1 else 'tries'}")


# --- Modbus RTU over a byte link ------------------------------------------------------------------------------

def rtu_accept(unit: int, block: modbus.Block) -> Callable[[Any], Verdict]:
    """Which RTU frames answer a read of ``block`` from ``unit``: same unit, same function (or its exception),
    as many registers as asked."""

    def accept(frame: Any) -> Verdict:
        if frame.unit != unit:
            return "wrong_address"
        if frame.function & 0x7F != block.function:
            return "stale"
        if not frame.function & MODBUS_EXCEPTION and len(frame.data) != 2 * block.count:
            return "stale"  # an answer to another read of this unit (RTU has no transaction id)
        return "answer"

    return accept


def rtu_registers(frame: Any, unit: int, block: modbus.Block, bus_name: str) -> list[int]:
    """The registers of an RTU answer; an exception answer is ``abnormal``."""
    try:
        return modbus.decode_rtu_answer(frame, unit, block)
    except modbus.ModbusError as exc:
        raise ReadFailed("abnormal", f"abnormal reply from unit {unit} on {bus_name}: "
                                     f"{MODBUS_EXCEPTIONS.get(exc.code, exc.words)}") from None
    except ValueError as exc:
        raise ReadFailed("garbled", f"garbled answer from unit {unit} on {bus_name}: {exc}") from None
