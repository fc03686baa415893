"""A store's rows on the state server (``[state] url``): one PostgreSQL connection that a store uses as it uses
a sqlite3 connection, with the same SQL (rewritten by :mod:`campus.pg_sql`).

- **Transactions.** The connection is in autocommit, as the stores' SQLite connections are. ``BEGIN IMMEDIATE``
  begins and takes a transaction-level advisory lock on the store's schema: the writers of one schema take
  turns across every host, as the writers of one SQLite file take turns on one machine, so a read-modify-write
  inside it never loses a change made elsewhere. A lock not granted within ``lock_timeout`` (SQLite's busy
  timeout) rolls the attempt back. A transaction begun inside another is refused, as SQLite refuses it.
- **Values.** ``True``/``False`` are sent as 1/0 (the columns are integers, as on SQLite); a NUMERIC result (a
  SUM of integers) comes back as an int, or a float when it has a fraction, as SQLite gives it; ``lastrowid``
  is the identity the INSERT returned.
- **Failures.** A server that cannot be reached, a connection lost, a lock or statement past its timeout is
  :class:`~campus.errors.StateUnavailable` (503 over HTTP). What it says is meant for anyone (no host, user or
  password); the detail goes to the log, the url's password hidden. A statement outside a transaction that meets
  a connection lost since its last use is tried once more on a new one (a server restarted meanwhile); inside a
  transaction nothing is tried again, and every statement until the ROLLBACK is refused, so half a transaction
  is never committed on a new connection. A constraint broken is ``sqlite3.IntegrityError`` and any other
  error of the database ``sqlite3.DatabaseError``, as on SQLite: the stores and ``campus.errors.HOLD`` treat
  them the same on both.
- **Bounds.** ``connect_timeout`` 5 s, ``lock_timeout`` 30 s, ``statement_timeout`` 120 s,
  ``idle_in_transaction_session_timeout`` 60 s (a host that stops mid-transaction does not hold the schema's
  lock for long), and TCP keepalives both ways (a dead peer is seen within about 25 s)."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import conninfo, errors
from psycopg.pq import TransactionStatus
from psycopg.types.numeric import NumericLoader

from campus.errors import StateUnavailable
from campus.pg_sql import Translated, append, qualified, restore, translate
from campus.serverdb import ServerDb, redacted

log = logging.getLogger("meterwatch.state")

CONNECT_TIMEOUT_S = 5  # a server that does not answer: 503 within this, not a request hanging
LOCK_TIMEOUT_MS = 30_000  # as SQLite's busy_timeout: a write waits this long for another host's transaction
STATEMENT_TIMEOUT_MS = 120_000  # no statement runs longer (the largest is a migration's copy)
IDLE_IN_TRANSACTION_MS = 60_000  # a session idle inside a transaction this long is ended by the server
_KEEPALIVE = {"keepalives": "1", "keepalives_idle": "10", "keepalives_interval": "5", "keepalives_count": "3"}
_SERVER = (f"-c lock_timeout={LOCK_TIMEOUT_MS} -c statement_timeout={STATEMENT_TIMEOUT_MS} "
           f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS} "
           "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3")
_FUNCTIONS = {  # what SQLite has and PostgreSQL lacks, made in each schema
    "instr": "CREATE FUNCTION instr(text, text) RETURNS integer LANGUAGE sql IMMUTABLE STRICT "
             "AS 'SELECT strpos($1, $2)'",
}
_LOG_EVERY_S = 10.0


class _Number(NumericLoader):
    """NUMERIC (a SUM or AVG of integers) as SQLite gives it: an int when whole, else a float."""

    def load(self, data: Any) -> Any:
        value = super().load(data)
        if isinstance(value, Decimal) and value.is_finite():
            return int(value) if value == value.to_integral_value() else float(value)
        return value


def _params(parameters: Any) -> Sequence[Any]:
    if isinstance(parameters, dict):
        raise TypeError("the state's SQL takes ? placeholders and a sequence, not named parameters")
    return [int(v) if isinstance(v, bool) else v for v in parameters]


class PgCursor:
    """An executed statement's rows, read as a sqlite3 cursor is read."""

    def __init__(self, cursor: psycopg.Cursor[Any] | None, lastrowid: int | None = None, *,
                 rows: bool = True) -> None:
        self._cursor, self._lastrowid, self._rows = cursor, lastrowid, rows  # rows: False for an INSERT's RETURNING

    @property
    def rowcount(self) -> int:
        return -1 if self._cursor is None else self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._lastrowid

    @property
    def description(self) -> Any:
        return None if self._cursor is None or not self._rows else self._cursor.description

    def fetchone(self) -> Any:
        return None if self.description is None else self._cursor.fetchone()  # type: ignore[union-attr]

    def fetchmany(self, size: int = 1) -> list[Any]:
        return [] if self.description is None else self._cursor.fetchmany(size)  # type: ignore[union-attr]

    def fetchall(self) -> list[Any]:
        return [] if self.description is None else self._cursor.fetchall()  # type: ignore[union-attr]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())

    def close(self) -> None:
        if self._cursor is not None:
            self._cursor.close()


