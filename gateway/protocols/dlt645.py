"""DL/T 645-2007 (and -1997) frames: what electricity meters on RS-485 speak.

Frame (both versions, DL/T 645-2007 "帧格式"; DL/T 645-1997):
``[FE…] 68 A0…A5 68 C L DATA CS 16``
- FE: wake-up preamble, up to 4 bytes, sent before a frame by the master (2007 "传输前导字节");
  a receiver skips anything before ``68``.
- A0…A5: the address, 6 bytes BCD, least significant first; the nameplate ``000000001234`` is sent
  ``34 12 00 00 00 00``. ``99…99`` broadcast (time only), ``AA…AA`` wildcard (2007 read address).
- C: control. Bit 7 direction (1 = answer), bit 6 abnormal answer, bit 5 follow-up frame; bits 0–4 the
  function: 2007 ``11`` read data, ``13`` read address, ``08`` broadcast time (2007 "控制码C");
  1997 ``01`` read data, ``08`` broadcast time.
- L: length of DATA, at most 200 on a read (2007 "数据域长度L": "读数据时L≤200").
- DATA is sent byte by byte +33H and taken −33H (2007 "数据域DATA"; 1997 the same).
- CS: sum mod 256 of every byte from the first 68 to the last DATA byte (2007 "校验码CS").

Data identifiers: 2007 has 4 bytes, DI0 sent first (2007 appendix A); 1997 has 2 bytes, DI0 first
(1997 appendix "数据标识", e.g. 9010 sent ``10 90``, i.e. ``43 C3`` with the offset). Values are BCD, least
significant byte first; in 2007 the top bit of the most significant byte of a current, power or power
factor is its sign (2007 appendix A, the formats of 电流, 功率 and 功率因数; the ranges ±79.9999 etc.). For 1997
we found no sign rule and read its values unsigned: an assumption, said here.

An abnormal answer (2007 ``D1``, 1997 ``C1``) carries one error byte; bit 1 is "no such data" (2007 表
"错误信息字SERR": bit1 无请求数据; 1997 "数据标识错"). It raises :class:`Abnormal`, with the words.

Frames are checked here (start bytes, length, CS, end byte); whether an answer comes from the meter asked
(the address) and whether it is an echo of our own request is for the caller to see in :class:`Frame`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from gateway.protocols import frames
from gateway.protocols.frames import Garbled, bcd_to_int, checksum, int_to_bcd

START = 0x68  # 2007 "帧起始符"
END = 0x16  # 2007 "结束符"
WAKE = 0xFE  # 2007 "前导字节"
OFFSET = 0x33  # 2007: "发送方按字节进行加33H处理，接收方按字节进行减33H处理"
MAX_DATA = 200  # 2007 "读数据时L≤200"
BROADCAST = "999999999999"  # 2007 "广播地址"
WILDCARD = "AAAAAAAAAAAA"  # 2007 "通配地址" (read address)

READ_2007, READ_ADDRESS_2007, TIME = 0x11, 0x13, 0x08  # 2007 控制码C: 读数据, 读通信地址, 广播校时
READ_1997 = 0x01  # 1997 "读数据"
ANSWER, ABNORMAL, FOLLOW_UP = 0x80, 0x40, 0x20  # control bits 7, 6, 5 (控制码C, both versions)

ERROR_BITS = {  # 2007 表 "错误信息字SERR" (1997 uses bit 0 非法数据, bit 1 数据标识错, bit 2 密码错)
    0x01: "other error",  # 其他错误 (1997: 非法数据 illegal data)
    0x02: "no such data",  # 无请求数据 (1997: 数据标识错)
    0x04: "wrong password or not authorised",  # 密码错/未授权
    0x08: "baud rate cannot be changed",  # 通信速率不能更改
    0x10: "too many seasons",  # 年时区数超
    0x20: "too many day periods",  # 日时段数超
    0x40: "too many tariffs",  # 费率数超
}

FIELDS: dict[str, int] = {  # meterwatch's electricity fields → DL/T 645-2007 DI (appendix A 表A.1, A.3)
    "energy_kwh": 0x00010000,  # (当前)正向有功总电能 XXXXXX.XX kWh
    "voltage_v": 0x02010100,  # A相电压 XXX.X V
    "current_a": 0x02020100,  # A相电流 XXX.XXX A (sign bit)
    "power_kw": 0x02030000,  # 瞬时总有功功率 XX.XXXX kW (sign bit)
    "power_factor": 0x02060000,  # 总功率因数 X.XXX (sign bit)
}
FIELDS_1997: dict[str, int] = {  # the same fields, DL/T 645-1997 DI (appendix, 表 "数据标识")
    "energy_kwh": 0x9010,  # (当前)正向有功总电能 XXXXXX.XX kWh
    "voltage_v": 0xB611,  # A相电压 XXX V
    "current_a": 0xB621,  # A相电流 XX.XX A
    "power_kw": 0xB630,  # 瞬时有功功率 XX.XXXX kW
    "power_factor": 0xB650,  # 总功率因数 X.XXX
}

# DI → (bytes, decimals, signed). 2007 appendix A; phases B and C follow A (…0200, …0300). Formats cross-checked
# with the DI tables of PyPI's dlt645 3.2 (config/variable_types.py: 02010100 XXX.X, 02020100 XXX.XXX, 02030000
# XX.XXXX ±79.9999, 02060000 X.XXX ±0.999) and the 1997→2007 DI map of public concentrator code (9010→00010000,
# B611→02010100, B621→02020100, B630→02030000, 921F→05060101 日冻结电能量).
FORMATS_2007: dict[int, tuple[int, int, bool]] = {
    0x00010000: (4, 2, False),
    **{0x02010000 | p << 8: (2, 1, False) for p in (1, 2, 3)},
    **{0x02020000 | p << 8: (3, 3, True) for p in (1, 2, 3)},
    **{0x02030000 | p << 8: (3, 4, True) for p in (0, 1, 2, 3)},
    **{0x02060000 | p << 8: (2, 3, True) for p in (0, 1, 2, 3)},
}
FORMATS_1997: dict[int, tuple[int, int, bool]] = {  # 1997 appendix; read unsigned (see the module's docstring)
    0x9010: (4, 2, False),
    **{0xB610 | p: (2, 0, False) for p in (1, 2, 3)},
    **{0xB620 | p: (2, 2, False) for p in (1, 2, 3)},
    **{0xB630 | p: (3, 4, False) for p in (0, 1, 2, 3)},
    **{0xB650 | p: (2, 3, False) for p in (0, 1, 2, 3)},
}
FREEZES = 62  # 2007 appendix A, 冻结量 "日冻结": 上1次…上62次, DI0 = 01H…3EH
FREEZE_TIME_SIZE = 5  # YYMMDDhhmm
ENERGY_SIZE = 4  # XXXXXX.XX
_ADDRESS = re.compile(r"[0-9A-Fa-f]{12}")


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame. ``address``: 12 digits as on the nameplate (most significant first, upper case);
    ``data``: already taken −33H."""

    address: str
    control: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Request:
    """What a master asked (the meter's side): ``kind`` is "read", "read_address", "time" or "other"."""

    kind: str
    address: str
    di: int | None = None
    at: datetime | None = None


