"""The suppliers' bills (供电局、自来水公司、燃气公司的账单), as the office entered them, in ``billing.db``.

The rules, written down plainly:

- A bill is one site's, of one kind (electricity, water, gas), for a period of whole local days (``period_from``
  to ``period_to``, both inclusive: suppliers read on their own days, not always the 1st), with its quantities
  per band (``{"peak": …, "flat": …}`` or ``{"total": …}``) and its amount in 元.
- A bill is never edited in place. A wrong one is corrected by a new bill that ``replaces`` it: the old one is
  kept, marked replaced by the new one. A bill entered by mistake is withdrawn: kept, marked who withdrew it,
  when and why. Only a current bill (neither replaced nor withdrawn) may be replaced or withdrawn.
- Two current bills of one site and kind never cover the same day: the second is refused, saying which bill to
  replace instead.
- A correction keeps its first bill's ``chain`` (the id of the bill it all began with): the gap alert of a bill
  and of its corrections is one alert.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from campus.db import connect, write_transaction
from campus.errors import AlreadyExists, NotFound
from campus.migrations import Migration, migrate

SCHEMA_1 = """
CREATE TABLE IF NOT EXISTS bills (id INTEGER PRIMARY KEY, site TEXT NOT NULL, kind TEXT NOT NULL,
  supplier TEXT NOT NULL, period_from TEXT NOT NULL, period_to TEXT NOT NULL, quantities TEXT NOT NULL,
  amount TEXT NOT NULL, number TEXT, photo TEXT, note TEXT NOT NULL, recorded_by TEXT NOT NULL,
  recorded_ms INTEGER NOT NULL, replaces INTEGER, replaced_by INTEGER, chain INTEGER NOT NULL,
  withdrawn_by TEXT, withdrawn_ms INTEGER, withdrawn_reason TEXT);
CREATE INDEX IF NOT EXISTS bills_site ON bills (site, kind, period_from);
"""
MIGRATIONS = [Migration.sql(1, "the suppliers' bills, corrections by replacement", SCHEMA_1)]
COLUMNS = ("id, site, kind, supplier, period_from, period_to, quantities, amount, number, photo, note, recorded_by, "
           "recorded_ms, replaces, replaced_by, chain, withdrawn_by, withdrawn_ms, withdrawn_reason")


@dataclass(frozen=True, slots=True)
class BillRow:
    id: int
    site: str
    kind: str
    supplier: str
    period_from: dt.date
    period_to: dt.date          # inclusive
    quantities: dict[str, Decimal]
    amount: Decimal
    number: str | None
    photo: str | None
    note: str
    recorded_by: str
    recorded_ms: int
    replaces: int | None
    replaced_by: int | None
    chain: int
    withdrawn_by: str | None
    withdrawn_ms: int | None
    withdrawn_reason: str | None

    @property
    def current(self) -> bool:
        return self.replaced_by is None and self.withdrawn_ms is None

    @property
    def status(self) -> str:
        return "replaced" if self.replaced_by is not None else "withdrawn" if self.withdrawn_ms is not None \
            else "current"

    @property
    def stop(self) -> dt.date:
        """The day after the period (exclusive end)."""
        return self.period_to + dt.timedelta(days=1)

    @property
    def quantity(self) -> Decimal:
        """The bill's whole quantity: its ``total``, else the sum of its bands."""
        if "total" in self.quantities:
            return self.quantities["total"]
        return sum(self.quantities.values(), Decimal(0))


def _row(r: tuple[Any, ...]) -> BillRow:
    return BillRow(int(r[0]), r[1], r[2], r[3], dt.date.fromisoformat(r[4]), dt.date.fromisoformat(r[5]),
                   {k: Decimal(v) for k, v in json.loads(r[6]).items()}, Decimal(r[7]), r[8], r[9], r[10], r[11],
                   int(r[12]), r[13], r[14], int(r[15]), r[16], r[17], r[18])


