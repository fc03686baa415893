"""Modbus register maps, and the RTU framing for buses reached over our own links (DTU, serial server, MQTT).

A map names meterwatch fields → :class:`Register` (address, type, scale, word order, function). From it:
- :func:`plan` the reads: contiguous blocks per function, each at most ``max_count`` registers (the
  standard's limit is 125 for functions 3 and 4: Modbus Application Protocol v1.1b3 §6.3, §6.4), with small
  gaps read through rather than split;
- :func:`decode` the blocks read into values (raw × scale), and :func:`encode` values into registers (the
  simulated meter's side).
Registers are 16 bits, big-endian within a register (MB Application Protocol §4.2). A 32- or 64-bit value
spans 2 or 4 registers, in the word order the meter's manual gives: "ABCD" high word first, "CDAB" low word
first (bytes in a word stay big-endian). float32 is IEEE 754 single.

RTU framing (Modbus over Serial Line v1.02 §2.5.1): ``unit function data CRC``, CRC-16/MODBUS (poly A001
reflected, init FFFF) sent low byte first. Function 3 or 4 request ``unit fn start(2) count(2) CRC``; answer
``unit fn bytes data CRC``; exception answer ``unit fn|80 code CRC`` (MB Application Protocol §7).

Why our own RTU framing and not pymodbus's: the gateway's links (a pty, a transparent TCP socket, a DTU's
MQTT topics) deliver bytes in arbitrary pieces and mixed with registration packets, heartbeats and noise;
we need one streaming, bounded, never-raising deframer with the same contract as DL/T 645's and CJ/T 188's,
fuzzed with them. pymodbus's framers are tied to its transaction manager and its own transports, and their
API changed between 3.x minors. The framing is ~100 lines; pymodbus stays the client for modbus_tcp buses
and the simulators' TCP server.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gateway.protocols import frames
from gateway.protocols.frames import Garbled

TYPES: dict[str, tuple[int, str]] = {  # type → (registers, struct format of its big-endian bytes)
    "int16": (1, ">h"), "uint16": (1, ">H"),
    "int32": (2, ">i"), "uint32": (2, ">I"), "float32": (2, ">f"),
    "int64": (4, ">q"), "uint64": (4, ">Q"),
}
WORD_ORDERS = ("ABCD", "CDAB")
FUNCTIONS = (3, 4)  # read holding registers, read input registers (MB Application Protocol §6.3, §6.4)
MAX_READ = 125  # registers per read, §6.3 "Quantity of Registers 1 to 125 (0x7D)"
EXCEPTIONS = {  # MB Application Protocol §7 "MODBUS Exception Codes"
    0x01: "illegal function",
    0x02: "illegal data address",
    0x03: "illegal data value",
    0x04: "server device failure",
    0x05: "acknowledge",
    0x06: "server device busy",
    0x08: "memory parity error",
    0x0A: "gateway path unavailable",
    0x0B: "gateway target device failed to respond",
}


def words(type: str) -> int:
    """Registers a value of ``type`` takes."""
    if type not in TYPES:
        raise ValueError(f"register type {type!r} is not one of {', '.join(TYPES)}")
    return TYPES[type][0]


@dataclass(frozen=True)
class Register:
    """Where a value is: ``address`` (0-based, as on the wire), ``type``, ``scale`` (value = raw × scale),
    ``word_order`` of a multi-register value, ``function`` 3 (holding) or 4 (input)."""

    address: int
    type: str
    scale: float = 1.0
    word_order: str = "ABCD"
    function: int = 3

    def __post_init__(self) -> None:
        n = words(self.type)
        if not 0 <= self.address <= 0xFFFF - (n - 1):
            raise ValueError(f"register address {self.address} is outside 0 … 65535 for a {self.type}")
        if self.word_order not in WORD_ORDERS:
            raise ValueError(f"word order {self.word_order!r} is not one of {', '.join(WORD_ORDERS)}")
        if self.function not in FUNCTIONS:
            raise ValueError(f"function {self.function} is not 3 (holding) or 4 (input registers)")
        if not (math.isfinite(self.scale) and self.scale != 0):
            raise ValueError(f"scale {self.scale} must be a finite, non-zero number")


@dataclass(frozen=True)
class Block:
    """One read: ``count`` registers from ``start`` with ``function``."""

    function: int
    start: int
    count: int


def plan(registers: Mapping[str, Register], max_count: int = 120, max_gap: int = 8) -> list[Block]:
    """The few reads that fetch every register: per function, in address order; a gap of at most
    ``max_gap`` unused registers is read through; no block over ``max_count`` registers."""
    if not 1 <= max_count <= MAX_READ:
        raise ValueError(f"max_count {max_count} must be 1 … {MAX_READ}")
    blocks: list[Block] = []
    spans = sorted({(r.function, r.address, r.address + words(r.type)) for r in registers.values()})
    cur: list[int] | None = None  # function, start, end
    for function, start, end in spans:
        if cur and cur[0] == function and start <= cur[2] + max_gap and max(end, cur[2]) - cur[1] <= max_count:
            cur[2] = max(cur[2], end)
            continue
        if cur:
            blocks.append(Block(cur[0], cur[1], cur[2] - cur[1]))
        cur = [function, start, end]
    if cur:
        blocks.append(Block(cur[0], cur[1], cur[2] - cur[1]))
    return blocks


def _raw_bytes(reg: Register, regs: Sequence[int]) -> bytes:
    if reg.word_order == "CDAB":
        regs = list(reversed(regs))
    return b"".join(w.to_bytes(2, "big") for w in regs)


def decode(registers: Mapping[str, Register], blocks: Mapping[Block, Sequence[int]]) -> dict[str, float]:
    """Each field's value (raw × scale) out of the blocks read. ValueError in words if a field is in no block,
    a register is not 16 bits, or a float is not a number."""
    out: dict[str, float] = {}
    for name, reg in registers.items():
        n = words(reg.type)
        for block, values in blocks.items():
            if (block.function == reg.function and block.start <= reg.address
                    and reg.address + n <= block.start + min(block.count, len(values))):
                regs = list(values[reg.address - block.start:reg.address - block.start + n])
                break
        else:
            raise ValueError(f"{name}: register {reg.address} (function {reg.function}) was not read")
        if any(not 0 <= w <= 0xFFFF for w in regs):
            raise ValueError(f"{name}: register values {regs} are not 16-bit")
        (raw,) = struct.unpack(TYPES[reg.type][1], _raw_bytes(reg, regs))
        if not math.isfinite(raw):
            raise ValueError(f"{name}: float register {reg.address} holds {raw}, not a number")
        out[name] = raw * reg.scale
    return out


def encode(register: Register, value: float) -> list[int]:
    """The registers that hold ``value`` (value ÷ scale, rounded for integer types); ValueError if it does
    not fit the type."""
    raw = value / register.scale
    fmt = TYPES[register.type][1]
    if register.type == "float32":
        if not math.isfinite(raw) or abs(raw) > 3.4028234663852886e38:
            raise ValueError(f"{value} does not fit a float32")
        data = struct.pack(fmt, raw)
    else:
        if not math.isfinite(raw):
            raise ValueError(f"{value} is not a number")
        try:
            data = struct.pack(fmt, round(raw))
        except struct.error:
            raise ValueError(f"{value} (raw {round(raw)}) does not fit a {register.type}") from None
    regs = [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]
    return list(reversed(regs)) if register.word_order == "CDAB" else regs


# ---- RTU framing ---------------------------------------------------------------------------------------


def crc16(data: bytes) -> int:
    """CRC-16/MODBUS of ``data`` (Modbus over Serial Line §6.2.2; check value of b"123456789" is 0x4B37)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def _with_crc(body: bytes) -> bytes:
    return body + crc16(body).to_bytes(2, "little")