class Abnormal(Exception):
    """The meter answered abnormally (异常应答). ``code`` is its error byte, ``words`` say what it means."""

    def __init__(self, code: int) -> None:
        self.code = code
        named = [w for bit, w in ERROR_BITS.items() if code & bit]
        self.words = "abnormal reply: " + (", ".join(named) if named else f"error byte {code:02X}")
        super().__init__(self.words)


def _address_bytes(address: str) -> bytes:
    if not _ADDRESS.fullmatch(address):
        raise ValueError(f"a DL/T 645 address is 12 digits as on the nameplate, not {address!r}")
    return bytes.fromhex(address)[::-1]


def encode(frame: Frame, *, preamble: int = 4) -> bytes:
    """The bytes of ``frame``: FE × ``preamble``, then the frame with DATA +33H, CS and 16."""
    if len(frame.data) > 255:
        raise ValueError(f"DATA of {len(frame.data)} bytes does not fit in L (at most 255)")
    body = (bytes([START]) + _address_bytes(frame.address) + bytes([START, frame.control & 0xFF, len(frame.data)])
            + bytes((b + OFFSET) & 0xFF for b in frame.data))
    return bytes([WAKE]) * preamble + body + bytes([checksum(body), END])


def _scan(buf: bytes) -> frames.Scan[Frame]:
    if len(buf) >= 8 and buf[7] != START:
        return frames.Scan(frames.NOISE)
    if len(buf) < 10:
        return frames.Scan(frames.NEED)
    total = frames.sized(buf, 9, MAX_DATA, "DL/T 645: 读数据时L≤200", END)
    if isinstance(total, frames.Scan):
        return total
    frame = Frame(buf[1:7][::-1].hex().upper(), buf[8], bytes((b - OFFSET) & 0xFF for b in buf[10:total - 2]))
    return frames.Scan(frames.OK, total, frame)


