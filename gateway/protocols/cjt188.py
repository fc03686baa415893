"""CJ/T 188 frames: what water, gas and heat meters on RS-485 / M-Bus speak.

Frame (CJ/T 188-2004 表2 "帧格式"): ``[FE…] 68 T A0…A6 C L DATA CS 16``
- FE: 2–4 wake-up bytes sent before a frame (2004 "前导字节: 在发送帧信息之前，应先发送2～4个字节FEH");
  a receiver skips anything before ``68``.
- T: meter type (2004 表3): 10 cold water, 11 hot water, 12 direct-drinking water, 13 reclaimed water,
  20 heat (heat), 21 heat (cold), 30 gas, 40 electricity; types are grouped 1x water, 2x heat, 3x gas, 4x other.
- A0…A6: the address, 7 bytes, least significant first; A5 A6 are the manufacturer code. We write it as the
  14 hex digits printed on the meter, most significant first. ``AA…AA`` (T ``AA`` too) is the broadcast
  address, for point-to-point use only (one meter on the line).
- C: bit 7 direction (1 = answer), bit 6 abnormal, bits 0–5 the function: 01 read data, 03 read address
  (2004 图2 "控制码"). Normal answer 81, abnormal C1.
- L: DATA length, "读数据时L小于或等于64H" (at most 100 on a read). No +33H offset (unlike DL/T 645).
- CS: sum mod 256 from 68 to the last DATA byte.
- Multi-byte fields go least significant byte first ("所有多字节数据域均先传送低位字节").

Reading the cumulative volume (2004 表5 "读计量数据"): request DATA = DI0 DI1 SER with DI 901F; the
normal answer's DATA (L = 16H, 22 bytes): DI (2), SER (1), current cumulative volume (4 BCD XXXXXX.XX + 1
unit code), volume at the settlement day (4 + 1), real time ``ss mm hh DD MM YY YY`` (7 BCD), status ST (2).
The abnormal answer's DATA is SER and ST (3 bytes).

Byte order of the DI in the field: the standard's table prints the DI as "DI0 DI1 = 90 1F", and meters
exist that want ``90 1F`` on the wire and others that want ``1F 90`` (low byte first, per the transmission
rule); each answers with the order it was asked in (published exchanges: ``01 03 90 1F 00`` answered
``81 16 90 1F …`` at cnblogs.com/cj94/p/18534598; ``01 03 1F 90 00`` answered ``81 16 1F 90 …`` at
cnblogs.com/yangykaifa/p/7010777.html; Aixi Wang's python_cjt188, tested on a DN15 meter, sends ``1F 90``).
We send ``1F 90`` unless asked otherwise (``di_order="901F"``) and accept either order in answers.

CJ/T 188-2018 (户用计量仪表数据传输技术条件, which replaced 2004): we could not read its text, and found no
public source that says what it changed for reading the cumulative volume; tools advertise "2004/2018" with
the same read-data exchange. What we support is exactly the 2004 exchange above (and read address, 03/83,
DI 810A), for water and gas meters (T 1x, 3x). Heat meters (2x) answer 901F with a different, longer layout
(heat, power, flow, temperatures) that we do not decode: their answers raise ValueError. A meter that
answers only DI, SER and the current volume (8 bytes) is taken, with the other fields None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from gateway.protocols import frames
from gateway.protocols.frames import Garbled, bcd_to_int, checksum, int_to_bcd

START, END, WAKE = 0x68, 0x16, 0xFE  # 2004 表2 帧格式, "前导字节"
MAX_DATA = 0x64  # 2004: "读数据时L小于或等于64H"
READ, READ_ADDRESS = 0x01, 0x03  # 2004 图2 控制码 D5…D0: 000001 读数据, 000011 读地址
ANSWER, ABNORMAL = 0x80, 0x40  # D7 direction, D6 abnormal
DI_VOLUME = 0x901F  # 2004 表5 读计量数据
DI_ADDRESS = 0x810A  # 2004 表7 读地址
BROADCAST = "AAAAAAAAAAAAAA"
BROADCAST_TYPE = 0xAA
WATER = (0x10, 0x11, 0x12, 0x13)  # 2004 表3
HEAT = (0x20, 0x21)
GAS = 0x30
ELECTRICITY = 0x40

# 2004 附录 "单位代号": code → (unit, factor to m³ or kWh); the same 16 codes as FoxEdge's CJT188Unit table.
UNITS: dict[int, tuple[str, float]] = {
    0x02: ("Wh", 0.001),
    0x05: ("kWh", 1.0),
    0x08: ("MWh", 1000.0),
    0x0A: ("MWh×100", 100_000.0),
    0x01: ("J", 1 / 3_600_000),
    0x0B: ("kJ", 1 / 3_600),
    0x0E: ("MJ", 1 / 3.6),
    0x11: ("GJ", 1000 / 3.6),
    0x13: ("GJ×100", 100_000 / 3.6),
    0x14: ("W", 0.001),
    0x17: ("kW", 1.0),
    0x1A: ("MW", 1000.0),
    0x29: ("L", 0.001),
    0x2C: ("m³", 1.0),
    0x32: ("L/h", 0.001),
    0x35: ("m³/h", 1.0),
}
VOLUME_UNITS = (0x29, 0x2C)  # the units a cumulative volume may be in
_ADDRESS = re.compile(r"[0-9A-Fa-f]{14}")


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame. ``address``: 14 hex digits as on the nameplate (meter number then manufacturer code,
    most significant first, upper case)."""

    meter_type: int
    address: str
    control: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Volume:
    """A meter's answer to 901F: volumes in m³; ``meter_time`` None when the meter sent none (zeros)."""

    volume_m3: float
    settlement_m3: float | None
    meter_time: datetime | None
    status: int


