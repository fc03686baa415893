"""Per-device presence: last seen (newest reading time received) and the online/offline status
from the retained ``status`` topic (gateways publish ``offline`` as their Last Will).

It also keeps, per device, the oldest reading time stored since a reader last took it
(``changed_from_ms``): the daily consumption roll-ups recompute from there, so late,
out-of-order and backfilled readings are counted without rescanning a year of data."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ingest.db import connect


@dataclass(frozen=True, slots=True)
class Presence:
    device: str
    online: bool | None
    status_ms: int | None
    last_seen_ms: int | None


class PresenceStore:
    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._lock = threading.Lock()
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS presence (device TEXT PRIMARY KEY, online INTEGER, "
            "status_ms INTEGER, last_seen_ms INTEGER)"
        )
        cols = {r[1] for r in self._conn.execute("PRAGMA table_info(presence)")}
        if "changed_from_ms" not in cols:  # databases made before the roll-ups
            self._conn.execute("ALTER TABLE presence ADD COLUMN changed_from_ms INTEGER")

    def record(self, seen: dict[str, int], statuses: dict[str, tuple[bool, int]],
               stored: Iterable[tuple[str, int]] = ()) -> None:
        """Commit last-seen times (kept at their maximum), status changes and the ``(device, ts)`` of
        readings just written to the store (call after the store commit) in one transaction."""
        oldest: dict[str, int] = {}
        for device, ts in stored:
            if ts < oldest.get(device, ts + 1):
                oldest[device] = ts
        if not seen and not statuses and not oldest:
            return
        with self._lock:
            self._conn.execute("BEGIN")
            self._conn.executemany(
                "INSERT INTO presence (device, last_seen_ms) VALUES (?, ?) ON CONFLICT (device) DO UPDATE "
                "SET last_seen_ms = max(coalesce(last_seen_ms, 0), excluded.last_seen_ms)",
                list(seen.items()),
            )
            self._conn.executemany(
                "INSERT INTO presence (device, online, status_ms) VALUES (?, ?, ?) ON CONFLICT (device) "
                "DO UPDATE SET online = excluded.online, status_ms = excluded.status_ms",
                [(dev, int(online), ms) for dev, (online, ms) in statuses.items()],
            )
            self._conn.executemany(
                "INSERT INTO presence (device, changed_from_ms) VALUES (?, ?) ON CONFLICT (device) DO UPDATE "
                "SET changed_from_ms = min(coalesce(changed_from_ms, excluded.changed_from_ms), "
                "excluded.changed_from_ms)", list(oldest.items()))
            self._conn.execute("COMMIT")

    def changes(self) -> dict[str, int]:
        """Devices with readings stored since :meth:`clear_changes`, and the oldest such reading time."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT device, changed_from_ms FROM presence WHERE changed_from_ms IS NOT NULL").fetchall()
        return dict(rows)

    def clear_changes(self, taken: dict[str, int]) -> None:
        """Forget changes a reader has taken; one lowered meanwhile by a new write stays."""
        with self._lock:
            self._conn.execute("BEGIN")
            self._conn.executemany(
                "UPDATE presence SET changed_from_ms = NULL WHERE device = ? AND changed_from_ms = ?",
                list(taken.items()))
            self._conn.execute("COMMIT")

    def all(self) -> dict[str, Presence]:
        with self._lock:
            rows = self._conn.execute("SELECT device, online, status_ms, last_seen_ms FROM presence").fetchall()
        return {r[0]: Presence(r[0], None if r[1] is None else bool(r[1]), r[2], r[3]) for r in rows}

    def close(self) -> None:
        self._conn.close()
