"""The annual return's reminders owed and sent (an outbox in ``records.db``): one per site, year, person and channel.

Rules, written down plainly:

1. A reminder is written here before anything is sent; the primary key (site, year, person, channel) makes a second
   write a no-op, so a check run twice, or again after a restart, never owes a reminder twice.
2. A row is ``pending`` until sent (``sent``, with when). A failed send keeps it pending with the error and a retry
   time: 1 minute, doubling to at most 1 hour; after :data:`MAX_ATTEMPTS` it is ``failed``.
3. A reminder still pending when the deadline has passed is never sent (it would ask for what is already late):
   ``failed``, saying why.
4. A crash after the mail server took a reminder and before it was marked sent sends it again (at least once, as
   every outbox); nothing else sends one twice.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from campus.db import connect, write_transaction
from campus.migrations import Migration, migrate

Status = Literal["pending", "sent", "failed"]
MAX_ATTEMPTS = 10
RETRY_FIRST_S = 60
RETRY_MAX_S = 3600

MIGRATIONS = [Migration.sql(1, "annual return reminders: one per site, year, person and channel", """
    CREATE TABLE IF NOT EXISTS return_reminders (site TEXT NOT NULL, year INTEGER NOT NULL, person TEXT NOT NULL,
      channel TEXT NOT NULL, name TEXT NOT NULL, url TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,
      deadline_ms INTEGER NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
      next_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL, sent_ms INTEGER,
      PRIMARY KEY (site, year, person, channel));
    CREATE INDEX IF NOT EXISTS return_reminders_due ON return_reminders (status, next_ms);
    """)]

_COLUMNS = ("site, year, person, channel, name, url, title, body, deadline_ms, status, attempts, last_error, "
            "next_ms, created_ms, sent_ms")
_INSERT = f"INSERT OR IGNORE INTO return_reminders ({_COLUMNS}) VALUES ({', '.join('?' * 15)})"  # noqa: S608
_DUE = (f"SELECT {_COLUMNS} FROM return_reminders WHERE status = 'pending' AND next_ms <= ? "  # noqa: S608
        "ORDER BY created_ms, site, person, channel LIMIT ?")
_KEY = "site = ? AND year = ? AND person = ? AND channel = ?"


@dataclass(frozen=True, slots=True)
class Reminder:
    site: str
    year: int
    person: str       # the roster's person id
    channel: str      # the roster channel's name
    name: str         # the person's name, as people read it
    url: str          # the apprise URL, filled in for the person
    title: str
    body: str
    deadline_ms: int  # local midnight after the deadline day: past it, the reminder is not sent (rule 3)
    status: Status = "pending"
    attempts: int = 0
    last_error: str | None = None
    next_ms: int = 0
    created_ms: int = 0
    sent_ms: int | None = None

    @property
    def key(self) -> tuple[str, int, str, str]:
        return (self.site, self.year, self.person, self.channel)


def retry_after_s(attempts: int) -> int:
    return int(min(RETRY_FIRST_S * 2 ** max(attempts - 1, 0), RETRY_MAX_S))


class ReturnOutbox:
    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._lock = threading.Lock()
        migrate(self._conn, "return_reminders", MIGRATIONS)

    def owe(self, reminders: list[Reminder]) -> list[Reminder]:
        """Write those not yet written (by key) in one transaction; returns those newly written."""
        out = []
        with self._lock, write_transaction(self._conn):
            for n in reminders:
                cur = self._conn.execute(_INSERT, (
                    n.site, n.year, n.person, n.channel, n.name, n.url, n.title, n.body, n.deadline_ms, n.status,
                    n.attempts, n.last_error, n.next_ms, n.created_ms, n.sent_ms))
                if cur.rowcount:
                    out.append(n)
        return out

    def owed(self, site: str, year: int) -> bool:
        """Has anything been owed for the site and year (whatever became of it)?"""
        with self._lock:
            return self._conn.execute("SELECT 1 FROM return_reminders WHERE site = ? AND year = ? LIMIT 1",
                                      (site, year)).fetchone() is not None

    def due(self, now_ms: int, limit: int = 500) -> list[Reminder]:
        with self._lock:
            rows = self._conn.execute(_DUE, (now_ms, limit)).fetchall()
        return [Reminder(*r) for r in rows]

    def of_site(self, site: str, year: int) -> list[Reminder]:
        with self._lock:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM return_reminders WHERE site = ? AND year = ? "  # noqa: S608
                                      "ORDER BY person, channel", (site, year)).fetchall()
        return [Reminder(*r) for r in rows]

    def sent(self, n: Reminder, now_ms: int) -> None:
        with self._lock, write_transaction(self._conn):
            self._conn.execute(f"UPDATE return_reminders SET status = 'sent', attempts = attempts + 1, sent_ms = ?, "  # noqa: S608
                               f"last_error = NULL WHERE {_KEY} AND status = 'pending'", (now_ms, *n.key))

    def failed(self, n: Reminder, error: str, now_ms: int) -> Reminder:
        attempts = n.attempts + 1
        status: Status = "failed" if attempts >= MAX_ATTEMPTS else "pending"
        next_ms = now_ms + retry_after_s(attempts) * 1000
        with self._lock, write_transaction(self._conn):
            self._conn.execute(f"UPDATE return_reminders SET status = ?, attempts = ?, last_error = ?, next_ms = ? "  # noqa: S608
                               f"WHERE {_KEY} AND status = 'pending'", (status, attempts, error[:500], next_ms, *n.key))
        return replace(n, status=status, attempts=attempts, last_error=error[:500], next_ms=next_ms)

    def give_up(self, n: Reminder, why: str) -> None:
        with self._lock, write_transaction(self._conn):
            self._conn.execute(f"UPDATE return_reminders SET status = 'failed', last_error = ? "  # noqa: S608
                               f"WHERE {_KEY} AND status = 'pending'", (why, *n.key))

    def close(self) -> None:
        with self._lock:
            self._conn.close()
