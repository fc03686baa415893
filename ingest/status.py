"""Per-device presence: last seen (newest reading time received), the online/offline status
from the retained ``status`` topic (gateways publish ``offline`` as their Last Will), and the meter's
health from the retained ``health`` topic (the gateway's last poll: ok, code, its words, last answer,
success rate, gateway and bus); the newest health by its ``ts`` is kept, so a retained copy
delivered again never overwrites a newer one.

It also keeps, per device, the oldest reading time stored since a reader last took it
(``changed_from_ms``): the daily consumption roll-ups recompute from there, so late,
out-of-order and backfilled readings are counted without rescanning a year of data."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from campus.contract import Health
from campus.db import Db, connect, write_transaction
from campus.migrations import Migration, migrate

DeviceKey = tuple[str, str]  # (site, device id)


@dataclass(frozen=True, slots=True)
class Presence:
    device: str
    online: bool | None
    status_ms: int | None
    last_seen_ms: int | None
    site: str = ""
    health: Health | None = None


def _presence(conn: Db) -> None:
    """Presence by site and device. Before sites it was keyed by device alone (table ``presence``): its rows
    belong to the one site the registry held then."""
    conn.execute("CREATE TABLE IF NOT EXISTS device_presence (site TEXT NOT NULL, device TEXT NOT NULL, "
                 "online INTEGER, status_ms INTEGER, last_seen_ms INTEGER, changed_from_ms INTEGER, "
                 "PRIMARY KEY (site, device))")
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'presence'").fetchone() is None:
        return
    has_sites = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sites'").fetchone()
    sites = [r[0] for r in conn.execute("SELECT site FROM sites")] if has_sites else []
    cols = {r[1] for r in conn.execute("PRAGMA table_info(presence)")}
    changed = "changed_from_ms" if "changed_from_ms" in cols else "NULL"
    if len(sites) == 1:
        conn.execute("INSERT OR IGNORE INTO device_presence SELECT ?, device, online, status_ms, last_seen_ms, "  # noqa: S608
                     f"{changed} FROM presence", (sites[0],))
    conn.execute("DROP TABLE presence")


MIGRATIONS = [
    Migration(1, "presence by site and device", _presence),
    Migration.sql(2, "meter health by site and device: the gateway's last poll", """
        CREATE TABLE device_health (site TEXT NOT NULL, device TEXT NOT NULL, ts_ms INTEGER NOT NULL,
            ok INTEGER NOT NULL, code TEXT, error TEXT, last_answer_ms INTEGER, success_rate REAL,
            gateway TEXT NOT NULL, bus TEXT NOT NULL, PRIMARY KEY (site, device));
    """),
]
_HEALTH_COLUMNS = "ts_ms, ok, code, error, last_answer_ms, success_rate, gateway, bus"


def _health(row: tuple[Any, ...]) -> Health:
    ts, ok, code, error, last, rate, gateway, bus = row
    return Health(int(ts), bool(ok), code, error, last, rate, str(gateway), str(bus))


class PresenceStore:
    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._lock = threading.Lock()
        migrate(self._conn, "presence", MIGRATIONS)

    def record(self, seen: dict[DeviceKey, int], statuses: dict[DeviceKey, tuple[bool, int]],
               stored: Iterable[tuple[str, str, int]] = (), health: dict[DeviceKey, Health] | None = None) -> None:
        """Commit last-seen times (kept at their maximum), status changes, meter health (the newest by its
        ``ts`` kept) and the ``(site, device, ts)`` of readings just written to the store (call after the store
        commit) in one transaction."""
        oldest: dict[DeviceKey, int] = {}
        for site, device, ts in stored:
            key = (site, device)
            if ts < oldest.get(key, ts + 1):
                oldest[key] = ts
        if not seen and not statuses and not oldest and not health:
            return
        with self._lock:
            with write_transaction(self._conn):
                self._conn.executemany(
                    "INSERT INTO device_presence (site, device, last_seen_ms) VALUES (?, ?, ?) "
                    "ON CONFLICT (site, device) DO UPDATE SET "
                    "last_seen_ms = max(coalesce(last_seen_ms, 0), excluded.last_seen_ms)",
                    [(s, d, ts) for (s, d), ts in seen.items()],
                )
                self._conn.executemany(
                    "INSERT INTO device_presence (site, device, online, status_ms) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (site, device) DO UPDATE SET online = excluded.online, status_ms = excluded.status_ms",
                    [(s, d, int(online), ms) for (s, d), (online, ms) in statuses.items()],
                )
                self._conn.executemany(
                    "INSERT INTO device_presence (site, device, changed_from_ms) VALUES (?, ?, ?) "
                    "ON CONFLICT (site, device) DO UPDATE SET changed_from_ms = "
                    "min(coalesce(changed_from_ms, excluded.changed_from_ms), excluded.changed_from_ms)",
                    [(s, d, ts) for (s, d), ts in oldest.items()])
                self._conn.executemany(
                    f"INSERT INTO device_health (site, device, {_HEALTH_COLUMNS}) "  # noqa: S608 - our own names
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (site, device) DO UPDATE SET "
                    "ts_ms = excluded.ts_ms, ok = excluded.ok, code = excluded.code, error = excluded.error, "
                    "last_answer_ms = excluded.last_answer_ms, success_rate = excluded.success_rate, "
                    "gateway = excluded.gateway, bus = excluded.bus WHERE excluded.ts_ms >= device_health.ts_ms",
                    [(s, d, *h) for (s, d), h in (health or {}).items()])

    def changes(self, site: str) -> dict[str, int]:
        """A site's devices with readings stored since :meth:`clear_changes`, and the oldest such reading time."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT device, changed_from_ms FROM device_presence WHERE site = ? AND changed_from_ms IS NOT NULL",
                (site,)).fetchall()
        return dict(rows)

    def clear_changes(self, site: str, taken: dict[str, int]) -> None:
        """Forget changes a reader has taken; one lowered meanwhile by a new write stays."""
        if not taken:
            return
        with self._lock:
            with write_transaction(self._conn):
                self._conn.executemany(
                    "UPDATE device_presence SET changed_from_ms = NULL WHERE site = ? AND device = ? "
                    "AND changed_from_ms = ?", [(site, d, ts) for d, ts in taken.items()])

    def of_site(self, site: str) -> dict[str, Presence]:
        """A site's devices by id (with their health, if their gateway has said any)."""
        return {d: p for (_, d), p in self._read(site).items()}

    def all(self) -> dict[DeviceKey, Presence]:
        return self._read(None)

    def health(self, site: str) -> dict[str, Health]:
        """A site's meters' health by device id."""
        return {d: p.health for (_, d), p in self._read(site).items() if p.health is not None}

    def _read(self, site: str | None) -> dict[DeviceKey, Presence]:
        where, args = ("WHERE site = ?", (site,)) if site is not None else ("", ())
        with self._lock:
            rows = self._conn.execute("SELECT site, device, online, status_ms, last_seen_ms FROM "  # noqa: S608
                                      f"device_presence {where}", args).fetchall()
            healths = self._conn.execute(f"SELECT site, device, {_HEALTH_COLUMNS} FROM "  # noqa: S608
                                         f"device_health {where}", args).fetchall()
        out = {(r[0], r[1]): Presence(r[1], None if r[2] is None else bool(r[2]), r[3], r[4], r[0]) for r in rows}
        for h in healths:
            key = (h[0], h[1])
            p = out.get(key) or Presence(h[1], None, None, None, h[0])
            out[key] = Presence(p.device, p.online, p.status_ms, p.last_seen_ms, p.site, _health(h[2:]))
        return out

    def close(self) -> None:
        self._conn.close()
