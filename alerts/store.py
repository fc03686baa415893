"""Alerts, their events, the engine's state and the notification outbox, in one SQLite file
(``alerts.db`` in the data directory). Everything one batch of readings changes is committed in
one transaction before the batch is acknowledged to the broker."""

from __future__ import annotations

import json
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any, Protocol

import orjson

from alerts.engine import EngineState, Key
from campus.db import Db, Place, Rows, is_sqlite, run_script, under_prefixes, write_transaction
from campus.errors import NotFound
from campus.migrations import Migration, open_store

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY, rule TEXT NOT NULL, subject TEXT NOT NULL, device TEXT, building TEXT, zone TEXT,
  department TEXT, category TEXT NOT NULL, severity TEXT NOT NULL, status TEXT NOT NULL,
  value REAL, limit_text TEXT, unit TEXT, detail TEXT, started_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL,
  ack_by TEXT, ack_ms INTEGER, ack_comment TEXT, resolved_ms INTEGER, resolved_by TEXT, resolve_reason TEXT,
  route TEXT, level INTEGER NOT NULL DEFAULT 0, next_escalation_ms INTEGER);
CREATE INDEX IF NOT EXISTS alerts_started ON alerts (started_ms);
CREATE INDEX IF NOT EXISTS alerts_escalation ON alerts (next_escalation_ms) WHERE next_escalation_ms IS NOT NULL;
CREATE TABLE IF NOT EXISTS alert_events (
  id INTEGER PRIMARY KEY, alert_id INTEGER NOT NULL, ts_ms INTEGER NOT NULL, type TEXT NOT NULL,
  actor TEXT, detail TEXT NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS alert_events_alert ON alert_events (alert_id);
CREATE TABLE IF NOT EXISTS engine_device_state (site TEXT NOT NULL, device TEXT NOT NULL, state TEXT NOT NULL,
  PRIMARY KEY (site, device));
CREATE TABLE IF NOT EXISTS engine_rule_state (site TEXT NOT NULL, rule TEXT NOT NULL, subject TEXT NOT NULL,
  state TEXT NOT NULL, PRIMARY KEY (site, rule, subject));
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY, alert_id INTEGER NOT NULL, event TEXT NOT NULL, level INTEGER NOT NULL,
  channel TEXT NOT NULL, recipient TEXT, url TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,
  payload TEXT NOT NULL, created_ms INTEGER NOT NULL, next_ms INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'pending', last_error TEXT, sent_ms INTEGER);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_ms) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS evaluation_failures (
  id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL, error TEXT NOT NULL);
"""
# added with sites: every alert and notice belongs to one (older rows get theirs from AlertStore.adopt)
SITE_SCHEMA = """
CREATE UNIQUE INDEX IF NOT EXISTS alerts_open_site ON alerts (site, rule, subject) WHERE status != 'resolved';
CREATE INDEX IF NOT EXISTS alerts_site ON alerts (site, started_ms);
"""
# an alert that activates an emergency plan (应急预案) has a run: the plan as it was then, and its steps to tick
RUN_SCHEMA = """
ALTER TABLE alerts ADD COLUMN plan TEXT;
ALTER TABLE alerts ADD COLUMN drill INTEGER;
CREATE TABLE plan_runs (alert_id INTEGER PRIMARY KEY, plan TEXT NOT NULL, snapshot TEXT NOT NULL,
  started_ms INTEGER NOT NULL);
CREATE TABLE plan_steps (alert_id INTEGER NOT NULL, n INTEGER NOT NULL, due_ms INTEGER, done_ms INTEGER,
  done_by TEXT, note TEXT, photos TEXT NOT NULL DEFAULT '[]', late_ms INTEGER, PRIMARY KEY (alert_id, n));
