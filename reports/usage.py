"""What the API, the console and the CLI ask for: consumption over a period, roll-ups kept current first."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ingest.campus import Campus, Device
from ingest.contract import Kind
from ingest.stores import ReadingStore
from reports.consumption import Consumption, GroupBy, consumption
from reports.periods import Interval, edges
from reports.rollup import ChangeLog, Rollups


class Usage:
    """Consumption queries over one store; the roll-ups (``DATA_DIR/rollups.db``) are refreshed before each."""

    def __init__(self, data_dir: Path, store: ReadingStore, campus: Callable[[], Campus],
                 changes: ChangeLog | None) -> None:
        self.store, self._campus, self.changes = store, campus, changes
        self.rollups = Rollups(data_dir / "rollups.db")
        self._lock = threading.Lock()

    @property
    def campus(self) -> Campus:
        return self._campus()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.campus.site.timezone)

    def refresh(self, progress: Callable[[Iterable[Device]], Iterable[Device]] | None = None) -> int:
        with self._lock:
            return self.rollups.refresh(self.store, self.campus, self.changes, progress=progress)

    def query(self, kind: Kind, start: datetime, end: datetime, interval: Interval, group_by: GroupBy, *,
              language: str = "zh-CN", devices: list[str] | None = None, now_ms: int | None = None,
              refresh: bool = True) -> Consumption:
        if refresh:
            self.refresh()
        tz = self.tz
        return consumption(self.campus, self.rollups, self.store, kind, edges(start, end, interval, tz), interval,
                           group_by, now_ms if now_ms is not None else int(time.time() * 1000), language=language,
                           devices=devices)

    def close(self) -> None:
        self.rollups.close()
