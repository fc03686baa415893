"""Modbus register maps of multi-function meters, each from the maker's manual (or a named public map).

Every profile says where its map comes from (``source``) and whether the meter's registers already have the
CT/PT ratio applied (``ct_applied``: then meterwatch's ``multiplier`` for that meter must be 1). Fields are
meterwatch's electricity fields: ``energy_kwh`` (total import active energy, required), ``power_kw``,
``voltage_v`` (phase A), ``current_a`` (phase A), ``power_factor`` (total); W is scaled to kW here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.protocols.modbus import Register


@dataclass(frozen=True)
class Profile:
    name: str
    maker: str
    model: str
    source: str
    ct_applied: bool
    registers: Mapping[str, Register] = field(default_factory=dict)
    unit_default: int = 1
    notes: str = ""

    def __post_init__(self) -> None:
        if "energy_kwh" not in self.registers:
            raise ValueError(f"profile {self.name}: a profile must map energy_kwh")


PROFILES: dict[str, Profile] = {}
