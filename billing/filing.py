"""Filed statements: a payer's month frozen as it was handed over, in every format, byte for byte.

Like the bureau report's filings (``reports.filing``): each format's bytes with their SHA-256, who filed and when
(the server's clock); filing again makes a new version and keeps the old. A later tariff correction or late
readings never change a filed statement: :func:`changes_since` lists what differs between the filed JSON and the
statement as it is now, line by line, so the office knows whether a corrected version is owed.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from billing.statements import Statement
from campus.db import connect, write_transaction
from campus.errors import NotFound
from campus.migrations import Migration, migrate

FORMATS = ("json", "csv", "xlsx", "pdf")


@dataclass(frozen=True, slots=True)
class FiledFile:
    format: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class StatementFiling:
    site: str
    month: str
    payer: str
    version: int
    filed_by: str
    filed_ms: int
    files: tuple[FiledFile, ...]


@dataclass(frozen=True, slots=True)
class LineChange:
    """One line (meter, band, period start, section) whose use or amount differs from the filed copy."""

    key: str
    filed_use: Decimal | None
    now_use: Decimal | None
    filed_amount: Decimal | None
    now_amount: Decimal | None


MIGRATIONS = [Migration.sql(1, "filed statements: every format's bytes by site, month, payer and version", """
    CREATE TABLE IF NOT EXISTS filed_statements (site TEXT NOT NULL, month TEXT NOT NULL, payer TEXT NOT NULL,
      version INTEGER NOT NULL, format TEXT NOT NULL, body BLOB NOT NULL, sha256 TEXT NOT NULL,
      filed_by TEXT NOT NULL, filed_ms INTEGER NOT NULL, PRIMARY KEY (site, month, payer, version, format));
    """)]


class StatementFilings:
    """The filed statements in ``billing.db``."""

    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._lock = threading.Lock()
        migrate(self._conn, "filed_statements", MIGRATIONS)

    def file(self, site: str, month: str, payer: str, by: str, now_ms: int,
             bodies: dict[str, bytes]) -> StatementFiling:
        """Keep ``bodies`` (format → bytes) as the next version of the payer's month, in one transaction."""
        with self._lock:
            with write_transaction(self._conn):
                row = self._conn.execute("SELECT max(version) FROM filed_statements WHERE site = ? AND month = ? "
                                         "AND payer = ?", (site, month, payer)).fetchone()
                version = (row[0] or 0) + 1
                self._conn.executemany(
                    "INSERT INTO filed_statements VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(site, month, payer, version, fmt, body, hashlib.sha256(body).hexdigest(), by, now_ms)
                     for fmt, body in bodies.items()])
        return self.filing(site, month, payer, version)

    def filings(self, site: str, month: str | None = None, payer: str | None = None) -> list[StatementFiling]:
        """Every filing of ``site`` (of ``month``, of ``payer``), newest month first, then newest version first."""
        sql = ("SELECT site, month, payer, version, format, sha256, length(body), filed_by, filed_ms "
               "FROM filed_statements WHERE site = ? AND (? IS NULL OR month = ?) AND (? IS NULL OR payer = ?) "
               "ORDER BY month DESC, payer, version DESC, format")
        with self._lock:
            rows = self._conn.execute(sql, (site, month, month, payer, payer)).fetchall()
        out: dict[tuple[str, str, str, int], list[tuple[object, ...]]] = {}
        for r in rows:
            out.setdefault((r[0], r[1], r[2], r[3]), []).append(r)
        return [StatementFiling(s, m, p, v, str(rs[0][7]), int(rs[0][8]),  # type: ignore[call-overload]
                                tuple(FiledFile(str(r[4]), str(r[5]), int(r[6]))  # type: ignore[call-overload]
                                      for r in rs))
                for (s, m, p, v), rs in out.items()]

    def filing(self, site: str, month: str, payer: str, version: int | None = None) -> StatementFiling:
        found = [f for f in self.filings(site, month, payer) if version is None or f.version == version]
        if not found:
            raise NotFound(f"the {month} statement of payer {payer!r} was never filed" if version is None
                           else f"the {month} statement of payer {payer!r} has no filing version {version}")
        return found[0]

    def body(self, site: str, month: str, payer: str, fmt: str, version: int | None = None) -> bytes:
        filing = self.filing(site, month, payer, version)
        with self._lock:
            row = self._conn.execute("SELECT body FROM filed_statements WHERE site = ? AND month = ? AND payer = ? "
                                     "AND version = ? AND format = ?",
                                     (site, month, payer, filing.version, fmt)).fetchone()
        if row is None:
            raise NotFound(f"the {month} statement of payer {payer!r} was filed without {fmt}")
        return bytes(row[0])

    def close(self) -> None:
        self._conn.close()


def _key(section: str, meter: str | None, band: str | None, start: object) -> str:
    return "/".join(str(x) for x in (section, meter or "-", band or "-", start))


def changes_since(filed: Statement, now: Statement) -> list[LineChange]:
    """Lines whose use or amount differ between the filed statement and now (added and dropped lines too)."""
    before = {_key(ln.section, ln.meter, ln.band, ln.start): ln for ln in filed.lines}
    after = {_key(ln.section, ln.meter, ln.band, ln.start): ln for ln in now.lines}
    out = []
    for key in [*before, *(k for k in after if k not in before)]:
        a, b = before.get(key), after.get(key)
        if a is None or b is None or a.use != b.use or a.amount != b.amount:
            out.append(LineChange(key, a.use if a else None, b.use if b else None, a.amount if a else None,
                                  b.amount if b else None))
    return out
