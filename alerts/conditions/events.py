"""Conditions on single events in a device's stream: a power step, a register anomaly, silence."""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from alerts.conditions import silence
from alerts.conditions.base import (
    CLEAR,
    Condition,
    Env,
    Observation,
    Sample,
    State,
    Verdict,
    register_condition,
)
from campus.model import MAX_INTERVAL_S, Device
from campus.registers import Flag


@register_condition("power_step")
class PowerStep(Condition):
    """Δ``field`` ≥ ``step`` between consecutive readings: an appliance switched on. Holds while the
    load stays at least half a step above where it was, clears when it falls back."""

    type: Literal["power_step"] = "power_step"
    step: float
    field: str = "power_kw"

    def observe(self, sample: Sample, state: State, env: Env) -> Observation | None:
        v = sample.reading.values.get(self.field)
        if v is None:
            return None
        prev, base = state.get("prev"), state.get("base")
        state["prev"] = v
        if prev is None:
            return None
        limit = f"Δ ≥ {self.step:g}"
        if base is None:
            if v - prev >= self.step:
                state["base"] = prev
                return Observation(Verdict.FIRING, round(v - prev, 3), limit, "kW", f"{prev:g} → {v:g} kW")
            return CLEAR
        if v - base >= self.step / 2:
            return Observation(Verdict.HOLD, round(v - base, 3), limit, "kW")
        state["base"] = None
        return CLEAR


@register_condition("register_anomaly")
class RegisterAnomaly(Condition):
    """A new meter cycle (register fell below 90%: replaced or reset) or an implausible jump."""

    type: Literal["register_anomaly"] = "register_anomaly"
    flags: list[Literal["new_cycle", "implausible"]] = ["new_cycle", "implausible"]
    stateful = False

    def observe(self, sample: Sample, state: State, env: Env) -> Observation | None:
        step = sample.step
        if step is None:
            return None
        if step.flag is not None and step.flag.value in self.flags:
            what = "new meter cycle" if step.flag is Flag.NEW_CYCLE else "implausible jump"
            return Observation(Verdict.FIRING, step.raw_to, what, "", f"{what}: {step.raw_from:g} → {step.raw_to:g}")
        return CLEAR


@register_condition("stale")
class Stale(Condition):
    """No reading for longer than ``intervals`` × the device's interval, or its Last Will said offline. A meter read
    by hand (``manual``) is silent only after ``intervals`` monthly rounds (31 days each) and has no Last Will."""

    type: Literal["stale"] = "stale"
    intervals: float = 3.0
    watches_clock = True
    stateful = False  # the engine keeps each device's newest reading time; only the Last Will is ours

    def observe(self, sample: Sample, state: State, env: Env) -> Observation | None:
        if state.get("offline"):
            state["offline"] = False  # saved: the alert it raised is active, so this verdict is written
        return CLEAR

    def status(self, online: bool, ts: int, state: State) -> Observation | None:
        state["offline"] = not online
        if online:
            return None  # wait for a reading
        return Observation(Verdict.FIRING, None, "offline", "", "Last Will: offline")

    def _silent(self, subject: Device, state: State, now_ms: int, env: Env, last_ms: int | None) -> Observation | None:
        if state.get("offline"):
            return None
        since = max(last_ms or 0, env.watching_since_ms)
        silent_min = (now_ms - since) / 60_000
        # a meter read by hand owes a reading a month, whatever its interval_s: its silence waits for the rounds
        interval_s = MAX_INTERVAL_S if subject.manual else subject.interval_s
        if silent_min * 60 > self.intervals * interval_s:
            limit_min = self.intervals * interval_s / 60
            return Observation(Verdict.FIRING, round(silent_min, 1), f"> {limit_min:g} min", "min", "no readings")
        return None

    def tick(self, subject: Device, state: State, now_ms: int, env: Env, last_ms: int | None) -> Observation | None:
        """Silence as above, with the gateway's reason when its health gives one ("no answer from … after 3 tries",
        in both languages). While a ``bus_silent`` rule is enabled and the meter's whole bus is dead, the bus's
        alert speaks for it: no alert is raised per meter (one already open stays)."""
        obs = self._silent(subject, state, now_ms, env, last_ms)
        if obs is None or obs.verdict is not Verdict.FIRING or obs.detail != "no readings":
            return obs
        key = silence.bus_of(subject)
        if env.grouped_buses and key is not None and \
                silence.dead(silence.meters_on(env, key), env, now_ms, self.intervals):
            return Observation(Verdict.HOLD)
        h = silence.failing(subject, env)
        if h is None:
            return obs
        words = silence.why(h)
        return replace(obs, detail=words.en, texts={"detail": words})
