"""Consumption from cumulative registers — the one definition every report and rule uses.

The rules, written down plainly (see also the README):

1. Readings are taken in timestamp order, never arrival order; the same timestamp twice
   counts once (the later value wins, as in the store).
2. A reading below 90% of the highest value so far in the current cycle starts a **new
   meter cycle** (meter replaced or register reset). The new register is counted from zero
   if that is plausible for the elapsed time, else the interval counts nothing. Flag: ``new_cycle``.
3. A smaller dip is kept but counts nothing, and consumption resumes only above the previous
   high-water mark, so jitter is never counted twice. Flag: ``dip``.
4. A rise larger than ``rated_capacity × elapsed hours`` (after the multiplier) is
   **implausible**: flagged and excluded. If a later reading is plausible relative to the
   last good value, the jump was a glitch and counting resumes from the last good value;
   otherwise the jumped value becomes the new base. Flag: ``implausible``.
5. Deltas are multiplied by the device multiplier (CT/PT ratio).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

NEW_CYCLE_RATIO = 0.9


class Flag(StrEnum):
    NEW_CYCLE = "new_cycle"
    DIP = "dip"
    IMPLAUSIBLE = "implausible"


@dataclass(frozen=True, slots=True)
class Step:
    """Consumption between two consecutive readings (already multiplied)."""

    start_ms: int
    end_ms: int
    delta: float
    flag: Flag | None = None
    raw_from: float = 0.0
    raw_to: float = 0.0


@dataclass(slots=True)
class Consumption:
    total: float = 0.0
    steps: list[Step] = field(default_factory=list)

    @property
    def flagged(self) -> list[Step]:
        return [s for s in self.steps if s.flag is not None]

    @property
    def excluded(self) -> list[Step]:
        return [s for s in self.steps if s.flag is Flag.IMPLAUSIBLE]


def in_order(points: Iterable[tuple[int, float]]) -> list[tuple[int, float]]:
    """Sort by timestamp; the last value given for a timestamp wins."""
    return sorted(dict(points).items())


def consumption(points: Iterable[tuple[int, float]], *, multiplier: float = 1.0,
                rated_capacity: float | None = None) -> Consumption:
    """Apply the register rules to ``(ts_ms, register)`` points (any order)."""
    ordered = in_order(points)
    out = Consumption()
    if not ordered:
        return out

    def plausible(rise: float, elapsed_ms: int) -> bool:
        return rated_capacity is None or rise * multiplier <= rated_capacity * max(elapsed_ms, 0) / 3_600_000

    base_ts, base = ordered[0]     # high-water mark of the current cycle
    good_ts, good = base_ts, base  # last value counted without a flag (for glitch recovery)
    prev_ts, prev = ordered[0]
    for ts, value in ordered[1:]:
        flag: Flag | None = None
        delta = 0.0
        if base > 0 and value < NEW_CYCLE_RATIO * base:
            if value >= good and plausible(value - good, ts - good_ts) and good < base:
                delta = (value - good) * multiplier       # back from a glitch spike
            else:
                flag = Flag.NEW_CYCLE
                if plausible(value, ts - base_ts):
                    delta = value * multiplier
            base_ts, base, good_ts, good = ts, value, ts, value
        elif value < base:
            flag = Flag.DIP
        elif not plausible(value - base, ts - base_ts):
            flag = Flag.IMPLAUSIBLE
            base_ts, base = ts, value                     # good stays: a glitch can be recovered
        else:
            delta = (value - base) * multiplier
            base_ts, base, good_ts, good = ts, value, ts, value
        out.steps.append(Step(prev_ts, ts, delta, flag, prev, value))
        out.total += delta
        prev_ts, prev = ts, value
    return out


def value_at(before: tuple[int, float] | None, after: tuple[int, float] | None, at_ms: int) -> float | None:
    """A register's value at an instant, from the readings at-or-before and after it.

    Linear between the two; across a new meter cycle (``after`` below 90% of ``before``) the
    reading before is held. After the last reading its value is held (nothing was measured
    since); before the first reading the value is unknown (None).
    """
    if before is None:
        return None
    t0, v0 = before
    if after is None or t0 == at_ms:
        return v0
    t1, v1 = after
    if v1 < NEW_CYCLE_RATIO * v0 or t1 == t0:
        return v0
    return v0 + (v1 - v0) * (at_ms - t0) / (t1 - t0)
