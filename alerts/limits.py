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
from alerts.rules import Rule, RuleBook

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


def rule_limit(rule: Rule) -> Limit | None:
    """A threshold rule as the limit it holds a field to; None for any other kind of rule."""
    cond = rule.condition
    if not isinstance(cond, Threshold):
        return None
    low, high = cond.outside if cond.outside is not None else (cond.below, cond.above)
    return Limit(rule.id, cond.field, low, high)


def limits_for(rules: RuleBook, device: str) -> list[Limit]:
    """The enabled threshold rules on ``device``, as limits (one per rule)."""
    return [lim for rule in rules.by_device.get(device, []) if (lim := rule_limit(rule)) is not None]


def worst(standings: list[Standing]) -> Standing:
    return "out" if "out" in standings else "near" if "near" in standings else "ok"
