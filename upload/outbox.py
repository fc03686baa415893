"""The upload outbox (``DATA_DIR/upload.db``): every packet is written here before it is sent, and marked
acknowledged only when the centre's ack for it arrives.

Rules, written plainly:

1. A period's packets (one per building) are written in one transaction together with the site's cursor (the
   next period to make), so a restart neither skips a period nor makes one twice; (site, building, period) is
   unique.
2. ``pending()`` is the unacknowledged packets oldest period first, then building: after an outage they go out in
   that order (断点续传). A packet sent whose ack never came (a lost link, a crash between send and ack) is sent
   again: at least once. The centre keeps one copy per building and period (it dedups; the emulator does).
3. Acknowledged packets are kept ``keep_days`` for the record, then deleted.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from campus.db import connect, write_transaction
from campus.migrations import Migration, migrate
from upload.packet import Packet

MIGRATIONS = [Migration.sql(1, "upload outbox: one packet per site, building and period; the next period per site", """
    CREATE TABLE IF NOT EXISTS upload_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, site TEXT NOT NULL,
      building TEXT NOT NULL, period_ms INTEGER NOT NULL, body TEXT NOT NULL, created_ms INTEGER NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0, sent_ms INTEGER, acked_ms INTEGER, UNIQUE (site, building, period_ms));
    CREATE INDEX IF NOT EXISTS upload_outbox_pending ON upload_outbox (acked_ms, period_ms, id);
    CREATE TABLE IF NOT EXISTS upload_cursor (site TEXT PRIMARY KEY, next_ms INTEGER NOT NULL);
    """)]


@dataclass(frozen=True, slots=True)
class Queued:
    id: int          # the packet's number: <sequence> in its data message
    packet: Packet
    attempts: int


class Outbox:
    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._lock = threading.Lock()
        with self._lock:
            migrate(self._conn, "upload_outbox", MIGRATIONS)

    def cursor(self, site: str) -> int | None:
        with self._lock:
            row = self._conn.execute("SELECT next_ms FROM upload_cursor WHERE site = ?", (site,)).fetchone()
        return None if row is None else int(row[0])

    def add(self, site: str, packets: list[Packet], next_ms: int, now_ms: int) -> None:
        """Store ``packets`` and move the site's cursor to ``next_ms``, in one transaction."""
        with self._lock, write_transaction(self._conn):
            self._conn.executemany(
                "INSERT OR IGNORE INTO upload_outbox (site, building, period_ms, body, created_ms) VALUES (?,?,?,?,?)",
                [(p.site, p.building, p.start_ms, p.to_json(), now_ms) for p in packets])
            self._conn.execute("INSERT INTO upload_cursor (site, next_ms) VALUES (?, ?) ON CONFLICT (site) "
                               "DO UPDATE SET next_ms = excluded.next_ms", (site, next_ms))

    def pending(self, limit: int = 1000) -> list[Queued]:
        with self._lock:
            rows = self._conn.execute("SELECT id, body, attempts FROM upload_outbox WHERE acked_ms IS NULL "
                                      "ORDER BY period_ms, site, id LIMIT ?", (limit,)).fetchall()
        return [Queued(int(r[0]), Packet.from_json(r[1]), int(r[2])) for r in rows]

    def sending(self, packet_id: int, now_ms: int) -> None:
        with self._lock, write_transaction(self._conn):
            self._conn.execute("UPDATE upload_outbox SET attempts = attempts + 1, sent_ms = ? WHERE id = ?",
                               (now_ms, packet_id))

    def acked(self, packet_id: int, now_ms: int) -> None:
        with self._lock, write_transaction(self._conn):
            self._conn.execute("UPDATE upload_outbox SET acked_ms = ? WHERE id = ? AND acked_ms IS NULL",
                               (now_ms, packet_id))

    def prune(self, before_ms: int) -> int:
        with self._lock, write_transaction(self._conn):
            return self._conn.execute("DELETE FROM upload_outbox WHERE acked_ms IS NOT NULL AND period_ms < ?",
                                      (before_ms,)).rowcount

    def counts(self) -> tuple[int, int]:
        """(acknowledged, waiting)."""
        with self._lock:
            row = self._conn.execute("SELECT COUNT(acked_ms), COUNT(*) - COUNT(acked_ms) FROM upload_outbox"
                                     ).fetchone()
        return int(row[0]), int(row[1])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
