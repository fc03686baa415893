"""What the API, the console and the CLI ask for: consumption over a period, roll-ups kept current first."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from campus.contract import Kind
from campus.db import DataDir
from campus.errors import ConfigError, NotFound, StoreRejected, StoreUnavailable
from campus.model import Campus, Device
from ingest.stores import ReadingStore, change_notes, point_sink
from reports.buckets import Interval, edges
from reports.changes import Changes
from reports.consumption import Consumption, GroupBy, consumption
from reports.export import export_days
from reports.rollup import ChangeLog, RollupStore

log = logging.getLogger("meterwatch.reports")


class Usage:
    """Consumption over one store for every site; the roll-ups (``DATA_DIR/rollups.db``) are refreshed first."""

    def __init__(self, data_dir: Path, store: ReadingStore, campuses: Callable[[], dict[str, Campus]],
                 changes: ChangeLog | None, *, request_wait_s: float = 10.0) -> None:
        self.store, self._campuses = store, campuses
        self.request_wait_s = request_wait_s  # how long a query waits for a running refresh
        self.sink = point_sink(store)  # InfluxDB: each meter's daily use is written beside its readings
        self.file = RollupStore(DataDir(data_dir).rollups, exports=self.sink is not None)
        self.changes = Changes(changes, change_notes(store), self.file)
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def campuses(self) -> dict[str, Campus]:
        return self._campuses()

    def site(self, site: str | None = None, view: Campus | None = None) -> SiteUsage:
        """One site's usage; None: the only site (ConfigError when there are several). ``view``: the campus as
        the asker may see it (fewer buildings); queries and reports cover only that."""
        campuses = self.campuses
        if site is None:
            if len(campuses) != 1:
                raise ConfigError(f"{len(campuses)} sites: name one ({', '.join(list(campuses)[:5])})"
                                  if campuses else "no campus loaded: start with a campus file ([campus] file)")
            site = next(iter(campuses))
        if site not in campuses:
            raise NotFound(f"no site {site!r}")
        return SiteUsage(self, site, view)

    def refresh(self, progress: Callable[[Iterable[Device]], Iterable[Device]] | None = None, *,
                wait_s: float | None = None) -> int | None:
        """Bring every site's roll-ups up to date (see :meth:`SiteUsage.refresh`); meters recomputed."""
        total = 0
        for site in list(self.campuses):
            n = self.site(site).refresh(progress, wait_s=wait_s)
            if n is None:
                return None
            total += n
        return total

    def keep_current(self, every_s: float) -> None:
        """Refresh in a background thread every ``every_s`` (so requests find little to do)."""
        def loop() -> None:
            while True:  # at once (a first build over a long history starts with the service), then every_s
                try:
                    self.refresh()
                except Exception:  # a store outage: try again next time
                    log.warning("roll-up refresh failed", exc_info=True)
                if self._stop.wait(every_s):
                    return

        self._thread = threading.Thread(target=loop, name="mw-rollups", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background refresh (it may be started again)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        self._stop.clear()

    def close(self) -> None:
        self.stop()
        with self.lock:
            self.file.close()


class SiteUsage:
    """One site's consumption queries."""

    def __init__(self, usage: Usage, site: str, view: Campus | None = None) -> None:
        self.usage, self.site_id, self.view = usage, site, view
        self.store, self.request_wait_s = usage.store, usage.request_wait_s
        self.rollups = usage.file.site(site)

    @property
    def whole(self) -> Campus:
        try:
            return self.usage.campuses[self.site_id]
        except KeyError:
            raise NotFound(f"no site {self.site_id!r}") from None

    @property
    def campus(self) -> Campus:
        """The site as the asker sees it."""
        return self.view if self.view is not None else self.whole

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.campus.site.timezone)

    def refresh(self, progress: Callable[[Iterable[Device]], Iterable[Device]] | None = None, *,
                wait_s: float | None = None) -> int | None:
        """Bring the site's roll-ups up to date. With ``wait_s``, give up (None: answer from the roll-ups as they
        are) if another refresh, such as the first build over a long history, holds them longer than that."""
        lock = self.usage.lock
        if not lock.acquire(timeout=-1 if wait_s is None else wait_s):
            log.info("roll-ups busy; answering from them as they are")
            return None
        try:
            campus = self.whole
            n = self.rollups.refresh(self.store, campus, self.usage.changes, progress=progress)
            if self.usage.sink is not None:
                try:
                    export_days(self.usage.sink, campus, self.rollups, self.store, int(time.time() * 1000))
                except (StoreUnavailable, StoreRejected) as exc:  # still pending: the next refresh writes it
                    log.warning("daily use not written to the store yet", extra={"error": str(exc)[:300]})
            return n
        finally:
            lock.release()

    def query(self, kind: Kind, start: datetime, end: datetime, interval: Interval, group_by: GroupBy, *,
              language: str = "zh-CN", devices: list[str] | None = None, now_ms: int | None = None,
              refresh: bool = True) -> Consumption:
        if refresh:
            self.refresh(wait_s=self.request_wait_s)
        tz = self.tz
        return consumption(self.campus, self.rollups, self.store, kind, edges(start, end, interval, tz), interval,
                           group_by, now_ms if now_ms is not None else int(time.time() * 1000), language=language,
                           devices=devices, whole=self.whole)
