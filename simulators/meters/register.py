"""A meter's true register: a deterministic function of time, cheap to evaluate at any moment.

The load of a device is the campus simulator's load curve (:mod:`simulators.profiles`, on the school
calendar) held constant over each 15-minute slot of the site's day, times a small noise per hour drawn from
``(seed, device, day)``. The register integrates it: the day's slot rates are cached with their running sums,
and the register at the start of each day since the epoch is a cumulative sum, so ``at(t)`` is two look-ups
and one multiplication. Every profile changes at quarter hours, so the 15-minute grid loses nothing.

Rules:
- the register equals ``initial_register`` at the epoch (00:00 site time on :data:`EPOCH`), and before it;
- it counts what the meter itself measures: the primary load ÷ the device's ``multiplier`` (CT ratio), as
  a meter on a current transformer does (meterwatch applies the multiplier downstream);
- ``rate(t)`` (kW or m³/h, per the same ÷ multiplier) is its exact derivative: power and register agree.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from simulators import profiles
from simulators.calendar import DayType, SchoolCalendar

EPOCH = date(2025, 1, 1)   # where every simulated register starts from its initial_register
SLOTS = 96                 # 15-minute slots in a day
SLOT_H = 0.25
NOISE = 0.05               # ± share of each slot's rate
LOSS = 0.04                # the incomer's share above the main meters (as simulators.model.LOSS)
_KEPT_DAYS = 16            # days of slot rates kept in memory per register


class DayTypes:
    """The calendar's day types, cached: one per campus, shared by its registers (thread-safe)."""

    def __init__(self, calendar: dict[str, Any] | None) -> None:
        self._calendar = SchoolCalendar(calendar)
        self._cache: dict[date, DayType] = {}
        self._lock = threading.Lock()

    def __call__(self, day: date) -> DayType:
        with self._lock:
            found = self._cache.get(day)
            if found is None:
                found = self._cache[day] = self._calendar.day_type(day)
            return found


def base_curve(device: dict[str, Any], building: dict[str, Any], day: DayType) -> list[float]:
    """The 96 quarter-hour rates (kW or m³/h, primary side) of a device on a kind of day, without noise."""
    dept, area, kind = building.get("department", "other"), building.get("floor_area_m2", 1000), device["kind"]
    out = []
    for slot in range(SLOTS):
        hour = (slot + 0.5) * SLOT_H
        if kind == "electricity":
            rate = (profiles.dorm_room_kw(hour, day) if device.get("role") == "dorm_room"
                    else profiles.electricity_kw(dept, hour, day, area))
            if device.get("parent") and device.get("item") and device.get("role") != "dorm_room":
                rate *= profiles.item_share(str(device["item"]))  # an item sub-meter: its share of the building
        elif kind == "water":
            rate = profiles.water_m3h(dept, hour, day, area)
        elif kind == "gas":
            rate = profiles.gas_m3h(dept, hour, day, area)
        else:
            rate = 0.0
        out.append(rate)
    return out


