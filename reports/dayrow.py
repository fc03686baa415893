"""One meter's row of one local day in the roll-ups (``reports.rollup``), and the quarter hours of a day."""

from __future__ import annotations

from dataclasses import dataclass

SLOT_MS = 900_000                    # a profile's slot: a quarter hour


@dataclass(frozen=True, slots=True)
class DayRow:
    device: str
    day_ms: int
    delta: float                  # steps ending this day, register rules applied, multiplied
    readings: int
    first: tuple[int, int, float] | None  # (start, end, delta) of the day's first step
    last_ts: int
    state: list[float]            # empty when read back by rows()
    flags: list[list[object]]     # [start, end, flag, raw_from, raw_to]
    slots: list[float] | None = None   # electricity: use per quarter hour of the day (profile())
    coarse: float = 0.0                # of which from steps longer than an hour


def slot_edges(day_ms: int, next_day_ms: int) -> list[int]:
    """The quarter hours of one local day (92 or 100 on a day a clock changes)."""
    return list(range(day_ms, next_day_ms, SLOT_MS)) + [next_day_ms]
