"""A CJ/T 188-2004 water or gas meter as the bus sees it.

What it answers (CJ/T 188-2004 §5, 表5 and 表7):
- read data (01), DI 901F, to its own type and address, or to the broadcast type/address AA: its current
  cumulative volume (unit 2C, m³), the same volume as the settlement-day volume (a simulated meter settles
  daily), its clock and status 0 — with the DI in the byte order it was asked in;
- read address (03), DI 810A, to AA…AA: its address (83). Several meters on the line collide;
- anything else, and frames for other meters: silence.
The meter type comes from the meter link's ``meter_type`` or the device's kind (10 cold water, 30 gas).
A volume rolls over at 1,000,000 m³ (XXXXXX.XX).
"""

from __future__ import annotations

from typing import Any

from gateway.protocols import cjt188 as wire
from simulators.meters.meter import SimMeter

TYPE_OF_KIND = {"water": 0x10, "gas": 0x30}  # 2004 表3: 10 cold water, 30 gas
ROLLOVER = 1_000_000.0


class Cjt188Meter(SimMeter):
    protocol = "cjt188"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.meter_type = int(self.link.get("meter_type") or TYPE_OF_KIND.get(self.kind, 0x10))

    def handle(self, frame: Any) -> bytes | None:
        if not isinstance(frame, wire.Frame):
            return None
        asked = wire.decode_request(frame)
        if asked is None:
            return None
        di, ser = asked
        order = "1F90" if frame.data[:1] in (b"\x1f", b"\x0a") else "901F"  # low byte first, or as printed
        address = self.address
        if frame.meter_type not in (self.meter_type, wire.BROADCAST_TYPE):
            return None
        if di == wire.DI_ADDRESS and frame.address == wire.BROADCAST:
            return wire.address_answer(self.meter_type, address, ser, di_order=order)
        if di != wire.DI_VOLUME or frame.address not in (address, wire.BROADCAST):
            return None
        volume = self.register_at(self.now()) % ROLLOVER
        return wire.answer(self.meter_type, address, ser, volume, at=self.clock().replace(tzinfo=None),
                           di_order=order)
