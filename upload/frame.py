"""The packet frame of the TCP protocol, and a reader that takes frames off a byte stream at a bounded cost.

    head 68 68 16 16 · length (4) · number (4) · payload · CRC-16 (2) · tail 55 AA 55 AA

- ``length`` counts the number and the payload (4 + payload bytes); ``number`` is the sender's packet counter
  (指令序号). Integers are in ``byte_order`` (little-endian by default): the 导则 names the fields, and public
  gateway implementations agree on them, but no published text this project could read fixes the byte order,
  so it is a setting, as is whether the CRC is present.
- The CRC is CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF) over head to payload, low byte first.
- A frame is refused, with what is wrong, when its head or tail is not the above, its length is below 4 or
  above ``max_bytes``, or its CRC does not match: the connection is then closed (nothing can be resynchronised
  safely on a stream whose framing was lost).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

HEAD = b"\x68\x68\x16\x16"
TAIL = b"\x55\xaa\x55\xaa"
OVERHEAD = 4 + 4 + 4 + 2 + 4  # head, length, number, CRC, tail


class FrameError(ValueError):
    """Bytes that are not a frame: the message says which part is wrong."""


def crc16(data: bytes) -> int:
    """CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF; check value of b"123456789" is 0x4B37). The data centre's
    simulator checks it with the gateway's own (``gateway.protocols.modbus``), written apart from this one."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


@dataclass(frozen=True, slots=True)
class Framing:
    byte_order: str = "little"
    crc: bool = True
    max_bytes: int = 1024 * 1024

    def encode(self, number: int, payload: bytes) -> bytes:
        if len(payload) + OVERHEAD > self.max_bytes:
            raise FrameError(f"payload of {len(payload)} bytes is over the frame limit of {self.max_bytes}")
        order: Literal["little", "big"] = "little" if self.byte_order == "little" else "big"
        body = HEAD + (4 + len(payload)).to_bytes(4, order) + (number & 0xFFFFFFFF).to_bytes(4, order) + payload
        check = crc16(body).to_bytes(2, "little") if self.crc else b""
        return body + check + TAIL


class FrameReader:
    """Frames from bytes as they arrive: ``feed`` returns the (number, payload) of every whole frame so far.
    At most ``max_bytes`` are ever held; anything malformed raises FrameError."""

    def __init__(self, framing: Framing) -> None:
        self.framing = framing
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buf += data
        out: list[tuple[int, bytes]] = []
        order: Literal["little", "big"] = "little" if self.framing.byte_order == "little" else "big"
        crc_len = 2 if self.framing.crc else 0
        while True:
            if len(self._buf) < 8:
                if bytes(self._buf[:4]) != HEAD[:min(len(self._buf), 4)]:
                    raise FrameError(f"frame head is {bytes(self._buf[:4]).hex(' ')}, not 68 68 16 16")
                return out
            if bytes(self._buf[:4]) != HEAD:
                raise FrameError(f"frame head is {bytes(self._buf[:4]).hex(' ')}, not 68 68 16 16")
            length = int.from_bytes(self._buf[4:8], order)
            if length < 4:
                raise FrameError(f"frame length {length} is below 4 (the number alone takes 4)")
            total = 8 + length + crc_len + 4
            if total > self.framing.max_bytes:
                raise FrameError(f"frame of {total} bytes is over the limit of {self.framing.max_bytes}")
            if len(self._buf) < total:
                return out
            frame = bytes(self._buf[:total])
            del self._buf[:total]
            if frame[-4:] != TAIL:
                raise FrameError(f"frame tail is {frame[-4:].hex(' ')}, not 55 aa 55 aa (length {length} wrong?)")
            if crc_len:
                got = int.from_bytes(frame[8 + length:8 + length + 2], "little")
                want = crc16(frame[:8 + length])
                if got != want:
                    raise FrameError(f"frame CRC is {got:04x}, the bytes give {want:04x}")
            out.append((int.from_bytes(frame[8:12], order), frame[12:8 + length]))