class Deframer(frames.Deframer[Frame]):
    """DL/T 645 frames (either version) out of a byte stream; see :class:`gateway.protocols.frames.Deframer`."""

    def __init__(self, *, limit: int = frames.MAX_BUFFER) -> None:
        super().__init__(_scan, starts=bytes([START]), silent=bytes([WAKE]), limit=limit)


# ---- the master's side: requests out, answers in ---------------------------------------------------------


def _di_bytes(di: int, version: int) -> bytes:
    size = _di_size(version)
    if not 0 <= di < 1 << (8 * size):
        raise ValueError(f"DI {di:X} is not a {size}-byte DL/T 645-{version} data identifier")
    return di.to_bytes(size, "little")


def _di_size(version: int) -> int:
    if version == 2007:
        return 4
    if version == 1997:
        return 2
    raise ValueError(f"DL/T 645 version {version} is not known; 2007 or 1997")


def read_request(address: str, di: int, *, version: int = 2007, preamble: int = 4) -> bytes:
    """Read data ``di`` from the meter at ``address`` (2007 control 11, 1997 control 01)."""
    control = READ_2007 if version == 2007 else READ_1997
    return encode(Frame(address.upper(), control, _di_bytes(di, version)), preamble=preamble)


def read_address_request(*, preamble: int = 4) -> bytes:
    """Read the address of the one meter on a bus (2007 control 13 to AA…AA; answered by 93)."""
    return encode(Frame(WILDCARD, READ_ADDRESS_2007, b""), preamble=preamble)


def broadcast_time_request(at: datetime, *, preamble: int = 4) -> bytes:
    """Set every meter's clock to ``at``, in the meters' own (local) time: control 08 to 99…99, DATA
    ``ss mm hh DD MM YY`` (2007 "广播校时"; 1997 the same). No meter answers it."""
    fields = (at.second, at.minute, at.hour, at.day, at.month, at.year % 100)
    return encode(Frame(BROADCAST, TIME, b"".join(int_to_bcd(v, 1) for v in fields)), preamble=preamble)


def freeze_time_di(n: int) -> int:
    """DI of the time of the n-th last daily freeze, n = 1 … 62 (2007 appendix A 冻结量: 05 06 00 01 … 05 06 00 3E)."""
    return 0x05060000 | _freeze_n(n)


def freeze_energy_di(n: int) -> int:
    """DI of the n-th last daily frozen positive active energy: total, then each tariff (05 06 01 01 … 3E)."""
    return 0x05060100 | _freeze_n(n)


def _freeze_n(n: int) -> int:
    if not 1 <= n <= FREEZES:
        raise ValueError(f"a daily freeze is n = 1 … {FREEZES} (1 = the last one), not {n}")
    return n