class Abnormal(ValueError):
    """The meter answered abnormally (C1): ``status`` is its ST, ``words`` say so."""

    def __init__(self, status: int) -> None:
        self.code = self.status = status
        self.words = f"abnormal reply: status ST {status:04X}"
        super().__init__(self.words)


def _address_bytes(address: str) -> bytes:
    if not _ADDRESS.fullmatch(address):
        raise ValueError(f"a CJ/T 188 address is 14 hex digits as on the nameplate, not {address!r}")
    return bytes.fromhex(address)[::-1]


def encode(frame: Frame, *, preamble: int = 4) -> bytes:
    """The bytes of ``frame``: FE × ``preamble``, then the frame with CS and 16."""
    if len(frame.data) > 255:
        raise ValueError(f"DATA of {len(frame.data)} bytes does not fit in L (at most 255)")
    body = (bytes([START, frame.meter_type & 0xFF]) + _address_bytes(frame.address)
            + bytes([frame.control & 0xFF, len(frame.data)]) + frame.data)
    return bytes([WAKE]) * preamble + body + bytes([checksum(body), END])


def _type_known(t: int) -> bool:
    return 0x10 <= t <= 0x49 or t == BROADCAST_TYPE


def _scan(buf: bytes) -> frames.Scan[Frame]:
    if len(buf) >= 2 and not _type_known(buf[1]):
        return frames.Scan(frames.NOISE)
    if len(buf) < 11:
        return frames.Scan(frames.NEED)
    total = frames.sized(buf, 10, MAX_DATA, "CJ/T 188: L ≤ 64H", END)
    if isinstance(total, frames.Scan):
        return total
    frame = Frame(buf[1], buf[2:9][::-1].hex().upper(), buf[9], bytes(buf[11:total - 2]))
    return frames.Scan(frames.OK, total, frame)


class Deframer(frames.Deframer[Frame]):
    """CJ/T 188 frames out of a byte stream; see :class:`gateway.protocols.frames.Deframer`."""

    def __init__(self, *, limit: int = frames.MAX_BUFFER) -> None:
        super().__init__(_scan, starts=bytes([START]), silent=bytes([WAKE]), limit=limit)


def _di_bytes(di: int, di_order: str) -> bytes:
    if di_order == "1F90":
        return di.to_bytes(2, "little")
    if di_order == "901F":
        return di.to_bytes(2, "big")
    raise ValueError(f"di_order is '1F90' (low byte first) or '901F', not {di_order!r}")


def _di_of(data: bytes) -> int | None:
    """The DI at the front of DATA, in either byte order, if it is one we know."""
    for di in (DI_VOLUME, DI_ADDRESS):
        if data[:2] in (di.to_bytes(2, "little"), di.to_bytes(2, "big")):
            return di
    return None


def read_request(meter_type: int, address: str, ser: int = 0, *, di_order: str = "1F90", preamble: int = 4) -> bytes:
    """Read the current cumulative volume (DI 901F) of the meter at ``address``; ``AA…AA`` (with type AA,
    or the meter's type) reaches the one meter on a line."""
    return encode(Frame(meter_type, address.upper(), READ, _di_bytes(DI_VOLUME, di_order) + bytes([ser & 0xFF])),
                  preamble=preamble)


def read_address_request(ser: int = 0, *, di_order: str = "901F", preamble: int = 4) -> bytes:
    """Ask the one meter on a line for its address (control 03, DI 810A, to AA…AA; 2004 表7). The DI goes
    ``81 0A`` by default, as the published read-address exchanges have it."""
    return encode(Frame(BROADCAST_TYPE, BROADCAST, READ_ADDRESS, _di_bytes(DI_ADDRESS, di_order) + bytes([ser & 0xFF])),
                  preamble=preamble)


def decode_address_answer(frame: Frame) -> tuple[int, str]:
    """(meter type, address) from an answer to read address (control 83)."""
    if frame.control != ANSWER | READ_ADDRESS or _di_of(frame.data) != DI_ADDRESS:
        raise ValueError(f"control {frame.control:02X} with DATA {frame.data.hex(' ').upper()} does not "
                         "answer read address (83, DI 810A)")
    return frame.meter_type, frame.address


