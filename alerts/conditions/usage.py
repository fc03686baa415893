"""Conditions that compare use with expectations: a baseline from past weeks, a monthly budget."""

from __future__ import annotations

import calendar
import datetime as dt
import statistics
from typing import Literal

from alerts.conditions.base import Condition, Env, Observation, Sample, State, Verdict, register_condition
from campus.contract import Kind
from campus.durations import Seconds
from campus.model import Department

UNIT = {Kind.ELECTRICITY: "kWh", Kind.WATER: "m³", Kind.GAS: "m³"}


@register_condition("baseline")
class Baseline(Condition):
    """An hour's use above ``factor`` × the median of the same hour and weekday over the previous
    ``weeks`` weeks (judged when the hour is over; needs ``min_weeks`` of history and ``min_use``)."""

    type: Literal["baseline"] = "baseline"
    factor: float = 2.0
    weeks: int = 4
    min_weeks: int = 2
    min_use: float = 0.0

    def observe(self, sample: Sample, state: State, env: Env) -> Observation | None:
        step = sample.step
        if step is None:
            return None
        hour = env.local(step.end_ms - 1).replace(minute=0, second=0, microsecond=0)
        key = hour.isoformat()
        out: Observation | None = None
        if state.get("hour") not in (None, key):
            out = self._close(state, env)
        if state.get("hour") != key:
            state["hour"], state["acc"] = key, 0.0
        state["acc"] += step.delta
        return out

    def _close(self, state: State, env: Env) -> Observation | None:
        hour = dt.datetime.fromisoformat(state["hour"])
        slot = f"{hour.weekday()}:{hour.hour}"
        hist: dict[str, list[float]] = state.setdefault("hist", {})
        past = hist.get(slot, [])
        use = state["acc"]
        hist[slot] = (past + [use])[-self.weeks:]
        if len(past) < self.min_weeks:
            return None
        median = statistics.median(past)
        fire = use > self.factor * median and use > self.min_use
        return Observation(Verdict.FIRING if fire else Verdict.CLEAR, round(use, 3),
                           f"> {self.factor:g} × {median:.3g} (median {hour:%a %H}:00)", "", "hourly use")


@register_condition("budget")
class Budget(Condition):
    """A department's month-to-date use of ``kind``, projected to month end, above its monthly target
    (``target``, else the campus file's ``targets``). Judged once ``min_elapsed`` of the month has data.

    An alert belongs to its month: its value is the month's use so far, and it closes when the month ends in the
    site's time zone (:meth:`period_end`); the next month starts with no alert and no data."""

    type: Literal["budget"] = "budget"
    kind: Kind
    target: float | None = None
    min_elapsed: Seconds = 7 * 86400
    scope = "department"

    def observe(self, sample: Sample, state: State, env: Env) -> Observation | None:
        step = sample.step
        if step is None or sample.device.kind is not self.kind or not sample.device.counts_in_totals:
            return None  # sub-meters and the incomer would count the same use twice
        target = self.target
        if target is None:
            target = env.campus.targets.get(Department(sample.department), {}).get(self.kind)
        if target is None:
            return None
        local = env.local(step.end_ms)
        month = f"{local:%Y-%m}"
        if state.get("month") != month:
            state.clear()
            state.update(month=month, total=0.0, first=step.start_ms)
            state["end"] = self.period_end(state, env)
        state["total"] += step.delta
        start_ms = int(local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000)
        month_ms = calendar.monthrange(local.year, local.month)[1] * 86_400_000
        elapsed = step.end_ms - max(start_ms, state["first"])  # data may start mid-month: use its rate
        if elapsed < self.min_elapsed * 1000:
            return None
        projected = state["total"] * month_ms / elapsed
        verdict = Verdict.FIRING if projected > target else Verdict.CLEAR
        state["limit"] = f"> {target:g} / month"
        return Observation(verdict, round(state["total"], 1), state["limit"], UNIT[self.kind],
                           f"projected to month end: {projected:.1f}")

    def period_end(self, state: State, env: Env) -> int | None:
        month = state.get("month")
        if not month:
            return None
        if state.get("end"):
            return int(state["end"])
        year, number = (int(p) for p in month.split("-"))
        first = dt.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=env.tz)
        return int(first.timestamp() * 1000)

    def period_over(self, state: State, env: Env) -> Observation:
        total, limit, month = state.get("total"), state.get("limit"), state.get("month")
        state.clear()
        return Observation(Verdict.CLEAR, None if total is None else round(total, 1), limit, UNIT[self.kind],
                           f"month ended: {month}")
