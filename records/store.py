"""``records.db`` in the data directory: check rounds, hazards and water tests, as people recorded them.

Rows are only added or moved forward, never rewritten: a round keeps who recorded it and when (the token and the
server's clock, never typed), a hazard keeps every step of its history, a water test keeps what the laboratory
said and which alerts it raised.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from campus.db import connect, write_transaction
from campus.errors import NotFound
from campus.migrations import Migration, migrate
from records.context import RecordRefused

SCHEMA_1 = """
CREATE TABLE IF NOT EXISTS rounds (id INTEGER PRIMARY KEY, site TEXT NOT NULL, template TEXT NOT NULL,
  zone TEXT NOT NULL, building TEXT, recorded_by TEXT NOT NULL, recorded_ms INTEGER NOT NULL, day TEXT NOT NULL,
  items TEXT NOT NULL, note TEXT NOT NULL, photos TEXT NOT NULL, snapshot TEXT);
CREATE INDEX IF NOT EXISTS rounds_site ON rounds (site, template, day);
CREATE TABLE IF NOT EXISTS hazards (id INTEGER PRIMARY KEY, site TEXT NOT NULL, title TEXT NOT NULL,
  zone TEXT, building TEXT, device TEXT, round_id INTEGER, status TEXT NOT NULL, reported_by TEXT NOT NULL,
  reported_ms INTEGER NOT NULL, assigned_to TEXT, assigned_ms INTEGER, fixed_by TEXT, fixed_ms INTEGER,
  due TEXT, note TEXT NOT NULL, photos TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS hazards_site ON hazards (site, status);
CREATE TABLE IF NOT EXISTS hazard_steps (hazard_id INTEGER NOT NULL, ts_ms INTEGER NOT NULL, by TEXT NOT NULL,
  status TEXT NOT NULL, note TEXT NOT NULL, photos TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS water_tests (id INTEGER PRIMARY KEY, site TEXT NOT NULL, point TEXT NOT NULL,
  kind TEXT NOT NULL, lab TEXT, taken_ms INTEGER NOT NULL, recorded_by TEXT NOT NULL, recorded_ms INTEGER NOT NULL,
  results TEXT NOT NULL, attachment TEXT, note TEXT NOT NULL, alerts TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS water_tests_point ON water_tests (site, point, kind, taken_ms);
"""
SCHEMA_2 = """
CREATE TABLE IF NOT EXISTS uploads (sha256 TEXT NOT NULL, site TEXT NOT NULL, uploaded_ms INTEGER NOT NULL,
  PRIMARY KEY (sha256, site));
CREATE TABLE IF NOT EXISTS file_uses (sha256 TEXT NOT NULL, site TEXT NOT NULL, record TEXT NOT NULL,
  record_id INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS file_uses_sha ON file_uses (sha256);
INSERT INTO file_uses SELECT j.value, r.site, 'round', r.id FROM rounds r, json_each(r.photos) j;
INSERT INTO file_uses SELECT j.value, h.site, 'hazard', h.id FROM hazards h, json_each(h.photos) j;
INSERT INTO file_uses SELECT j.value, h.site, 'hazard', h.id FROM hazard_steps s JOIN hazards h ON h.id = s.hazard_id,
  json_each(s.photos) j;
INSERT INTO file_uses SELECT attachment, site, 'test', id FROM water_tests WHERE attachment IS NOT NULL;
INSERT OR IGNORE INTO uploads SELECT u.sha256, u.site, coalesce(r.recorded_ms, h.reported_ms, t.recorded_ms, 0)
  FROM file_uses u LEFT JOIN rounds r ON u.record = 'round' AND r.id = u.record_id
  LEFT JOIN hazards h ON u.record = 'hazard' AND h.id = u.record_id
  LEFT JOIN water_tests t ON u.record = 'test' AND t.id = u.record_id;
"""
MIGRATIONS = [Migration.sql(1, "rounds, hazards and their steps, water tests", SCHEMA_1),
              Migration.sql(2, "kept files: the site each was uploaded for, and the records that use each", SCHEMA_2)]


class NotUploaded(RecordRefused):
    """A record names a file not uploaded for its site (or swept since): 422 with what to do."""


@dataclass(frozen=True, slots=True)
class RoundRow:
    id: int
    site: str
    template: str
    zone: str
    building: str | None
    recorded_by: str
    recorded_ms: int
    day: str
    items: list[dict[str, Any]]
    note: str
    photos: list[str]
    snapshot: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class HazardStep:
    ts_ms: int
    by: str
    status: str
    note: str
    photos: list[str]


@dataclass(frozen=True, slots=True)
class HazardRow:
    id: int
    site: str
    title: str
    zone: str | None
    building: str | None
    device: str | None
    round_id: int | None
    status: str
    reported_by: str
    reported_ms: int
    assigned_to: str | None
    assigned_ms: int | None
    fixed_by: str | None
    fixed_ms: int | None
    due: str | None
    note: str
    photos: list[str]


@dataclass(frozen=True, slots=True)
class WaterTestRow:
    id: int
    site: str
    point: str
    kind: str
    lab: str | None
    taken_ms: int
    recorded_by: str
    recorded_ms: int
    results: list[dict[str, Any]]
    attachment: str | None
    note: str
    alerts: list[int]


def _round(r: tuple[Any, ...]) -> RoundRow:
    return RoundRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8]), r[9], json.loads(r[10]),
                    json.loads(r[11]) if r[11] else None)


def _hazard(r: tuple[Any, ...]) -> HazardRow:
    return HazardRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
                     r[14], r[15], json.loads(r[16]))


def _test(r: tuple[Any, ...]) -> WaterTestRow:
    return WaterTestRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8]), r[9], r[10],
                        json.loads(r[11]))


class RecordStore:
    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._lock = threading.RLock()
        migrate(self._conn, "records", MIGRATIONS)

    @contextmanager
    def _tx(self) -> Iterator[None]:
        with self._lock, write_transaction(self._conn):
            yield

    tx = _tx  # for what must happen under the same write lock as the records (keeping and sweeping files)

    # -- kept files --------------------------------------------------------------------------
    def mark_uploaded(self, site: str, sha: str, now_ms: int) -> None:
        """``sha`` was (again) uploaded for ``site`` now; call inside :meth:`tx` with the file written."""
        self._conn.execute("INSERT INTO uploads VALUES (?, ?, ?) ON CONFLICT (sha256, site) DO UPDATE SET "
                           "uploaded_ms = max(uploaded_ms, excluded.uploaded_ms)", (sha, site, now_ms))

    def _use(self, site: str, record: str, record_id: int, files: list[str]) -> None:
        """Inside a write transaction: every file the record names must be ``site``'s; note that it uses them."""
        for sha in dict.fromkeys(files):
            if self._conn.execute("SELECT 1 FROM uploads WHERE sha256 = ? AND site = ?", (sha, site)).fetchone() \
                    is None:
                raise NotUploaded(f"file {sha[:16]}… was not uploaded for site {site}: POST the photo to "
                                  f"/api/v1/photos?site={site} first (a file is kept for the site it was uploaded "
                                  "for), or send it with the record as multipart/form-data")
            self._conn.execute("INSERT INTO file_uses VALUES (?, ?, ?, ?)", (sha, site, record, record_id))

    def use(self, site: str, record: str, record_id: int, files: list[str]) -> None:
        """Inside :meth:`tx`: a record kept in another store (``bill``: a supplier's bill in billing.db) names
        ``files``; they must be ``site``'s, and the file sweep keeps them from now on."""
        self._use(site, record, record_id, files)

    def use_files(self, site: str, record: str, record_id: int, files: list[str]) -> None:
        """Inside :meth:`tx`: a record kept elsewhere (``fuel``: a canteen's fuel delivery in billing.db) names
        ``files``, which must be ``site``'s; noted as used, so the uploads sweep keeps them."""
        self._use(site, record, record_id, files)

    def unuse(self, site: str, record: str, record_id: int, files: list[str]) -> None:
        """Inside :meth:`tx`: a record kept elsewhere no longer names ``files`` (its write was refused after all)."""
        for sha in dict.fromkeys(files):
            self._conn.execute("DELETE FROM file_uses WHERE sha256 = ? AND site = ? AND record = ? AND record_id = ?",
                               (sha, site, record, record_id))

    def unowned(self, site: str, files: list[str]) -> list[str]:
        """The files of ``files`` not uploaded for ``site``."""
        return [sha for sha in dict.fromkeys(files)
                if not self._all("SELECT 1 FROM uploads WHERE sha256 = ? AND site = ?", (sha, site))]

    def file_uses(self, sha: str) -> list[tuple[str, str | None, str | None, str | None]]:
        """(site, zone, building, sampling point) of every record that uses ``sha``."""
        return [(r[0], r[1], r[2], r[3]) for r in self._all(
            "SELECT r.site, r.zone, r.building, NULL FROM file_uses u JOIN rounds r ON r.id = u.record_id "
            "WHERE u.sha256 = ? AND u.record = 'round' UNION ALL "
            "SELECT h.site, h.zone, h.building, NULL FROM file_uses u JOIN hazards h ON h.id = u.record_id "
            "WHERE u.sha256 = ? AND u.record = 'hazard' UNION ALL "
            "SELECT t.site, NULL, NULL, t.point FROM file_uses u JOIN water_tests t ON t.id = u.record_id "
            "WHERE u.sha256 = ? AND u.record = 'test' UNION ALL "
            "SELECT u.site, NULL, NULL, NULL FROM file_uses u WHERE u.sha256 = ? AND u.record = 'bill'",
            (sha, sha, sha, sha))]

    def uses_of(self, sha: str, record: str) -> list[tuple[str, int]]:
        """(site, record id) of every record of kind ``record`` kept elsewhere (``plan-step``: an alert's plan step,
        in alerts.db) that uses ``sha``."""
        return [(str(r[0]), int(r[1])) for r in self._all(
            "SELECT site, record_id FROM file_uses WHERE sha256 = ? AND record = ?", (sha, record))]

    def unused_uploads(self, before_ms: int) -> tuple[set[str], set[str]]:
        """Inside :meth:`tx`: forget uploads before ``before_ms`` that no record uses. (The files to keep: used by
        a record or uploaded since; the files to sweep: uploaded only before and used by none.) A file in neither
        set predates this bookkeeping (an older data directory): its age on disk decides."""
        known = {r[0] for r in self._conn.execute("SELECT sha256 FROM uploads")}
        self._conn.execute("DELETE FROM uploads WHERE uploaded_ms < ? AND sha256 NOT IN "
                           "(SELECT sha256 FROM file_uses)", (before_ms,))
        keep = {r[0] for r in self._conn.execute("SELECT DISTINCT sha256 FROM file_uses")}
        keep |= {r[0] for r in self._conn.execute("SELECT sha256 FROM uploads")}
        return keep, known - keep

    def _all(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    # -- rounds ----------------------------------------------------------------------------
    def add_round(self, *, site: str, template: str, zone: str, building: str | None, by: str, now_ms: int,
                  day: str, items: list[dict[str, Any]], note: str, photos: list[str],
                  snapshot: dict[str, Any] | None = None) -> RoundRow:
        with self._tx():
            cur = self._conn.execute(
                "INSERT INTO rounds (site, template, zone, building, recorded_by, recorded_ms, day, items, note, "
                "photos, snapshot) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (site, template, zone, building, by, now_ms, day, json.dumps(items, ensure_ascii=False), note,
                 json.dumps(photos), json.dumps(snapshot, ensure_ascii=False) if snapshot is not None else None))
            round_id = int(cur.lastrowid or 0)
            self._use(site, "round", round_id, [*photos, *(p for i in items for p in i.get("photos", ()))])
        return self.round(round_id)

    def round(self, round_id: int) -> RoundRow:
        rows = self._all("SELECT * FROM rounds WHERE id = ?", (round_id,))
        if not rows:
            raise NotFound(f"no check round #{round_id}")
        return _round(rows[0])

    def rounds(self, site: str, *, since_ms: int = 0, template: str | None = None, zone: str | None = None,
               building: str | None = None) -> list[RoundRow]:
        """Every round of ``site`` recorded since ``since_ms`` (of that template, zone, building), newest first."""
        rows = self._all("SELECT * FROM rounds WHERE site = ? AND recorded_ms >= ? AND (? IS NULL OR template = ?) "
                         "AND (? IS NULL OR zone = ?) AND (? IS NULL OR building = ?) "
                         "ORDER BY recorded_ms DESC, id DESC",
                         (site, since_ms, template, template, zone, zone, building, building))
        return [_round(r) for r in rows]

    def round_days(self, site: str, since_day: str) -> set[tuple[str, str, str]]:
        """(template, place key, day) of every round recorded since ``since_day``."""
        rows = self._all("SELECT template, coalesce(building, zone), day FROM rounds WHERE site = ? AND day >= ?",
                         (site, since_day))
        return {(r[0], r[1], r[2]) for r in rows}

    # -- hazards ---------------------------------------------------------------------------
    def add_hazard(self, *, site: str, title: str, zone: str | None, building: str | None, device: str | None,
                   round_id: int | None, by: str, now_ms: int, due: str | None, note: str,
                   photos: list[str]) -> HazardRow:
        with self._tx():
            cur = self._conn.execute(
                "INSERT INTO hazards (site, title, zone, building, device, round_id, status, reported_by, "
                "reported_ms, due, note, photos) VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?)",
                (site, title, zone, building, device, round_id, by, now_ms, due, note, json.dumps(photos)))
            hazard_id = int(cur.lastrowid or 0)
            self._conn.execute("INSERT INTO hazard_steps VALUES (?, ?, ?, 'open', ?, ?)",
                               (hazard_id, now_ms, by, note, json.dumps(photos)))
            self._use(site, "hazard", hazard_id, photos)
        return self.hazard(hazard_id)

    def move_hazard(self, hazard_id: int, status: str, by: str, now_ms: int, note: str, photos: list[str],
                    assigned_to: str | None, due: str | None, moves_from: frozenset[str]) -> HazardRow | str:
        """Move a hazard to ``status`` if it is (still) in one of ``moves_from``, read inside the write transaction
        so two moves at once cannot both pass a check made before either wrote; else its status now."""
        with self._tx():
            now = self._conn.execute("SELECT status FROM hazards WHERE id = ?", (hazard_id,)).fetchone()
            if now is None:
                raise NotFound(f"no hazard #{hazard_id}")
            if now[0] not in moves_from:
                return str(now[0])
            cols: dict[str, Any] = {"status": status}
            if status == "assigned":
                cols.update(assigned_to=assigned_to, assigned_ms=now_ms)
            if status == "fixed":
                cols.update(fixed_by=by, fixed_ms=now_ms)
            if due is not None:
                cols["due"] = due
            sets = ", ".join(f"{k} = ?" for k in cols)
            self._conn.execute(f"UPDATE hazards SET {sets} WHERE id = ?", (*cols.values(), hazard_id))  # noqa: S608
            self._conn.execute("INSERT INTO hazard_steps VALUES (?, ?, ?, ?, ?, ?)",
                               (hazard_id, now_ms, by, status, note, json.dumps(photos)))
            site = self._conn.execute("SELECT site FROM hazards WHERE id = ?", (hazard_id,)).fetchone()[0]
            self._use(site, "hazard", hazard_id, photos)
        return self.hazard(hazard_id)

    def hazard(self, hazard_id: int) -> HazardRow:
        rows = self._all("SELECT * FROM hazards WHERE id = ?", (hazard_id,))
        if not rows:
            raise NotFound(f"no hazard #{hazard_id}")
        return _hazard(rows[0])

    def hazards(self, site: str, *, status: str | None = None, since_ms: int = 0) -> list[HazardRow]:
        rows = self._all("SELECT * FROM hazards WHERE site = ? AND (? IS NULL OR status = ?) AND reported_ms >= ? "
                         "ORDER BY reported_ms, id", (site, status, status, since_ms))
        return [_hazard(r) for r in rows]

    def steps(self, hazard_id: int) -> list[HazardStep]:
        rows = self._all("SELECT ts_ms, by, status, note, photos FROM hazard_steps WHERE hazard_id = ? "
                         "ORDER BY ts_ms, rowid", (hazard_id,))
        return [HazardStep(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    # -- water tests -----------------------------------------------------------------------
    def add_test(self, *, site: str, point: str, kind: str, lab: str | None, taken_ms: int, by: str, now_ms: int,
                 results: list[dict[str, Any]], attachment: str | None, note: str) -> WaterTestRow:
        with self._tx():
            cur = self._conn.execute(
                "INSERT INTO water_tests (site, point, kind, lab, taken_ms, recorded_by, recorded_ms, results, "
                "attachment, note, alerts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]')",
                (site, point, kind, lab, taken_ms, by, now_ms, json.dumps(results, ensure_ascii=False), attachment,
                 note))
            test_id = int(cur.lastrowid or 0)
            self._use(site, "test", test_id, [attachment] if attachment else [])
        return self.test(test_id)

    def set_test_alerts(self, test_id: int, alerts: list[int]) -> WaterTestRow:
        with self._tx():
            self._conn.execute("UPDATE water_tests SET alerts = ? WHERE id = ?", (json.dumps(alerts), test_id))
        return self.test(test_id)

    def test(self, test_id: int) -> WaterTestRow:
        rows = self._all("SELECT * FROM water_tests WHERE id = ?", (test_id,))
        if not rows:
            raise NotFound(f"no water test #{test_id}")
        return _test(rows[0])

    def tests(self, site: str, *, point: str | None = None, kind: str | None = None, since_ms: int = 0,
              limit: int = 1000) -> list[WaterTestRow]:
        rows = self._all("SELECT * FROM water_tests WHERE site = ? AND (? IS NULL OR point = ?) AND "
                         "(? IS NULL OR kind = ?) AND taken_ms >= ? ORDER BY taken_ms DESC, id DESC LIMIT ?",
                         (site, point, point, kind, kind, since_ms, limit))
        return [_test(r) for r in rows]

    def last_tests(self, site: str) -> dict[tuple[str, str], int]:
        """(point, kind) → when the newest test of that kind was taken."""
        rows = self._all("SELECT point, kind, max(taken_ms) FROM water_tests WHERE site = ? GROUP BY point, kind",
                         (site,))
        return {(r[0], r[1]): int(r[2]) for r in rows}

    def close(self) -> None:
        self._conn.close()
