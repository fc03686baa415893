"""Store and forward: every reading the gateway takes goes into this on-disk buffer first, and leaves it only
when the broker has acknowledged (QoS 1 PUBACK) the message that carried it.

Rules:
- One SQLite file (``DATA_DIR/buffer.db``), WAL with ``synchronous=FULL``: each :meth:`Buffer.add` is an
  fsync'd commit before the poll that took the reading goes on, so kill -9 or a power cut loses nothing taken.
- Rows leave in id order (the order they were taken), as per-device batches (:meth:`Buffer.take`).
- Bounded by ``max_readings``. When full, the **oldest** readings go to make room, counted (``dropped``, kept in
  the file) and logged in words. Why the oldest and not the newest: the newest are what alerts need when the
  link returns; a register's consumption across the lost readings is still counted from the readings either
  side (resolution is lost, never the total); and a DL/T 645 meter's days can be read again from its freezes.
- It also remembers, per meter, the last answer (``last_ok``) and the days filled from the meter's freezes,
  so that a restart knows the gap and no freeze is read twice; and small gateway state (``state``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from campus.db import connect, write_transaction
from campus.migrations import Migration, migrate

log = logging.getLogger("meterwatch.gateway.buffer")
FILE = "buffer.db"

MIGRATIONS = [Migration.sql(1, "the gateway's buffer: readings waiting for the broker, meters' last answers, days "
                               "filled from freezes, state", """
    CREATE TABLE IF NOT EXISTS readings (id INTEGER PRIMARY KEY AUTOINCREMENT, device TEXT NOT NULL,
      ts INTEGER NOT NULL, vals TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS meters (device TEXT PRIMARY KEY, last_ok_ms INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS filled (device TEXT NOT NULL, day TEXT NOT NULL, PRIMARY KEY (device, day));
    CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """)]


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    device: str
    ts: int  # epoch ms
    values: dict[str, float]


class Buffer:
    def __init__(self, path: Path, max_readings: int = 1_000_000) -> None:
        self.path = path
        self.max_readings = max_readings
        self._conn = connect(path)
        self._lock = threading.Lock()
        migrate(self._conn, "gateway_buffer", MIGRATIONS)
        self._depth = int(self._conn.execute("SELECT count(*) FROM readings").fetchone()[0])

    # --- readings -------------------------------------------------------------------------------------------
    def add(self, device: str, ts_ms: int, values: dict[str, float]) -> None:
        self.add_many([(device, ts_ms, values)])

    def add_many(self, rows: Sequence[tuple[str, int, dict[str, float]]], *, last_ok: bool = False) -> None:
        """Append readings in one commit (fsync'd before this returns). ``last_ok``: they are live answers, so
        each one's device's last answer moves to its time."""
        if not rows:
            return
        with self._lock, write_transaction(self._conn):
            over = self._depth + len(rows) - self.max_readings
            if over > 0:
                self._drop_oldest(over)
            self._conn.executemany("INSERT INTO readings (device, ts, vals) VALUES (?, ?, ?)",
                                   [(d, ts, json.dumps(v, separators=(",", ":"))) for d, ts, v in rows])
            if last_ok:
                self._conn.executemany(
                    "INSERT INTO meters VALUES (?, ?) ON CONFLICT (device) DO UPDATE "
                    "SET last_ok_ms = max(last_ok_ms, excluded.last_ok_ms)", [(d, ts) for d, ts, _ in rows])
            self._depth += len(rows)

    def _drop_oldest(self, n: int) -> None:
        gone = self._conn.execute("DELETE FROM readings WHERE id IN (SELECT id FROM readings ORDER BY id LIMIT ?)",
                                  (n,)).rowcount
        self._depth -= gone
        total = int(self._get("dropped") or 0) + gone
        self._set("dropped", str(total))
        log.warning("buffer full: dropped the oldest readings", extra={
            "dropped": gone, "dropped_total": total, "max_readings": self.max_readings,
            "words": f"缓存已满，丢弃最早的 {gone} 条读数 / buffer full ({self.max_readings} readings): the oldest "
                     f"{gone} dropped ({total} so far); is the broker reachable?"})

    def take(self, after_id: int, limit: int) -> list[Row]:
        """Up to ``limit`` readings with ids above ``after_id``, oldest first."""
        with self._lock:
            rows = self._conn.execute("SELECT id, device, ts, vals FROM readings WHERE id > ? ORDER BY id LIMIT ?",
                                      (after_id, limit)).fetchall()
        return [Row(i, d, ts, json.loads(v)) for i, d, ts, v in rows]

    def remove(self, ids: Iterable[int]) -> None:
        """The broker has these: they leave (ids already gone, e.g. dropped while in flight, are skipped)."""
        ids = list(ids)
        if not ids:
            return
        with self._lock, write_transaction(self._conn):
            gone = 0
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                gone += self._conn.execute(
                    f"DELETE FROM readings WHERE id IN ({','.join('?' * len(chunk))})", chunk).rowcount  # noqa: S608
            self._depth -= gone

    @property
    def depth(self) -> int:
        """Readings waiting for the broker."""
        return self._depth

    @property
    def dropped(self) -> int:
        """Readings dropped because the buffer was full, since the file was made."""
        with self._lock:
            return int(self._get("dropped") or 0)

    # --- what the meters said -------------------------------------------------------------------------------
    def last_ok(self, device: str) -> int | None:
        """The time (epoch ms) of ``device``'s last answer, or None if it never answered this gateway."""
        with self._lock:
            row = self._conn.execute("SELECT last_ok_ms FROM meters WHERE device = ?", (device,)).fetchone()
        return None if row is None else int(row[0])

    def set_last_ok(self, device: str, ts_ms: int) -> None:
        with self._lock, write_transaction(self._conn):
            self._conn.execute("INSERT INTO meters VALUES (?, ?) ON CONFLICT (device) DO UPDATE "
                               "SET last_ok_ms = max(last_ok_ms, excluded.last_ok_ms)", (device, ts_ms))

    def filled_days(self, device: str) -> set[str]:
        """The local dates (YYYY-MM-DD) whose midnight freeze of ``device`` is already buffered."""
        with self._lock:
            return {r[0] for r in self._conn.execute("SELECT day FROM filled WHERE device = ?", (device,))}

    def add_freezes(self, device: str, rows: Sequence[tuple[str, int, dict[str, float] | None]]) -> None:
        """Buffer freezes (day, freeze time ms, values) and remember their days, in one commit; a row without
        values remembers a day the meter had no freeze for."""
        if not rows:
            return
        readings = [(device, ts, json.dumps(v, separators=(",", ":"))) for _, ts, v in rows if v is not None]
        with self._lock, write_transaction(self._conn):
            over = self._depth + len(readings) - self.max_readings
            if over > 0:
                self._drop_oldest(over)
            self._conn.executemany("INSERT INTO readings (device, ts, vals) VALUES (?, ?, ?)", readings)
            self._conn.executemany("INSERT OR IGNORE INTO filled VALUES (?, ?)", [(device, d) for d, _, _ in rows])
            self._depth += len(readings)

    # --- small state ----------------------------------------------------------------------------------------
    def get(self, key: str) -> str | None:
        with self._lock:
            return self._get(key)

    def set(self, key: str, value: str) -> None:
        with self._lock, write_transaction(self._conn):
            self._set(key, value)

    def _get(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set(self, key: str, value: str) -> None:
        self._conn.execute("INSERT INTO state VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                           (key, value))

    def close(self) -> None:
        with self._lock:
            self._conn.close()
