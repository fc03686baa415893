"""Broker credentials of gateways and devices (their MQTT passwords), kept only as hashes.

A secret is made here, shown once to whoever issued it, and stored as the hash Mosquitto's own
password file holds (``$7$``: PBKDF2-SHA512, the format ``mosquitto_passwd`` writes), so the
password file is written straight from this table. Secrets are 192 random bits: the hash's work
factor (Mosquitto's default of 101 rounds, paid at every connect) protects nothing a guess could
find. Rotating replaces the hash; revoking removes it, and the row stays to say when.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from campus.db import Place, write_transaction
from campus.errors import AlreadyExists, NotFound
from campus.migrations import Migration, open_store

ROUNDS = 101  # mosquitto_passwd's default
SALT_BYTES = 12


def mosquitto_hash(secret: str, *, salt: bytes | None = None, rounds: int = ROUNDS) -> str:
    """``$7$rounds$salt$hash`` (base64), as Mosquitto 2 reads it from a password file."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", secret.encode("utf-8"), salt, rounds)
    return f"$7${rounds}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify(secret: str, stored: str) -> bool:
    try:
        _, kind, rounds, salt, _digest = stored.split("$")
        if kind != "7":
            return False
        again = mosquitto_hash(secret, salt=base64.b64decode(salt), rounds=int(rounds))
    except ValueError:
        return False
    return hmac.compare_digest(again, stored)


@dataclass(frozen=True, slots=True)
class Credential:
    id: str                   # the MQTT username: a gateway's or a device's id
    issued_ms: int
    rotated_ms: int | None
    revoked_ms: int | None
    hash: str | None          # None once revoked

    @property
    def active(self) -> bool:
        return self.revoked_ms is None



MIGRATIONS = [Migration.sql(1, "broker credentials: hashes, issued, rotated, revoked", """
    CREATE TABLE IF NOT EXISTS credentials (id TEXT PRIMARY KEY, hash TEXT, issued_ms INTEGER NOT NULL,
      rotated_ms INTEGER, revoked_ms INTEGER);
    """)]


class Credentials:
    """The ``credentials`` table of the state database (``meterwatch.db``)."""

    def __init__(self, path: Place) -> None:
        self._conn = open_store(path, "credentials", MIGRATIONS)
        self._lock = threading.Lock()

    def issue(self, who: str) -> str:
        """A new secret for ``who`` (returned once); :class:`AlreadyExists` if it has one (rotate it instead)."""
        secret = secrets.token_urlsafe(24)
        now = int(time.time() * 1000)
        with self._lock:
            with write_transaction(self._conn):
                row = self._conn.execute("SELECT revoked_ms FROM credentials WHERE id = ?", (who,)).fetchone()
                if row is not None and row[0] is None:
                    raise AlreadyExists(f"{who!r} already has credentials: rotate them (meterwatch credentials "
                                        f"rotate {who}) or revoke them first")
                self._conn.execute(
                    "INSERT INTO credentials (id, hash, issued_ms) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                    "hash = excluded.hash, issued_ms = excluded.issued_ms, rotated_ms = NULL, revoked_ms = NULL",
                    (who, mosquitto_hash(secret), now))
        return secret

    def rotate(self, who: str) -> str:
        """A new secret replacing the old one (which stops working at the broker's next reload)."""
        secret = secrets.token_urlsafe(24)
        with self._lock:
            cur = self._conn.execute("UPDATE credentials SET hash = ?, rotated_ms = ? WHERE id = ? AND "
                                     "revoked_ms IS NULL", (mosquitto_hash(secret), int(time.time() * 1000), who))
        if cur.rowcount == 0:
            raise NotFound(f"{who!r} has no active credentials: issue them (meterwatch credentials issue {who})")
        return secret

    def revoke(self, who: str) -> None:
        with self._lock:
            cur = self._conn.execute("UPDATE credentials SET hash = NULL, revoked_ms = ? WHERE id = ? AND "
                                     "revoked_ms IS NULL", (int(time.time() * 1000), who))
        if cur.rowcount == 0:
            raise NotFound(f"{who!r} has no active credentials")

    def list(self) -> list[Credential]:
        with self._lock:
            rows = self._conn.execute("SELECT id, issued_ms, rotated_ms, revoked_ms, hash FROM credentials "
                                      "ORDER BY id").fetchall()
        return [Credential(*r) for r in rows]

    def active(self) -> dict[str, str]:
        """Username → password hash of every credential in force."""
        return {c.id: c.hash for c in self.list() if c.active and c.hash}

    def close(self) -> None:
        self._conn.close()