class BillStore:
    """``billing.db``'s bills (the store ``bills`` in its migrations)."""

    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._lock = threading.RLock()
        migrate(self._conn, "bills", MIGRATIONS)

    @contextmanager
    def _tx(self) -> Iterator[None]:
        with self._lock, write_transaction(self._conn):
            yield

    def _all(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def add(self, *, site: str, kind: str, supplier: str, period_from: dt.date, period_to: dt.date,
            quantities: dict[str, Decimal], amount: Decimal, number: str | None, photo: str | None, note: str,
            by: str, now_ms: int, replaces: int | None = None) -> BillRow:
        """Record a bill (or a correction of bill ``replaces``, which is then marked replaced by it)."""
        with self._tx():
            chain = None
            if replaces is not None:
                old = self._one(replaces)
                if old is None or old.site != site:
                    raise NotFound(f"no bill #{replaces} to replace")
                if old.kind != kind:
                    raise AlreadyExists(f"bill #{replaces} is a {old.kind} bill: a correction is of the same kind")
                if not old.current:
                    later = f"replaced by #{old.replaced_by}" if old.replaced_by is not None else "withdrawn"
                    raise AlreadyExists(f"bill #{replaces} was already {later}: correct the current bill")
                chain = old.chain
            clash = self._conn.execute(
                "SELECT id, period_from, period_to FROM bills WHERE site = ? AND kind = ? AND replaced_by IS NULL "
                "AND withdrawn_ms IS NULL AND period_from <= ? AND period_to >= ? AND id IS NOT ? ORDER BY id LIMIT 1",
                (site, kind, period_to.isoformat(), period_from.isoformat(), replaces)).fetchone()
            if clash is not None:
                raise AlreadyExists(f"bill #{clash[0]} already covers {clash[1]} to {clash[2]} for {kind}: to correct "
                                    f"it, send this bill with \"replaces\": {clash[0]}")
            cur = self._conn.execute(
                "INSERT INTO bills (site, kind, supplier, period_from, period_to, quantities, amount, number, photo, "
                "note, recorded_by, recorded_ms, replaces, chain) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                (site, kind, supplier, period_from.isoformat(), period_to.isoformat(),
                 json.dumps({k: str(v) for k, v in quantities.items()}), str(amount), number, photo, note, by, now_ms,
                 replaces))
            bill_id = int(cur.lastrowid or 0)
            self._conn.execute("UPDATE bills SET chain = ? WHERE id = ?", (chain or bill_id, bill_id))
            if replaces is not None:
                self._conn.execute("UPDATE bills SET replaced_by = ? WHERE id = ?", (bill_id, replaces))
        return self.get(bill_id)

    def _one(self, bill_id: int) -> BillRow | None:
        rows = self._all(f"SELECT {COLUMNS} FROM bills WHERE id = ?", (bill_id,))  # noqa: S608 - our columns only
        return _row(rows[0]) if rows else None

    def get(self, bill_id: int, site: str | None = None) -> BillRow:
        """Bill ``bill_id`` (of ``site`` when given: another site's does not exist)."""
        got = self._one(bill_id)
        if got is None or (site is not None and got.site != site):
            raise NotFound(f"no bill #{bill_id}")
        return got

    def listing(self, site: str, *, kind: str | None = None, first: dt.date | None = None,
                stop: dt.date | None = None, every: bool = False, limit: int = 1000, offset: int = 0,
                ) -> tuple[list[BillRow], int]:
        """``site``'s bills (of ``kind``; whose period meets the days [first, stop)), newest period first; only
        current ones unless ``every``. Returns the page and how many there are in all."""
        where = ("site = ? AND (? IS NULL OR kind = ?) AND (? IS NULL OR period_to >= ?) AND "
                 "(? IS NULL OR period_from < ?)")
        if not every:
            where += " AND replaced_by IS NULL AND withdrawn_ms IS NULL"
        lo = first.isoformat() if first else None
        hi = stop.isoformat() if stop else None
        args = (site, kind, kind, lo, lo, hi, hi)
        total = int(self._all(f"SELECT count(*) FROM bills WHERE {where}", args)[0][0])  # noqa: S608 - no input
        rows = self._all(f"SELECT {COLUMNS} FROM bills WHERE {where} "  # noqa: S608 - placeholders only
                         "ORDER BY period_from DESC, kind, id DESC LIMIT ? OFFSET ?", (*args, limit, offset))
        return [_row(r) for r in rows], total

    def current_of(self, site: str, chain: int) -> BillRow | None:
        """The current bill of a chain (None: the chain's last bill was withdrawn)."""
        rows = self._all(f"SELECT {COLUMNS} FROM bills WHERE site = ? AND chain = ? AND replaced_by IS NULL "  # noqa: S608
                         "AND withdrawn_ms IS NULL", (site, chain))
        return _row(rows[0]) if rows else None

    def withdraw(self, bill_id: int, site: str, *, by: str, reason: str, now_ms: int) -> BillRow:
        with self._tx():
            old = self.get(bill_id, site)
            if not old.current:
                later = f"replaced by #{old.replaced_by}" if old.replaced_by is not None else "withdrawn"
                raise AlreadyExists(f"bill #{bill_id} was already {later}")
            self._conn.execute("UPDATE bills SET withdrawn_by = ?, withdrawn_ms = ?, withdrawn_reason = ? WHERE id = ?",
                               (by, now_ms, reason, bill_id))
        return self.get(bill_id)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
