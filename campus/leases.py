"""Leases: work that one process of a cluster does at a time (a site's alert engine, a periodic job).

A lease is named (``alerts:yucai``). Whoever holds it does the work; the others try again every tick and take
over when the holder is gone. Two kinds, chosen by where the shared state lives:

- **On one machine** (no ``[state] url``): an exclusive ``flock`` on ``DATA_DIR/leases/NAME.lock``. The kernel
  lets it go the moment the holding process ends, however it ends (SIGKILL included).
- **On PostgreSQL**: a session-level advisory lock (``pg_try_advisory_lock``) held by a connection of the
  lease's own. A process that dies closes its connection and the server lets the lock go at once; a host that
  vanishes from the network is noticed by the server's TCP keepalives (set on the session: 10 s idle, then
  3 probes 5 s apart), so its leases are free within :data:`FAILOVER_S`. The holder checks its connection at
  every tick (:meth:`Lease.held`): a holder cut off from the server stops the work before another takes it.

Nothing is written for a lease, and nothing is left behind by a holder that dies."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
from pathlib import Path
from typing import Any, Protocol

from campus.db import Place, ServerDb, private_dir, redacted

log = logging.getLogger("meterwatch.leases")

FAILOVER_S = 30  # a vanished host's leases are free within this (keepalives 10 + 3 × 5 s, and a tick)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}")


class Lease(Protocol):
    name: str

    def acquire(self) -> bool:
        """Take the lease if nobody holds it (never waits); True if this process holds it now."""
        ...

    def held(self) -> bool:
        """This process still holds the lease (False once its hold was lost: stop the work)."""
        ...

    def release(self) -> None: ...


def _checked(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"a lease name is letters, digits and _.:- (at most 128), not {name!r}")
    return name


class FileLease:
    """A lease on one machine: ``flock`` on a file in the data directory."""

    def __init__(self, folder: Path, name: str) -> None:
        self.name = _checked(name)
        self._path = private_dir(folder) / (name.replace(":", "__") + ".lock")
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor lets the lock go
            self._fd = None


class PgLease:
    """A lease on the state server: a session advisory lock on a connection of its own."""

    def __init__(self, place: ServerDb, name: str) -> None:
        self.name = _checked(name)
        self._place = place
        digest = hashlib.sha256(f"meterwatch-lease:{name}".encode()).digest()
        self._key = int.from_bytes(digest[:8], "big", signed=True)
        self._conn: Any = None  # a psycopg connection while held

    def acquire(self) -> bool:
        import psycopg

        if self.held():
            return True
        self.release()
        try:
            conn = psycopg.connect(self._place.url, autocommit=True, connect_timeout=5,
                                   application_name=f"meterwatch lease {self.name}"[:63],
                                   options="-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 "
                                           "-c tcp_keepalives_count=3",
                                   keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3)
        except psycopg.Error as exc:
            log.warning("lease %s: the state database cannot be reached: %s", self.name,
                        redacted(self._place.url, " ".join(str(exc).split())))
            return False
        try:
            got = bool(conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()[0])  # type: ignore[index]
        except psycopg.Error:
            conn.close()
            return False
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def held(self) -> bool:
        import psycopg

        if self._conn is None:
            return False
        try:
            self._conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            log.warning("lease %s lost: its connection to the state database is gone", self.name)
            self.release()
            return False

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a connection already broken: closing is all there is to do
                conn.close()


def lease(shared: Place, name: str) -> Lease:
    """The lease ``name`` where the shared state lives (``DataDir.shared``): a file lock beside meterwatch.db, or
    an advisory lock on the state server."""
    if isinstance(shared, ServerDb):
        return PgLease(shared, name)
    return FileLease(shared.parent / "leases", name)
