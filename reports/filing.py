"""Filed reports: a month's report frozen as it was sent to the bureau, in every format, byte for byte.

Filing keeps each format's bytes with their SHA-256, who filed it and when (the server's clock). A
month may be filed again (a correction): each filing is a new version, the earlier ones stay. Late
readings can change a month after it was filed; :func:`changes_since` lists what changed, by building
and kind, between the filed copy and the report as it is now, so the office knows whether a correction
is owed.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

from campus.db import connect, write_transaction
from campus.errors import NotFound
from campus.migrations import Migration, migrate
from reports.energy import EnergyReport

FORMATS = ("json", "csv", "xlsx", "pdf")
KINDS = (("electricity", "electricity_kwh", "kWh"), ("water", "water_m3", "m³"), ("gas", "gas_m3", "m³"))
# a change smaller than this (of the filed figure, or absolute for a zero) is rounding, not a correction
TOLERANCE = 0.0005


@dataclass(frozen=True, slots=True)
class FiledFile:
    format: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class Filing:
    site: str
    month: str
    version: int
    filed_by: str
    filed_ms: int
    files: tuple[FiledFile, ...]


@dataclass(frozen=True, slots=True)
class Change:
    building: str
    building_name: str
    kind: str
    unit: str
    filed: float
    now: float

    @property
    def delta(self) -> float:
        return self.now - self.filed



MIGRATIONS = [Migration.sql(1, "filed reports: every format's bytes by site, month and version", """
    CREATE TABLE IF NOT EXISTS filed (site TEXT NOT NULL, month TEXT NOT NULL, version INTEGER NOT NULL,
      format TEXT NOT NULL, body BLOB NOT NULL, sha256 TEXT NOT NULL, filed_by TEXT NOT NULL,
      filed_ms INTEGER NOT NULL, PRIMARY KEY (site, month, version, format));
    """)]


class FilingStore:
    """``filed.db`` in the data directory."""

    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._lock = threading.Lock()
        migrate(self._conn, "filed", MIGRATIONS)

    def file(self, site: str, month: str, by: str, now_ms: int, bodies: dict[str, bytes]) -> Filing:
        """Keep ``bodies`` (format → bytes) as the next version of ``site``'s ``month``, in one transaction."""
        with self._lock:
            with write_transaction(self._conn):
                row = self._conn.execute("SELECT max(version) FROM filed WHERE site = ? AND month = ?",
                                         (site, month)).fetchone()
                version = (row[0] or 0) + 1
                self._conn.executemany(
                    "INSERT INTO filed VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(site, month, version, fmt, body, hashlib.sha256(body).hexdigest(), by, now_ms)
                     for fmt, body in bodies.items()])
        return self.filing(site, month, version)

    def filings(self, site: str | None = None, month: str | None = None) -> list[Filing]:
        """Every filing (of ``site``, of ``month``), newest month first, then newest version first."""
        sql = ("SELECT site, month, version, format, sha256, length(body), filed_by, filed_ms FROM filed "
               "WHERE (? IS NULL OR site = ?) AND (? IS NULL OR month = ?) "
               "ORDER BY month DESC, site, version DESC, format")
        with self._lock:
            rows = self._conn.execute(sql, (site, site, month, month)).fetchall()
        out: dict[tuple[str, str, int], list[tuple[object, ...]]] = {}
        for r in rows:
            out.setdefault((r[0], r[1], r[2]), []).append(r)
        return [Filing(s, m, v, str(rs[0][6]), int(rs[0][7]),  # type: ignore[call-overload]
                       tuple(FiledFile(str(r[3]), str(r[4]), int(r[5])) for r in rs))  # type: ignore[call-overload]
                for (s, m, v), rs in out.items()]

    def filing(self, site: str, month: str, version: int | None = None) -> Filing:
        """A filing of ``month`` (the newest when ``version`` is None); NotFound if it was never filed."""
        found = [f for f in self.filings(site, month) if version is None or f.version == version]
        if not found:
            raise NotFound(f"{month} of site {site!r} was never filed" if version is None
                           else f"{month} of site {site!r} has no filing version {version}")
        return found[0]

    def body(self, site: str, month: str, fmt: str, version: int | None = None) -> bytes:
        """The exact bytes filed."""
        filing = self.filing(site, month, version)
        with self._lock:
            row = self._conn.execute("SELECT body FROM filed WHERE site = ? AND month = ? AND version = ? AND "
                                     "format = ?", (site, month, filing.version, fmt)).fetchone()
        if row is None:
            raise NotFound(f"{month} of site {site!r} was filed without {fmt}")
        return bytes(row[0])

    def close(self) -> None:
        self._conn.close()


def changes_since(filed: EnergyReport, now: EnergyReport) -> list[Change]:
    """What changed between the filed copy and the report as it is now, by building and kind (and for the site
    as a whole, under its id)."""
    before = {r.id: r for r in [*filed.buildings, filed.site_total]}
    out = []
    for row in [*now.buildings, now.site_total]:
        old = before.get(row.id)
        for kind, field, unit in KINDS:
            a = getattr(old.figures, field) if old is not None else 0.0
            b = getattr(row.figures, field)
            if abs(b - a) > TOLERANCE * max(abs(a), 1.0):
                out.append(Change(row.id, row.name, kind, unit, a, b))
    return out
