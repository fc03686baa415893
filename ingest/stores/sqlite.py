"""The embedded default store: one SQLite file (WAL, fsync on commit), one wide table.

Primary key (device, ts) makes writes idempotent; a repeat merges fields like InfluxDB does.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import orjson

from campus.contract import ALL_FIELDS, KIND_FIELDS, Kind, Reading
from campus.db import DataDir, Db, connect, write_transaction
from campus.errors import StoreUnavailable
from campus.migrations import Migration, migrate
from ingest.config import StoreSettings
from ingest.stores.base import Agg, Sample, register_store

_TAGS = ("device", "ts", "kind", "site", "building", "department", "zone", "seq")


def _insert_sql(fields: tuple[str, ...]) -> str:
    """An upsert for one kind's columns; a repeat merges fields (like InfluxDB). Names are our constants.

    The whole batch is one JSON array parameter unpacked by ``json_each``: one statement step for the
    batch instead of one per row, so the writer does not give up and wait for the GIL once per row.
    """
    cols = _TAGS + fields
    picks = ", ".join(f"j.value ->> {i}" for i in range(len(cols)))
    return (
        f"INSERT INTO readings ({', '.join(cols)}) SELECT {picks} FROM json_each(?) AS j WHERE true "  # noqa: S608
        "ON CONFLICT (site, device, ts) DO UPDATE SET kind = excluded.kind, "
        "building = excluded.building, department = excluded.department, zone = excluded.zone, "
        "seq = coalesce(excluded.seq, seq), "
        + ", ".join(f"{f} = coalesce(excluded.{f}, {f})" for f in fields)
    )


_TABLE = (f"CREATE TABLE IF NOT EXISTS {{name}} (device TEXT NOT NULL, ts INTEGER NOT NULL, kind TEXT NOT NULL, "
          f"site TEXT NOT NULL, building TEXT, department TEXT, zone TEXT, seq INTEGER, "
          f"{', '.join(f + ' REAL' for f in ALL_FIELDS)}, PRIMARY KEY (site, device, ts)) WITHOUT ROWID")
_INSERTS = {kind: _insert_sql(fields) for kind, fields in KIND_FIELDS.items()}
_AGG_SQL = {"mean": "avg", "min": "min", "max": "max"}


def _readings_by_site(conn: Db) -> None:
    """The readings table; before sites a reading was keyed by (device, ts), and such a table is rebuilt keyed
    by (site, device, ts) (its rows already carry their site)."""
    conn.execute(_TABLE.format(name="readings"))
    pk = [r[1] for r in sorted(conn.execute("PRAGMA table_info(readings)"), key=lambda r: r[5]) if r[5]]
    if pk[0] == "site":
        return
    conn.execute(_TABLE.format(name="readings_by_site"))
    new = {r[1] for r in conn.execute("PRAGMA table_info(readings_by_site)")}
    cols = ", ".join(r[1] for r in conn.execute("PRAGMA table_info(readings)") if r[1] in new)
    conn.execute(f"INSERT OR REPLACE INTO readings_by_site ({cols}) SELECT {cols} FROM readings")  # noqa: S608
    conn.execute("DROP TABLE readings")
    conn.execute("ALTER TABLE readings_by_site RENAME TO readings")


MIGRATIONS = [Migration(1, "readings keyed by site, device and time", _readings_by_site)]


class SqliteStore:
    backend = "sqlite"
    series_batch = 1  # series_many reads device by device: batching would only hold more in memory

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn = connect(path)
        migrate(self._conn, "readings", MIGRATIONS)

    def write(self, readings: Sequence[Reading]) -> None:
        by_kind: dict[Kind, list[list[object]]] = {}
        for r in readings:
            get = r.values.get
            by_kind.setdefault(r.kind, []).append(
                [r.device, r.ts, r.kind.value, r.site, r.building, r.department, r.zone, r.seq,
                 *[get(f) for f in KIND_FIELDS[r.kind]]])
        try:
            with self._lock, write_transaction(self._conn):
                for kind, rows in by_kind.items():
                    self._conn.execute(_INSERTS[kind], (orjson.dumps(rows).decode(),))
        except sqlite3.OperationalError as exc:  # disk full, locked past the timeout, I/O error
            raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc

    def _query(self, sql: str, args: tuple[object, ...]) -> list[tuple[object, ...]]:
        try:
            with self._lock:
                return self._conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc

    @staticmethod
    def _sample(ts: int, seq: object, vals: Sequence[object]) -> Sample:
        values = {f: float(v) for f, v in zip(ALL_FIELDS, vals, strict=True) if v is not None}  # type: ignore[arg-type]
        return Sample(int(ts), values, None if seq is None else int(seq))  # type: ignore[call-overload]

    def readings(self, site: str, device: str, kind: Kind, start_ms: int, end_ms: int, *,
                 interval_ms: int | None = None, agg: Agg = "mean", offset_ms: int = 0,
                 limit: int = 10_000) -> list[Sample]:
        cols = ", ".join(ALL_FIELDS)
        if interval_ms is None:
            rows = self._query(
                f"SELECT ts, seq, {cols} FROM readings WHERE site = ? AND device = ? AND ts >= ? "  # noqa: S608
                "AND ts < ? ORDER BY ts LIMIT ?", (site, device, start_ms, end_ms, limit))
            return [self._sample(r[0], r[1], r[2:]) for r in rows]  # type: ignore[arg-type]
        bucket = f"((ts - {int(offset_ms)}) / {int(interval_ms)}) * {int(interval_ms)} + {int(offset_ms)}"
        if agg == "last":  # SQLite: bare columns next to max() come from the row holding the max
            select = f"{bucket} AS b, max(ts), NULL, {cols}"
        else:
            select = f"{bucket} AS b, NULL, NULL, " + ", ".join(f"{_AGG_SQL[agg]}({f})" for f in ALL_FIELDS)
        rows = self._query(
            f"SELECT {select} FROM readings WHERE site = ? AND device = ? AND ts >= ? AND ts < ? "  # noqa: S608
            "GROUP BY b ORDER BY b LIMIT ?", (site, device, start_ms, end_ms, limit))
        return [self._sample(r[0], None, r[3:]) for r in rows]  # type: ignore[arg-type]

    def series(self, site: str, device: str, kind: Kind, field: str, start_ms: int,
               end_ms: int) -> list[tuple[int, float]]:
        if field not in ALL_FIELDS:
            raise ValueError(f"unknown field {field!r}")
        rows = self._query(f"SELECT ts, {field} FROM readings WHERE site = ? AND device = ? AND ts >= ? "  # noqa: S608
                           f"AND ts < ? AND {field} IS NOT NULL ORDER BY ts", (site, device, start_ms, end_ms))
        return rows  # type: ignore[return-value]

    def series_many(self, site: str, kind: Kind, field: str, starts: Mapping[str, int],
                    end_ms: int) -> dict[str, list[tuple[int, float]]]:
        return {dev: self.series(site, dev, kind, field, start, end_ms) for dev, start in starts.items()}

    def latest(self, site: str, device: str, kind: Kind) -> Sample | None:
        rows = self._query(
            f"SELECT ts, seq, {', '.join(ALL_FIELDS)} FROM readings WHERE site = ? AND device = ? "  # noqa: S608
            "ORDER BY ts DESC LIMIT 1", (site, device))
        return self._sample(rows[0][0], rows[0][1], rows[0][2:]) if rows else None  # type: ignore[arg-type]

    def around(self, site: str, device: str, kind: Kind, field: str, at_ms: int) -> tuple[Sample | None, Sample | None]:
        if field not in ALL_FIELDS:
            raise ValueError(f"unknown field {field!r}")
        out: list[Sample | None] = []
        for cmp, order in (("<=", "DESC"), (">", "ASC")):
            rows = self._query(
                f"SELECT ts, seq, {field} FROM readings WHERE site = ? AND device = ? AND ts {cmp} ? "  # noqa: S608
                f"AND {field} IS NOT NULL ORDER BY ts {order} LIMIT 1", (site, device, at_ms))
            out.append(Sample(int(rows[0][0]), {field: float(rows[0][2])}, rows[0][1]) if rows else None)  # type: ignore[arg-type,call-overload]
        return out[0], out[1]

    def count(self, device: str | None = None, kind: Kind | None = None, site: str | None = None) -> int:
        sql, args = "SELECT count(*) FROM readings WHERE 1 = 1", []
        if site is not None:
            sql, args = sql + " AND site = ?", [site]
        if device is not None:
            sql, args = sql + " AND device = ?", [*args, device]
        if kind is not None:
            sql, args = sql + " AND kind = ?", [*args, kind.value]
        return int(self._query(sql, tuple(args))[0][0])  # type: ignore[call-overload]

    def ping(self) -> None:
        self._query("SELECT 1", ())

    def close(self) -> None:
        self._conn.close()


@register_store("sqlite")
def _open(settings: StoreSettings, data_dir: Path) -> SqliteStore:
    return SqliteStore(settings.path or DataDir(data_dir).readings)
