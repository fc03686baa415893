"""Daily roll-ups of every meter's register: what makes a month or a year of data quick to report.

One row per meter and local day that has readings. The register rules (``campus.registers``)
run over the meter's whole history in timestamp order, exactly as ``consumption()`` would;
the row keeps what the steps *ending* that day add up to, its first step (the only one that can
start on an earlier day, so bucket edges can interpolate it), the reading count, the flagged
steps and the register track's state after the day's last reading.

Kept current incrementally: ingest notes, per meter, the oldest reading time stored since the
roll-ups last looked (``PresenceStore.changes``), so a late, out-of-order or backfilled reading
makes its meter recompute from that day on, from the state saved at the end of the day before.
A meter seen for the first time, or whose multiplier or rated capacity changed, is rebuilt whole.

An electricity meter's row also keeps the day's **profile**: its use in each quarter hour of the day (the steps
ending that day spread over the quarter hours, the part of the first step before the day left to the reader, as
for bucket edges), and how much of it came from steps longer than an hour (``coarse``: its split between quarter
hours is an estimate). Time-of-use tariffs and the demand charge read it (``billing``).

A virtual meter (``Device.virtual``) has rows too, made after the real meters' from its terms' rows
(``reports.virtual_days``): each day the sum of its terms' settled days, its profile likewise, no first step, its
coverage the least of its terms'. It is recomputed when a term was, from the earliest day the term's new rows reach
back into, and whole when its expression changes (its fingerprint is the expression).
"""

from __future__ import annotations

import json
import threading
import zlib
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from campus.contract import REGISTER_FIELD, Kind
from campus.db import Db, connect, run_script, write_transaction
from campus.migrations import Migration, migrate
from campus.model import Campus, Device
from campus.registers import RegisterTrack
from campus.virtual import order
from ingest.stores import ReadingStore
from reports.buckets import day_edges, spread
from reports.dayrow import SLOT_MS as SLOT_MS  # re-exported: billing reads it here
from reports.dayrow import DayRow, slot_edges
from reports.virtual_days import virtual_rows

FAR_FUTURE_MS = 4_102_444_800_000  # 2100-01-01
BATCH_WINDOW_MS = 3 * 86_400_000     # meters whose recompute starts within this of the newest are read together
COARSE_MS = 3_600_000                # a step longer than this is spread over the slots by estimate


class ChangeLog(Protocol):
    """Where ingest notes what it stored (``PresenceStore``)."""

    def changes(self, site: str) -> dict[str, int]: ...

    def clear_changes(self, site: str, taken: dict[str, int]) -> None: ...


def pack(slots: list[float]) -> bytes:
    return zlib.compress(array("d", slots).tobytes(), 1)


def unpack(blob: bytes) -> list[float]:
    return array("d", zlib.decompress(blob)).tolist()


def _fingerprint(device: Device) -> str:
    if device.virtual is not None:  # recomputed whole when its sum or its own interval changes
        return f"virtual|{device.kind.value}|{device.interval_s}|{' '.join(device.virtual.split())}"
    return f"{device.kind.value}|{device.multiplier!r}|{device.rated_capacity!r}"


@dataclass(slots=True)
class _Day:
    first: tuple[int, int, float] | None
    last_ts: int
    readings: int = 0
    delta: float = 0.0
    flags: list[list[object]] = field(default_factory=list)
    slots: list[float] | None = None
    coarse: float = 0.0


def roll(device: Device, points: list[tuple[int, float]], track: RegisterTrack | None,
         tz: ZoneInfo) -> list[DayRow]:
    """Day rows for ``points`` (time order, after the track's last reading, if any)."""
    if not points:
        return []
    cuts = day_edges(points[0][0], points[-1][0], tz)
    rows: list[DayRow] = []
    k = 0
    day: _Day | None = None
    profiled = device.kind is Kind.ELECTRICITY
    quarters: list[int] = []

    def close(state: list[float]) -> None:
        if day is not None:
            rows.append(DayRow(device.id, cuts[k], day.delta, day.readings, day.first, day.last_ts, state, day.flags,
                               day.slots, day.coarse))

    it = iter(points)
    if track is None:  # the meter's first reading: it starts the track and counts as received
        ts, value = next(it)
        track = RegisterTrack(ts, value, multiplier=device.multiplier, rated_capacity=device.rated_capacity)
        while ts >= cuts[k + 1]:
            k += 1
        day = _Day(None, ts, readings=1)
    for ts, value in it:
        if ts >= cuts[k + 1]:
            close(track.state())  # the state after the day's last reading
            day = None
            while ts >= cuts[k + 1]:
                k += 1
        step = track.step(ts, value)
        if day is None:
            day = _Day((step.start_ms, step.end_ms, step.delta), ts)
        if profiled and step.delta:
            if day.slots is None:
                quarters = slot_edges(cuts[k], cuts[k + 1])
                day.slots = [0.0] * (len(quarters) - 1)
            spread(step.start_ms, step.end_ms, step.delta, quarters, day.slots)
            if step.end_ms - step.start_ms > COARSE_MS:
                day.coarse += step.delta * (step.end_ms - max(step.start_ms, cuts[k])) / (step.end_ms - step.start_ms)
        day.delta += step.delta
        day.readings += 1
        day.last_ts = ts
        if step.flag is not None:
            day.flags.append([step.start_ms, step.end_ms, step.flag.value, step.raw_from, step.raw_to])
    close(track.state())
    return rows