class ModbusError(Exception):
    """An exception answer: ``code`` and its ``words``."""

    def __init__(self, code: int) -> None:
        self.code = code
        self.words = f"exception answer {code:02X}: {EXCEPTIONS.get(code, 'unknown exception code')}"
        super().__init__(self.words)


@dataclass(frozen=True)
class RtuFrame:
    """An RTU frame: for an answer ``data`` is the register bytes; for an exception answer (function | 80)
    the exception code; for a request the 4 bytes start, count."""

    unit: int
    function: int
    data: bytes


def _check_unit(unit: int) -> None:
    if not 1 <= unit <= 247:
        raise ValueError(f"a Modbus unit id is 1 … 247, not {unit}")


def rtu_request(unit: int, block: Block) -> bytes:
    """Read ``block`` from ``unit``."""
    _check_unit(unit)
    if block.function not in FUNCTIONS or not 1 <= block.count <= MAX_READ or block.start + block.count > 0x10000:
        raise ValueError(f"{block} is not a read of 1 … {MAX_READ} registers with function 3 or 4")
    return _with_crc(struct.pack(">BBHH", unit, block.function, block.start, block.count))


def rtu_answer(unit: int, function: int, registers: Sequence[int]) -> bytes:
    """A meter's answer carrying ``registers`` (the simulated meter's side)."""
    _check_unit(unit)
    if not 1 <= len(registers) <= MAX_READ:
        raise ValueError(f"an answer carries 1 … {MAX_READ} registers, not {len(registers)}")
    data = b"".join(int(w).to_bytes(2, "big") for w in registers)
    return _with_crc(bytes([unit, function, len(data)]) + data)


