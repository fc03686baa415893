"""The Modbus register maps the gateway ships (``gateway.protocols.profiles.PROFILES``), for the places a device's
meter link comes in (the API, the ledger import) to refuse a profile name the gateway would not know. The campus
model cannot look (campus imports nothing of the gateway): it checks only the name's shape.

HOOK (until gateway.protocols.profiles is merged): while that module is absent, :func:`known_profiles` answers
None and only the shape is checked; once it is there, the names are checked against it with no change here.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection


def known_profiles() -> frozenset[str] | None:
    """The names of the shipped profiles; None while the gateway's profiles module is not installed."""
    try:
        module = importlib.import_module("gateway.protocols.profiles")
    except ImportError:
        return None
    profiles = getattr(module, "PROFILES", None)
    return frozenset(profiles) if isinstance(profiles, dict) else None


def unknown_profile(name: str | None, profiles: Collection[str] | None) -> str | None:
    """Words for a profile the gateway does not ship (None: known, none given, or nothing to check against)."""
    if name is None or profiles is None or name in profiles:
        return None
    return (f"unknown Modbus profile {name!r}: the gateway ships {', '.join(sorted(profiles)) or 'none'} "
            "(meterwatch gateway profiles), or give an inline register map (meter.registers)")
