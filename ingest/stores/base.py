"""What a time-series store is (one small Protocol and the types it speaks) and the registry stores join by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from campus.contract import Kind, Reading
from ingest.config import StoreSettings

Agg = Literal["mean", "min", "max", "last"]


@dataclass(frozen=True, slots=True)
class Sample:
    """A stored reading (``seq`` set) or an aggregated bucket starting at ``ts`` (epoch ms)."""

    ts: int
    values: dict[str, float]
    seq: int | None = None


class ReadingStore(Protocol):
    backend: str
    series_batch: int  # devices worth asking series_many for at once (1: it gains nothing over series)

    def write(self, readings: Sequence[Reading]) -> None:
        """Store durably; same site, device and ts again overwrites (idempotent). Raises StoreUnavailable."""

    def readings(self, site: str, device: str, kind: Kind, start_ms: int, end_ms: int, *,
                 interval_ms: int | None = None, agg: Agg = "mean", offset_ms: int = 0,
                 limit: int = 10_000) -> list[Sample]:
        """Readings in [start, end) in time order, raw or downsampled into buckets aligned at offset."""

    def series(self, site: str, device: str, kind: Kind, field: str, start_ms: int,
               end_ms: int) -> list[tuple[int, float]]:
        """One field's ``(ts, value)`` pairs in [start, end), time order, all of them (paged inside)."""

    def series_many(self, site: str, kind: Kind, field: str, starts: Mapping[str, int],
                    end_ms: int) -> dict[str, list[tuple[int, float]]]:
        """:meth:`series` for several devices of one site and kind at once, each from its own start."""

    def latest(self, site: str, device: str, kind: Kind) -> Sample | None: ...

    def around(self, site: str, device: str, kind: Kind, field: str, at_ms: int) -> tuple[Sample | None, Sample | None]:
        """The last reading of ``field`` at or before ``at_ms`` and the first one after it."""

    def count(self, device: str | None = None, kind: Kind | None = None, site: str | None = None) -> int: ...

    def ping(self) -> None:
        """Raise StoreUnavailable if the store cannot be reached."""

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Point:
    """A derived series point (daily consumption, meterwatch's own health) for dashboards to read."""

    measurement: str
    tags: dict[str, str]
    fields: dict[str, float]
    ts_ms: int


class PointSink(Protocol):
    """A store dashboards read (InfluxDB): it also keeps derived series beside the readings."""

    def write_points(self, points: Sequence[Point]) -> None: ...


class ChangeNotes(Protocol):
    """A store that keeps ingest's change notes (``[store] change_notes``): per device, the oldest reading each
    write stored, readable by the roll-ups on any host."""

    def change_notes(self, site: str, since_ms: int) -> dict[str, int]:
        """Device → the oldest reading time noted for it by writes made at or after ``since_ms``."""


def change_notes(store: ReadingStore) -> ChangeNotes | None:
    """The store as a keeper of change notes, if it is one and they are on."""
    settings = getattr(store, "settings", None)
    if getattr(settings, "change_notes", False) and callable(getattr(store, "change_notes", None)):
        return store  # type: ignore[return-value]
    return None


def point_sink(store: ReadingStore) -> PointSink | None:
    """The store as a sink for derived series, if it is one (InfluxDB; the embedded SQLite store is not)."""
    return store if callable(getattr(store, "write_points", None)) else None  # type: ignore[return-value]


StoreFactory = Callable[[StoreSettings, Path], ReadingStore]
STORES: dict[str, StoreFactory] = {}


def register_store(name: str) -> Callable[[StoreFactory], StoreFactory]:
    def deco(factory: StoreFactory) -> StoreFactory:
        STORES[name] = factory
        return factory

    return deco