def rtu_exception(unit: int, function: int, code: int) -> bytes:
    """A meter's exception answer (function | 80, code)."""
    _check_unit(unit)
    return _with_crc(bytes([unit, (function | 0x80) & 0xFF, code & 0xFF]))


def decode_rtu_answer(frame: RtuFrame, unit: int, block: Block) -> list[int]:
    """The registers in ``frame`` answering ``rtu_request(unit, block)``; ModbusError for an exception answer,
    ValueError in words for an answer to something else."""
    if frame.unit != unit:
        raise ValueError(f"answer from unit {frame.unit}, we asked unit {unit}")
    if frame.function == block.function | 0x80:
        raise ModbusError(frame.data[0] if frame.data else 0)
    if frame.function != block.function:
        raise ValueError(f"answer with function {frame.function:02X}, we asked {block.function:02X}")
    if len(frame.data) != 2 * block.count:
        raise ValueError(f"answer carries {len(frame.data) // 2} registers, we asked for {block.count}")
    return [int.from_bytes(frame.data[i:i + 2], "big") for i in range(0, len(frame.data), 2)]


def decode_rtu_request(frame: RtuFrame) -> Block:
    """The block a request asks for (the simulated meter's side)."""
    start, count = struct.unpack(">HH", frame.data)
    return Block(frame.function, start, count)


def _scan_answer(buf: bytes) -> frames.Scan[RtuFrame]:
    if len(buf) < 2:
        return frames.Scan(frames.NEED)
    unit, fn = buf[0], buf[1]
    if not 1 <= unit <= 247:
        return frames.Scan(frames.NOISE)
    if fn in (0x83, 0x84):
        total, data_at, data_end = 5, 2, 3
    elif fn in FUNCTIONS:
        if len(buf) < 3:
            return frames.Scan(frames.NEED)
        count = buf[2]
        if count == 0 or count % 2 or count > 2 * MAX_READ:
            return frames.Scan(frames.NOISE)
        total, data_at, data_end = 5 + count, 3, 3 + count
    else:
        return frames.Scan(frames.NOISE)
    return _checked(buf, total, data_at, data_end)


def _scan_request(buf: bytes) -> frames.Scan[RtuFrame]:
    if len(buf) < 2:
        return frames.Scan(frames.NEED)
    if not 1 <= buf[0] <= 247 or buf[1] not in FUNCTIONS:
        return frames.Scan(frames.NOISE)
    return _checked(buf, 8, 2, 6)


def _checked(buf: bytes, total: int, data_at: int, data_end: int) -> frames.Scan[RtuFrame]:
    if len(buf) < total:
        return frames.Scan(frames.NEED)
    got = int.from_bytes(buf[total - 2:total], "little")
    if crc16(buf[:total - 2]) != got:
        return frames.Scan(frames.BAD, total, reason=f"CRC error: the frame says {got:04X}, "
                                                     f"the bytes give {crc16(buf[:total - 2]):04X}")
    return frames.Scan(frames.OK, total, RtuFrame(buf[0], buf[1], bytes(buf[data_at:data_end])))


class RtuDeframer(frames.Deframer[RtuFrame]):
    """RTU frames out of a byte stream: answers (and exception answers) by default, requests with
    ``requests=True`` (the simulated meter). RTU has no start byte: every byte may start a frame, and
    the CRC decides; see :class:`gateway.protocols.frames.Deframer`."""

    def __init__(self, *, requests: bool = False, limit: int = frames.MAX_BUFFER) -> None:
        super().__init__(_scan_request if requests else _scan_answer, starts=None, limit=limit)


__all__ = [
    "Block", "Garbled", "ModbusError", "Register", "RtuDeframer", "RtuFrame", "crc16", "decode", "decode_rtu_answer",
    "decode_rtu_request", "encode", "plan", "rtu_answer", "rtu_exception", "rtu_request", "words",
]
