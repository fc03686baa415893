"""Per-device presence: last seen (newest reading time received) and the online/offline status
from the retained ``status`` topic (gateways publish ``offline`` as their Last Will)."""

from __future__ import annotations

import threading
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

    def record(self, seen: dict[str, int], statuses: dict[str, tuple[bool, int]]) -> None:
        """Commit last-seen times (kept at their maximum) and status changes in one transaction."""
        if not seen and not statuses:
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
            self._conn.execute("COMMIT")

    def all(self) -> dict[str, Presence]:
        with self._lock:
            rows = self._conn.execute("SELECT device, online, status_ms, last_seen_ms FROM presence").fetchall()
        return {r[0]: Presence(r[0], None if r[1] is None else bool(r[1]), r[2], r[3]) for r in rows}

    def close(self) -> None:
        self._conn.close()