class TrueRegister:
    """The register of one device over time. ``parts``: for a site incomer, the main meters it feeds."""

    def __init__(self, device: dict[str, Any], buildings: dict[str, dict[str, Any]], day_types: DayTypes,
                 tz: ZoneInfo, *, seed: int = 1, parts: list[TrueRegister] | None = None) -> None:
        self.device_id = str(device["id"])
        self.tz = tz
        self.seed = seed
        self.multiplier = float(device.get("multiplier", 1.0) or 1.0)
        self.initial = float(device.get("initial_register", 0.0) or 0.0)
        self._device, self._building = device, buildings.get(device.get("building", ""), {})
        self._day_types = day_types
        self._parts = parts or []
        self._curves: dict[DayType, tuple[list[float], list[float]]] = {}
        self._key = f"{seed}:{self.device_id}:".encode()
        self._days: OrderedDict[date, tuple[list[float], list[float]]] = OrderedDict()  # rates, running kWh
        self._starts: list[float] = [0.0]   # primary use from the epoch to the start of day i
        self._lock = threading.RLock()

    # -- the primary load ---------------------------------------------------------------------------
    def _curve(self, day: date) -> tuple[list[float], list[float]]:
        """The day's kind of curve: 96 slot rates, and the 24 hours' sums of them (kWh or m³)."""
        kind = self._day_types(day)
        found = self._curves.get(kind)
        if found is None:
            slots = base_curve(self._device, self._building, kind)
            hours = [sum(slots[h * 4:h * 4 + 4]) * SLOT_H for h in range(24)]
            found = self._curves[kind] = (slots, hours)
        return found

    def _factors(self, day: date) -> list[float]:
        """The day's 24 hourly noise factors, each in [1 − NOISE, 1 + NOISE), from (seed, device, day)."""
        digest = hashlib.blake2b(self._key + day.toordinal().to_bytes(4, "little"), digest_size=24).digest()
        low, step = 1 - NOISE, 2 * NOISE / 256  # one byte of the digest per hour: cheap, and as good as random
        return [low + step * b for b in digest]

    def _primary_slots(self, day: date) -> list[float]:
        """The primary load (kW or m³/h) of each 15-minute slot of ``day``."""
        if self._parts:  # the site incomer: every main meter it feeds, plus the losses of the campus network
            sums = [0.0] * SLOTS
            for part in self._parts:
                for i, v in enumerate(part._primary_slots(day)):
                    sums[i] += v
            return [v * (1 + LOSS) for v in sums]
        slots, _ = self._curve(day)
        factors = self._factors(day)
        return [v * factors[i // 4] for i, v in enumerate(slots)]

    def _primary_total(self, day: date) -> float:
        """The primary use of the whole of ``day`` (what the slots add up to, without building them)."""
        if self._parts:
            return sum(part._primary_total(day) for part in self._parts) * (1 + LOSS)
        _, hours = self._curve(day)
        return sum(h * f for h, f in zip(hours, self._factors(day), strict=True))

    def _day(self, day: date) -> tuple[list[float], list[float]]:
        """(slot rates, use before each slot) of one day, on the meter's side of its CT."""
        with self._lock:
            found = self._days.get(day)
            if found is not None:
                self._days.move_to_end(day)
                return found
            rates = [v / self.multiplier for v in self._primary_slots(day)]
            running, total = [], 0.0
            for v in rates:
                running.append(total)
                total += v * SLOT_H
            running.append(total)
            self._days[day] = (rates, running)
            if len(self._days) > _KEPT_DAYS:
                self._days.popitem(last=False)
            return rates, running

    def _day_start(self, index: int) -> float:
        """Use from the epoch to the start of day ``index`` (days since the epoch), extending the sums."""
        with self._lock:
            while len(self._starts) <= index:
                day = EPOCH + timedelta(days=len(self._starts) - 1)
                self._starts.append(self._starts[-1] + self._primary_total(day) / self.multiplier)
            return self._starts[index]

    def _where(self, t: datetime) -> tuple[date, float] | None:
        if t.tzinfo is None:
            raise ValueError("give an aware datetime (with its zone)")
        local = t.astimezone(self.tz)
        if local.date() < EPOCH:
            return None
        seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        return local.date(), seconds

    # -- what the meter shows -----------------------------------------------------------------------
    def at(self, t: datetime) -> float:
        """The register at ``t`` (kWh or m³)."""
        where = self._where(t)
        if where is None:
            return self.initial
        day, seconds = where
        rates, running = self._day(day)
        slot = min(int(seconds // 900), SLOTS - 1)
        inside = (seconds - slot * 900) / 3600
        return self.initial + self._day_start((day - EPOCH).days) + running[slot] + rates[slot] * inside

    def rate(self, t: datetime) -> float:
        """kW or m³/h at ``t``: the register's slope."""
        where = self._where(t)
        if where is None:
            return 0.0
        day, seconds = where
        return self._day(day)[0][min(int(seconds // 900), SLOTS - 1)]