def _kind_of(di: int, version: int) -> str:
    """"time", "energies" or "value" (a number in FORMATS); ValueError for a DI we do not read."""
    if version == 2007 and di & 0xFFFFFF00 in (0x05060000, 0x05060100) and 1 <= di & 0xFF <= FREEZES:
        return "time" if di & 0xFF00 == 0 else "energies"
    formats = FORMATS_2007 if _di_size(version) == 4 else FORMATS_1997
    if di not in formats:
        raise ValueError(f"DI {di:0{2 * _di_size(version)}X} is not one meterwatch reads (DL/T 645-{version})")
    return "value"


def decode_answer(frame: Frame, di: int, *, version: int = 2007) -> float | datetime | list[float]:
    """The value in the meter's answer to reading ``di``: a float (kWh, V, A, kW, PF), a datetime (a freeze
    time, naive: the meter's own clock), or a list of floats (a frozen energy: total, tariff 1, 2, …).
    Raises :class:`Abnormal` for an abnormal answer, ValueError (in words) for anything else wrong."""
    read = READ_2007 if _di_size(version) == 4 else READ_1997
    c = frame.control
    if not c & ANSWER:
        raise ValueError(f"control {c:02X} is a request, not an answer (an echo of our own request?)")
    if c & 0x1F != read:
        raise ValueError(f"control {c:02X} does not answer a read (expected {ANSWER | read:02X})")
    if c & ABNORMAL:
        if len(frame.data) != 1:
            raise ValueError(f"abnormal answer with {len(frame.data)} data bytes; expected 1 error byte")
        raise Abnormal(frame.data[0])
    if c & FOLLOW_UP:
        raise ValueError("the answer says follow-up frames come (后续帧); meterwatch reads single-frame items")
    size = _di_size(version)
    kind = _kind_of(di, version)
    got = int.from_bytes(frame.data[:size], "little")
    if len(frame.data) < size or got != di:
        raise ValueError(f"the answer is for DI {frame.data[:size][::-1].hex().upper() or 'nothing'}, "
                         f"we asked for {di:0{2 * size}X}")
    value = frame.data[size:]
    if kind == "time":
        return _freeze_time(value)
    if kind == "energies":
        if not value or len(value) % ENERGY_SIZE:
            raise ValueError(f"a frozen energy is 4 bytes per tariff; got {len(value)} bytes")
        return [bcd_to_int(value[i:i + ENERGY_SIZE]) / 100 for i in range(0, len(value), ENERGY_SIZE)]
    formats = FORMATS_2007 if size == 4 else FORMATS_1997
    want, decimals, signed = formats[di]
    if len(value) != want:
        raise ValueError(f"DI {di:0{2 * size}X} is {want} bytes; the answer has {len(value)}")
    return _number(value, decimals, signed)


def _number(value: bytes, decimals: int, signed: bool) -> float:
    negative = signed and bool(value[-1] & 0x80)
    if signed:
        value = value[:-1] + bytes([value[-1] & 0x7F])
    magnitude = bcd_to_int(value)
    result = magnitude / 10**decimals
    return -result if negative and magnitude else result


def _freeze_time(value: bytes) -> datetime:
    if len(value) != FREEZE_TIME_SIZE:
        raise ValueError(f"a freeze time is 5 bytes (YYMMDDhhmm); got {len(value)}")
    minute, hour, day, month, year = (bcd_to_int(value[i:i + 1]) for i in range(5))
    try:
        return datetime(2000 + year, month, day, hour, minute)  # the meter's own clock, no zone
    except ValueError:
        raise ValueError(f"freeze time {value[::-1].hex()} (YYMMDDhhmm) is not a time") from None


def decode_address_answer(frame: Frame) -> str:
    """The address the one meter on a bus gave to read-address (2007 control 93, DATA = its address)."""
    if frame.control != ANSWER | READ_ADDRESS_2007:
        raise ValueError(f"control {frame.control:02X} is not an answer to read-address (93)")
    if len(frame.data) != 6:
        raise ValueError(f"read-address answer has {len(frame.data)} data bytes; expected 6")
    return frame.data[::-1].hex().upper()