@dataclass(frozen=True, slots=True)
class _Plan:
    device: Device
    field: str
    pending: int | None
    start_day: int | None        # rows from this day on are replaced (None: all)
    from_ms: int                 # readings from here on are read
    track: RegisterTrack | None  # the register state before them (None: from the first reading)


def _rollups(conn: Db) -> None:
    """Daily use per meter, each meter's fingerprint and pending mark, exports, change marks. Roll-ups made
    before sites are derived data: they are dropped and built again."""
    cols = {r[1] for r in conn.execute("PRAGMA table_info(days)")}
    if cols and "site" not in cols:
        run_script(conn, "DROP TABLE days; DROP TABLE IF EXISTS meters; DROP TABLE IF EXISTS exports;")
    run_script(conn, """
        CREATE TABLE IF NOT EXISTS days (site TEXT NOT NULL, device TEXT NOT NULL, day_ms INTEGER NOT NULL,
          delta REAL NOT NULL, n INTEGER NOT NULL, f_start INTEGER, f_end INTEGER, f_delta REAL,
          last_ts INTEGER NOT NULL, state TEXT NOT NULL, flags TEXT, PRIMARY KEY (site, device, day_ms))
          WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS meters (site TEXT NOT NULL, device TEXT NOT NULL, fingerprint TEXT NOT NULL,
          pending_ms INTEGER, PRIMARY KEY (site, device));
        CREATE TABLE IF NOT EXISTS exports (site TEXT NOT NULL, device TEXT NOT NULL, since_ms INTEGER NOT NULL,
          PRIMARY KEY (site, device));
        CREATE TABLE IF NOT EXISTS change_marks (site TEXT PRIMARY KEY, ms INTEGER NOT NULL);
        """)


def _profiles(conn: Db) -> None:
    """Each day's quarter-hour profile; electricity meters are rolled up again to fill it (roll-ups are derived
    data)."""
    run_script(conn, """
        ALTER TABLE days ADD COLUMN slots BLOB;
        ALTER TABLE days ADD COLUMN coarse REAL NOT NULL DEFAULT 0;
        DELETE FROM meters WHERE fingerprint LIKE 'electricity|%';
        """)


MIGRATIONS = [Migration(1, "daily use per meter by site, fingerprints, exports, change marks", _rollups),
              Migration(2, "electricity meters' quarter-hour profile per day", _profiles)]


class RollupStore:
    """The roll-up file (``rollups.db`` in the data directory), every site's rows; :meth:`site` reads and
    writes one site's."""

    def __init__(self, path: Path, *, exports: bool = False) -> None:
        """``exports``: also note, in the same transaction, from which day each recomputed meter's daily use must
        be written out again (``reports.export``), so a crash between the two loses nothing."""
        self.path = path
        self.exports = exports
        self.conn = connect(path)
        # each meter's rows are one commit, and a commit lost to a power cut takes the meter back to a state it
        # was in, pending markers included: it is recomputed. So those commits need no fsync of their own (WAL,
        # NORMAL); the one that takes ingest's change notes is made FULL before ingest forgets them.
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.lock = threading.Lock()
        migrate(self.conn, "rollups", MIGRATIONS)
        self._sites: dict[str, Rollups] = {}

    def mark(self, site: str) -> int | None:
        """Up to when the store's change notes of ``site`` have been taken (``reports.changes``)."""
        with self.lock:
            row = self.conn.execute("SELECT ms FROM change_marks WHERE site = ?", (site,)).fetchone()
        return None if row is None else int(row[0])

    def set_mark(self, site: str, ms: int) -> None:
        with self.lock:
            self.conn.execute("PRAGMA synchronous=FULL")  # after the meters' pending marks, which it follows
            self.conn.execute("INSERT INTO change_marks VALUES (?, ?) ON CONFLICT(site) DO UPDATE SET ms = excluded.ms",
                              (site, ms))
            self.conn.execute("PRAGMA synchronous=NORMAL")

    def site(self, site: str) -> Rollups:
        view = self._sites.get(site)
        if view is None:
            view = self._sites[site] = Rollups(self, site)
        return view

    def close(self) -> None:
        self.conn.close()


