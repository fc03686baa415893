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


class RegisterTrack:
    """The register rules applied one reading at a time (readings must come in timestamp order).

    :func:`consumption` runs it over a whole series; the alert rules keep one per meter and
    persist it with :meth:`state` so a restart continues where it stopped.
    """

    __slots__ = ("multiplier", "rated_capacity", "base_ts", "base", "good_ts", "good", "prev_ts", "prev")

    def __init__(self, ts: int, value: float, *, multiplier: float = 1.0, rated_capacity: float | None = None) -> None:
        self.multiplier, self.rated_capacity = multiplier, rated_capacity
        self.base_ts, self.base = ts, value    # high-water mark of the current cycle
        self.good_ts, self.good = ts, value    # last value counted without a flag (for glitch recovery)
        self.prev_ts, self.prev = ts, value

    def _plausible(self, rise: float, elapsed_ms: int) -> bool:
        cap = self.rated_capacity
        return cap is None or rise * self.multiplier <= cap * max(elapsed_ms, 0) / 3_600_000

    def step(self, ts: int, value: float) -> Step:
        flag: Flag | None = None
        delta = 0.0
        base, good, m = self.base, self.good, self.multiplier
        if base > 0 and value < NEW_CYCLE_RATIO * base:
            if value >= good and self._plausible(value - good, ts - self.good_ts) and good < base:
                delta = (value - good) * m                  # back from a glitch spike
            else:
                flag = Flag.NEW_CYCLE
                if self._plausible(value, ts - self.base_ts):
                    delta = value * m
            self.base_ts, self.base, self.good_ts, self.good = ts, value, ts, value
        elif value < base:
            flag = Flag.DIP
        elif not self._plausible(value - base, ts - self.base_ts):
            flag = Flag.IMPLAUSIBLE
            self.base_ts, self.base = ts, value             # good stays: a glitch can be recovered
        else:
            delta = (value - base) * m
            self.base_ts, self.base, self.good_ts, self.good = ts, value, ts, value
        out = Step(self.prev_ts, ts, delta, flag, self.prev, value)
        self.prev_ts, self.prev = ts, value
        return out

    def state(self) -> list[float]:
        return [self.base_ts, self.base, self.good_ts, self.good, self.prev_ts, self.prev]

    @classmethod
    def restore(cls, state: list[float], *, multiplier: float = 1.0,
                rated_capacity: float | None = None) -> RegisterTrack:
        track = cls(0, 0.0, multiplier=multiplier, rated_capacity=rated_capacity)
        base_ts, track.base, good_ts, track.good, prev_ts, track.prev = state
        track.base_ts, track.good_ts, track.prev_ts = int(base_ts), int(good_ts), int(prev_ts)
        return track


def consumption(points: Iterable[tuple[int, float]], *, multiplier: float = 1.0,
                rated_capacity: float | None = None) -> Consumption:
    """Apply the register rules to ``(ts_ms, register)`` points (any order)."""
    ordered = in_order(points)
    out = Consumption()
    if not ordered:
        return out
    track = RegisterTrack(*ordered[0], multiplier=multiplier, rated_capacity=rated_capacity)
    for ts, value in ordered[1:]:
        step = track.step(ts, value)
        out.steps.append(step)
        out.total += step.delta
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
