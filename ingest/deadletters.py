"""Refused input is kept here, never dropped: topic, raw payload, reason and time.

One dead letter per refused message: a batch payload whose items were partly refused is kept whole,
with each refused item's index (and the first reasons) inside it, never one row per item.
A message the broker redelivers (``dup``) after a crash does not make a second dead letter;
the same refused payload sent again on the same topic is one dead letter whose ``times`` grows.
Dead letters are replayed through the normal decode path once the registry is fixed.

The store is bounded by count and bytes (``[ingest] dead_letter_max_count`` / ``_max_bytes``): past
either, replayed letters go first, then the oldest. Evictions are counted, and :meth:`usage` tells
how full it is, so health can warn before anything is evicted.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from campus.db import Db, connect, run_script, under_prefixes, write_transaction
from campus.errors import NotFound
from campus.migrations import Migration, migrate

MAX_REASON_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Refusal:
    topic: str
    payload: bytes
    reason: str
    received_ms: int
    items: tuple[tuple[int, str | None], ...] = ()  # refused batch items: (index, reason or None past the 20th)
    dup: bool = False


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    topic: str
    payload: bytes
    reason: str
    items: tuple[tuple[int, str | None], ...]
    first_ms: int
    last_ms: int
    times: int
    replayed_ms: int | None


@dataclass(frozen=True, slots=True)
class Usage:
    count: int
    bytes: int
    max_count: int
    max_bytes: int
    evicted: int

    @property
    def fill(self) -> float:
        """The fuller of the two bounds, 0–1."""
        return max(self.count / self.max_count, self.bytes / self.max_bytes)


_COLS = "id, topic, payload, reason, items, first_ms, last_ms, times, replayed_ms"


def _letter(row: tuple[object, ...]) -> DeadLetter:
    items = tuple((int(i), r) for i, r in orjson.loads(row[4])) if row[4] else ()  # type: ignore[arg-type]
    return DeadLetter(row[0], row[1], row[2], row[3], items, *row[5:])  # type: ignore[arg-type]


def _clean(text: str) -> str:
    """Valid UTF-8 (a lone surrogate cannot be stored) and bounded."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= MAX_REASON_CHARS else text[:MAX_REASON_CHARS] + "…"


def _where(pending_only: bool, topics: Sequence[str] | None) -> tuple[str, list[str]]:
    terms = ["replayed_ms IS NULL"] if pending_only else []
    args: list[str] = []
    if topics is not None:
        term, args = under_prefixes("topic", topics)
        terms.append(term)
    return ("WHERE " + " AND ".join(terms)) if terms else "", args


def _dead_letters(conn: Db) -> None:
    """Dead letters and the eviction count; a data directory from before one-letter-per-message gets its
    ``items`` and ``size`` columns, filled from what each letter holds."""
    run_script(conn, """
        CREATE TABLE IF NOT EXISTS dead_letters (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            topic TEXT NOT NULL, payload BLOB NOT NULL, digest TEXT NOT NULL,
            reason TEXT NOT NULL, item_index INTEGER,
            first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL,
            times INTEGER NOT NULL DEFAULT 1, replayed_ms INTEGER);
        CREATE UNIQUE INDEX IF NOT EXISTS dead_letters_key ON dead_letters (topic, digest);
        CREATE TABLE IF NOT EXISTS dead_letter_evictions (id INTEGER PRIMARY KEY CHECK (id = 1),
            evicted INTEGER NOT NULL);
        """)
    if "items" not in {row[1] for row in conn.execute("PRAGMA table_info(dead_letters)")}:
        conn.execute("ALTER TABLE dead_letters ADD COLUMN items TEXT")
        conn.execute("ALTER TABLE dead_letters ADD COLUMN size INTEGER NOT NULL DEFAULT 0")
        conn.execute("UPDATE dead_letters SET size = length(payload) + length(reason), "
                     "items = CASE WHEN item_index IS NULL THEN NULL ELSE json_array(json_array("
                     "item_index, reason)) END")
    conn.execute("CREATE INDEX IF NOT EXISTS dead_letters_size ON dead_letters (size)")


MIGRATIONS = [Migration(1, "dead letters, one per message, with their items and size", _dead_letters)]