def _volume(raw: bytes) -> float:
    unit = raw[4]
    if unit not in VOLUME_UNITS:
        name = UNITS.get(unit, ("unknown",))[0]
        raise ValueError(f"unit code {unit:02X} ({name}) is not a volume (2C m³ or 29 L)")
    return bcd_to_int(raw[:4]) / 100 * UNITS[unit][1]


def _meter_time(raw: bytes) -> datetime | None:
    try:
        second, minute, hour, day, month = (bcd_to_int(raw[i:i + 1]) for i in range(5))
        year = bcd_to_int(raw[5:7])
        return datetime(year, month, day, hour, minute, second)  # the meter's own clock, no zone
    except ValueError:
        return None  # zeros (no clock) or nonsense: the time is informational; the volume stands


def decode_answer(frame: Frame) -> Volume:
    """The cumulative volume in a meter's answer to 901F, in m³ (L ÷ 1000). Raises :class:`Abnormal` (a
    ValueError) for an abnormal answer, ValueError in words for anything else wrong."""
    c, data = frame.control, frame.data
    if not c & ANSWER:
        raise ValueError(f"control {c:02X} is a request, not an answer (an echo of our own request?)")
    if c & 0x3F != READ:
        raise ValueError(f"control {c:02X} does not answer a read (expected 81)")
    if c & ABNORMAL:
        if len(data) != 3:
            raise ValueError(f"abnormal answer with {len(data)} data bytes; expected SER and ST (3)")
        raise Abnormal(int.from_bytes(data[1:3], "little"))
    if frame.meter_type in HEAT:
        raise ValueError(f"meter type {frame.meter_type:02X} is a heat meter; its 901F answer is not decoded")
    if _di_of(data) != DI_VOLUME:
        raise ValueError(f"the answer is for DI {data[:2].hex().upper() or 'nothing'}, we asked for 901F")
    if len(data) not in (8, 13, 20, 22):
        raise ValueError(f"a 901F answer is 22 bytes (or 8 with the volume only); got {len(data)}")
    volume = _volume(data[3:8])
    settlement = _volume(data[8:13]) if len(data) >= 13 else None
    meter_time = _meter_time(data[13:20]) if len(data) >= 20 else None
    status = int.from_bytes(data[20:22], "little") if len(data) == 22 else 0
    return Volume(volume, settlement, meter_time, status)


# ---- the meter's side (the simulated meters) ----------------------------------------------------------


def decode_request(frame: Frame) -> tuple[int, int] | None:
    """(DI, SER) of a read request (control 01 or 03 with DI and SER), None for anything else."""
    if frame.control not in (READ, READ_ADDRESS) or len(frame.data) != 3:
        return None
    di = _di_of(frame.data)
    if di is None:
        return None
    return di, frame.data[2]


def answer(meter_type: int, address: str, ser: int, volume_m3: float, *, unit: int = 0x2C,
           at: datetime | None = None, status: int = 0, settlement_m3: float | None = None,
           di_order: str = "1F90", preamble: int = 4) -> bytes:
    """A meter's normal answer to 901F: ``volume_m3`` written in ``unit`` (2C m³ or 29 L), the settlement-day
    volume (``settlement_m3``, else the current one), the meter's time (zeros when None) and ST."""
    if unit not in VOLUME_UNITS:
        raise ValueError(f"unit code {unit:02X} is not a volume unit (2C m³, 29 L)")

    def field(m3: float) -> bytes:
        return int_to_bcd(round(m3 / UNITS[unit][1] * 100), 4) + bytes([unit])

    if at is None:
        clock = bytes(7)
    else:
        clock = b"".join(int_to_bcd(v, 1) for v in (at.second, at.minute, at.hour, at.day, at.month)) \
            + int_to_bcd(at.year, 2)
    settlement = volume_m3 if settlement_m3 is None else settlement_m3
    data = (_di_bytes(DI_VOLUME, di_order) + bytes([ser & 0xFF]) + field(volume_m3) + field(settlement) + clock
            + (status & 0xFFFF).to_bytes(2, "little"))
    return encode(Frame(meter_type, address.upper(), ANSWER | READ, data), preamble=preamble)


def abnormal_answer(meter_type: int, address: str, ser: int, status: int = 0, *, preamble: int = 4) -> bytes:
    """A meter's abnormal answer (C1): SER and ST."""
    data = bytes([ser & 0xFF]) + (status & 0xFFFF).to_bytes(2, "little")
    return encode(Frame(meter_type, address.upper(), ANSWER | ABNORMAL | READ, data), preamble=preamble)


def address_answer(meter_type: int, address: str, ser: int = 0, *, di_order: str = "901F", preamble: int = 4) -> bytes:
    """A meter's answer to read address (83, DI 810A, SER)."""
    data = _di_bytes(DI_ADDRESS, di_order) + bytes([ser & 0xFF])
    return encode(Frame(meter_type, address.upper(), ANSWER | READ_ADDRESS, data), preamble=preamble)


__all__ = [
    "UNITS", "Abnormal", "Deframer", "Frame", "Garbled", "Volume", "abnormal_answer", "address_answer", "answer",
    "decode_address_answer", "decode_answer", "decode_request", "encode", "read_address_request", "read_request",
]
