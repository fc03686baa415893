"""Numbered schema migrations (campus/migrations.py): applied once, in order, each store on its own, all or
nothing; a data directory written by a newer meterwatch is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from campus.db import Db, Place, connect, is_sqlite
from campus.errors import ConfigError
from campus.migrations import Migration, migrate, version
from campus.registry import Registry


def _has_table(conn: Db, name: str) -> bool:
    if is_sqlite(conn):
        return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None
    return conn.execute("SELECT to_regclass(?)", (name,)).fetchone()[0] is not None


def test_migrations_apply_once_in_order_per_store(shared_state: Place) -> None:
    conn = connect(shared_state)
    ran: list[str] = []
    first = [Migration(1, "a", lambda c: ran.append("a1")), Migration(2, "b", lambda c: ran.append("a2"))]
    other = [Migration(1, "c", lambda c: ran.append("b1"))]
    assert migrate(conn, "a", first) == 2
    assert migrate(conn, "b", other) == 1
    assert migrate(conn, "a", first) == 2  # again: nothing runs
    assert ran == ["a1", "a2", "b1"]
    assert (version(conn, "a"), version(conn, "b"), version(conn, "c")) == (2, 1, 0)
    conn.close()


def test_a_failing_migration_leaves_nothing_behind(shared_state: Place) -> None:
    conn = connect(shared_state)

    def boom(c: Db) -> None:
        raise RuntimeError("half-way")

    with pytest.raises(RuntimeError):
        migrate(conn, "s", [Migration.sql(1, "t", "CREATE TABLE t (x INTEGER);"), Migration(2, "boom", boom)])
    assert version(conn, "s") == 0
    assert not _has_table(conn, "t")
    conn.close()


def test_gaps_in_the_numbers_are_a_programming_error(tmp_path: Path) -> None:
    conn = connect(tmp_path / "x.db")
    with pytest.raises(ValueError, match="without gaps"):
        migrate(conn, "s", [Migration(2, "b", lambda c: None)])
    conn.close()


def test_a_store_written_by_a_newer_meterwatch_is_refused(shared_state: Place) -> None:
    state = shared_state
    Registry(state).close()
    conn = connect(state)
    conn.execute("INSERT INTO schema_migrations VALUES ('registry', 2, 'from the future', 0)")
    conn.close()
    with pytest.raises(ConfigError, match="newer meterwatch"):
        Registry(state)
