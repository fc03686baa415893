"""What a reading by hand (抄表) was, beside the reading itself: who read it, when it was entered and when read, the
photo of the dial, the note, whether the meter was replaced or a big jump confirmed, and whether the alert engine
has been handed it yet. In ``records.db``, store ``manual_readings`` (its own numbered migrations).

The reading itself (its register values) is in the time-series store like every other reading; this table is
joined to it by (site, device, ts). Rows are only added (and marked handed on), never rewritten: what the reader
entered stays as entered.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from campus.db import connect, write_transaction
from campus.migrations import Migration, migrate
from records.store import NotUploaded

SCHEMA_1 = """
CREATE TABLE IF NOT EXISTS manual_readings (id INTEGER PRIMARY KEY, site TEXT NOT NULL, device TEXT NOT NULL,
  kind TEXT NOT NULL, building TEXT NOT NULL, zone TEXT, ts_ms INTEGER NOT NULL, entered_ms INTEGER NOT NULL,
  read_by TEXT NOT NULL, vals TEXT NOT NULL, photos TEXT NOT NULL, note TEXT NOT NULL,
  replacement INTEGER NOT NULL, confirmed INTEGER NOT NULL, last_ts_ms INTEGER, last_value REAL,
  handed_ms INTEGER);
CREATE INDEX IF NOT EXISTS manual_readings_device ON manual_readings (site, device, ts_ms);
CREATE INDEX IF NOT EXISTS manual_readings_handed ON manual_readings (handed_ms) WHERE handed_ms IS NULL;
"""
MIGRATIONS = [Migration.sql(1, "readings by hand: who, when entered and read, photo, note, replacement, "
                               "confirmation, handed to the alert engine", SCHEMA_1)]


@dataclass(frozen=True, slots=True)
class ManualRow:
    id: int
    site: str
    device: str
    kind: str
    building: str
    zone: str | None
    ts_ms: int                 # when it was read (the reading's time in the store)
    entered_ms: int            # when it was entered (the server's clock)
    read_by: str               # the token's name
    values: dict[str, float]
    photos: list[str]
    note: str
    replacement: bool          # the meter was replaced: a lower register starts a new cycle
    confirmed: bool            # a jump past the rated capacity, confirmed by the reader
    last_ts_ms: int | None     # the reading it was checked against
    last_value: float | None
    handed_ms: int | None      # when the alert engine was handed it (None: not yet)


def _row(r: tuple[Any, ...]) -> ManualRow:
    return ManualRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], json.loads(r[9]), json.loads(r[10]),
                     r[11], bool(r[12]), bool(r[13]), r[14], r[15], r[16])


class ManualReadingStore:
    """Open after :class:`records.store.RecordStore` on the same file: photos are noted in its ``uploads`` and
    ``file_uses`` tables (record ``reading``), so the file sweep keeps them."""

    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._lock = threading.RLock()
        migrate(self._conn, "manual_readings", MIGRATIONS)

    @contextmanager
    def _tx(self) -> Iterator[None]:
        with self._lock, write_transaction(self._conn):
            yield

    def _all(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def add(self, *, site: str, device: str, kind: str, building: str, zone: str | None, ts_ms: int,
            entered_ms: int, read_by: str, values: dict[str, float], photos: list[str], note: str,
            replacement: bool, confirmed: bool, last: tuple[int, float] | None) -> ManualRow:
        """Add one reading's metadata; every photo it names must have been uploaded for ``site``."""
        with self._tx():
            for sha in dict.fromkeys(photos):
                if self._conn.execute("SELECT 1 FROM uploads WHERE sha256 = ? AND site = ?", (sha, site)
                                      ).fetchone() is None:
                    raise NotUploaded(f"photo {sha[:16]}… was not uploaded for site {site}: POST it to "
                                      f"/api/v1/photos?site={site} first, or send it with the reading as "
                                      "multipart/form-data (part 'photo')")
            cur = self._conn.execute(
                "INSERT INTO manual_readings (site, device, kind, building, zone, ts_ms, entered_ms, read_by, vals, "
                "photos, note, replacement, confirmed, last_ts_ms, last_value) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (site, device, kind, building, zone, ts_ms, entered_ms, read_by, json.dumps(values),
                 json.dumps(photos), note, int(replacement), int(confirmed),
                 last[0] if last else None, last[1] if last else None))
            row_id = int(cur.lastrowid or 0)
            for sha in dict.fromkeys(photos):
                self._conn.execute("INSERT INTO file_uses VALUES (?, ?, 'reading', ?)", (sha, site, row_id))
        return self.one(row_id)

    def one(self, row_id: int) -> ManualRow:
        return _row(self._all("SELECT * FROM manual_readings WHERE id = ?", (row_id,))[0])

    def listing(self, site: str, *, device: str | None = None, since_ms: int = 0, until_ms: int = 2**62,
                devices: Collection[str] | None = None, limit: int = 100_000) -> list[ManualRow]:
        """Readings by hand of ``site`` read in [since, until), newest first; only of ``devices`` when given (the
        asker's, chosen before the limit applies, so another zone's many readings never hide one's own)."""
        if devices is not None and not devices:
            return []
        among = "" if devices is None else f" AND device IN ({', '.join('?' * len(devices))})"
        rows = self._all("SELECT * FROM manual_readings WHERE site = ? AND (? IS NULL OR device = ?) AND ts_ms >= ? "  # noqa: S608 - placeholders only
                         f"AND ts_ms < ?{among} ORDER BY ts_ms DESC, id DESC LIMIT ?",
                         (site, device, device, since_ms, until_ms, *(devices or ()), limit))
        return [_row(r) for r in rows]

    def at(self, site: str, device: str, stamps: list[int]) -> dict[int, ManualRow]:
        """The newest row for each of ``stamps`` (the reading times) of one device that was read by hand."""
        if not stamps:
            return {}
        lo, hi = min(stamps), max(stamps)
        wanted = set(stamps)
        out: dict[int, ManualRow] = {}
        for r in self._all("SELECT * FROM manual_readings WHERE site = ? AND device = ? AND ts_ms BETWEEN ? AND ? "
                           "ORDER BY id", (site, device, lo, hi)):
            row = _row(r)
            if row.ts_ms in wanted:
                out[row.ts_ms] = row
        return out

    def last_read(self, site: str) -> dict[str, int]:
        """Device → the newest time it was read by hand."""
        return {r[0]: int(r[1]) for r in self._all(
            "SELECT device, max(ts_ms) FROM manual_readings WHERE site = ? GROUP BY device", (site,))}

    def read_between(self, site: str, since_ms: int, until_ms: int) -> dict[str, int]:
        """Device → how many times it was read by hand in [since, until)."""
        return {r[0]: int(r[1]) for r in self._all(
            "SELECT device, count(*) FROM manual_readings WHERE site = ? AND ts_ms >= ? AND ts_ms < ? "
            "GROUP BY device", (site, since_ms, until_ms))}

    def file_places(self, sha: str) -> list[tuple[str, str | None, str | None]]:
        """(site, zone, building) of every reading by hand whose photo is ``sha``."""
        return [(r[0], r[1], r[2]) for r in self._all(
            "SELECT m.site, m.zone, m.building FROM file_uses u JOIN manual_readings m ON m.id = u.record_id "
            "WHERE u.sha256 = ? AND u.record = 'reading'", (sha,))]

    def not_handed(self, limit: int = 500) -> list[ManualRow]:
        """Readings not yet handed to the alert engine, oldest first."""
        return [_row(r) for r in self._all("SELECT * FROM manual_readings WHERE handed_ms IS NULL ORDER BY id "
                                           "LIMIT ?", (limit,))]

    def handed(self, row_id: int, now_ms: int) -> None:
        with self._tx():
            self._conn.execute("UPDATE manual_readings SET handed_ms = ? WHERE id = ? AND handed_ms IS NULL",
                               (now_ms, row_id))

    def close(self) -> None:
        self._conn.close()
