"""The night minimum flow rising (夜间最小流量上升): the earliest sign of a hidden leak.

Plain rules, per water meter:
- Flow is hourly: the register's use in each local clock hour (each step counted in the hour of its middle; a
  step longer than an hour, a gap, is left out) ÷ the part of the hour its readings cover. An hour counts when
  ``min_coverage`` of it is covered.
- A night is the ``during`` hours (default 00:00-05:00, whole hours). Its minimum is its lowest hourly flow; it
  counts when ``min_coverage`` of its hours do.
- The usual is the median of the last ``usual_nights`` (28) nights that counted and were not judged rising; it is
  there once ``min_nights`` (7) nights are in it. A night that rises is kept out of it, so a leak that lasts does
  not become the usual.
- **Fires** as soon as ``judge_after`` hours of the night (2) have counted and the lowest of them is more than
  ``rise`` m³/h above the usual: a night's minimum can only fall as the night goes on, so the alert may clear at
  the night's end if a later hour falls back. The night-leak rule (``continuous_flow`` 02:00-04:00) is judged at
  04:00; this one speaks at 02:00 for a leak that was there from midnight.
- **Clears** at the end of a night whose minimum is back within ``rise`` of the usual.
"""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Literal

from pydantic import Field, model_validator

from alerts.conditions.base import Condition, Env, Observation, Sample, State, Verdict, register_condition
from alerts.schedule import parse_span
from campus.labels import Name

HOUR_MS = 3_600_000


def _night(local: dt.datetime, start: int, end: int) -> str | None:
    """The night (the date it ends on) an hour starting at ``local`` belongs to; None outside the span."""
    h = local.hour
    if start < end:
        return local.date().isoformat() if start <= h < end else None
    if h >= start:
        return (local.date() + dt.timedelta(days=1)).isoformat()
    return local.date().isoformat() if h < end else None


@register_condition("night_min_rise")
class NightMinimumRise(Condition):
    type: Literal["night_min_rise"] = "night_min_rise"
    during: str = "00:00-05:00"
    rise: float = Field(default=0.1, gt=0, description="m³/h above the usual night minimum")
    usual_nights: int = Field(default=28, ge=3, le=120)
    min_nights: int = Field(default=7, ge=1, le=120)
    judge_after: int = Field(default=2, ge=1, le=24, description="hours of the night before it is judged")
    min_coverage: float = Field(default=0.75, gt=0, le=1)

    @model_validator(mode="after")
    def _span(self) -> NightMinimumRise:
        start, end = parse_span(self.during)
        if start % 60 or end % 60:
            raise ValueError(f"during {self.during!r}: whole hours, e.g. 00:00-05:00")
        if self.judge_after > ((end - start) % 1440) // 60:
            raise ValueError(f"judge_after {self.judge_after} is longer than the night {self.during}")
        if self.min_nights > self.usual_nights:
            raise ValueError("min_nights must not be more than usual_nights")
        return self

    def _hours(self) -> tuple[int, int]:
        start, end = parse_span(self.during)
        return start // 60, (end // 60) % 24

    def observe(self, sample: Sample, state: State, env: Env) -> Observation | None:
        step = sample.step
        if step is None:
            return None
        middle = env.local((step.start_ms + step.end_ms) // 2).replace(minute=0, second=0, microsecond=0)
        hour_ms = int(middle.timestamp() * 1000)
        out = None
        current = state.get("h")
        if current is not None and current[0] != hour_ms:
            out = self._close_hour(state, env)
        if state.get("h") is None:
            state["h"] = [hour_ms, 0.0, 0]
        span = step.end_ms - step.start_ms
        if step.flag is None and 0 < span <= HOUR_MS:
            state["h"][1] += step.delta
            state["h"][2] += span
        return out

    def _close_hour(self, state: State, env: Env) -> Observation | None:
        hour_ms, volume, covered = state.pop("h")
        start, end = self._hours()
        night = _night(env.local(hour_ms), start, end)
        out = None
        if state.get("night") is not None and state["night"] != night:
            out = self._close_night(state)
        if night is None:
            return out
        if state.get("night") != night:
            state.update(night=night, low=None, n=0)
        if covered >= self.min_coverage * HOUR_MS:
            flow = max(volume / (covered / HOUR_MS), 0.0)
            state["low"] = flow if state["low"] is None else min(state["low"], flow)
            state["n"] += 1
            usual = self._usual(state)
            if usual is not None and state["n"] >= self.judge_after and state["low"] > usual + self.rise:
                return self._obs(Verdict.FIRING, state["low"], usual, so_far=True)
        return out

    def _close_night(self, state: State) -> Observation | None:
        low, n = state.get("low"), state.get("n", 0)
        state.update(night=None, low=None, n=0)
        start, end = self._hours()
        if low is None or n < self.min_coverage * ((end - start) % 24):
            return None  # too little of the night to judge
        usual = self._usual(state)
        if usual is not None and low > usual + self.rise:
            return self._obs(Verdict.FIRING, low, usual, so_far=False)
        state["usual"] = (state.get("usual", []) + [round(low, 5)])[-self.usual_nights:]
        return None if usual is None else self._obs(Verdict.CLEAR, low, usual, so_far=False)

    def _usual(self, state: State) -> float | None:
        nights = state.get("usual", [])
        return float(statistics.median(nights)) if len(nights) >= self.min_nights else None

    def _obs(self, verdict: Verdict, low: float, usual: float, *, so_far: bool) -> Observation:
        limit = usual + self.rise
        zh_when, en_when = ("今夜至今", "tonight so far") if so_far else ("整夜", "the whole night")
        texts = {
            "detail": Name(zh=f"夜间最小流量（{zh_when}，{self.during}）{low:.3f} m³/h，高于平日 {usual:.3f} m³/h"
                              f"（近 {self.usual_nights} 夜中位数）超过 {self.rise:g} m³/h：疑似暗漏",
                           en=f"night minimum flow ({en_when}, {self.during}) {low:.3f} m³/h, more than "
                              f"{self.rise:g} m³/h above the usual {usual:.3f} m³/h (median of the last "
                              f"{self.usual_nights} nights): a hidden leak?"),
            "limit": Name(zh=f"> {limit:.3f} m³/h（平日 {usual:.3f} + {self.rise:g}）",
                          en=f"> {limit:.3f} m³/h (usual {usual:.3f} + {self.rise:g})"),
        }
        return Observation(verdict, round(low, 4), f"> {limit:.3f} ({self.during})", "m³/h", "minimum flow", texts)
