"""Time-series stores behind one small Protocol (``base``), chosen by name from a registry: the embedded SQLite
store and InfluxDB are built in."""

from __future__ import annotations

from pathlib import Path

from campus.errors import ConfigError
from ingest.config import StoreSettings
from ingest.stores import influx, sqlite  # noqa: F401  (the built-in stores register themselves)
from ingest.stores.base import (
    STORES,
    Agg,
    ChangeNotes,
    Point,
    PointSink,
    ReadingStore,
    Sample,
    StoreFactory,
    change_notes,
    point_sink,
    register_store,
)


def open_store(settings: StoreSettings, data_dir: Path) -> ReadingStore:
    try:
        factory = STORES[settings.backend]
    except KeyError:
        raise ConfigError(f"[store] backend {settings.backend!r}: choose one of {', '.join(STORES)}") from None
    return factory(settings, data_dir)


__all__ = ["STORES", "Agg", "ChangeNotes", "Point", "PointSink", "ReadingStore", "Sample", "StoreFactory",
           "change_notes", "open_store", "point_sink", "register_store"]
