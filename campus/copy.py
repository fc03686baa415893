"""Copying a store from a data directory's SQLite file to the state server (``meterwatch state migrate``).

Each store is opened on both sides, so both are at the same schema version (its migrations run first where
they have not). A table is copied only into an empty one, all of a store's tables in one transaction on the
server; a table the server holds already is left alone when it holds exactly the data directory's rows (a copy
run again, or interrupted after some stores), and refused otherwise: rows changed on the server since (a token
revoked, another made) are never overwritten, nor are revoked ones brought back. Identity columns continue
after the highest id copied. Afterwards every table is read back: the row count and a SHA-256 over its rows (in
a fixed order) on both sides, which must be equal."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from campus.db import Db, Place, is_sqlite, write_transaction
from campus.errors import ConfigError
from campus.migrations import Migration, open_store

BATCH = 500  # rows per INSERT round trip


@dataclass(frozen=True)
class StoreTables:
    """A store, as its class opens it (name and migrations), the tables it keeps, and the file of the data
    directory it lives in (``state``: meterwatch.db, ``alerts``: alerts.db)."""

    store: str
    migrations: Sequence[Migration]
    tables: tuple[str, ...]
    file: str = "state"


@dataclass(frozen=True)
class Copied:
    """One table after a copy: the data directory's rows and checksum, the server's, and whether this run copied
    it (False: the server held the same rows already)."""

    store: str
    table: str
    rows: int
    checksum: str
    server_rows: int
    server_checksum: str
    copied: bool

    @property
    def same(self) -> bool:
        return (self.rows, self.checksum) == (self.server_rows, self.server_checksum)


class CopyRefused(ConfigError):
    """The server holds other rows in a table than the data directory does: nothing of that store was copied."""


def copy_store(source: Place, target: Place, spec: StoreTables,
               progress: Callable[[int], None] | None = None) -> list[Copied]:
    """Copy ``spec``'s tables from ``source`` (a SQLite file) to ``target``, each into an empty table (the rules
    in the module's text); what each table holds afterwards on both sides."""
    src = open_store(source, spec.store, spec.migrations)
    try:
        dst = open_store(target, spec.store, spec.migrations)
        try:
            with write_transaction(dst):  # the schema's lock: a second copy at the same time waits, then finds it
                todo = [table for table in spec.tables if _needs_copy(src, dst, spec.store, table)]
                for table in todo:
                    _copy_table(src, dst, table, progress)
            return [_compare(src, dst, spec.store, table, table in todo) for table in spec.tables]
        finally:
            dst.close()
    finally:
        src.close()


def _columns(conn: Db, table: str) -> list[str]:
    """A SQLite table's columns."""
    return [str(r[1]) for r in conn.execute(f"PRAGMA table_info({table})").fetchall()]


def _texts(conn: Db, table: str) -> set[int]:
    """The positions of a SQLite table's TEXT columns."""
    return {i for i, r in enumerate(conn.execute(f"PRAGMA table_info({table})").fetchall())
            if str(r[2]).upper() == "TEXT"}


def _rows(conn: Db, table: str, columns: list[str], texts: set[int] = frozenset()) -> list[tuple[Any, ...]]:  # type: ignore[assignment]
    """The rows as the server keeps them: SQLite lets a TEXT column hold bytes (JSON written as UTF-8 bytes),
    PostgreSQL keeps text there, so those are read as the UTF-8 they are (a byte that is not UTF-8 stops the
    copy with the table's name)."""
    out = []
    for r in conn.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall():  # noqa: S608
        row = []
        for i, v in enumerate(r):
            if isinstance(v, memoryview):
                v = bytes(v)
            if i in texts and isinstance(v, bytes):
                try:
                    v = v.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise CopyRefused(f"table {table}, column {columns[i]}: bytes that are not UTF-8 in a text "
                                      f"column ({exc}): nothing of this store was copied") from None
            row.append(v)
        out.append(tuple(row))
    return out


def _needs_copy(src: Db, dst: Db, store: str, table: str) -> bool:
    columns = _columns(src, table)
    there = _rows(dst, table, columns)
    if not there:
        return True
    here = _rows(src, table, columns, _texts(src, table))
    if (len(here), _digest(here)) == (len(there), _digest(there)):
        return False  # copied before: the same rows
    raise CopyRefused(f"{store}: table {table} on the server holds {len(there)} rows that are not the data "
                      f"directory's {len(here)} (changed on the server since a copy, or another campus's): nothing "
                      f"of {store} was copied. Copy into an empty database, or keep the server's rows")


def _copy_table(src: Db, dst: Db, table: str, progress: Callable[[int], None] | None) -> None:
    columns = _columns(src, table)
    rows = _rows(src, table, columns, _texts(src, table))
    insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"  # noqa: S608
    for start in range(0, len(rows), BATCH):
        dst.executemany(insert, rows[start:start + BATCH])
        if progress is not None:
            progress(len(rows[start:start + BATCH]))
    if not is_sqlite(dst):  # an identity column continues after the highest id copied
        for (column,) in dst.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = "
                                     "current_schema() AND table_name = ? AND is_identity = 'YES'", (table,)):
            dst.execute(f"SELECT setval(pg_get_serial_sequence(?, ?), COALESCE((SELECT MAX({column}) FROM "  # noqa: S608
                        f"{table}), 0) + 1, false)", (table, column))


def _digest(rows: list[tuple[Any, ...]]) -> str:
    lines = sorted(json.dumps(list(r), ensure_ascii=False, default=lambda v: bytes(v).hex()) for r in rows)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _compare(src: Db, dst: Db, store: str, table: str, copied: bool) -> Copied:
    columns = _columns(src, table)
    here, there = _rows(src, table, columns, _texts(src, table)), _rows(dst, table, columns)
    return Copied(store, table, len(here), _digest(here), len(there), _digest(there), copied)
