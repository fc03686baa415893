"""The allowance notices owed and sent (an outbox in ``billing.db``): one row per payer, kind, month and threshold.

Rules, written down plainly:

1. A notice is written here, in one transaction, before anything is sent; the primary key (site, month, payer,
   kind, threshold) makes a second write of the same notice a no-op, so a check run twice, or again after a
   restart, never owes a notice twice.
2. A row is ``pending`` until it is sent (``sent``, with when). A failed send keeps it pending with the error
   and a retry time: 1 minute, doubling to at most 1 hour; after :data:`MAX_ATTEMPTS` it is ``failed``.
3. A notice still pending when its month is over is never sent (it speaks of "this month"): ``failed``.
4. A row ``superseded`` is never sent: a higher threshold of the same kind was reached in the same check, or
   before the lower one could be sent, and that one is sent instead.
5. A crash after the mail server accepted a notice and before it was marked sent sends it again at the next
   check (at least once, as every outbox); nothing else sends a notice twice.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from campus.db import connect, write_transaction
from campus.migrations import Migration, migrate

Status = Literal["pending", "sent", "failed", "superseded"]
MAX_ATTEMPTS = 10
RETRY_FIRST_S = 60
RETRY_MAX_S = 3600

MIGRATIONS = [Migration.sql(1, "allowance notices: one per site, month, payer, kind and threshold, with delivery", """
    CREATE TABLE IF NOT EXISTS allowance_notices (site TEXT NOT NULL, month TEXT NOT NULL, payer TEXT NOT NULL,
      kind TEXT NOT NULL, threshold REAL NOT NULL, used TEXT NOT NULL, allowance TEXT NOT NULL,
      recipient TEXT NOT NULL, channel TEXT NOT NULL, address TEXT NOT NULL, title TEXT NOT NULL,
      body TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
      next_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL, sent_ms INTEGER,
      PRIMARY KEY (site, month, payer, kind, threshold));
    CREATE INDEX IF NOT EXISTS allowance_notices_due ON allowance_notices (status, next_ms);
    """)]

_COLUMNS = ("site, month, payer, kind, threshold, used, allowance, recipient, channel, address, title, body, "
            "status, attempts, last_error, next_ms, created_ms, sent_ms")
# the statements, from the constant column list above (no input reaches them but through parameters)
_INSERT = f"INSERT OR IGNORE INTO allowance_notices ({_COLUMNS}) VALUES ({', '.join('?' * 18)})"  # noqa: S608
_DUE = (f"SELECT {_COLUMNS} FROM allowance_notices WHERE status = 'pending' AND next_ms <= ? "  # noqa: S608
        "ORDER BY created_ms, threshold LIMIT ?")
_OF_PAYER = (f"SELECT {_COLUMNS} FROM allowance_notices WHERE site = ? AND month = ? AND payer = ? "  # noqa: S608
             "ORDER BY kind, threshold")


@dataclass(frozen=True, slots=True)
class OwedNotice:
    """One notice: to whom (``recipient``, the contact's name; ``address`` on ``channel``), what, and how it went."""

    site: str
    month: str
    payer: str
    kind: str
    threshold: float
    used: str          # the use when the threshold was found reached, to 0.01
    allowance: str
    recipient: str
    channel: str       # the roster channel it goes through: email (or sms)
    address: str       # the e-mail address (or phone number) filled into the channel's template
    title: str
    body: str
    status: Status = "pending"
    attempts: int = 0
    last_error: str | None = None
    next_ms: int = 0
    created_ms: int = 0
    sent_ms: int | None = None

    @property
    def key(self) -> tuple[str, str, str, str, float]:
        return (self.site, self.month, self.payer, self.kind, self.threshold)


def retry_after_s(attempts: int) -> int:
    """Seconds before the next try after ``attempts`` failed ones: 60, 120, 240, … at most 3600."""
    return int(min(RETRY_FIRST_S * 2 ** max(attempts - 1, 0), RETRY_MAX_S))


class AllowanceOutbox:
    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._lock = threading.Lock()
        migrate(self._conn, "allowance_notices", MIGRATIONS)

    def owe(self, notices: list[OwedNotice]) -> list[OwedNotice]:
        """Write ``notices`` not yet written (by key), in one transaction; returns those newly written."""
        out = []
        with self._lock, write_transaction(self._conn):
            for n in notices:
                cur = self._conn.execute(_INSERT, (
                    n.site, n.month, n.payer, n.kind, n.threshold, n.used, n.allowance, n.recipient, n.channel,
                    n.address, n.title, n.body, n.status, n.attempts, n.last_error, n.next_ms, n.created_ms, n.sent_ms))
                if cur.rowcount:
                    out.append(n)
                    if n.status == "pending":  # a lower threshold not sent yet is not worth sending now
                        self._conn.execute("UPDATE allowance_notices SET status = 'superseded' WHERE site = ? AND "
                                           "month = ? AND payer = ? AND kind = ? AND threshold < ? AND "
                                           "status = 'pending'", n.key)
        return out

    def known(self, site: str, month: str, payer: str, kind: str) -> set[float]:
        """The thresholds already owed (whatever became of them) for one payer, kind and month."""
        with self._lock:
            rows = self._conn.execute("SELECT threshold FROM allowance_notices WHERE site = ? AND month = ? AND "
                                      "payer = ? AND kind = ?", (site, month, payer, kind)).fetchall()
        return {float(r[0]) for r in rows}

    def due(self, now_ms: int, limit: int = 500) -> list[OwedNotice]:
        """Pending notices whose (re)try time has come, oldest first."""
        with self._lock:
            rows = self._conn.execute(_DUE, (now_ms, limit)).fetchall()
        return [OwedNotice(*r) for r in rows]

    def sent(self, n: OwedNotice, now_ms: int) -> None:
        with self._lock, write_transaction(self._conn):
            self._conn.execute("UPDATE allowance_notices SET status = 'sent', attempts = attempts + 1, sent_ms = ?, "
                               "last_error = NULL WHERE site = ? AND month = ? AND payer = ? AND kind = ? AND "
                               "threshold = ? AND status = 'pending'", (now_ms, *n.key))

    def failed(self, n: OwedNotice, error: str, now_ms: int) -> OwedNotice:
        """Record a failed try: retried later (:func:`retry_after_s`), or ``failed`` after MAX_ATTEMPTS."""
        attempts = n.attempts + 1
        status: Status = "failed" if attempts >= MAX_ATTEMPTS else "pending"
        next_ms = now_ms + retry_after_s(attempts) * 1000
        with self._lock, write_transaction(self._conn):
            self._conn.execute("UPDATE allowance_notices SET status = ?, attempts = ?, last_error = ?, next_ms = ? "
                               "WHERE site = ? AND month = ? AND payer = ? AND kind = ? AND threshold = ? AND "
                               "status = 'pending'", (status, attempts, error[:500], next_ms, *n.key))
        return replace(n, status=status, attempts=attempts, last_error=error[:500], next_ms=next_ms)

    def give_up(self, n: OwedNotice, why: str) -> None:
        """Never send ``n`` (its month is over: "this month" would be wrong): ``failed``, saying why."""
        with self._lock, write_transaction(self._conn):
            self._conn.execute("UPDATE allowance_notices SET status = 'failed', last_error = ? WHERE site = ? AND "
                               "month = ? AND payer = ? AND kind = ? AND threshold = ? AND status = 'pending'",
                               (why, *n.key))

    def of_payer(self, site: str, month: str, payer: str) -> list[OwedNotice]:
        with self._lock:
            rows = self._conn.execute(_OF_PAYER, (site, month, payer)).fetchall()
        return [OwedNotice(*r) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
