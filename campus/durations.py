"""The one duration grammar: ``30min``, ``90s``, ``15m``, ``2h``, ``1d``, ``2w``, ``1h30min`` or plain seconds. Rule and
roster files, the command line (``--duration``) and the HTTP API (``interval=``) all read durations here."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_UNITS = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h|d|w)")


def parse_seconds(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text like 30min, 2h, 1d")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        parts = _PART.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            return sum(float(n) * _UNITS[u] for n, u in parts)
    raise ValueError(f"{value!r} is not a duration: use e.g. 90s, 30min, 2h, 1d or 1h30min")


Seconds = Annotated[float, BeforeValidator(parse_seconds)]
