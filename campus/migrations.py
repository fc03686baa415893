"""Numbered schema migrations, one list per store.

Each store (the registry, tokens, alerts, records, …) owns a list of :class:`Migration`, numbered from 1 with
no gaps, and calls :func:`migrate` when it opens its database. The table ``schema_migrations`` holds, per store,
every version applied, with what it did and when. Several stores share one file (meterwatch.db), so versions
are kept per store, not per file (which is what rules out SQLite's single ``user_version``).

Migration 1 of every store is its schema as of the first release with migrations (631a7fe), written so that it
also brings any earlier data directory there: the checks that used to run at every open (a column added
since, a table rebuilt keyed by site) now run once, inside migration 1. Every later change is a new number.

Why our own table and not Alembic: the stores use the standard library's ``sqlite3`` with their own SQL, not
SQLAlchemy; several stores with histories of their own share a file; and each migration is a small function
over a connection, which runs unchanged on the state server ([state] url): :mod:`campus.pg` takes the same SQL,
and the checks of databases older than migrations run on SQLite only (:func:`campus.db.is_sqlite`). The runner
is this page. A database written by a newer meterwatch is refused, never downgraded."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from campus.db import Db, Place, connect, run_script, write_transaction
from campus.errors import ConfigError

TABLE = ("CREATE TABLE IF NOT EXISTS schema_migrations (store TEXT NOT NULL, version INTEGER NOT NULL, "
         "says TEXT NOT NULL, applied_ms INTEGER NOT NULL, PRIMARY KEY (store, version))")


@dataclass(frozen=True)
class Migration:
    version: int
    says: str  # what it changes, in words
    apply: Callable[[Db], None]

    @classmethod
    def sql(cls, version: int, says: str, script: str) -> Migration:
        """A migration that is a SQL script, run statement by statement inside the migration's transaction."""
        return cls(version, says, lambda conn: run_script(conn, script))


def migrate(conn: Db, store: str, migrations: Sequence[Migration]) -> int:
    """Apply ``store``'s migrations not yet applied, in order, all in one write transaction (another process
    opening the same file waits, then finds them done). Returns the version the store is now at."""
    numbers = [m.version for m in migrations]
    if numbers != list(range(1, len(numbers) + 1)):
        raise ValueError(f"{store}: migrations must be numbered 1, 2, 3, … without gaps, not {numbers}")
    with write_transaction(conn):
        done = version(conn, store)
        if done > len(migrations):
            raise ConfigError(f"{store}: the data directory was written by a newer meterwatch (schema version "
                              f"{done}, this one knows {len(migrations)}): upgrade meterwatch, never downgrade")
        for m in migrations[done:]:
            m.apply(conn)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?, ?)",
                         (store, m.version, m.says, int(time.time() * 1000)))
    return len(migrations)


def open_store(place: Place, store: str, migrations: Sequence[Migration]) -> Db:
    """A store's connection, its migrations applied; closed again if they cannot be (a newer schema, a server
    that went away), so a store that fails to open leaves no connection behind."""
    conn = connect(place)
    try:
        migrate(conn, store, migrations)
    except BaseException:
        conn.close()
        raise
    return conn


def version(conn: Db, store: str) -> int:
    """The version ``store`` is at in this database (0: none applied)."""
    conn.execute(TABLE)
    return int(conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE store = ?",
                            (store,)).fetchone()[0])
