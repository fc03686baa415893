"""Load curves: what a building draws at a given local hour on a given kind of day.

Electricity in kW, water and gas in m³/h, scaled by floor area. The numbers are plausible
for a Chinese boarding school; they are not measurements of one.
"""

from __future__ import annotations

from simulators.calendar import DayType

MEALS = [(6.5, 8.0), (11.0, 13.0), (17.0, 19.0)]


def _within(hour: float, spans: list[tuple[float, float]]) -> bool:
    return any(a <= hour < b for a, b in spans)


def electricity_kw(department: str, hour: float, day: DayType, area_m2: float) -> float:
    scale = max(area_m2, 100) / 1000
    term = day is not DayType.VACATION
    if department == "canteen":
        if day in (DayType.VACATION, DayType.HOLIDAY):
            return 0.6 * scale  # refrigerators
        peak = 12.0 if day is DayType.SCHOOL_DAY else 5.0
        prep = [(a - 1.0, b) for a, b in MEALS]
        return scale * (peak if _within(hour, prep) else 1.2)
    if department == "dormitory":
        if not term or day is DayType.HOLIDAY:
            return 0.3 * scale
        if 19 <= hour < 23:
            return 6.0 * scale
        if 6 <= hour < 7.5:
            return 3.0 * scale
        return (1.2 if 12 <= hour < 14 else 0.4) * scale  # after lights-out: corridors, fridges
    if department == "teaching":
        if day is not DayType.SCHOOL_DAY:
            return 0.25 * scale
        if 7.5 <= hour < 17.5:
            return 5.0 * scale
        if 18.5 <= hour < 21.5:
            return 3.5 * scale
        return 0.25 * scale
    if department == "office":
        workday = day is DayType.SCHOOL_DAY or (day is DayType.VACATION and 0.0 <= hour < 24)
        return scale * (5.0 if workday and 8 <= hour < 18 else 0.35)
    if department == "boiler_room":
        return scale * (40.0 if term and (_within(hour, [(5.5, 8), (16, 23)])) else 8.0)
    if department == "power_room":
        return scale * 20.0
    return scale


# A sub-meter's share of its building's electricity by energy item (分项), for a teaching building in term: lighting
# and sockets (projectors, computers) the most, air conditioning next, power (lifts, pumps) a little. What the
# item sub-meters leave of the main meter (here 15 %) is the building's 未分项 (unitemised) use.
ITEM_SHARES: dict[str, float] = {"01A00": 0.45, "01B00": 0.30, "01C00": 0.10, "01D00": 0.05}


def item_share(item: str) -> float:
    """The share of its building's electricity a sub-meter of energy item ``item`` carries (a sub-item, e.g. 01A10,
    counts as its item 01A00); an item without a share here gets 5 %."""
    return ITEM_SHARES.get(item, ITEM_SHARES.get(item[:3] + "00", 0.05))


def dorm_room_kw(hour: float, day: DayType) -> float:
    """One dormitory room (6 students): lights, fans, chargers; no cooking allowed."""
    if day is DayType.VACATION or day is DayType.HOLIDAY:
        return 0.02
    if 19 <= hour < 23:
        return 0.35
    if 6 <= hour < 7.5:
        return 0.15
    return 0.2 if 12 <= hour < 14 else 0.05


def water_m3h(department: str, hour: float, day: DayType, area_m2: float) -> float:
    scale = max(area_m2, 100) / 1000
    term = day is not DayType.VACATION and day is not DayType.HOLIDAY
    if department == "canteen":
        return scale * (1.0 if term and _within(hour, [(a - 1.0, b) for a, b in MEALS]) else 0.0)
    if department == "dormitory":
        if not term:
            return 0.0
        if 6 <= hour < 7.5 or 21 <= hour < 23:
            return scale * 0.6
        return scale * (0.15 if 12 <= hour < 14 or 17.5 <= hour < 21 else 0.0)
    if department in ("teaching", "office"):
        return scale * (0.12 if day is DayType.SCHOOL_DAY and 7.5 <= hour < 18 else 0.0)
    if department == "boiler_room":
        return scale * (8.0 if term and _within(hour, [(5.5, 8), (16, 23)]) else 0.0)
    return 0.0


def gas_m3h(department: str, hour: float, day: DayType, area_m2: float) -> float:
    scale = max(area_m2, 100) / 1000
    if department == "canteen":
        if day in (DayType.VACATION, DayType.HOLIDAY):
            return 0.0
        if _within(hour, [(a - 1.0, b) for a, b in MEALS]):
            return scale * (6.0 if day is DayType.SCHOOL_DAY else 2.5)
        return 0.0
    if department == "boiler_room":
        return scale * (60.0 if day is not DayType.VACATION and _within(hour, [(5.5, 8), (16, 23)]) else 0.0)
    return 0.0