CREATE INDEX plan_steps_due ON plan_steps (due_ms) WHERE done_ms IS NULL AND late_ms IS NULL;
CREATE TABLE drills (id INTEGER PRIMARY KEY, site TEXT NOT NULL, plan TEXT NOT NULL, zone TEXT, building TEXT,
  device TEXT, chain INTEGER NOT NULL, started_ms INTEGER NOT NULL, started_by TEXT NOT NULL, alert_id INTEGER,
  chain_result TEXT);
CREATE INDEX drills_site ON drills (site, plan, started_ms);
CREATE INDEX drills_alert ON drills (alert_id);
CREATE TABLE drill_records (drill_id INTEGER NOT NULL, language TEXT NOT NULL, pdf BLOB NOT NULL,
  made_ms INTEGER NOT NULL, PRIMARY KEY (drill_id, language));
"""
MAX_FAILURES_KEPT = 10_000
# every list of alerts: the most severe first, then the newest (a critical leak never sinks under minor ones)
SEVERITY_FIRST = ("CASE severity WHEN 'critical' THEN 0 WHEN 'major' THEN 1 WHEN 'minor' THEN 2 ELSE 3 END, "
                  "started_ms DESC, id DESC")


def _alerts(conn: Db) -> None:
    """Alerts, their events, the engine's state, the outbox; tables from before sites get their ``site`` column
    (their rows get a site from :meth:`AlertStore.adopt`)."""
    run_script(conn, SCHEMA)
    for table in ("alerts", "outbox"):
        if not is_sqlite(conn) or "site" not in {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN site TEXT")
    run_script(conn, SITE_SCHEMA)


MIGRATIONS = [
    Migration(1, "alerts, events, engine state and notices, by site", _alerts),
    Migration.sql(2, "alerts say their subject, detail and reading in both languages (texts); alerts raised from "
                     "history are quiet until live data confirms them (quiet)",
                  "ALTER TABLE alerts ADD COLUMN texts TEXT;\n"
                  "ALTER TABLE alerts ADD COLUMN quiet INTEGER NOT NULL DEFAULT 0;"),
    Migration.sql(3, "emergency plans: the plan an alert activated (plan), its run's steps (plan_runs, plan_steps); "
                     "drills (drills) and the alerts they raise (drill)", RUN_SCHEMA),
]


class Visible(Protocol):
    """What a reader may see (``api.access.Scope``): no sites = every site; zones or buildings narrow them."""

    sites: frozenset[str]
    zones: frozenset[str]
    buildings: frozenset[str]


@dataclass(frozen=True, slots=True)
class Alert:
    site: str | None
    id: int
    rule: str
    subject: str
    device: str | None
    building: str | None
    zone: str | None
    department: str | None
    category: str
    severity: str
    status: str
    value: float | None
    limit_text: str | None
    unit: str | None
    detail: str | None
    started_ms: int
    last_ms: int
    ack_by: str | None
    ack_ms: int | None
    ack_comment: str | None
    resolved_ms: int | None
    resolved_by: str | None
    resolve_reason: str | None
    route: str | None
    level: int
    next_escalation_ms: int | None
    texts: str | None = None  # JSON {"subject"|"detail"|"limit"|"unit"|"reading": {"zh", "en"}}: people's words
    quiet: int = 0            # 1: raised from history (a backfill), nobody told yet
    plan: str | None = None   # the emergency plan it activated (its run: alerts.runs)
    drill: int | None = None  # the drill that raised it: a drill (演练), never a real event


ALERT_COLUMNS = ", ".join(f.name for f in fields(Alert))


@dataclass(frozen=True, slots=True)
class EvaluationFailure:
    """A message the alert engine could not evaluate: undone, recorded here, skipped (ingest stored it)."""

    id: int
    ts_ms: int
    topic: str
    payload: bytes  # its first 4 KiB
    error: str


@dataclass(frozen=True, slots=True)
class AlertEvent:
    id: int
    alert_id: int
    ts_ms: int
    type: str
    actor: str | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Notice:
    """One message to one channel (an outbox row)."""

    id: int
    alert_id: int
    event: str
    level: int
    channel: str
    recipient: str | None
    url: str
    title: str
    body: str
    payload: dict[str, Any]
    attempts: int
    status: str
    last_error: str | None
    created_ms: int
    sent_ms: int | None


def _visible(v: Visible) -> tuple[list[str], list[Any]]:
    """SQL terms for what ``v`` may see: its sites, and inside them its zones' and buildings' alerts."""
    where: list[str] = []
    args: list[Any] = []
    if v.sites:
        where.append(f"site IN ({', '.join('?' for _ in v.sites)})")
        args += sorted(v.sites)
    if v.zones or v.buildings:
        where.append(f"(building IN ({', '.join('?' for _ in v.buildings) or 'NULL'}) "
                     f"OR zone IN ({', '.join('?' for _ in v.zones) or 'NULL'}))")
        args += sorted(v.buildings) + sorted(v.zones)
    return where, args


def _notice(r: tuple[Any, ...]) -> Notice:
    return Notice(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], json.loads(r[9]), r[10], r[11], r[12],
                  r[13], r[14])


def _under(topics: Sequence[str] | None) -> tuple[str, list[str]]:
    """A WHERE clause keeping topics under one of ``topics`` (None: all)."""
    if topics is None:
        return "", []
    term, args = under_prefixes("topic", topics)
    return f"WHERE {term}", args


class AlertStore:
    def __init__(self, path: Place) -> None:
        self._conn = open_store(path, "alerts", MIGRATIONS)
        self.lock = threading.RLock()

    def adopt(self, site: str) -> None:
        """Give alerts, notices and engine state from before sites (no site) to ``site``, the one site there
        was then; the key without a site goes."""
        with self.tx():
            self._conn.execute("DROP INDEX IF EXISTS alerts_open")
            self._conn.execute("UPDATE alerts SET site = ? WHERE site IS NULL", (site,))
            self._conn.execute("UPDATE outbox SET site = ? WHERE site IS NULL", (site,))
            names = self._legacy_tables()
            if "engine_devices" in names:
                self._conn.execute("INSERT OR IGNORE INTO engine_device_state SELECT ?, device, state "
                                   "FROM engine_devices", (site,))
                self._conn.execute("DROP TABLE engine_devices")
            if "engine_rules" in names:
                self._conn.execute("INSERT OR IGNORE INTO engine_rule_state SELECT ?, rule, subject, state "
                                   "FROM engine_rules", (site,))
                self._conn.execute("DROP TABLE engine_rules")

    def unadopted(self) -> bool:
        """Rows from before sites are waiting for :meth:`adopt`."""
        with self.lock:
            return bool(self._legacy_tables()) or self._conn.execute(
                "SELECT 1 FROM alerts WHERE site IS NULL LIMIT 1").fetchone() is not None

    def _legacy_tables(self) -> set[str]:
        """The engine's tables from before sites (SQLite only: a server database was made by migrations)."""
        if not is_sqlite(self._conn):
            return set()
        return {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} & {
            "engine_devices", "engine_rules"}

    @contextmanager
    def tx(self) -> Iterator[AlertStore]:
        with self.lock, write_transaction(self._conn):
            yield self

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside :meth:`tx`: undo only what the block wrote if it raises (one message's evaluation)."""
        self._conn.execute("SAVEPOINT one")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK TO one")
            self._conn.execute("RELEASE one")
            raise
        self._conn.execute("RELEASE one")

    def record_failure(self, topic: str, payload: bytes, error: str, now_ms: int) -> None:
        """A message the engine could not evaluate (inside :meth:`tx`); the newest 10,000 are kept."""
        self._conn.execute("INSERT INTO evaluation_failures (ts_ms, topic, payload, error) VALUES (?, ?, ?, ?)",
                           (now_ms, topic.encode("utf-8", "replace").decode(), payload[:4096],
                            error.encode("utf-8", "replace").decode()[:1000]))
        self._conn.execute("DELETE FROM evaluation_failures WHERE id <= "
                           "(SELECT max(id) FROM evaluation_failures) - ?", (MAX_FAILURES_KEPT,))

    def failures(self, limit: int = 100, offset: int = 0,
                 topics: Sequence[str] | None = None) -> list[EvaluationFailure]:
        """Messages the engine could not evaluate, newest first; ``topics``: only those under these prefixes."""
        where, args = _under(topics)
        with self.lock:
            rows = self._conn.execute("SELECT id, ts_ms, topic, payload, error FROM evaluation_failures "  # noqa: S608
                                      f"{where} ORDER BY id DESC LIMIT ? OFFSET ?", (*args, limit, offset)).fetchall()
        return [EvaluationFailure(*r) for r in rows]

    def failure_count(self, topics: Sequence[str] | None = None) -> int:
        where, args = _under(topics)
        with self.lock:
            return int(self._conn.execute(f"SELECT count(*) FROM evaluation_failures {where}",  # noqa: S608
                                          args).fetchone()[0])

    def close(self) -> None:
        self._conn.close()

    # -- meta and engine state ---------------------------------------------------------
    def meta(self, key: str, default: str | None = None) -> str | None:
        with self.lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def meta_once(self, key: str, value: str) -> str:
        """``key``'s value, set to ``value`` if it has none (the first process to ask sets it for all)."""
        with self.lock:
            self._conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
            return str(self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.lock:
            self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def load_engine(self, site: str) -> EngineState:
        with self.lock:
            devs = self._conn.execute("SELECT device, state FROM engine_device_state WHERE site = ?",
                                      (site,)).fetchall()
            rules = self._conn.execute("SELECT rule, subject, state FROM engine_rule_state WHERE site = ?",
                                       (site,)).fetchall()
        return EngineState({d: orjson.loads(s) for d, s in devs}, {(r, s): orjson.loads(st) for r, s, st in rules})

    def save_engine(self, site: str, devices: dict[str, dict[str, Any]], rules: dict[Key, dict[str, Any]]) -> None:
        self._conn.executemany("INSERT OR REPLACE INTO engine_device_state (site, device, state) VALUES (?, ?, ?)",
                               [(site, d, orjson.dumps(s).decode()) for d, s in devices.items()])
        self._conn.executemany("INSERT OR REPLACE INTO engine_rule_state (site, rule, subject, state) "
                               "VALUES (?, ?, ?, ?)", [(site, r, s, orjson.dumps(st).decode())
                                                        for (r, s), st in rules.items()])

    # -- alerts and events (call inside tx) --------------------------------------------
    def insert_alert(self, **cols: Any) -> int:
        names = ", ".join(cols)
        marks = ", ".join("?" for _ in cols)
        cur = self._conn.execute(f"INSERT INTO alerts ({names}) VALUES ({marks})", tuple(cols.values()))  # noqa: S608
        return int(cur.lastrowid or 0)

    def update_alert(self, alert_id: int, **cols: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in cols)
        self._conn.execute(f"UPDATE alerts SET {sets} WHERE id = ?", (*cols.values(), alert_id))  # noqa: S608

    def event(self, alert_id: int, ts_ms: int, type_: str, actor: str | None = None, **detail: Any) -> None:
        self._conn.execute("INSERT INTO alert_events (alert_id, ts_ms, type, actor, detail) VALUES (?, ?, ?, ?, ?)",
                           (alert_id, ts_ms, type_, actor, json.dumps(detail, ensure_ascii=False)))

    def get(self, alert_id: int) -> Alert:
        with self.lock:
            row = self._conn.execute(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?",  # noqa: S608
                                     (alert_id,)).fetchone()
        if row is None:
            raise NotFound(f"no alert #{alert_id}")
        return Alert(*row)

    def open_for(self, site: str, rule: str, subject: str) -> Alert | None:
        with self.lock:
            row = self._conn.execute(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE site = ? AND rule = ? "  # noqa: S608
                                     "AND subject = ? AND status != 'resolved'", (site, rule, subject)).fetchone()
        return Alert(*row) if row else None

    @staticmethod
    def _where(status: str | None, category: str | None, severity: str | None, building: str | None,
               since_ms: int | None, zone: str | None = None, site: str | None = None,
               visible: Visible | None = None, drills: bool | None = None) -> tuple[str, list[Any]]:
        where: list[str] = [] if drills is None else ["drill IS NOT NULL" if drills else "drill IS NULL"]
        args: list[Any] = []
        for col, val in (("category", category), ("severity", severity), ("building", building), ("zone", zone),
                         ("site", site)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        if visible is not None:
            w, a = _visible(visible)
            where += w
            args += a
        if status == "open":
            where.append("status != 'resolved'")
        elif status is not None:
            where.append("status = ?")
            args.append(status)
        if since_ms is not None:
            where.append("last_ms >= ?")
            args.append(since_ms)
        return (" WHERE " + " AND ".join(where)) if where else "", args

    def query(self, *, status: str | None = None, category: str | None = None, severity: str | None = None,
              building: str | None = None, since_ms: int | None = None, limit: int = 500,
              offset: int = 0, zone: str | None = None, site: str | None = None,
              visible: Visible | None = None, drills: bool | None = None) -> list[Alert]:
        """Alerts, the most severe first; ``drills``: None both, False real ones only, True drills only."""
        where, args = self._where(status, category, severity, building, since_ms, zone, site, visible, drills)
        sql = (f"SELECT {ALERT_COLUMNS} FROM alerts{where} ORDER BY {SEVERITY_FIRST} "  # noqa: S608
               "LIMIT ? OFFSET ?")
        with self.lock:
            rows = self._conn.execute(sql, (*args, limit, offset)).fetchall()
        return [Alert(*r) for r in rows]

    def count_matching(self, *, status: str | None = None, category: str | None = None, severity: str | None = None,
                       building: str | None = None, since_ms: int | None = None, zone: str | None = None,
                       site: str | None = None, visible: Visible | None = None, drills: bool | None = None) -> int:
        where, args = self._where(status, category, severity, building, since_ms, zone, site, visible, drills)
        with self.lock:
            return int(self._conn.execute(f"SELECT count(*) FROM alerts{where}", args).fetchone()[0])  # noqa: S608

    def events(self, alert_id: int) -> list[AlertEvent]:
        self.get(alert_id)
        with self.lock:
            rows = self._conn.execute("SELECT id, alert_id, ts_ms, type, actor, detail FROM alert_events "
                                      "WHERE alert_id = ? ORDER BY id", (alert_id,)).fetchall()
        return [AlertEvent(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    def due_escalations(self, site: str, now_ms: int) -> list[Alert]:
        with self.lock:
            rows = self._conn.execute(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE next_escalation_ms <= ? "  # noqa: S608
                                      "AND status = 'active' AND site = ?", (now_ms, site)).fetchall()
        return [Alert(*r) for r in rows]

    def raised_between(self, start_ms: int, end_ms: int, site: str | None = None) -> list[tuple[str, str, int, int]]:
        """(category, severity, raised, still open) for alerts (of ``site``) that started in [start, end), the
        most severe first (the report's table of the month's alerts). Drills are not events: never counted."""
        only, args = ("", ()) if site is None else (" AND site = ?", (site,))
        with self.lock:
            rows = self._conn.execute(
                "SELECT category, severity, count(*), sum(CASE WHEN status != 'resolved' THEN 1 ELSE 0 END) "  # noqa: S608
                f"FROM alerts WHERE started_ms >= ? AND started_ms < ?{only} AND drill IS NULL "
                "GROUP BY category, severity ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'major' THEN 1 "
                "WHEN 'minor' THEN 2 ELSE 3 END, category",
                (start_ms, end_ms, *args)).fetchall()
        return [(str(c), str(s), int(n), int(o or 0)) for c, s, n, o in rows]

    def counts(self, *, drills: bool = False) -> dict[str, int]:
        """Alerts by status: the real ones, or (``drills``) those drills raised."""
        with self.lock:
            rows = self._conn.execute("SELECT status, count(*) FROM alerts WHERE drill IS "  # noqa: S608
                                      f"{'NOT NULL' if drills else 'NULL'} GROUP BY status").fetchall()
        return dict(rows)

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Rows:
        """One statement on the alerts' connection (inside :meth:`tx` for a write): for the stores that keep
        their rows beside the alerts (``alerts.runs``, ``emergency.drills``), so that one transaction holds both."""
        return self._conn.execute(sql, args)

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.lock:
            return self._conn.execute(sql, args).fetchall()

    # -- outbox ------------------------------------------------------------------------
    def enqueue(self, alert_id: int, event: str, level: int, channel: str, recipient: str | None, url: str,
                title: str, body: str, payload: dict[str, Any], now_ms: int, site: str | None = None) -> None:
        self._conn.execute(
            "INSERT INTO outbox (alert_id, event, level, channel, recipient, url, title, body, payload, created_ms, "
            "next_ms, site) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (alert_id, event, level, channel, recipient, url, title, body,
             json.dumps(payload, ensure_ascii=False), now_ms, now_ms, site))

    def due_notices(self, now_ms: int, skip: set[int], limit: int = 50,
                    sites: Collection[str] | None = None) -> list[Notice]:
        """Pending notices due by ``now_ms``; with ``sites``, only theirs (each alert process sends its own)."""
        if sites is not None and not sites:
            return []  # a process holding no site sends nothing
        only = f" AND site IN ({', '.join('?' for _ in sites)})" if sites else ""
        sql = ("SELECT id, alert_id, event, level, channel, recipient, url, title, body, payload, attempts, status, "  # noqa: S608
               f"last_error, created_ms, sent_ms FROM outbox WHERE status = 'pending' AND next_ms <= ?{only} "
               "ORDER BY id LIMIT ?")
        with self.lock:
            rows = self._conn.execute(sql, (now_ms, *(sites or ()), limit + len(skip))).fetchall()
        out = [_notice(r) for r in rows if r[0] not in skip]
        return out[:limit]

    def notices(self, alert_id: int | None = None) -> list[Notice]:
        sql = ("SELECT id, alert_id, event, level, channel, recipient, url, title, body, payload, attempts, status, "
               "last_error, created_ms, sent_ms FROM outbox")
        args: tuple[Any, ...] = ()
        if alert_id is not None:
            sql, args = sql + " WHERE alert_id = ?", (alert_id,)
        with self.lock:
            rows = self._conn.execute(sql + " ORDER BY id", args).fetchall()
        return [_notice(r) for r in rows]

    def notice_sent(self, notice: Notice, now_ms: int) -> None:
        with self.tx():
            self._conn.execute("UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_ms = ?, "
                               "last_error = NULL WHERE id = ?", (now_ms, notice.id))
            self.event(notice.alert_id, now_ms, "notified", notice.recipient, channel=notice.channel,
                       about=notice.event, level=notice.level)

    def notice_failed(self, notice: Notice, error: str, now_ms: int, retry_at_ms: int | None) -> None:
        with self.tx():
            self._conn.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_ms = ?, status = ? "
                               "WHERE id = ?", (error, retry_at_ms or now_ms,
                                                "pending" if retry_at_ms else "failed", notice.id))
            self.event(notice.alert_id, now_ms, "notify_failed" if retry_at_ms is None else "notify_retry",
                       notice.recipient, channel=notice.channel, about=notice.event, error=error,
                       attempt=notice.attempts + 1)

    def failed_notices(self) -> int:
        with self.lock:
            return int(self._conn.execute("SELECT count(*) FROM outbox WHERE status = 'failed'").fetchone()[0])
