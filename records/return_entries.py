"""The annual return's values entered by hand (``records.db``): floor area, energy users, vehicles, fuels, costs.

Rules, written down plainly:

1. Every value is checked before anything is written (``reports.return_form.check_value``): a body with one bad
   value writes none of them, and every bad value is named with what to fix.
2. A value is never edited: entering it again (a correction) adds a row; the newest row of a field is its value,
   and the older ones stay as its history, each with who entered it, when and the note given. Entering ``null``
   clears a field (a row too, so the history shows it).
3. One site and year at a time; a body holds at most :data:`MAX_VALUES` values and a note of at most 500 characters.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from campus.db import connect, write_transaction
from campus.errors import Invalid
from campus.migrations import Migration, migrate
from reports.annual_return import Entered
from reports.return_form import ENTRIES, check_value

MAX_VALUES = len(ENTRIES)
NOTE_MAX = 500

MIGRATIONS = [Migration.sql(1, "the annual return's entered values, one row per entry (history kept)", """
    CREATE TABLE IF NOT EXISTS return_entries (id INTEGER PRIMARY KEY AUTOINCREMENT, site TEXT NOT NULL,
      year INTEGER NOT NULL, field TEXT NOT NULL, value TEXT, entered_by TEXT NOT NULL, entered_ms INTEGER NOT NULL,
      note TEXT NOT NULL DEFAULT '');
    CREATE INDEX IF NOT EXISTS return_entries_of ON return_entries (site, year, field, id);
    """)]


class EntriesRefused(Invalid):
    """Values that cannot be taken: each with what to fix (answered 422)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class HistoryRow:
    field: str
    value: str | None
    by: str
    at_ms: int
    note: str


def checked(values: dict[str, object], note: str = "") -> dict[str, str | None]:
    """``values`` as stored (rule 1), or EntriesRefused naming every bad one."""
    problems = []
    if not values:
        problems.append("no values: send {\"values\": {\"floor_area_m2\": 12000, …}}")
    if len(values) > MAX_VALUES:
        problems.append(f"{len(values)} values: at most {MAX_VALUES}, one per field")
    if len(note) > NOTE_MAX:
        problems.append(f"the note has {len(note)} characters: at most {NOTE_MAX}")
    out: dict[str, str | None] = {}
    for key, raw in list(values.items())[:MAX_VALUES + 1]:
        try:
            out[key] = check_value(key, raw)
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise EntriesRefused(problems)
    return out


class ReturnEntries:
    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._lock = threading.Lock()
        migrate(self._conn, "return_entries", MIGRATIONS)

    def enter(self, site: str, year: int, values: dict[str, object], by: str, now_ms: int, note: str = ""
              ) -> dict[str, Entered]:
        """Check and write ``values`` (rules 1-2) in one transaction; returns the current values after."""
        good = checked(values, note)
        with self._lock, write_transaction(self._conn):
            self._conn.executemany(
                "INSERT INTO return_entries (site, year, field, value, entered_by, entered_ms, note) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", [(site, year, k, v, by, now_ms, note) for k, v in good.items()])
        return self.current(site, year)

    def current(self, site: str, year: int) -> dict[str, Entered]:
        """Each field's newest value (cleared ones included, as None)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT field, value, entered_by, entered_ms, note FROM return_entries WHERE id IN (SELECT MAX(id) "
                "FROM return_entries WHERE site = ? AND year = ? GROUP BY field) ORDER BY field",
                (site, year)).fetchall()
        return {r[0]: Entered(value=r[1], by=r[2], at_ms=r[3], note=r[4]) for r in rows}

    def history(self, site: str, year: int) -> list[HistoryRow]:
        """Every value ever entered for the site and year, oldest first."""
        with self._lock:
            rows = self._conn.execute("SELECT field, value, entered_by, entered_ms, note FROM return_entries "
                                      "WHERE site = ? AND year = ? ORDER BY id", (site, year)).fetchall()
        return [HistoryRow(*r) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
