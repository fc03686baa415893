"""Alerts, their events, the engine's state and the notification outbox, in one SQLite file
(``alerts.db`` in the data directory). Everything one batch of readings changes is committed in
one transaction before the batch is acknowledged to the broker."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import orjson

from alerts.engine import EngineState, Key
from ingest.db import connect
from ingest.errors import NotFound

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY, rule TEXT NOT NULL, subject TEXT NOT NULL, device TEXT, building TEXT, zone TEXT,
  department TEXT, category TEXT NOT NULL, severity TEXT NOT NULL, status TEXT NOT NULL,
  value REAL, limit_text TEXT, unit TEXT, detail TEXT, started_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL,
  ack_by TEXT, ack_ms INTEGER, ack_comment TEXT, resolved_ms INTEGER, resolved_by TEXT, resolve_reason TEXT,
  route TEXT, level INTEGER NOT NULL DEFAULT 0, next_escalation_ms INTEGER);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_open ON alerts (rule, subject) WHERE status != 'resolved';
CREATE INDEX IF NOT EXISTS alerts_started ON alerts (started_ms);
CREATE INDEX IF NOT EXISTS alerts_escalation ON alerts (next_escalation_ms) WHERE next_escalation_ms IS NOT NULL;
CREATE TABLE IF NOT EXISTS alert_events (
  id INTEGER PRIMARY KEY, alert_id INTEGER NOT NULL, ts_ms INTEGER NOT NULL, type TEXT NOT NULL,
  actor TEXT, detail TEXT NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS alert_events_alert ON alert_events (alert_id);
CREATE TABLE IF NOT EXISTS engine_devices (device TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS engine_rules (rule TEXT, subject TEXT, state TEXT NOT NULL, PRIMARY KEY (rule, subject));
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
MAX_FAILURES_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class Alert:
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


def _notice(r: tuple[Any, ...]) -> Notice:
    return Notice(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], json.loads(r[9]), r[10], r[11], r[12],
                  r[13], r[14])


class AlertStore:
    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self.lock = threading.RLock()
        self._conn.executescript(SCHEMA)

    @contextmanager
    def tx(self) -> Iterator[AlertStore]:
        with self.lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

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

    def failures(self, limit: int = 100, offset: int = 0) -> list[EvaluationFailure]:
        """Messages the engine could not evaluate, newest first."""
        with self.lock:
            rows = self._conn.execute("SELECT id, ts_ms, topic, payload, error FROM evaluation_failures "
                                      "ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset)).fetchall()
        return [EvaluationFailure(*r) for r in rows]

    def failure_count(self) -> int:
        with self.lock:
            return int(self._conn.execute("SELECT count(*) FROM evaluation_failures").fetchone()[0])

    def close(self) -> None:
        self._conn.close()

    # -- meta and engine state ---------------------------------------------------------
    def meta(self, key: str, default: str | None = None) -> str | None:
        with self.lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self.lock:
            self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def load_engine(self) -> EngineState:
        with self.lock:
            devs = self._conn.execute("SELECT device, state FROM engine_devices").fetchall()
            rules = self._conn.execute("SELECT rule, subject, state FROM engine_rules").fetchall()
        return EngineState({d: orjson.loads(s) for d, s in devs}, {(r, s): orjson.loads(st) for r, s, st in rules})

    def save_engine(self, devices: dict[str, dict[str, Any]], rules: dict[Key, dict[str, Any]]) -> None:
        self._conn.executemany("INSERT OR REPLACE INTO engine_devices (device, state) VALUES (?, ?)",
                               [(d, orjson.dumps(s)) for d, s in devices.items()])
        self._conn.executemany("INSERT OR REPLACE INTO engine_rules (rule, subject, state) VALUES (?, ?, ?)",
                               [(r, s, orjson.dumps(st)) for (r, s), st in rules.items()])

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

    def open_for(self, rule: str, subject: str) -> Alert | None:
        with self.lock:
            row = self._conn.execute(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE rule = ? AND subject = ? "  # noqa: S608
                                     "AND status != 'resolved'", (rule, subject)).fetchone()
        return Alert(*row) if row else None

    @staticmethod
    def _where(status: str | None, category: str | None, severity: str | None, building: str | None,
               since_ms: int | None, zone: str | None = None) -> tuple[str, list[Any]]:
        where: list[str] = []
        args: list[Any] = []
        for col, val in (("category", category), ("severity", severity), ("building", building), ("zone", zone)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
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
              offset: int = 0, zone: str | None = None) -> list[Alert]:
        where, args = self._where(status, category, severity, building, since_ms, zone)
        sql = f"SELECT {ALERT_COLUMNS} FROM alerts{where} ORDER BY started_ms DESC, id DESC LIMIT ? OFFSET ?"  # noqa: S608
        with self.lock:
            rows = self._conn.execute(sql, (*args, limit, offset)).fetchall()
        return [Alert(*r) for r in rows]

    def count_matching(self, *, status: str | None = None, category: str | None = None, severity: str | None = None,
                       building: str | None = None, since_ms: int | None = None, zone: str | None = None) -> int:
        where, args = self._where(status, category, severity, building, since_ms, zone)
        with self.lock:
            return int(self._conn.execute(f"SELECT count(*) FROM alerts{where}", args).fetchone()[0])  # noqa: S608

    def events(self, alert_id: int) -> list[AlertEvent]:
        self.get(alert_id)
        with self.lock:
            rows = self._conn.execute("SELECT id, alert_id, ts_ms, type, actor, detail FROM alert_events "
                                      "WHERE alert_id = ? ORDER BY id", (alert_id,)).fetchall()
        return [AlertEvent(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    def due_escalations(self, now_ms: int) -> list[Alert]:
        with self.lock:
            rows = self._conn.execute(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE next_escalation_ms <= ? "  # noqa: S608
                                      "AND status = 'active'", (now_ms,)).fetchall()
        return [Alert(*r) for r in rows]

    def raised_between(self, start_ms: int, end_ms: int) -> list[tuple[str, str, int, int]]:
        """(category, severity, raised, still open) for alerts that started in [start, end)."""
        with self.lock:
            rows = self._conn.execute(
                "SELECT category, severity, count(*), sum(status != 'resolved') FROM alerts "
                "WHERE started_ms >= ? AND started_ms < ? GROUP BY category, severity ORDER BY category, severity",
                (start_ms, end_ms)).fetchall()
        return [(str(c), str(s), int(n), int(o or 0)) for c, s, n, o in rows]

    def counts(self) -> dict[str, int]:
        with self.lock:
            rows = self._conn.execute("SELECT status, count(*) FROM alerts GROUP BY status").fetchall()
        return dict(rows)

    # -- outbox ------------------------------------------------------------------------
    def enqueue(self, alert_id: int, event: str, level: int, channel: str, recipient: str | None, url: str,
                title: str, body: str, payload: dict[str, Any], now_ms: int) -> None:
        self._conn.execute(
            "INSERT INTO outbox (alert_id, event, level, channel, recipient, url, title, body, payload, created_ms, "
            "next_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (alert_id, event, level, channel, recipient, url, title, body,
             json.dumps(payload, ensure_ascii=False), now_ms, now_ms))

    def due_notices(self, now_ms: int, skip: set[int], limit: int = 50) -> list[Notice]:
        with self.lock:
            rows = self._conn.execute(
                "SELECT id, alert_id, event, level, channel, recipient, url, title, body, payload, attempts, status, "
                "last_error, created_ms, sent_ms FROM outbox WHERE status = 'pending' AND next_ms <= ? "
                "ORDER BY id LIMIT ?", (now_ms, limit + len(skip))).fetchall()
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
