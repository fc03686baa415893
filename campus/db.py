"""SQLite connections the way every meterwatch file wants them: WAL, fsync on commit, private; or, with
``[state] url``, a schema on a PostgreSQL server (:mod:`campus.pg`) that the same stores use with the same SQL.

The data directory holds readings, tokens' hashes, the signing key and dead letters (raw payloads):
it is made 0700 (an existing one keeps at most 0750, for a group the operator chose), and every
database file is created 0600 before SQLite opens it (its -wal and -shm files take the same mode).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from campus.serverdb import ServerDb


class Rows(Protocol):
    """What a store reads of an executed statement: sqlite3's cursor, or :class:`campus.pg.PgCursor`."""

    @property
    def rowcount(self) -> int: ...

    @property
    def lastrowid(self) -> int | None: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Db(Protocol):
    """What a store uses of a connection: sqlite3's, or :class:`campus.pg.PgConnection` (the same SQL, the
    SQLite dialect, translated). ``in_transaction``, ``execute("BEGIN IMMEDIATE")`` and ``COMMIT`` mean the same
    on both: :func:`write_transaction` works unchanged."""

    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Any: ...

    def close(self) -> None: ...


Place = Path | ServerDb  # where a store keeps its rows: a SQLite file, or a schema on the state server


def private_dir(path: Path) -> Path:
    """Make ``path`` (0700), or take away what others may do in an existing one (at most 0750)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777
    if mode & 0o027:
        with contextlib.suppress(PermissionError):  # not ours to change: leave it as the operator set it
            path.chmod(mode & 0o750)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 unless it exists (never readable by others, not even briefly)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return path


def connect(place: Place, *, readonly: bool = False) -> Db:
    """Open a store's database: a SQLite file (:func:`connect_file`), or its schema on the state server."""
    if isinstance(place, ServerDb):
        from campus.pg import PgConnection  # psycopg is loaded only where a server is configured

        return PgConnection(place, readonly=readonly)
    return connect_file(place, readonly=readonly)


def is_sqlite(conn: Db) -> bool:
    """True for a SQLite connection: migration 1's checks of databases older than migrations (``sqlite_master``,
    ``PRAGMA table_info``) run on SQLite only; a server database was always made by migrations."""
    return isinstance(conn, sqlite3.Connection)


def connect_file(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open ``path`` in WAL mode with ``synchronous=FULL`` so a commit survives a crash or power cut."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # an existing folder is the operator's to set
    if not readonly:
        private_file(path)
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    if readonly:
        conn.execute("PRAGMA query_only=ON")
    return conn


@contextmanager
def write_transaction(conn: Db) -> Iterator[Db]:
    """One write transaction: ``BEGIN IMMEDIATE`` takes the write lock first (so two writers never both read,
    then deadlock upgrading), ``COMMIT`` when the block ends, ``ROLLBACK`` if it raises. The connection is in
    autocommit mode (``isolation_level=None``, as :func:`connect` opens it), so nothing else begins one."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back already (a full disk, an interrupt)
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def run_script(conn: Db, sql: str) -> None:
    """Each statement of ``sql`` inside the caller's transaction (``executescript`` would commit it first)."""
    statement = ""
    for line in sql.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            conn.execute(statement)
            statement = ""
    if statement.strip():
        conn.execute(statement)


def under_prefixes(column: str, prefixes: Sequence[str]) -> tuple[str, list[str]]:
    """A SQL condition on ``column`` (a name of ours, never input) and its arguments: the value starts with one
    of ``prefixes`` (none: no row). ``instr`` rather than LIKE, which would read ``_`` in an id as a wildcard."""
    if not prefixes:
        return "1 = 0", []  # a truth both SQLite and PostgreSQL read as one
    return "(" + " OR ".join(f"instr({column}, ?) = 1" for _ in prefixes) + ")", list(prefixes)


@dataclass(frozen=True)
class DataDir:
    """Every file of the data directory, named once. What each holds:

    - ``state`` (meterwatch.db): the registry of sites and devices, tokens' hashes, broker credentials,
      presence, dead letters; ``shared``: where the registry, tokens and credentials live, the same file or,
      with ``server`` (``[state] url``), schema ``state`` of that PostgreSQL database, shared by every host;
    - ``readings`` (readings.db): the embedded store's readings; ``spool`` (spool.db): readings waiting for
      a store that is down;
    - ``alerts`` (alerts.db) with its signing key ``alerts_key``; ``records`` (records.db) with the photos
      and PDFs under ``files``; ``rollups`` (rollups.db); ``filed`` (filed.db); ``billing`` (billing.db:
      filed statements, the suppliers' bills, the canteens' fuel deliveries and meals); the demo's ``log``."""

    root: Path
    server: str | None = field(default=None, repr=False)  # [state] url: the shared state on PostgreSQL

    @property
    def state(self) -> Path:
        return self.root / "meterwatch.db"

    @property
    def shared(self) -> Place:
        """The registry, tokens and broker credentials: meterwatch.db, or schema ``state`` on the server."""
        return self.state if self.server is None else ServerDb(self.server, "state")

    def where(self, file: str) -> tuple[Path, Place]:
        """One file's SQLite path here, and where its rows live (itself, or its schema on the server)."""
        places: dict[str, tuple[Path, Place]] = {"state": (self.state, self.shared),
                                                 "alerts": (self.alerts, self.shared_alerts)}
        return places[file]

    @property
    def shared_alerts(self) -> Place:
        """Alerts, their events, the engine's state and the outbox: alerts.db, or schema ``alerts`` on the
        server."""
        return self.alerts if self.server is None else ServerDb(self.server, "alerts")

    @property
    def readings(self) -> Path:
        return self.root / "readings.db"

    @property
    def spool(self) -> Path:
        return self.root / "spool.db"

    @property
    def alerts(self) -> Path:
        return self.root / "alerts.db"

    @property
    def alerts_key(self) -> Path:
        return self.root / "alerts.key"

    @property
    def records(self) -> Path:
        return self.root / "records.db"

    @property
    def files(self) -> Path:
        return self.root / "records" / "files"

    @property
    def rollups(self) -> Path:
        return self.root / "rollups.db"

    @property
    def filed(self) -> Path:
        return self.root / "filed.db"

    @property
    def billing(self) -> Path:
        return self.root / "billing.db"

    @property
    def log(self) -> Path:
        return self.root / "meterwatch.log"
