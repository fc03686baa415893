"""Condition plug-ins. Importing this package registers the built-in types."""

from alerts.conditions import events, night_min, silence, threshold, usage, windows  # noqa: F401  (registration)
from alerts.conditions.base import CONDITIONS, Condition, Env, Observation, Sample, Verdict, register_condition

__all__ = ["CONDITIONS", "Condition", "Env", "Observation", "Sample", "Verdict", "register_condition"]
