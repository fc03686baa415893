"""Conditions over consumption in time: a window total, continuous (never-zero) night flow,
use while a building is scheduled closed. All use the register steps (the spine's rules)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import model_validator

from alerts.conditions.base import (
    CLEAR,
    Condition,
    Env,
    Observation,
    Sample,
    State,
    Verdict,
    rate_per_hour,
    register_condition,
)
from alerts.schedule import Schedule, in_span, parse_span
from campus.contract import Kind
from campus.durations import Seconds

UNIT = {Kind.ELECTRICITY: "kWh", Kind.WATER: "m³", Kind.GAS: "m³"}
RATE_UNIT = {Kind.ELECTRICITY: "kW", Kind.WATER: "m³/h", Kind.GAS: "m³/h"}


@register_condition("consumption_window")
class ConsumptionWindow(Condition):
    """Use in a rolling ``window`` (e.g. 1h) or ``since`` local midnight above ``above``."""

    type: Literal["consumption_window"] = "consumption_window"
    above: float
    window: Seconds | None = None
    since: Literal["midnight"] | None = None

    @model_validator(mode="after")
    def _one(self) -> ConsumptionWindow:
        if (self.window is None) == (self.since is None):
            raise ValueError("give either window (e.g. 1h) or since: midnight")
        return self

    def observe(self, sample: Sample, state: State, env: Env) -> Observation | None:
        step = sample.step
        if step is None:
            return None
        if self.since == "midnight":
            day = sample.local.date().isoformat()
            if state.get("day") != day:
                state["day"], state["total"] = day, 0.0
            state["total"] += step.delta
            total = state["total"]
            limit = f"> {self.above:g} (since 00:00)"
        else:
            window = self.window or 0.0
            keep = sample.ts - int(window * 1000)
            steps = [s for s in state.get("steps", []) if s[0] > keep]
            steps.append([step.end_ms, step.delta])
            state["steps"] = steps
            total = sum(s[1] for s in steps)
            limit = f"> {self.above:g} / {window / 3600:g} h"
        verdict = Verdict.FIRING if total > self.above else Verdict.CLEAR
        return Observation(verdict, round(total, 3), limit, UNIT.get(sample.device.kind, ""))


@register_condition("continuous_flow")
class ContinuousFlow(Condition):
    """The night leak test: over the ``during`` span the flow never falls to ``min_flow`` or below.

    Judged once per night, at the first reading after the span; ``min_coverage`` of the span must
    have readings. Flow is ``flow_m3h`` when the meter sends it, else the register rate.
    """

    type: Literal["continuous_flow"] = "continuous_flow"
    during: str = "02:00-04:00"
    min_flow: float = 0.0
    min_coverage: float = 0.75

    @model_validator(mode="after")
    def _span(self) -> ContinuousFlow:
        parse_span(self.during)
        return self

    def observe(self, sample: Sample, state: State, env: Env) -> Observation | None:
        start, end = parse_span(self.during)
        local = sample.local
        minute = local.hour * 60 + local.minute + local.second / 60
        flow = sample.reading.values.get("flow_m3h")
        if flow is None and sample.step is not None and sample.step.flag is None:
            flow = rate_per_hour(sample.step)
        if in_span(minute, (start, end)) and minute != start:
            night = (local.date() - dt.timedelta(days=1 if start > end and minute < end else 0)).isoformat()
            if state.get("night") != night:
                state.update(night=night, min=None, n=0)
            if flow is not None:
                state["min"] = flow if state["min"] is None else min(state["min"], flow)
                state["n"] += 1
            return None
        if state.get("night") is None:
            return None
        low, n = state["min"], state["n"]
        state.clear()
        span_min = (end - start) % 1440 or 1440
        if low is None or n * sample.device.interval_s / 60 < self.min_coverage * span_min:
            return None  # not enough data that night to judge
        verdict = Verdict.FIRING if low > self.min_flow else Verdict.CLEAR
        return Observation(verdict, round(low, 4), f"> {self.min_flow:g} ({self.during})",
                           RATE_UNIT.get(sample.device.kind, ""), "minimum flow")


@register_condition("closed_use")
class ClosedUse(Condition):
    """Use above ``tolerance`` (kW or m³/h over a reading interval) while ``open`` says closed."""

    type: Literal["closed_use"] = "closed_use"
    open: str | Schedule
    tolerance: float = 0.0
    stateful = False

    def schedule_names(self) -> list[str]:
        return [self.open] if isinstance(self.open, str) else []

    def observe(self, sample: Sample, state: State, env: Env) -> Observation | None:
        step = sample.step
        if step is None or step.flag is not None or step.end_ms <= step.start_ms:
            return None
        middle = env.local((step.start_ms + step.end_ms) // 2)
        if env.schedule(self.open).contains(middle, env.calendar):
            return CLEAR
        rate = rate_per_hour(step)
        verdict = Verdict.FIRING if rate > self.tolerance else Verdict.CLEAR
        return Observation(verdict, round(rate, 3), f"> {self.tolerance:g} (closed)",
                           RATE_UNIT.get(sample.device.kind, ""), "use while closed")