# ---- the meter's side: requests in, answers out (the simulated meters) -----------------------------------


def decode_request(frame: Frame, *, version: int = 2007) -> Request:
    """What a master asked in ``frame``. ValueError for a broadcast time that is not a time."""
    size = _di_size(version)
    read = READ_2007 if size == 4 else READ_1997
    c, data = frame.control, frame.data
    if c == read and len(data) >= size:
        return Request("read", frame.address, int.from_bytes(data[:size], "little"))
    if version == 2007 and c == READ_ADDRESS_2007 and not data:
        return Request("read_address", frame.address)
    if c == TIME and len(data) == 6:
        second, minute, hour, day, month, year = (bcd_to_int(data[i:i + 1]) for i in range(6))
        try:
            at = datetime(2000 + year, month, day, hour, minute, second)  # the meters' local time
        except ValueError:
            raise ValueError(f"broadcast time {data[::-1].hex()} (YYMMDDhhmmss) is not a time") from None
        return Request("time", frame.address, at=at)
    return Request("other", frame.address)


def answer(address: str, di: int, value: float | datetime | list[float], *, version: int = 2007,
           preamble: int = 4) -> bytes:
    """A meter's normal answer to reading ``di`` (2007 control 91, 1997 81). ValueError if ``value`` does not
    fit the item's format."""
    size = _di_size(version)
    kind = _kind_of(di, version)
    if kind == "time":
        if not isinstance(value, datetime):
            raise ValueError("a freeze time answer takes a datetime")
        body = b"".join(int_to_bcd(v, 1) for v in (value.minute, value.hour, value.day, value.month,
                                                   value.year % 100))
    elif kind == "energies":
        if not isinstance(value, list) or not value:
            raise ValueError("a frozen energy answer takes a list: total, then each tariff")
        body = b"".join(int_to_bcd(round(v * 100), ENERGY_SIZE) for v in value)
    else:
        if isinstance(value, datetime | list):
            raise ValueError(f"DI {di:X} answers a number")
        want, decimals, signed = (FORMATS_2007 if size == 4 else FORMATS_1997)[di]
        body = _encode_number(float(value), want, decimals, signed)
    control = ANSWER | (READ_2007 if size == 4 else READ_1997)
    return encode(Frame(address.upper(), control, _di_bytes(di, version) + body), preamble=preamble)


def _encode_number(value: float, size: int, decimals: int, signed: bool) -> bytes:
    magnitude = round(abs(value) * 10**decimals)
    if value < 0 and magnitude and not signed:
        raise ValueError(f"{value} is negative; this item has no sign")
    if signed and magnitude >= 80 * 100 ** (size - 1):
        raise ValueError(f"{value} is too large for {size} signed BCD bytes")
    raw = bytearray(int_to_bcd(magnitude, size))
    if value < 0 and magnitude:
        raw[-1] |= 0x80
    return bytes(raw)


def abnormal_answer(address: str, code: int = 0x02, *, version: int = 2007, preamble: int = 4) -> bytes:
    """A meter's abnormal answer to a read (2007 D1, 1997 C1) with error byte ``code`` (02: no such data)."""
    read = READ_2007 if _di_size(version) == 4 else READ_1997
    return encode(Frame(address.upper(), ANSWER | ABNORMAL | read, bytes([code & 0xFF])), preamble=preamble)


def address_answer(address: str, *, preamble: int = 4) -> bytes:
    """A meter's answer to read-address (2007 control 93): its address, in the address field and in DATA."""
    return encode(Frame(address.upper(), ANSWER | READ_ADDRESS_2007, _address_bytes(address)), preamble=preamble)


__all__ = [
    "FIELDS", "FIELDS_1997", "Abnormal", "Deframer", "Frame", "Garbled", "Request", "abnormal_answer",
    "address_answer", "answer", "broadcast_time_request", "decode_address_answer", "decode_answer",
    "decode_request", "encode", "freeze_energy_di", "freeze_time_di", "read_address_request", "read_request",
]
