"""A Modbus multi-function meter: its register map (a shipped profile, or the inline ``registers`` of the
device's meter link) filled live from the true register and the load.

Rules (Modbus application protocol V1.1b3 §6.3 and §6.4; Modbus over serial line V1.02 for RTU):
- functions 03 (holding) and 04 (input registers) read the map's values of that function; a register of
  the meter's address range that holds no value reads 0; a read outside the range is exception 02
  (illegal data address), any other function exception 01;
- each value is written with its map entry's type, scale and word order (``gateway.protocols.modbus.encode``),
  so the gateway decodes exactly what the map says;
- on a serial bus it answers RTU requests to its unit id (broadcast, unit 0, gets no answer).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from gateway.protocols import modbus as wire
from gateway.protocols.profiles import PROFILES
from simulators.meters.meter import SimMeter

log = logging.getLogger(__name__)

ILLEGAL_FUNCTION, ILLEGAL_ADDRESS = 0x01, 0x02  # Modbus application protocol V1.1b3 §7


def register_map(link: Mapping[str, Any]) -> dict[str, wire.Register]:
    """The meter's map: its profile's, or the inline ``registers`` (campus file form) as Registers."""
    profile = link.get("profile")
    if profile:
        if profile not in PROFILES:
            raise ValueError(f"no Modbus profile {profile!r}; shipped: {', '.join(sorted(PROFILES))}")
        return dict(PROFILES[profile].registers)
    out = {}
    for name, entry in (link.get("registers") or {}).items():
        out[name] = wire.Register(**entry) if isinstance(entry, Mapping) else entry
    if not out:
        raise ValueError("a modbus meter needs a profile or an inline registers map")
    return out


class ModbusMeter(SimMeter):
    protocol = "modbus"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unit = int(self.link.get("unit") or 1)
        self.registers = register_map(self.link)
        self.ranges: dict[int, tuple[int, int]] = {}  # function → (first address, count)
        for function in (3, 4):
            spans = [(r.address, r.address + wire.words(r.type)) for r in self.registers.values()
                     if r.function == function]
            if spans:
                start = min(a for a, _ in spans)
                self.ranges[function] = (start, max(b for _, b in spans) - start)

    def words(self, function: int) -> dict[int, int]:
        """Every register of ``function`` the map fills, now: address → 16-bit word."""
        values = self.values_at(self.now())
        out: dict[int, int] = {}
        for name, reg in self.registers.items():
            if reg.function != function or name not in values:
                continue
            try:
                encoded = wire.encode(reg, values[name])
            except ValueError:  # beyond the type: a real meter shows its limit; keep the last word pattern
                log.debug("meter %s: %s = %s does not fit %s", self.device_id, name, values[name], reg.type)
                continue
            for i, word in enumerate(encoded):
                out[reg.address + i] = word
        return out

    def read(self, function: int, start: int, count: int) -> list[int] | int:
        """The words of a read, or an exception code."""
        if function not in (3, 4):
            return ILLEGAL_FUNCTION
        first, size = self.ranges.get(function, (0, 0))
        if count < 1 or start < first or start + count > first + size:
            return ILLEGAL_ADDRESS
        words = self.words(function)
        return [words.get(a, 0) for a in range(start, start + count)]

    def handle(self, frame: Any) -> bytes | None:
        """An RTU request (a serial bus): the answer, or an exception answer, to our unit only."""
        if not isinstance(frame, wire.RtuFrame) or frame.unit != self.unit:
            return None
        if frame.function not in (3, 4) or len(frame.data) != 4:
            return wire.rtu_exception(self.unit, frame.function, ILLEGAL_FUNCTION)
        block = wire.decode_rtu_request(frame)
        result = self.read(block.function, block.start, block.count)
        if isinstance(result, int):
            return wire.rtu_exception(self.unit, block.function, result)
        return wire.rtu_answer(self.unit, block.function, result)
