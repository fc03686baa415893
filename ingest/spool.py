"""Readings received while the store is unreachable wait here, on disk, until it returns.

Each append is one fsync'd SQLite commit, so a message can be acknowledged to the broker as
soon as its readings are spooled. Bounded by ``spool_max_readings``: when full, ingest stops
acknowledging and the broker holds the rest (backpressure, not loss).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

from campus.contract import Kind, Reading
from campus.db import connect, write_transaction
from campus.migrations import Migration, migrate


def _encode(readings: Sequence[Reading]) -> str:
    return json.dumps([[r.device, r.ts, r.kind.value, r.site, r.building, r.department, r.zone, r.seq, r.values]
                       for r in readings])


def _decode(text: str) -> list[Reading]:
    return [Reading(d, ts, Kind(k), s, b, dep, z, v, seq) for d, ts, k, s, b, dep, z, seq, v in json.loads(text)]



MIGRATIONS = [Migration.sql(1, "readings waiting for the store, in chunks", """
    CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER NOT NULL,
      readings TEXT NOT NULL);
    """)]


class Spool:
    def __init__(self, path: Path, max_readings: int) -> None:
        self.max_readings = max_readings
        self._conn = connect(path)
        self._lock = threading.Lock()
        migrate(self._conn, "spool", MIGRATIONS)

    @property
    def depth(self) -> int:
        """Readings waiting for the store (read from the file: the ingest worker and the API share it)."""
        with self._lock:
            return int(self._conn.execute("SELECT coalesce(sum(n), 0) FROM spool").fetchone()[0])

    def has_room(self, n: int) -> bool:
        return self.depth + n <= self.max_readings

    def append(self, readings: Sequence[Reading]) -> None:
        if not readings:
            return
        with self._lock:
            self._conn.execute("INSERT INTO spool (n, readings) VALUES (?, ?)", (len(readings), _encode(readings)))

    def peek(self, max_readings: int = 5000) -> tuple[list[int], list[Reading]]:
        """The oldest chunks, up to about ``max_readings`` readings: (chunk ids, readings)."""
        with self._lock:
            rows = self._conn.execute("SELECT id, n, readings FROM spool ORDER BY id LIMIT 200").fetchall()
        ids: list[int] = []
        out: list[Reading] = []
        for chunk_id, n, text in rows:
            if out and len(out) + n > max_readings:
                break
            ids.append(chunk_id)
            out.extend(_decode(text))
        return ids, out

    def remove(self, ids: list[int]) -> None:
        with self._lock:
            with write_transaction(self._conn):
                self._conn.executemany("DELETE FROM spool WHERE id = ?", [(i,) for i in ids])

    def close(self) -> None:
        self._conn.close()
