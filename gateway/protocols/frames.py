"""What every meter wire shares: BCD numbers, the additive checksum, and a streaming deframer.

Rules:
- BCD here is packed BCD (two decimal digits a byte), least significant byte first, as DL/T 645 (both
  versions) and CJ/T 188 send every number. A byte whose nibble is above 9 is not BCD: ValueError.
- The checksum of DL/T 645 and CJ/T 188 is the sum of the bytes mod 256 (DL/T 645-2007 "校验码CS";
  CJ/T 188-2004 "校验码": "从帧起始符开始到校验码之前的所有各字节进行二进制算术累加，不计超过FFH的溢出值").
- A :class:`Deframer` takes bytes as they arrive, in any pieces, and gives back whole frames, each checked,
  or :class:`Garbled` in words for whatever could not be taken. It never raises on input, resynchronises
  on the next possible start after a bad frame, and never holds more than ``limit`` bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, NamedTuple, TypeVar

MAX_BUFFER = 4096
"""Bytes a deframer holds at most (a DL/T 645 or CJ/T 188 frame is at most ~270 bytes, RTU 256)."""
MAX_FRAME = 300
"""Bytes a protocol's ``scan`` is shown at once: more than any frame of ours (so work per byte is bounded)."""
RAW_KEPT = 512
"""Bytes of a garbled run kept in :class:`Garbled.raw` (the rest is counted in the reason)."""


class Garbled(NamedTuple):
    """A frame (or run of bytes) that could not be taken, and why, in words."""

    reason: str
    raw: bytes


def checksum(data: bytes) -> int:
    """The sum of ``data`` mod 256 (DL/T 645 and CJ/T 188 CS)."""
    return sum(data) & 0xFF


def bcd_to_int(data: bytes) -> int:
    """The number packed BCD ``data`` holds, least significant byte first; ValueError if a nibble is above 9."""
    value = 0
    for byte in reversed(data):
        hi, lo = byte >> 4, byte & 0x0F
        if hi > 9 or lo > 9:
            raise ValueError(f"byte {byte:02X} in {data.hex(' ').upper()} is not BCD")
        value = value * 100 + hi * 10 + lo
    return value


