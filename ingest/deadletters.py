"""Refused input is kept here, never dropped: topic, raw payload, reason and time.

A message the broker redelivers (``dup``) after a crash does not make a second dead letter;
the same refused payload sent again on the same topic is one dead letter whose ``times`` grows.
Dead letters are replayed through the normal decode path once the registry is fixed.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

from ingest.db import connect
from ingest.errors import NotFound


@dataclass(frozen=True, slots=True)
class Refusal:
    topic: str
    payload: bytes
    reason: str
    received_ms: int
    index: int | None = None  # position in a batch payload; the payload is then that item alone
    dup: bool = False


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    topic: str
    payload: bytes
    reason: str
    index: int | None
    first_ms: int
    last_ms: int
    times: int
    replayed_ms: int | None


_COLS = "id, topic, payload, reason, item_index, first_ms, last_ms, times, replayed_ms"


class DeadLetterStore:
    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._lock = threading.Lock()
        self._conn.executescript(
            """
            CREATE TABLE IF NOT EXISTS dead_letters (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                topic TEXT NOT NULL, payload BLOB NOT NULL, digest TEXT NOT NULL,
                reason TEXT NOT NULL, item_index INTEGER,
                first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL,
                times INTEGER NOT NULL DEFAULT 1, replayed_ms INTEGER);
            CREATE UNIQUE INDEX IF NOT EXISTS dead_letters_key ON dead_letters (topic, digest);
            """
        )

    def add(self, refusals: list[Refusal]) -> None:
        """Commit refusals durably (one transaction)."""
        if not refusals:
            return
        rows = [
            (r.topic, r.payload, hashlib.sha256(r.payload).hexdigest(), r.reason, r.index,
             r.received_ms, r.received_ms, 0 if r.dup else 1)
            for r in refusals
        ]
        with self._lock:
            self._conn.execute("BEGIN")
            self._conn.executemany(
                "INSERT INTO dead_letters (topic, payload, digest, reason, item_index, first_ms, last_ms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (topic, digest) DO UPDATE SET "
                "last_ms = excluded.last_ms, reason = excluded.reason, replayed_ms = NULL, times = times + ?",
                rows,
            )
            self._conn.execute("COMMIT")

    def list(self, *, pending_only: bool = True, limit: int = 1000, offset: int = 0) -> list[DeadLetter]:
        where = "WHERE replayed_ms IS NULL" if pending_only else ""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLS} FROM dead_letters {where} ORDER BY id LIMIT ? OFFSET ?",  # noqa: S608
                (limit, offset),
            ).fetchall()
        return [DeadLetter(*row) for row in rows]

    def get(self, letter_id: int) -> DeadLetter:
        with self._lock:
            row = self._conn.execute(f"SELECT {_COLS} FROM dead_letters WHERE id = ?", (letter_id,)).fetchone()  # noqa: S608
        if row is None:
            raise NotFound(f"no dead letter {letter_id}")
        return DeadLetter(*row)

    def mark_replayed(self, letter_id: int, at_ms: int) -> None:
        with self._lock:
            self._conn.execute("UPDATE dead_letters SET replayed_ms = ? WHERE id = ?", (at_ms, letter_id))

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute(
                "SELECT count(*) FROM dead_letters WHERE replayed_ms IS NULL").fetchone()[0])

    def close(self) -> None:
        self._conn.close()
