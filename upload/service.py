"""The uploader: each pass makes the periods that have ended into packets (the outbox), then sends what is not
acknowledged, oldest first, and keeps the connection alive.

- A period [t, t + period) is made ``settle_s`` after it ends (late readings), for every building of every
  configured site; on the very first start the first is the last period that has ended (or the periods of the
  ``backfill_h`` hours before then).
  After a stop of the uploader itself, the periods it missed are made on the next pass (at most ``max_catch_up``
  a pass), from the cursor the outbox keeps.
- With the TCP protocol the gateway stays connected between periods (a heart_beat every ``heartbeat_s`` of wall
  time, as the connection lives in it) and reconnects at the next pass when the link drops.
- Sending stops at the first failure; the next try is ``retry_initial_s`` later, doubling to ``retry_max_s``
  (a refused key waits ``retry_max_s`` at once). Time comes from the clock given (wall time in production; the
  tests drive it), so a six-hour outage is six hours of that clock, not of the test.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from campus.clock import Clock, WallClock
from campus.db import DataDir
from campus.errors import ConfigError
from reports.usage import Usage
from upload.build import building_ids, packets, period_edges, period_floor
from upload.config import UploadSettings
from upload.jsonlink import JsonLink
from upload.link import AuthRefused, LinkDown, XmlLink
from upload.outbox import Outbox, Queued

log = logging.getLogger("meterwatch.upload")
PENDING_PER_PASS = 1000


class Link(Protocol):
    @property
    def open(self) -> bool: ...
    def connect(self) -> None: ...
    def heartbeat_due(self) -> bool: ...
    def heartbeat(self) -> None: ...
    def deliver(self, queued: Queued, operation: str) -> None: ...
    def drop(self) -> None: ...
    def close(self) -> None: ...


def outbox_path(data_dir: Path) -> Path:
    return DataDir(data_dir).root / "upload.db"


class Uploader:
    def __init__(self, settings: UploadSettings, usage: Usage, data_dir: Path, clock: Clock | None = None) -> None:
        settings.check()
        self.cfg, self.usage, self.clock = settings, usage, clock or WallClock()
        for site, site_cfg in settings.sites.items():  # an unknown site or a building without an id: refused now
            if site not in usage.campuses:
                raise ConfigError(f"[upload.sites.{site}]: no site {site!r} in the campus (its sites: "
                                  f"{', '.join(usage.campuses) or 'none'})")
            building_ids(usage.site(site).campus, site_cfg)
        self.outbox = Outbox(outbox_path(data_dir))
        self.links: dict[str, Link] = {}
        self.retry_at_ms = 0
        self.delay_s = settings.retry_initial_s
        self.sent = 0
        self.last_error = ""

    def _link(self, site: str) -> Link:
        link = self.links.get(site)
        if link is None:
            if self.cfg.protocol == "json":
                link = JsonLink(self.cfg)
            else:
                campus = self.usage.site(site).campus
                home = next(iter(building_ids(campus, self.cfg.sites[site]).values()), "")
                link = XmlLink(self.cfg, home, self.cfg.sites[site].gateway_id)
            self.links[site] = link
        if not link.open:
            link.connect()
        return link

    def make(self, now_ms: int) -> int:
        """Packets for every period that has ended and settled; the number made."""
        made = 0
        step = self.cfg.period_min * 60_000
        for site, site_cfg in self.cfg.sites.items():
            su = self.usage.site(site)
            tz = ZoneInfo(su.campus.site.timezone)
            start = self.outbox.cursor(site)
            if start is None:  # the first start: the last period that has ended, or backfill_h of them
                ended = period_floor(now_ms - self.cfg.settle_s * 1000, self.cfg.period_min, tz)
                start = period_floor(ended - max(step, int(self.cfg.backfill_h * 3_600_000)), self.cfg.period_min, tz)
            edges = period_edges(start, now_ms - self.cfg.settle_s * 1000, self.cfg.period_min)
            edges = edges[:self.cfg.max_catch_up + 1]
            if len(edges) < 2:
                continue
            made_now = packets(su, site_cfg, edges, now_ms)
            self.outbox.add(site, made_now, edges[-1], now_ms)
            made += len(made_now)
            log.info("periods made into packets", extra={"site": site, "periods": len(edges) - 1,
                                                         "packets": len(made_now), "until": edges[-1]})
            if edges[-1] + step <= now_ms - self.cfg.settle_s * 1000:
                log.info("more periods to make on the next pass", extra={"site": site})
        return made

    def send(self, now_ms: int) -> int:
        """Send what is not acknowledged, oldest first, until done or the first failure; the number acknowledged."""
        if now_ms < self.retry_at_ms:
            return 0
        done = 0
        queue = self.outbox.pending(PENDING_PER_PASS)
        newest = {q.packet.site: q.packet.start_ms for q in queue}
        try:
            for q in queue:
                link = self._link(q.packet.site)
                fresh = q.attempts == 0 and q.packet.start_ms == newest[q.packet.site]
                self.outbox.sending(q.id, now_ms)
                link.deliver(q, "report" if fresh else "continuous")
                self.outbox.acked(q.id, now_ms)
                done += 1
            if self.cfg.protocol == "xml":  # the gateway stays online: connected, authenticated, heart-beating
                for site in self.cfg.sites:
                    link = self._link(site)
                    if link.heartbeat_due():
                        link.heartbeat()
        except LinkDown as exc:
            self._failed(exc, now_ms)
        else:
            self.delay_s = self.cfg.retry_initial_s
            self.last_error = ""
        self.sent += done
        if done:
            acked, waiting = self.outbox.counts()
            log.info("packets acknowledged by the data centre", extra={"now": done, "waiting": waiting})
        return done

    def _failed(self, exc: LinkDown, now_ms: int) -> None:
        for link in self.links.values():
            link.drop()
        wait = self.cfg.retry_max_s if isinstance(exc, AuthRefused) else self.delay_s
        self.retry_at_ms = now_ms + int(wait * 1000)
        self.delay_s = min(self.delay_s * 2, self.cfg.retry_max_s)
        self.last_error = str(exc)
        log.warning("upload paused", extra={"error": str(exc)[:300], "retry_in_s": wait})

    def tick(self) -> int:
        """One pass at the clock's now: make, send, prune; the packets acknowledged."""
        now_ms = self.clock.now_ms()
        self.make(now_ms)
        done = self.send(now_ms)
        self.outbox.prune(now_ms - self.cfg.keep_days * 86_400_000)
        return done

    def next_wake_s(self) -> float:
        """Seconds until something is due: the next period, a retry or a heartbeat (at least 1, at most 60)."""
        now_ms = self.clock.now_ms()
        step = self.cfg.period_min * 60_000
        due = (now_ms // step + 1) * step + self.cfg.settle_s * 1000 - now_ms
        if self.retry_at_ms > now_ms:
            due = min(due, self.retry_at_ms - now_ms)
        if any(link.open for link in self.links.values()):
            due = min(due, int(self.cfg.heartbeat_s * 1000))
        return min(max(due / 1000, 1.0), 60.0)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.tick()
            except Exception:  # a store outage or the like: log it and try at the next wake
                log.exception("upload pass failed")
            stop.wait(self.next_wake_s())

    def close(self) -> None:
        for link in self.links.values():
            link.close()
        self.links.clear()
        self.outbox.close()
