"""Injected faults: what each does, and which device of the campus it picks by default."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

FAULTS: dict[str, str] = {
    "water_leak": "constant 0.4 m³/h on a dormitory water meter, day and night (跑冒滴漏)",
    "gas_after_hours": "canteen gas flowing 3 m³/h from 21:00 to 05:00, when the canteen is closed",
    "lights_on_night": "a teaching building drawing 25 kW extra from 22:00 to 06:00",
    "dorm_appliance": "a 1.8 kW appliance (热得快) switched on in a dormitory room 20:00-20:45",
    "over_budget": "a canteen's electric equipment left on around the clock: +40 kW, the month goes over target",
    "water_over_budget": "a canteen tap left running day and night: +2 m³/h, the month goes over target",
    "ph_excursion": "drinking water (a fountain by default) pH 9.1",
    "tds_high": "drinking water (a fountain by default) TDS 1,250 mg/L",
    "turbidity_excursion": "drinking water (a fountain by default) turbidity 2.5 NTU",
    "chlorine_low": "secondary-supply tank free chlorine 0.01 mg/L: the residual lost in storage (二次供水)",
    "heater_cold": "water heater outlet at 44 °C",
    "device_offline": "a meter stops half-way; its gateway's Last Will says offline",
    "meter_replaced": "a water meter replaced half-way: the register restarts near zero",
    "implausible_jump": "one electricity reading jumps by 50,000 on the register half-way",
    "malformed": "about 1 in 150 messages is malformed (bad JSON, unknown field, range, device, site)",
    "duplicates": "about 1 in 40 readings is published twice",
    "out_of_order": "about 1 in 25 readings is swapped with the next one of the same device",
    "gateway_backfill": "a gateway buffers 1/3→1/2 of the run and flushes it as one JSON array",
}

DRINKING = ("drinking", "purified_drinking")  # a tap or a direct-drinking fountain

# (fault, predicate on device dict, campus buildings by id) → first device that matches
# a role may be a tuple: the first device of the first role the campus has
_TARGETS: dict[str, tuple[str, str | None, str | tuple[str, ...] | None]] = {
    # fault: (kind, department, role)
    "water_leak": ("water", "dormitory", None),
    "gas_after_hours": ("gas", "canteen", None),
    "lights_on_night": ("electricity", "teaching", None),
    "dorm_appliance": ("electricity", "dormitory", "dorm_room"),
    "over_budget": ("electricity", "canteen", None),
    "water_over_budget": ("water", "canteen", None),
    "tds_high": ("water_quality", None, DRINKING),
    "ph_excursion": ("water_quality", None, DRINKING),
    "turbidity_excursion": ("water_quality", None, DRINKING),
    # a fountain's carbon removes chlorine by design (no floor there): a tank's residual decays
    "chlorine_low": ("water_quality", None, ("secondary_supply", "drinking", "canteen_water")),
    "heater_cold": ("water_quality", None, "water_heater_outlet"),
    "device_offline": ("water", "office", None),
    "meter_replaced": ("water", "dormitory", None),
    "implausible_jump": ("electricity", "dormitory", None),
    "gateway_backfill": ("electricity", "office", None),
}


@dataclass(frozen=True)
class Fault:
    name: str
    device: str | None  # None: campus-wide (malformed, duplicates, out_of_order)
    since: datetime | None = None  # a load fault starts here (the site's local time when naive); None: all along


def resolve(spec: str, devices: list[dict[str, Any]], departments: dict[str, str]) -> Fault:
    """``NAME``, ``NAME:DEVICE``, either with ``@START`` (ISO time: the fault begins then) → a Fault."""
    spec, _, start = spec.partition("@")
    since = None
    if start:
        try:
            since = datetime.fromisoformat(start)
        except ValueError:
            raise ValueError(f"fault {spec}@{start}: write the start as an ISO time, e.g. {spec}@2026-07-20T22:00") \
                from None
    fault = _resolve(spec, devices, departments)
    return Fault(fault.name, fault.device, since)


def _resolve(spec: str, devices: list[dict[str, Any]], departments: dict[str, str]) -> Fault:
    name, _, device = spec.partition(":")
    if name not in FAULTS:
        raise ValueError(f"unknown fault {name!r}; choose from: {', '.join(FAULTS)}")
    if name not in _TARGETS:
        return Fault(name, None)
    if device:
        if not any(d["id"] == device for d in devices):
            raise ValueError(f"fault {name}: no device {device!r} in the campus file")
        return Fault(name, device)
    kind, dept, role = _TARGETS[name]
    roles = (role,) if isinstance(role, str) else role
    skip = 1 if name in ("meter_replaced", "implausible_jump") else 0  # not the same device as water_leak
    found = [d for d in devices if d["kind"] == kind
             and (dept is None or departments.get(d["building"]) == dept)
             and (roles is None or d.get("role") in roles)]
    # several roles: the first one's devices first, in the campus file's order
    matches = [d["id"] for d in sorted(found, key=lambda d: roles.index(d.get("role")) if roles else 0)]
    if not matches:
        what = dept or "/".join(roles or ())
        raise ValueError(f"fault {name}: the campus has no {what} {kind} device; name one: {name}:ID")
    return Fault(name, matches[min(skip, len(matches) - 1)])
