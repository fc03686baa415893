"""Leases: work that one process of a cluster does at a time (a site's alert engine, a periodic job).

A lease is named (``alerts:yucai``). Whoever holds it does the work; the others try again at every tick and
take over when the holder is gone. A process keeps its leases in one :class:`Leases`; where they live follows
the shared state:

- **On one machine** (no ``[state] url``): an exclusive ``flock`` per lease on ``DATA_DIR/leases/NAME.lock``.
  The kernel lets it go the moment the holding process ends, however it ends (SIGKILL included).
- **On PostgreSQL**: session-level advisory locks (``pg_try_advisory_lock``), all of a process's on one
  connection of their own. A process that dies closes that connection and the server lets its locks go at once;
  a host that vanishes from the network is noticed by the server's TCP keepalives (set on the session: 10 s
  idle, then 3 probes 5 s apart), so its leases are free within :data:`FAILOVER_S`. The holder looks at its
  connection at every tick (:meth:`Leases.check`): a holder cut off from the server drops every lease, and
  stops that work, before another process can take it.

Nothing is written for a lease, and nothing is left behind by a holder that dies."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import threading
from typing import Any

from campus.db import Place, ServerDb, private_dir
from campus.serverdb import redacted

log = logging.getLogger("meterwatch.leases")

FAILOVER_S = 30  # a vanished host's leases are free within this (server keepalives 10 + 3 × 5 s), then a tick
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}")


def _checked(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"a lease name is letters, digits and _.:- (at most 128), not {name!r}")
    return name


class Leases:
    """The leases one process holds, where the shared state lives (``DataDir.shared``)."""

    def __init__(self, shared: Place) -> None:
        self._server = shared if isinstance(shared, ServerDb) else None
        self._folder = None if isinstance(shared, ServerDb) else shared.parent / "leases"
        self._held: dict[str, int] = {}  # name -> a file descriptor (one machine) or the advisory key (server)
        self._conn: Any = None  # the server connection holding the advisory locks
        self._lock = threading.Lock()

    @property
    def held(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._held)

    def holds(self, name: str) -> bool:
        with self._lock:
            return name in self._held

    def take(self, name: str) -> bool:
        """Take ``name`` if nobody holds it (never waits); True if this process holds it now."""
        _checked(name)
        with self._lock:
            if name in self._held:
                return True
            got = self._take_file(name) if self._server is None else self._take_server(name)
            if got is not None:
                self._held[name] = got
                log.info("lease %s taken", name)
            return got is not None

    def check(self) -> frozenset[str]:
        """What this process still holds: on the server, every lease goes at once when its connection has
        (the server has let the locks go, or soon will: stop that work now)."""
        with self._lock:
            if self._server is not None and self._held:
                import psycopg

                try:
                    self._conn.execute("SELECT 1")
                except (psycopg.Error, AttributeError):
                    log.warning("leases %s lost: the connection to the state database is gone",
                                ", ".join(sorted(self._held)))
                    self._held.clear()
                    self._close_conn()
            return frozenset(self._held)

    def release(self, name: str) -> None:
        with self._lock:
            got = self._held.pop(name, None)
            if got is None:
                return
            if self._server is None:
                os.close(got)  # closing the descriptor lets the lock go
            else:
                with contextlib.suppress(Exception):  # a connection gone has let it go already
                    self._conn.execute("SELECT pg_advisory_unlock(%s)", (got,))

    def close(self) -> None:
        for name in list(self.held):
            self.release(name)
        with self._lock:
            self._close_conn()

    # -- the two kinds -----------------------------------------------------------------------
    def _take_file(self, name: str) -> int | None:
        assert self._folder is not None  # noqa: S101 - one machine
        path = private_dir(self._folder) / (name.replace(":", "__") + ".lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def _take_server(self, name: str) -> int | None:
        import psycopg

        assert self._server is not None  # noqa: S101 - on the server
        key = int.from_bytes(hashlib.sha256(f"meterwatch-lease:{name}".encode()).digest()[:8], "big", signed=True)
        try:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._close_conn()
                self._held.clear()  # a connection gone took its locks with it
                self._conn = psycopg.connect(
                    self._server.url, autocommit=True, connect_timeout=5, application_name="meterwatch leases",
                    options="-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3",
                    keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3)
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        except psycopg.Error as exc:
            log.warning("lease %s: the state database cannot be reached: %s", name,
                        redacted(self._server.url, " ".join(str(exc).split())))
            self._close_conn()
            self._held.clear()
            return None
        return key if row and row[0] else None

    def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a connection already broken: closing is all there is to do
                conn.close()

