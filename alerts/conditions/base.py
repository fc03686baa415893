"""What every condition plug-in is: a pydantic model of its parameters with ``observe`` (and,
for conditions that watch the clock, ``tick``), keeping its own JSON-able state.

A condition says, for each reading of a target device, whether its situation holds
(``FIRING``), is over (``CLEAR``) or is in between (``HOLD``, the hysteresis band). The
engine turns that into alerts with ``for``/``count``/``clear``. Add a type with
:func:`register_condition`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from alerts.schedule import Schedule
from campus.calendar import CampusCalendar
from campus.contract import Reading
from campus.labels import Name
from campus.model import Campus, Device
from campus.registers import Step


class Verdict(Enum):
    FIRING = "firing"
    CLEAR = "clear"
    HOLD = "hold"


@dataclass(frozen=True, slots=True)
class Observation:
    verdict: Verdict
    value: float | None = None
    limit: str | None = None     # as shown to people: "6.5–8.5", "> 1", "≥ 1.5 kW step"
    unit: str = ""
    detail: str = ""
    texts: dict[str, Name] | None = None  # people's words in both languages (subject, detail, reading), if any


CLEAR = Observation(Verdict.CLEAR)


@dataclass(slots=True)
class Sample:
    """One reading of a target device, as conditions see it."""

    device: Device
    reading: Reading
    tz: dt.tzinfo
    step: Step | None             # register consumption since the previous reading (multiplied); None for sensors
    department: str
    _local: dt.datetime | None = None

    @property
    def ts(self) -> int:
        return self.reading.ts

    @property
    def local(self) -> dt.datetime:
        """The reading's time in the site timezone (computed on first use)."""
        if self._local is None:
            self._local = dt.datetime.fromtimestamp(self.reading.ts / 1000, self.tz)
        return self._local


@dataclass(slots=True)
class Env:
    """What conditions may look up: the campus, its calendar and the rule file's named schedules."""

    campus: Campus
    calendar: CampusCalendar
    schedules: dict[str, Schedule]
    tz: dt.tzinfo
    watching_since_ms: int = 0   # when this alert engine first ran: silence before it is not judged
    # what the engine keeps per device: "ts" its newest reading (ms), "health" its gateway's last poll of it
    # ({"ok", "code", "error", "last", "ts", "gateway", "bus"}); read only
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)
    grouped_buses: bool = False  # a bus_silent rule is enabled: a dead bus's meters are its alert's

    def schedule(self, ref: str | Schedule) -> Schedule:
        return ref if isinstance(ref, Schedule) else self.schedules[ref]

    def local(self, ts_ms: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(ts_ms / 1000, self.tz)


State = dict[str, Any]
UNITS = {"_kwh": "kWh", "_kw": "kW", "_m3h": "m³/h", "_m3": "m³", "_ntu": "NTU", "_mgl": "mg/L", "_c": "°C",
         "_v": "V", "_a": "A", "_uscm": "µS/cm"}


def unit_of(field: str) -> str:
    return next((u for suffix, u in UNITS.items() if field.endswith(suffix)), "")


class Condition(BaseModel):
    """Base of the plug-ins. ``scope`` says what one alert is about: a device, a department or a gateway's bus
    (``bus``: the engine asks :meth:`tick_bus` once per bus, with the bus's meters the rule targets)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str
    scope: ClassVar[Literal["device", "department", "bus"]] = "device"
    watches_clock: ClassVar[bool] = False
    stateful: ClassVar[bool] = True  # False: observe never changes its state (saves a write per reading)

    def schedule_names(self) -> list[str]:
        """Named schedules this condition uses (the rule file checks they exist)."""
        return []

    def observe(self, sample: Sample, state: State, env: Env) -> Observation | None:
        raise NotImplementedError

    def status(self, online: bool, ts: int, state: State) -> Observation | None:
        """The device's gateway published ``online``/``offline`` (its Last Will)."""
        return None

    def tick(self, subject: Device, state: State, now_ms: int, env: Env, last_ms: int | None) -> Observation | None:
        """Called every tick for conditions that watch the clock; ``last_ms``: the device's newest reading."""
        return None

    def tick_bus(self, meters: list[Device], state: State, now_ms: int, env: Env) -> Observation | None:
        """Called every tick, once per bus, for conditions of scope ``bus``: ``meters`` are the bus's meters."""
        return None

    def period_end(self, state: State, env: Env) -> int | None:
        """For a condition whose episodes belong to a period (a budget's month): when the period ``state`` is in
        ends (ms). Its alert closes then, however things stand, and the next period starts afresh."""
        return None

    def period_over(self, state: State, env: Env) -> Observation:
        """How the period ``state`` is in ended (its final value, its name); ``state`` starts afresh."""
        state.clear()
        return CLEAR


CONDITIONS: dict[str, type[Condition]] = {}
C = TypeVar("C", bound=type[Condition])


def register_condition(name: str) -> Callable[[C], C]:
    def add(cls: C) -> C:
        CONDITIONS[name] = cls
        return cls
    return add


def rate_per_hour(step: Step) -> float:
    hours = (step.end_ms - step.start_ms) / 3_600_000
    return step.delta / hours if hours > 0 else 0.0
