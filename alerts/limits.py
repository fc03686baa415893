"""The limits a sensor's values are held to, read from the threshold rules that watch it, and how a
value stands against them. Rules are the one source: the console's water board and the device
chart draw what the alert engine enforces.

The plain rule for the board's colours:
- red (``out``): outside the limit;
- amber (``near``): inside, but within 10 % of the band's width from an edge; for a one-sided limit,
  within 10 % of the limit's value;
- green (``ok``): otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from alerts.conditions.threshold import Threshold
from alerts.rules import RuleBook

NEAR = 0.10
Standing = Literal["ok", "near", "out"]


@dataclass(frozen=True, slots=True)
class Limit:
    rule: str
    field: str
    low: float | None
    high: float | None

    def judge(self, value: float) -> Standing:
        low, high = self.low, self.high
        if (low is not None and value < low) or (high is not None and value > high):
            return "out"
        if low is not None and high is not None:
            margin = NEAR * (high - low)
        else:
            margin = NEAR * abs(low if low is not None else high)  # type: ignore[arg-type]
        if (low is not None and value < low + margin) or (high is not None and value > high - margin):
            return "near"
        return "ok"


def limits_for(rules: RuleBook, device: str) -> list[Limit]:
    """The enabled threshold rules on ``device``, as limits (one per rule)."""
    out = []
    for rule in rules.by_device.get(device, []):
        cond = rule.condition
        if not isinstance(cond, Threshold):
            continue
        if cond.outside is not None:
            low, high = cond.outside
            out.append(Limit(rule.id, cond.field, low, high))
        else:
            out.append(Limit(rule.id, cond.field, cond.below, cond.above))
    return out


def worst(standings: list[Standing]) -> Standing:
    return "out" if "out" in standings else "near" if "near" in standings else "ok"
