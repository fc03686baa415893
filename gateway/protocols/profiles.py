"""Modbus register maps of multi-function meters found on Chinese campuses, each with where its map comes from.

Every profile says where its map comes from (``source``: the maker's manual as quoted by a public map we could
read) and whether the meter's registers already have the CT/PT ratio applied (``ct_applied``: then
meterwatch's ``multiplier`` for that meter must be 1). ``notes`` says what we could not check. Fields are
meterwatch's electricity fields: ``energy_kwh`` (total import / forward active energy, required),
``power_kw`` (total active power; W is scaled to kW here), ``voltage_v`` (phase A), ``current_a`` (phase A),
``power_factor`` (total). Addresses are 0-based, as on the wire.

Only maps whose addresses we found in a source we can name are shipped. Candidates left out for want of a
readable register table: Acrel ADL400 / PZ96L, DELIXI DTSU606 (use an inline ``registers:`` map from the
meter's manual).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.protocols.modbus import Register


@dataclass(frozen=True)
class Profile:
    """A named register map. ``serial`` is the meter's factory line setting (baud, parity), for the README."""

    name: str
    maker: str
    model: str
    source: str
    ct_applied: bool
    registers: Mapping[str, Register] = field(default_factory=dict)
    serial: str = "9600 8N1"
    notes: str = ""

    def __post_init__(self) -> None:
        if "energy_kwh" not in self.registers:
            raise ValueError(f"profile {self.name}: a profile must map energy_kwh")


def _f(address: int, function: int, scale: float = 1.0) -> Register:
    return Register(address, "float32", scale=scale, word_order="ABCD", function=function)


PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile(
        name="eastron-sdm630",
        maker="Eastron",
        model="SDM630-Modbus (V2)",
        source=("Eastron SDM630 Modbus protocol, input registers 3xxxx, IEEE 754 float, as tabulated in "
                "github.com/plebann/eastron_SDM_HA_integration docs/registers-sdm630.md (30001 V1, 30007 I1, "
                "30053 total power W, 30063 total PF, 30073 total import kWh) and read by Tasmota "
                "tasmota/tasmota_xnrg_energy/xnrg_10_sdm630.ino (function 04, big-endian floats)"),
        ct_applied=True,
        registers={
            "energy_kwh": _f(0x0048, 4),  # 30073 Total Import kWh (0x0156 is import + export: not used)
            "power_kw": _f(0x0034, 4, 0.001),  # 30053 Total System Power, W
            "voltage_v": _f(0x0000, 4),  # 30001 Phase 1 L-N volts
            "current_a": _f(0x0006, 4),  # 30007 Phase 1 current
            "power_factor": _f(0x003E, 4),  # 30063 Total System Power Factor
        },
        notes="direct-connected 100 A meter: no CT. The CT model (SDM630MCT) is set with its CT primary; "
              "check one reading against the display when commissioning.",
    ),
    Profile(
        name="chint-ddsu666",
        maker="CHINT 正泰",
        model="DDSU666 single-phase",
        source=("CHINT DDSU666 Modbus map as read by Tasmota tasmota/tasmota_xnrg_energy/xnrg_11_ddsu666.ino "
                "(function 04, float: 0x2000 V, 0x2002 A, 0x2004 kW, 0x200A PF, 0x4000 import kWh)"),
        ct_applied=True,
        registers={
            "energy_kwh": _f(0x4000, 4),  # import active energy, kWh
            "power_kw": _f(0x2004, 4),  # active power, kW
            "voltage_v": _f(0x2000, 4),
            "current_a": _f(0x2002, 4),
            "power_factor": _f(0x200A, 4),
        },
        notes="direct-connected single-phase meter (dormitories): no CT.",
    ),
    Profile(
        name="chint-dtsu666",
        maker="CHINT 正泰",
        model="DTSU666 three-phase",
        source=("CHINT DTSU666 user manual register table as listed in github.com/gerontec/dtsu666 README.md "
                "(holding registers, float: 8198 Ua, 8204 Ia, 8210 Pt, 8234 PFt, 16414 ImpEp) with the manual's "
                "units applied by a public pymodbus DTSU666Meter script (U and P ×0.1, I and PF ×0.001)"),
        ct_applied=False,
        registers={
            "energy_kwh": _f(0x401E, 3),  # ImpEp (current) positive total active energy, kWh
            "power_kw": _f(0x2012, 3, 0.0001),  # Pt combined active power, 0.1 W
            "voltage_v": _f(0x2006, 3, 0.1),  # Ua, 0.1 V
            "current_a": _f(0x200C, 3, 0.001),  # Ia, 0.001 A
            "power_factor": _f(0x202A, 3, 0.001),  # PFt, 0.001
        },
        notes="unverified: whether ImpEp includes the meter's own CT/PT ratios (IrAt 0x0006, UrAt 0x0007); "
              "compare the register with the display's kWh when commissioning and set multiplier to match.",
    ),
    Profile(
        name="acrel-adw300",
        maker="Acrel 安科瑞",
        model="ADW300 wireless metering meter",
        source=("Acrel ADW300 register map as used by evcc templates/definition/meter/acrel-adw300.yaml "
                "(holding registers: 20 Ua uint16 ×0.1 V, 26 Ia uint16 ×0.01 A, 36 total active power int32 W, "
                "62 forward active energy int32 ×0.01 kWh)"),
        ct_applied=True,
        registers={
            "energy_kwh": Register(62, "int32", scale=0.01),  # forward active energy
            "power_kw": Register(36, "int32", scale=0.001),  # total active power, W
            "voltage_v": Register(20, "uint16", scale=0.1),
            "current_a": Register(26, "uint16", scale=0.01),
        },
        serial="1200 8N1 (factory; evcc's template)",
        notes="evcc reads these as the line's real values (no ratio applied afterwards); no power factor map.",
    ),
)}
