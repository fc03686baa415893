"""Bearer tokens and roles.

- viewer: read everything (devices, readings, consumption, reports, alerts, rules, dead letters);
- electrician: a viewer who also acknowledges and resolves alerts;
- admin: an electrician who also manages devices, tokens and dead-letter replay.

A token may be scoped to sites, and inside them to zones or buildings (:mod:`api.access`): it then
sees only those, on every route. A scoped admin manages the devices and dead letters it sees; managing
tokens needs an admin token without a scope.

A token is ``mw_`` + 32 random bytes (URL-safe base64), shown once when made. Only its SHA-256
is stored (``tokens`` in ``DATA_DIR/meterwatch.db``): with 256 random bits a fast hash is enough,
and a stolen database does not give working tokens. Open without a token: ``/api/v1/health``,
``/metrics``, the console's static files and the HMAC-signed one-tap ack links sent in alerts.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from enum import StrEnum

from api.access import Scope
from campus.db import Db, Place, is_sqlite, write_transaction
from campus.errors import AlreadyExists, Invalid, NotFound
from campus.migrations import Migration, open_store

PREFIX = "mw_"


class Role(StrEnum):
    VIEWER = "viewer"
    ELECTRICIAN = "electrician"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


@dataclass(frozen=True, slots=True)
class Principal:
    id: int
    name: str
    role: Role
    scope: Scope = Scope()


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    name: str
    role: Role
    created_ms: int
    last_used_ms: int | None
    scope: Scope = Scope()


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()



def _tokens(conn: Db) -> None:
    """Tokens' hashes with their role; a table from before scopes gets its ``scope`` column (NULL: every site)."""
    conn.execute("CREATE TABLE IF NOT EXISTS tokens (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
                 "role TEXT NOT NULL, digest TEXT NOT NULL UNIQUE, created_ms INTEGER NOT NULL, last_used_ms INTEGER)")
    if not is_sqlite(conn) or "scope" not in {r[1] for r in conn.execute("PRAGMA table_info(tokens)")}:
        conn.execute("ALTER TABLE tokens ADD COLUMN scope TEXT")


MIGRATIONS = [Migration(1, "tokens' hashes, roles and scopes", _tokens)]


class TokenStore:
    def __init__(self, path: Place) -> None:
        self._conn = open_store(path, "tokens", MIGRATIONS)
        self._lock = threading.Lock()

    def create(self, name: str, role: Role | str, scope: Scope | None = None) -> str:
        """A new token for ``name`` (unique) with ``role``, seeing ``scope`` (default: every site); the only
        time the token itself is seen."""
        role = Role(role)
        name = name.strip()
        if not name:
            raise Invalid("a token needs a name, e.g. the person or system using it")
        token = PREFIX + secrets.token_urlsafe(32)
        with self._lock, write_transaction(self._conn):  # one name, one token: also between hosts
            if self._conn.execute("SELECT 1 FROM tokens WHERE name = ?", (name,)).fetchone():
                raise AlreadyExists(f"a token named {name!r} exists: revoke it first or choose another name")
            self._conn.execute("INSERT INTO tokens (name, role, digest, created_ms, scope) VALUES (?, ?, ?, ?, ?)",
                               (name, role.value, digest(token), int(time.time() * 1000),
                                (scope or Scope()).to_json()))
        return token

    def check(self, token: str) -> Principal | None:
        if not token.startswith(PREFIX):
            return None
        with self._lock:
            row = self._conn.execute("SELECT id, name, role, last_used_ms, scope FROM tokens WHERE digest = ?",
                                     (digest(token),)).fetchone()
            if row is None:
                return None
            now = int(time.time() * 1000)
            if row[3] is None or now - row[3] > 60_000:  # last use to the minute: no write per request
                self._conn.execute("UPDATE tokens SET last_used_ms = ? WHERE id = ?", (now, row[0]))
        return Principal(row[0], row[1], Role(row[2]), Scope.from_json(row[4]))

    def list(self) -> list[TokenInfo]:
        with self._lock:
            rows = self._conn.execute("SELECT id, name, role, created_ms, last_used_ms, scope FROM tokens ORDER BY id")
            return [TokenInfo(r[0], r[1], Role(r[2]), r[3], r[4], Scope.from_json(r[5])) for r in rows.fetchall()]

    def revoke(self, name: str) -> None:
        """Revoke the token with exactly this name (never by id or pattern: '3' is not token 3)."""
        with self._lock:
            cur = self._conn.execute("DELETE FROM tokens WHERE name = ?", (name,))
        if cur.rowcount == 0:
            raise NotFound(f"no token named {name!r} (names are exact: see meterwatch token list)")

    def close(self) -> None:
        self._conn.close()