class Rollups:
    """One site's roll-ups."""

    def __init__(self, file: RollupStore, site: str) -> None:
        self.file, self.site, self.exports = file, site, file.exports
        self._conn, self._lock = file.conn, file.lock

    # -- keeping current -----------------------------------------------------------------
    def refresh(self, store: ReadingStore, campus: Campus, changes: ChangeLog | None = None, *,
                progress: Callable[[Iterable[Device]], Iterable[Device]] | None = None) -> int:
        """Bring every meter's rows up to date; returns how many meters were recomputed. One refresh at a
        time (the caller's lock); readers go on meanwhile: the connection is held per transaction only."""
        if changes is not None:
            taken = changes.changes(self.site)
            if taken:  # first durably here, then cleared there: a crash in between only repeats work
                with self._lock:
                    self._conn.execute("PRAGMA synchronous=FULL")  # durable (with all before it) before ingest forgets
                    with write_transaction(self._conn):
                        self._conn.executemany(
                            "UPDATE meters SET pending_ms = min(coalesce(pending_ms, ?), ?) "
                            "WHERE site = ? AND device = ?",
                            [(ts, ts, self.site, dev) for dev, ts in taken.items()])
                    self._conn.execute("PRAGMA synchronous=NORMAL")
            changes.clear_changes(self.site, taken)  # even none: the store's notes were read up to now
        with self._lock:
            rows = self._conn.execute("SELECT device, fingerprint, pending_ms FROM meters WHERE site = ?",
                                      (self.site,)).fetchall()
        known = {r[0]: (r[1], r[2]) for r in rows}
        tz = ZoneInfo(campus.site.timezone)
        todo = [d for d in campus.devices if REGISTER_FIELD[d.kind] is not None and d.virtual is None
                and (d.id not in known or known[d.id][0] != _fingerprint(d) or known[d.id][1] is not None)]
        plans = {}
        for d in todo:
            fp, pending = known.get(d.id, (None, None))
            plans[d.id] = self._plan(d, pending if fp == _fingerprint(d) else None, tz)
        step = max(1, store.series_batch)  # meters read together: a refresh holds one step's readings at most
        fetched: dict[str, list[tuple[int, float]]] = {}
        for i, device in enumerate(progress(todo) if progress else todo):
            if i % step == 0:
                fetched = {}  # the last step's readings go before the next step's are read
                fetched = self._fetch_recent(store, [plans[d.id] for d in todo[i:i + step]])
            plan = plans[device.id]
            points = fetched.pop(device.id, None)  # and each meter's as soon as it is rolled up
            if points is None:
                points = store.series(self.site, device.id, device.kind, plan.field, plan.from_ms, FAR_FUTURE_MS)
            self._write(plan, roll(device, points, plan.track, tz))
        return len(todo) + self._refresh_virtual(campus, known, {p.device.id: p.start_day for p in plans.values()},
                                                 tz)

    def _refresh_virtual(self, campus: Campus, known: dict[str, tuple[str, int | None]],
                         redone: dict[str, int | None], tz: ZoneInfo) -> int:
        """Virtual meters (``reports.virtual_days``), each after the virtual meters it names: recomputed whole when
        new or its expression changed, else from the earliest day a recomputed term's new rows reach back into.
        ``redone``: meter → the day its rows were replaced from (None: all). Returns how many were recomputed."""
        parsed = campus.virtual_terms()
        if not parsed:
            return 0
        meters = {d.id: d for d in campus.devices}
        count = 0
        for vid in order(parsed):
            device, terms = meters[vid], parsed[vid]
            fp = _fingerprint(device)
            start: int | None
            if known.get(vid, (None,))[0] != fp:
                start = None
            else:
                changed = [t for t in terms if t in redone]
                if not changed:
                    continue
                reach = [self._reach_back(t, redone[t], tz) for t in changed]
                start = None if any(r is None for r in reach) else min(r for r in reach if r is not None)
            firsts = [f for t in terms if (f := self.first_day(t)) is not None]
            lasts = [f for t in terms if (f := self._last_day(t)) is not None]
            lo = min(firsts) if start is None and firsts else start
            if lo is None or not lasts:
                rows = []
            else:
                rows = virtual_rows(self, device, terms, meters, day_edges(lo, max(max(lasts), lo), tz))
            self._write(_Plan(device, "", None, start, 0, None), rows)
            redone[vid] = start
            count += 1
        return count

    def _reach_back(self, device: str, start_day: int | None, tz: ZoneInfo) -> int | None:
        """The earliest local day the rows of ``device`` from ``start_day`` on add use to (None: all of them)."""
        if start_day is None:
            return None
        with self._lock:
            row = self._conn.execute("SELECT day_ms, f_start FROM days WHERE site = ? AND device = ? AND day_ms >= ? "
                                     "ORDER BY day_ms LIMIT 1", (self.site, device, start_day)).fetchone()
        if row is None:
            return day_edges(start_day, start_day, tz)[0]
        begin = min(int(row[0]), start_day, int(row[1]) if row[1] is not None else int(row[0]))
        return day_edges(begin, begin, tz)[0]

    def _last_day(self, device: str) -> int | None:
        with self._lock:
            row = self._conn.execute("SELECT max(day_ms) FROM days WHERE site = ? AND device = ?",
                                     (self.site, device)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def _plan(self, device: Device, pending: int | None, tz: ZoneInfo) -> _Plan:
        """Where a meter's recompute starts: after the last day row before ``pending`` (None: from scratch)."""
        field_ = REGISTER_FIELD[device.kind]
        assert field_ is not None  # noqa: S101  (meters only)
        prev = None
        if pending is not None:
            day = day_edges(pending, pending, tz)[0]
            with self._lock:
                prev = self._conn.execute("SELECT day_ms, last_ts, state FROM days WHERE site = ? AND device = ? "
                                          "AND day_ms < ? ORDER BY day_ms DESC LIMIT 1",
                                          (self.site, device.id, day)).fetchone()
        if prev is None:
            return _Plan(device, field_, pending, None, 0, None)
        track = RegisterTrack.restore(json.loads(prev[2]), multiplier=device.multiplier,
                                      rated_capacity=device.rated_capacity)
        return _Plan(device, field_, pending, prev[0] + 1, prev[1] + 1, track)

    def _fetch_recent(self, store: ReadingStore, plans: list[_Plan]) -> dict[str, list[tuple[int, float]]]:
        """The usual case, every meter continuing from its last day: one query per kind, not one per meter
        (for InfluxDB the round trips were most of a refresh). Meters far behind are read one by one."""
        recent = [p for p in plans if p.track is not None]
        if len(recent) < 2:
            return {}
        newest = max(p.from_ms for p in recent)
        fetched: dict[str, list[tuple[int, float]]] = {}
        by_kind: dict[tuple[Kind, str], dict[str, int]] = {}
        for p in recent:
            if p.from_ms >= newest - BATCH_WINDOW_MS:
                by_kind.setdefault((p.device.kind, p.field), {})[p.device.id] = p.from_ms
        for (kind, field_), starts in by_kind.items():
            fetched.update(store.series_many(self.site, kind, field_, starts, FAR_FUTURE_MS))
        return fetched

    def _write(self, plan: _Plan, rows: list[DayRow]) -> None:
        device = plan.device
        with self._lock:
            with write_transaction(self._conn):
                self._conn.execute("DELETE FROM days WHERE site = ? AND device = ? AND day_ms >= ?",
                                   (self.site, device.id, plan.start_day or 0))
                self._conn.executemany(
                    "INSERT INTO days VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(self.site, r.device, r.day_ms, r.delta, r.readings, *(r.first or (None, None, None)), r.last_ts,
                      json.dumps(r.state), json.dumps(r.flags) if r.flags else None,
                      None if r.slots is None else pack(r.slots), r.coarse) for r in rows])
                self._conn.execute(
                    "INSERT INTO meters (site, device, fingerprint, pending_ms) VALUES (?, ?, ?, NULL) "
                    "ON CONFLICT (site, device) DO UPDATE SET fingerprint = excluded.fingerprint, "
                    "pending_ms = CASE WHEN pending_ms IS ? THEN NULL ELSE pending_ms END",
                    (self.site, device.id, _fingerprint(device), plan.pending))
                if self.exports:
                    since = plan.start_day or 0
                    self._conn.execute("INSERT INTO exports VALUES (?, ?, ?) ON CONFLICT (site, device) DO UPDATE "
                                       "SET since_ms = min(since_ms, excluded.since_ms)", (self.site, device.id, since))

    # -- exports -------------------------------------------------------------------------
    def pending_exports(self) -> dict[str, int]:
        """Meter → the first day (ms; 0: all) whose daily use must be written out again."""
        with self._lock:
            return dict(self._conn.execute("SELECT device, since_ms FROM exports WHERE site = ?",
                                           (self.site,)).fetchall())

    def exported(self, taken: dict[str, int]) -> None:
        """Clear what was written out, unless a newer refresh moved it earlier meanwhile."""
        with self._lock:
            self._conn.executemany("DELETE FROM exports WHERE site = ? AND device = ? AND since_ms >= ?",
                                   [(self.site, d, ts) for d, ts in taken.items()])

    def first_day(self, device: str) -> int | None:
        with self._lock:
            row = self._conn.execute("SELECT min(day_ms) FROM days WHERE site = ? AND device = ?",
                                     (self.site, device)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    # -- reading ---------------------------------------------------------------------------
    def rows(self, device: str, start_ms: int, end_ms: int) -> tuple[list[DayRow], DayRow | None]:
        """Rows of days in [start, end), and the first row after (its first step may reach back into the range)."""
        with self._lock:
            inside = self._conn.execute(
                f"SELECT {_COLS} FROM days WHERE site = ? AND device = ? AND day_ms >= ? AND day_ms < ? "  # noqa: S608
                "ORDER BY day_ms", (self.site, device, start_ms, end_ms)).fetchall()
            after = self._conn.execute(
                f"SELECT {_COLS} FROM days WHERE site = ? AND device = ? AND day_ms >= ? "  # noqa: S608
                "ORDER BY day_ms LIMIT 1", (self.site, device, end_ms)).fetchone()
        return [_row(r) for r in inside], (_row(after) if after else None)

    def profile(self, device: str, start_ms: int, end_ms: int) -> tuple[list[DayRow], DayRow | None]:
        """Like :meth:`rows`, with each day's quarter-hour profile (electricity meters; None for a day whose
        steps added nothing)."""
        with self._lock:
            inside = self._conn.execute(
                f"SELECT {_COLS}, slots, coarse FROM days WHERE site = ? AND device = ? AND day_ms >= ? "  # noqa: S608
                "AND day_ms < ? ORDER BY day_ms", (self.site, device, start_ms, end_ms)).fetchall()
            after = self._conn.execute(
                f"SELECT {_COLS}, slots, coarse FROM days WHERE site = ? AND device = ? AND day_ms >= ? "  # noqa: S608
                "ORDER BY day_ms LIMIT 1", (self.site, device, end_ms)).fetchone()

        def row(r: tuple[object, ...]) -> DayRow:
            base = _row(r)
            return DayRow(base.device, base.day_ms, base.delta, base.readings, base.first, base.last_ts, [],
                          base.flags, None if r[9] is None else unpack(r[9]),  # type: ignore[arg-type]
                          float(r[10]))  # type: ignore[arg-type]
        return [row(r) for r in inside], (row(after) if after else None)

    def state_before(self, device: str, at_ms: int) -> tuple[int, list[float]] | None:
        """The last row before the day of ``at_ms``: its last reading time and the track state then."""
        with self._lock:
            row = self._conn.execute("SELECT last_ts, state FROM days WHERE site = ? AND device = ? AND last_ts < ? "
                                     "ORDER BY day_ms DESC LIMIT 1", (self.site, device, at_ms)).fetchone()
        return (int(row[0]), json.loads(row[1])) if row else None

_COLS = "device, day_ms, delta, n, f_start, f_end, f_delta, last_ts, flags"  # not the state: rows() does not need it


def _row(r: tuple[object, ...]) -> DayRow:
    first = None if r[4] is None else (int(r[4]), int(r[5]), float(r[6]))  # type: ignore[call-overload,arg-type]
    return DayRow(str(r[0]), int(r[1]), float(r[2]), int(r[3]), first, int(r[7]),  # type: ignore[call-overload,arg-type]
                  [], json.loads(r[8]) if r[8] else [])  # type: ignore[arg-type]
