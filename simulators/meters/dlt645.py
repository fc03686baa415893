"""A DL/T 645 electricity meter (2007, or the 1997 variant) as the bus sees it.

What it answers (DL/T 645-2007 §6, appendix A; 1997 the same with 2-byte DIs and control 01/81/C1):
- read (11) to its own address, or to the wildcard AA…AA: the values of :data:`gateway.protocols.dlt645.FIELDS`
  (``FIELDS_1997``), and, 2007 only, the 62 daily freezes (05 06 00 0n time, 05 06 01 0n energies: total
  then four tariffs). Any other DI is answered "no such data" (D1 02; 1997 C1 02);
- read address (13) to AA…AA: its address (93). Every meter on the bus answers that; two or more collide
  (the line makes that garbage: :mod:`simulators.meters.bus`);
- broadcast time (08) to 99…99: sets its clock, answers nothing;
- frames for other addresses, and anything else: silence.
The register rolls over at 1,000,000 kWh as a 6-digit register does; power beyond ±79.9999 kW (the
XX.XXXX format) is shown at the format's end.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from gateway.protocols import dlt645 as wire
from simulators.meters.meter import FREEZES, SimMeter

log = logging.getLogger(__name__)

ROLLOVER = 1_000_000.0       # XXXXXX.XX kWh: six integer digits (2007 appendix A 表A.1)
POWER_LIMIT = 79.9999        # XX.XXXX kW, top bit of the top byte is the sign (2007 appendix A 表A.3)
TARIFF_SHARES = (0.12, 0.28, 0.35, 0.25)  # 尖峰平谷 (sharp, peak, flat, valley) shares of a frozen total
FREEZE_TIMES = {wire.freeze_time_di(n): n for n in range(1, FREEZES + 1)}
FREEZE_ENERGIES = {wire.freeze_energy_di(n): n for n in range(1, FREEZES + 1)}


class Dlt645Meter(SimMeter):
    def __init__(self, *args: Any, version: int = 2007, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.version = version
        self.protocol = "dlt645" if version == 2007 else "dlt645_1997"
        fields = wire.FIELDS if version == 2007 else wire.FIELDS_1997
        self._by_di = {di: name for name, di in fields.items()}

    def handle(self, frame: Any) -> bytes | None:
        if not isinstance(frame, wire.Frame):
            return None
        try:
            request = wire.decode_request(frame, version=self.version)
        except ValueError as exc:
            log.debug("meter %s: request not taken: %s", self.device_id, exc)
            return None
        address = self.address
        if request.kind == "time" and request.address == wire.BROADCAST and request.at is not None:
            self.set_clock(request.at)
            return None
        if request.kind == "read_address" and request.address == wire.WILDCARD:
            return wire.address_answer(address)
        if request.kind != "read" or request.di is None or request.address not in (address, wire.WILDCARD):
            return None
        value = self.value_of(request.di)
        if value is None:
            return wire.abnormal_answer(address, 0x02, version=self.version)
        return wire.answer(address, request.di, value, version=self.version)

    def value_of(self, di: int) -> float | datetime | list[float] | None:
        """What the meter holds under ``di`` now (None: no such data)."""
        name = self._by_di.get(di)
        if name is not None:
            value = self.values_at(self.now())[name]
            if name == "energy_kwh":
                return value % ROLLOVER
            if name == "power_kw":
                return max(-POWER_LIMIT, min(POWER_LIMIT, value))
            return value
        if self.version != 2007:
            return None
        if di in FREEZE_TIMES:
            stamp, _ = self.freeze(FREEZE_TIMES[di])
            return stamp.replace(tzinfo=None)
        if di in FREEZE_ENERGIES:
            _, total = self.freeze(FREEZE_ENERGIES[di])
            total %= ROLLOVER
            rates = [round(total * share, 2) for share in TARIFF_SHARES[:-1]]
            rates.append(max(round(total, 2) - sum(rates), 0.0))
            return [total, *rates]
        return None