def int_to_bcd(value: int, size: int) -> bytes:
    """``value`` as ``size`` bytes of packed BCD, least significant byte first; ValueError if it does not fit."""
    if value < 0 or value >= 100**size:
        raise ValueError(f"{value} does not fit in {size} BCD bytes (0 … {100**size - 1})")
    out = bytearray()
    for _ in range(size):
        value, two = divmod(value, 100)
        out.append((two // 10) << 4 | two % 10)
    return bytes(out)


# ---- the streaming deframer ------------------------------------------------------------------------------

NEED, NOISE, BAD, OK = range(4)
"""What a protocol's ``scan`` says of the bytes at the front of the buffer:
NEED more bytes; NOISE, not a frame start (skip one byte); BAD, a frame that fails its checks (length is
what it spans); OK, a whole checked frame (length bytes)."""

T = TypeVar("T")


class Scan(NamedTuple, Generic[T]):
    status: int
    length: int = 0
    item: T | None = None
    reason: str = ""


Scanner = Callable[[bytes], "Scan[T]"]


def sized(buf: bytes, length_at: int, max_data: int, rule: str, end: int = 0x16) -> Scan[Any] | int:
    """The checks DL/T 645 and CJ/T 188 frames share once their header is in: the length byte L at ``length_at``
    (at most ``max_data``, by ``rule``), then L data bytes, the checksum of everything before it and the end
    byte. A :class:`Scan` that says NEED or BAD, or the frame's whole length when it holds together."""
    size = buf[length_at]
    if size > max_data:
        return Scan(BAD, length_at + 1, reason=f"length L={size} is over {max_data} ({rule})")
    total = length_at + 3 + size
    if len(buf) < total:
        return Scan(NEED)
    if buf[total - 1] != end:
        return Scan(BAD, total, reason=f"no end byte {end:02X} where L={size} says the frame ends")
    if checksum(buf[:total - 2]) != buf[total - 2]:
        return Scan(BAD, total, reason=f"checksum error: CS is {buf[total - 2]:02X}, "
                                       f"the bytes sum to {checksum(buf[:total - 2]):02X}")
    return total


class Deframer(Generic[T]):
    """Frames out of a byte stream. ``scan(buf)`` judges the bytes at the front of ``buf`` (see NEED…OK);
    ``starts`` are the bytes a frame can start with (None: any byte); ``silent`` bytes (the FE wake-up
    preamble) are skipped without a word."""

    def __init__(self, scan: Callable[[bytes], Scan[T]], *, starts: bytes | None, silent: bytes = b"",
                 limit: int = MAX_BUFFER) -> None:
        self._scan = scan
        self._starts = starts
        self._silent = frozenset(silent)
        self.limit = limit
        self._buf = bytearray()
        self._noise = bytearray()
        self._noise_count = 0
        self._noise_words = ""
        self._quiet = 0  # bytes at the front already reported inside a BAD frame's raw

    @property
    def pending(self) -> int:
        """Bytes held, waiting for the rest of a frame."""
        return len(self._buf)

    def reset(self) -> None:
        """Forget what is held (e.g. before a new request on a half-duplex bus)."""
        self._buf.clear()
        self._noise.clear()
        self._noise_count = 0
        self._quiet = 0

    def feed(self, data: bytes) -> list[T | Garbled]:
        """Take ``data``; give back the frames it completes and, in words, what could not be taken."""
        out: list[T | Garbled] = []
        self._buf += data
        while self._buf:
            start = self._find_start(0)
            if start is None:
                self._skip(len(self._buf))
                break
            if start:
                self._skip(start)
                continue
            res = self._scan(bytes(self._buf[:MAX_FRAME]))
            if res.status == OK:
                self._flush(out)
                out.append(res.item)  # type: ignore[arg-type]
                del self._buf[:res.length]
                self._quiet = 0
            elif res.status == NOISE:
                self._skip(1)
            elif res.status == BAD:
                if self._quiet == 0:
                    self._flush(out)
                    out.append(Garbled(res.reason, bytes(self._buf[:min(res.length, RAW_KEPT)])))
                    self._quiet = res.length
                del self._buf[:1]
                self._quiet -= 1
            else:  # NEED: unless a whole frame already starts later on (the start was a false one), wait
                later = self._complete_later()
                if later is None:
                    break
                self._skip(later, words="an unfinished frame cut off by the next frame")
        self._flush(out)
        if len(self._buf) > self.limit:
            out.append(Garbled(f"more than {self.limit} bytes without a whole frame; dropped them",
                               bytes(self._buf[:RAW_KEPT])))
            self.reset()
        return out

    def _find_start(self, at: int) -> int | None:
        if self._starts is None:
            return at if at < len(self._buf) else None
        found = [i for i in (self._buf.find(b, at) for b in self._starts) if i >= 0]
        return min(found) if found else None

    def _complete_later(self) -> int | None:
        i = self._find_start(1)
        while i is not None:
            res = self._scan(bytes(self._buf[i:i + MAX_FRAME]))
            if res.status == OK:
                return i
            i = self._find_start(i + 1)
        return None

    def _skip(self, n: int, words: str = "") -> None:
        chunk = self._buf[:n]
        del self._buf[:n]
        quiet = min(self._quiet, n)
        self._quiet -= quiet
        loud = chunk[quiet:]
        if any(b not in self._silent for b in loud) or (words and loud):
            room = RAW_KEPT - len(self._noise)
            self._noise += loud[:max(room, 0)]
            self._noise_count += len(loud)
            self._noise_words = words or "bytes that are not a frame (noise on the line?)"

    def _flush(self, out: list[T | Garbled]) -> None:
        if self._noise_count:
            out.append(Garbled(f"{self._noise_count} {self._noise_words}", bytes(self._noise)))
        self._noise.clear()
        self._noise_count = 0
