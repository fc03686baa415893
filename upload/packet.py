"""One building's period as it is sent: its energy items and its meters, protocol-neutral (the outbox keeps this;
the XML or JSON is made from it at each send).

Values are the consumption API's floats, carried as their shortest round-trip text (``repr``), so the centre reads
back exactly the number the API gives."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Item:
    code: str      # energy item code, e.g. 01000, 01A00 (campus/energy_items.yaml)
    unit: str      # kWh, m³
    value: float


@dataclass(frozen=True, slots=True)
class Meter:
    id: str
    name: str
    code: str      # the meter's energy item (Campus.item_of)
    unit: str
    value: float   # its use in the period
    coverage: float = 1.0


@dataclass(frozen=True, slots=True)
class Packet:
    site: str
    building: str       # the campus file's building id
    building_id: str    # the centre's 10-character building code
    gateway_id: str
    start_ms: int
    end_ms: int
    time: str           # local start of the period, YYYYMMDDHHMMSS (<time>)
    items: tuple[Item, ...] = field(default_factory=tuple)
    meters: tuple[Meter, ...] = field(default_factory=tuple)

    @property
    def minutes(self) -> int:
        return (self.end_ms - self.start_ms) // 60_000

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Packet:
        return cls(**{**doc, "items": tuple(Item(**i) for i in doc["items"]),
                      "meters": tuple(Meter(**m) for m in doc["meters"])})

    @classmethod
    def from_json(cls, text: str) -> Packet:
        return cls.from_dict(json.loads(text))


def number(text: str, where: str) -> float:
    """A value as sent: a finite decimal number, or a ValueError naming where."""
    if len(text) > 40:
        raise ValueError(f"{where}: a number of {len(text)} characters")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: {text[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: {text!r} is not a finite number")
    return value
