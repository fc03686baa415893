"""What the roll-ups recompute from: the change notes of every ingest process that stored readings.

Ingest on this host notes them in its presence table (``ingest.status``). With ``[store] change_notes``
every ingest process, on any host, also writes them into the store beside the readings
(``meterwatch_changes``), and they are read back here: so a late reading stored by a worker on another
host is rolled up too. Notes are read from a mark a few minutes back (clocks differ between hosts, and a
write may land after a later one): a note read twice only makes its meter recompute once more.
"""

from __future__ import annotations

import time

from ingest.stores import ChangeNotes
from reports.rollup import ChangeLog, RollupStore

SLACK_MS = 300_000  # how far before the last read the next one starts


class Changes:
    def __init__(self, local: ChangeLog | None, notes: ChangeNotes | None, file: RollupStore) -> None:
        self.local, self.notes, self.file = local, notes, file
        self._taken: dict[str, tuple[dict[str, int], int | None]] = {}

    def changes(self, site: str) -> dict[str, int]:
        mine = self.local.changes(site) if self.local is not None else {}
        out = dict(mine)
        asked = None
        if self.notes is not None:
            asked = int(time.time() * 1000)
            mark = self.file.mark(site)
            since = (mark if mark is not None else asked) - SLACK_MS
            for device, ts in self.notes.change_notes(site, since).items():
                out[device] = min(out.get(device, ts), ts)
        self._taken[site] = (mine, asked)
        return out

    def clear_changes(self, site: str, taken: dict[str, int]) -> None:
        mine, asked = self._taken.pop(site, ({}, None))
        if self.local is not None and mine:
            self.local.clear_changes(site, mine)
        if asked is not None:
            self.file.set_mark(site, asked)
