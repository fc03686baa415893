"""threshold: a value above a limit, below one, or outside a band; ``clear_margin`` is the hysteresis."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from alerts.conditions.base import Condition, Env, Observation, Sample, State, Verdict, register_condition, unit_of
from campus.contract import ALL_FIELDS


@register_condition("threshold")
class Threshold(Condition):
    type: Literal["threshold"] = "threshold"
    field: str
    above: float | None = None
    below: float | None = None
    outside: tuple[float, float] | None = None
    clear_margin: float = 0.0
    stateful = False

    @model_validator(mode="after")
    def _one_limit(self) -> Threshold:
        if self.field not in ALL_FIELDS:
            raise ValueError(f"unknown field {self.field!r}; use one of {', '.join(ALL_FIELDS)}")
        if sum(x is not None for x in (self.above, self.below, self.outside)) != 1:
            raise ValueError("give exactly one of above, below, outside")
        if self.outside is not None and self.outside[0] >= self.outside[1]:
            raise ValueError("outside: [low, high] with low < high")
        return self

    @property
    def limit_text(self) -> str:
        if self.outside is not None:
            return f"{self.outside[0]:g}–{self.outside[1]:g}"
        return f"≤ {self.above:g}" if self.above is not None else f"≥ {self.below:g}"

    def observe(self, sample: Sample, state: State, env: Env) -> Observation | None:
        v = sample.reading.values.get(self.field)
        if v is None:
            return None
        m = self.clear_margin
        if self.above is not None:
            fire, ok = v > self.above, v <= self.above - m
        elif self.below is not None:
            fire, ok = v < self.below, v >= self.below + m
        else:
            lo, hi = self.outside  # type: ignore[misc]
            fire, ok = not lo <= v <= hi, lo + m <= v <= hi - m
        verdict = Verdict.FIRING if fire else Verdict.CLEAR if ok else Verdict.HOLD
        return Observation(verdict, v, self.limit_text, unit_of(self.field), self.field)