class DeadLetterStore:
    def __init__(self, path: Path, *, max_count: int = 100_000, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_count, self.max_bytes = max_count, max_bytes
        self._conn = connect(path)
        self._lock = threading.Lock()
        migrate(self._conn, "dead_letters", MIGRATIONS)

    def add(self, refusals: list[Refusal]) -> None:
        """Commit refusals durably (one transaction), then keep the store inside its bounds."""
        if not refusals:
            return
        rows = []
        for r in refusals:
            reason = _clean(r.reason)
            items = orjson.dumps([[i, None if t is None else _clean(t)] for i, t in r.items]).decode() \
                if r.items else None
            size = len(r.payload) + len(reason) + len(items or "")
            rows.append((r.topic.encode("utf-8", "replace").decode("utf-8"), r.payload,
                         hashlib.sha256(r.payload).hexdigest(), reason, items, size,
                         r.received_ms, r.received_ms, 0 if r.dup else 1))
        with self._lock:
            with write_transaction(self._conn):
                self._conn.executemany(
                    "INSERT INTO dead_letters (topic, payload, digest, reason, items, size, first_ms, last_ms) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (topic, digest) DO UPDATE SET "
                    "last_ms = excluded.last_ms, reason = excluded.reason, items = excluded.items, "
                    "replayed_ms = NULL, times = times + ?",
                    rows,
                )
                self._evict()

    def _evict(self) -> None:
        """Drop replayed letters first, then the oldest, until both bounds hold (inside the caller's tx)."""
        count, size = self._conn.execute("SELECT count(*), total(size) FROM dead_letters").fetchone()
        if count <= self.max_count and size <= self.max_bytes:
            return
        dropped = 0
        for where in ("replayed_ms IS NOT NULL", "true"):
            cur = self._conn.execute(f"SELECT id, size FROM dead_letters WHERE {where} ORDER BY id")  # noqa: S608
            doomed = []
            for letter_id, letter_size in cur:
                if count <= self.max_count and size <= self.max_bytes:
                    break
                doomed.append((letter_id,))
                count, size = count - 1, size - letter_size
            cur.close()
            self._conn.executemany("DELETE FROM dead_letters WHERE id = ?", doomed)
            dropped += len(doomed)
        self._conn.execute("INSERT INTO dead_letter_evictions (id, evicted) VALUES (1, ?) "
                           "ON CONFLICT (id) DO UPDATE SET evicted = evicted + excluded.evicted", (dropped,))

    def list(self, *, pending_only: bool = True, limit: int = 1000, offset: int = 0,
             topics: Sequence[str] | None = None) -> list[DeadLetter]:
        """Oldest first; ``topics``: only those whose topic starts with one of these (a site's, a device's)."""
        where, args = _where(pending_only, topics)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLS} FROM dead_letters {where} ORDER BY id LIMIT ? OFFSET ?",  # noqa: S608
                (*args, limit, offset),
            ).fetchall()
        return [_letter(row) for row in rows]

    def get(self, letter_id: int) -> DeadLetter:
        with self._lock:
            row = self._conn.execute(f"SELECT {_COLS} FROM dead_letters WHERE id = ?", (letter_id,)).fetchone()  # noqa: S608
        if row is None:
            raise NotFound(f"no dead letter {letter_id}")
        return _letter(row)

    def mark_replayed(self, letter_id: int, at_ms: int) -> None:
        with self._lock:
            self._conn.execute("UPDATE dead_letters SET replayed_ms = ? WHERE id = ?", (at_ms, letter_id))

    def count(self, *, pending_only: bool = True, topics: Sequence[str] | None = None) -> int:
        where, args = _where(pending_only, topics)
        with self._lock:
            return int(self._conn.execute(f"SELECT count(*) FROM dead_letters {where}", args).fetchone()[0])  # noqa: S608

    def usage(self) -> Usage:
        with self._lock:
            count, size = self._conn.execute("SELECT count(*), total(size) FROM dead_letters").fetchone()
            row = self._conn.execute("SELECT evicted FROM dead_letter_evictions WHERE id = 1").fetchone()
        return Usage(int(count), int(size), self.max_count, self.max_bytes, int(row[0]) if row else 0)

    def close(self) -> None:
        self._conn.close()