class PgConnection:
    """One store's connection to its schema on the state server (the rules in the module's text); used from
    several threads as the stores use sqlite3's: each statement holds the connection's lock, a store's
    transaction its own."""

    def __init__(self, place: ServerDb, *, readonly: bool = False) -> None:
        self.place = place
        self._readonly = readonly
        digest = hashlib.sha256(f"meterwatch:{place.schema}".encode()).digest()
        self._key = int.from_bytes(digest[:8], "big", signed=True)  # the schema's write lock
        self._lock = threading.RLock()
        self._conn: psycopg.Connection[Any] | None = None
        self._lost = False  # the connection went while a transaction was open: refuse until ROLLBACK
        self._logged = 0.0
        self._completed: dict[tuple[Translated, bool], tuple[str, bool]] = {}
        self._live()

    # -- the connection ------------------------------------------------------------------
    def _live(self) -> psycopg.Connection[Any]:
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self._drop()
        options = f"-c search_path={self.place.schema} {_SERVER}"
        if self._readonly:
            options += " -c default_transaction_read_only=on"
        try:
            conn = psycopg.connect(conninfo.make_conninfo(self.place.url, connect_timeout=str(CONNECT_TIMEOUT_S),
                                                          options=options, application_name="meterwatch",
                                                          **_KEEPALIVE), autocommit=True)
        except psycopg.Error as exc:
            raise self._unavailable("cannot reach the state database", exc) from None
        try:
            conn.adapters.register_loader("numeric", _Number)
            if not self._readonly:
                self._prepare(conn)
        except psycopg.Error as exc:
            conn.close()
            raise self._unavailable("the state database refused to set up its schema", exc) from None
        self._conn = conn
        return conn

    def _prepare(self, conn: psycopg.Connection[Any]) -> None:
        """The schema and SQLite's functions, made the first time (under the schema's lock: hosts starting
        together); a schema that has them is only looked at, so a role that owns it needs no more."""
        def missing() -> set[str]:
            have = conn.execute("SELECT to_regnamespace(%s) IS NOT NULL, ARRAY(SELECT proname FROM pg_proc WHERE "
                                "pronamespace = to_regnamespace(%s))", (self.place.schema, self.place.schema)
                                ).fetchone()
            assert have is not None  # noqa: S101 - one row, always
            return (set() if have[0] else {"schema"}) | (set(_FUNCTIONS) - set(have[1] or ()))

        if not missing():
            return
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._key,))
            todo = missing()
            if "schema" in todo:
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self.place.schema}")
            for name in sorted(todo - {"schema"}):
                conn.execute(_FUNCTIONS[name])

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _unavailable(self, what: str, exc: BaseException) -> StateUnavailable:
        """``what`` for anyone to read; the server's words, without the password, to the log (at most every
        10 s per connection: a database away for a minute is a few lines, not one per request)."""
        now = time.monotonic()
        if now - self._logged >= _LOG_EVERY_S:
            self._logged = now
            log.warning("%s (%s): %s", what, redacted(self.place.url, str(self.place)),
                        redacted(self.place.url, " ".join(str(exc).split()) or type(exc).__name__))
        return StateUnavailable(f"{what} (schema {self.place.schema})")

    def _failed(self, exc: psycopg.Error, in_transaction: bool) -> Exception:
        """The error a store sees for ``exc``; a connection that is gone is dropped, to be opened again."""
        conn = self._conn
        gone = conn is None or conn.closed or conn.broken
        if gone:
            self._drop()
            self._lost = self._lost or in_transaction
        reason = redacted(self.place.url, " ".join(str(exc).split()))
        if isinstance(exc, psycopg.IntegrityError):
            return sqlite3.IntegrityError(reason)
        if isinstance(exc, errors.LockNotAvailable):
            return self._unavailable(f"another host held the state database's write lock past "
                                     f"{LOCK_TIMEOUT_MS // 1000} s", exc)
        if isinstance(exc, errors.QueryCanceled):
            return self._unavailable(f"a statement on the state database ran past {STATEMENT_TIMEOUT_MS // 1000} s",
                                     exc)
        if gone or isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            return self._unavailable("lost the connection to the state database", exc)
        return sqlite3.DatabaseError(reason)

    # -- what a store calls ----------------------------------------------------------------
    @property
    def in_transaction(self) -> bool:
        if self._lost:
            return True  # until the caller's ROLLBACK
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            return False
        return conn.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR,
                                                TransactionStatus.ACTIVE)

    def execute(self, sql: str, parameters: Any = (), /) -> PgCursor:
        t = translate(sql)
        with self._lock:
            if self._lost:
                if t.masked.strip().upper().rstrip(";") == "ROLLBACK":
                    self._lost = False  # the transaction went with its connection: nothing to undo
                    return PgCursor(None)
                raise StateUnavailable(f"lost the connection to the state database inside a transaction (schema "
                                       f"{self.place.schema}): nothing of it was written")
            if t.begin:
                return self._begin()
            for attempt in (1, 2):
                in_transaction = self.in_transaction
                conn = self._live()
                try:
                    statement, returns = self._complete(t, conn)
                    cursor = conn.execute(statement, _params(parameters))
                    if returns:  # sqlite3's lastrowid: the identity the INSERT gave its row (none if it gave none)
                        row = cursor.fetchone()
                        return PgCursor(cursor, int(row[0]) if row else None, rows=False)
                    return PgCursor(cursor)
                except psycopg.Error as exc:
                    error = self._failed(exc, in_transaction)
                    if attempt == 1 and not in_transaction and self._conn is None and not self._lost:
                        continue  # a connection lost since its last use: once more on a new one
                    raise error from None
            raise AssertionError("unreachable")  # pragma: no cover

    def _begin(self) -> PgCursor:
        if self.in_transaction:
            raise sqlite3.OperationalError("cannot start a transaction within a transaction")
        for attempt in (1, 2):
            conn = self._live()
            try:
                conn.execute("BEGIN")
            except psycopg.Error as exc:
                error = self._failed(exc, False)
                if attempt == 1 and self._conn is None:
                    continue
                raise error from None
            try:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._key,))
                return PgCursor(None)
            except psycopg.Error as exc:
                error = self._failed(exc, True)
                if self._conn is not None and self.in_transaction:
                    try:
                        conn.execute("ROLLBACK")  # no lock, no transaction: the connection stays usable
                    except psycopg.Error:
                        self._drop()
                self._lost = False  # nothing was written in it: there is nothing for the caller to roll back
                raise error from None
        raise AssertionError("unreachable")  # pragma: no cover

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> PgCursor:
        t = translate(sql)
        with self._lock:
            if self._lost:
                raise StateUnavailable(f"lost the connection to the state database inside a transaction (schema "
                                       f"{self.place.schema}): nothing of it was written")
            in_transaction = self.in_transaction
            conn = self._live()
            try:
                statement, _ = self._complete(t, conn, many=True)
                cursor = conn.cursor()
                cursor.executemany(statement, [_params(p) for p in parameters])
                return PgCursor(cursor)
            except psycopg.Error as exc:
                raise self._failed(exc, in_transaction) from None

    def close(self) -> None:
        with self._lock:
            self._drop()

    # -- what the catalog completes --------------------------------------------------------------
    def _complete(self, t: Translated, conn: psycopg.Connection[Any], many: bool = False) -> tuple[str, bool]:
        """The statement to run, and whether it returns the new row's id (an INSERT into a table with an
        identity column, one row at a time)."""
        if t.replace is None and t.insert is None and not t.upsert:
            return t.sql, False
        key = (t, many)
        done = self._completed.get(key)
        if done is None:
            masked = t.masked
            table = t.replace[0] if t.replace is not None else t.insert
            assert table is not None  # noqa: S101 - an INSERT names its table
            columns = [r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = %s ORDER BY ordinal_position", (table,))]
            if t.replace is not None:
                masked = append(masked, self._replacing(conn, table, t.replace[1], columns))
            if t.upsert:
                masked = qualified(masked, table, set(columns))
            identity = [r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = %s AND is_identity = 'YES'", (table,))]
            returns = len(identity) == 1 and not many and "RETURNING" not in masked.upper()
            if returns:
                masked = append(masked, f" RETURNING {identity[0]}")
            done = self._completed[key] = (restore(masked, t.kept), returns)
        return done

    @staticmethod
    def _replacing(conn: psycopg.Connection[Any], table: str, given: tuple[str, ...] | None,
                   columns: list[str]) -> str:
        key = [r[0] for r in conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(%s) AND i.indisprimary "
            "ORDER BY array_position(i.indkey, a.attnum)", (table,))]
        if not key:
            raise sqlite3.OperationalError(f"INSERT OR REPLACE into {table}: it has no primary key")
        given = given or tuple(columns)
        sets = [f"{c} = excluded.{c}" if c in given else f"{c} = DEFAULT" for c in columns if c not in key]
        return f" ON CONFLICT ({', '.join(key)}) " + (f"DO UPDATE SET {', '.join(sets)}" if sets else "DO NOTHING")
