"""The records desk: what the API works with — rounds, hazards and water tests of every site, the files kept with
them, and the alerts they raise through the alert desk (when alerts are on)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson

from alerts.desk import AlertDesk
from campus.db import DataDir
from campus.errors import NotFound
from campus.model import Campus
from campus.scope import Scope
from ingest.stores import ReadingStore
from records.config import RecordSettings
from records.context import Context
from records.due import DueRound, due_rounds
from records.manual_store import ManualReadingStore
from records.overdue import round_alert, test_alert
from records.photos import FileShelf, Upload
from records.reading_round import RULE as READING_RULE
from records.reading_round import ZoneRound, overdue_alert
from records.reading_round import rounds as reading_rounds
from records.rounds import RoundFile, load_rounds
from records.store import RecordStore
from records.water import Due, due_tests, points

log = logging.getLogger("meterwatch.records")
HAND_ON_S = 30.0  # readings by hand the broker did not confirm are handed on again this often
STEPS_PER_ALERT = 1000  # a plan step's photos are noted as used by record id alert × 1000 + step


def step_use(alert_id: int, step: int) -> int:
    """The record id under which step ``step`` of an alert's plan uses its photos."""
    return alert_id * STEPS_PER_ALERT + step


class RecordDesk:
    def __init__(self, data_dir: Path, settings: RecordSettings, campuses: Callable[[], dict[str, Campus]],
                 alerts: AlertDesk | None, store: ReadingStore, now_ms: Callable[[], int]) -> None:
        self.settings, self.alerts, self.readings, self.now_ms = settings, alerts, store, now_ms
        self.templates: RoundFile = load_rounds(settings.rounds_file)
        self.store = RecordStore(DataDir(data_dir).records)
        self.manual = ManualReadingStore(DataDir(data_dir).records)  # after the records store: it uses its uploads
        self.publish: Callable[[str, bytes], None] | None = None  # hands readings by hand to the alert engine
        self.topic_prefix = "campus"
        self._handing = threading.Lock()
        self.shelf = FileShelf(DataDir(data_dir).files)
        self._campuses = campuses
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def context(self, site: str, view: Campus | None = None, scope: Scope | None = None) -> Context:
        """A site's context; ``view``: the site as a token sees it (its zones and buildings only), ``scope``: that
        token's scope (None: the whole site, for the server's own work)."""
        campus = view or self._campuses().get(site)
        if campus is None:
            raise NotFound(f"no site {site!r}")
        desk = self.alerts.sites().get(site) if self.alerts is not None else None
        return Context(campus, ZoneInfo(campus.site.timezone), desk, scope or Scope())

    def today(self, ctx: Context) -> dt.date:
        return dt.datetime.fromtimestamp(self.now_ms() / 1000, ctx.tz).date()

    def due_rounds(self, ctx: Context) -> list[DueRound]:
        today = self.today(ctx)
        done = self.store.round_days(ctx.site, (today - dt.timedelta(days=40)).isoformat())
        return [r for r in due_rounds(self.templates, ctx.campus, done, today, ctx.tz, ctx.roster,
                                      self.settings.grace_days)
                if ctx.sees(ctx.site, r.place.zone, r.place.building)]

    def reading_rounds(self, ctx: Context) -> list[ZoneRound]:
        """The monthly reading round of each zone with meters read by hand, as the asker sees them."""
        last = self.manual.last_read(ctx.site)
        out = []
        for r in reading_rounds(ctx.campus, last, self.today(ctx), ctx.tz, ctx.roster, self.settings.grace_days):
            # a token narrowed to buildings sees the meters of its buildings (a zone it sees whole: all of them)
            mine = tuple(m for m in r.meters if ctx.sees(ctx.site, r.zone, m.device.building))
            if mine:
                out.append(r if len(mine) == len(r.meters) else dataclasses.replace(r, meters=mine))
        return out

    def due_tests(self, ctx: Context) -> list[Due]:
        return due_tests(ctx.campus, self.store.last_tests(ctx.site), self.today(ctx), ctx.tz,
                         self.settings.self_test_days, self.settings.grace_days)

    # -- files kept with records -------------------------------------------------------------
    def keep(self, site: str, uploads: list[Upload]) -> list[str]:
        """Keep checked files for ``site`` (call once the record that names them has been checked); their SHA-256.
        Under the records' write lock, so a sweep cannot remove a file between its writing and its noting."""
        if not uploads:
            return []
        now = self.now_ms()
        with self.store.tx():
            for u in uploads:
                self.shelf.keep(u.data, u.ext)
                self.store.mark_uploaded(site, u.sha256, now)
        return [u.sha256 for u in uploads]

    def file_places(self, sha: str) -> list[tuple[str, str | None, str | None]]:
        """(site, zone, building) of every record that uses the file ``sha`` (a water test: its point's)."""
        out = self.manual.file_places(sha)
        for site, zone, building, point in self.store.file_uses(sha):
            if point is not None:
                campus = self._campuses().get(site)
                p = points(campus).get(point) if campus is not None else None
                zone, building = (p.zone, p.building) if p is not None else (None, None)
            out.append((site, zone, building))
        if self.alerts is not None:  # a photo of a plan's step: the alert's place
            for site, use in self.store.uses_of(sha, "plan-step"):
                try:
                    a = self.alerts.store.get(use // STEPS_PER_ALERT)
                except NotFound:
                    continue
                out.append((site, a.zone, a.building))
        return out

    def sweep_files(self) -> tuple[int, int]:
        """Remove every kept file that no record uses and that was not uploaded (nor written, for a data directory
        older than this bookkeeping) within ``[records] upload_grace_h``: (files removed, bytes freed)."""
        cutoff = self.now_ms() - int(self.settings.upload_grace_h * 3_600_000)
        n = freed = 0
        with self.store.tx():  # nothing is kept or named in a record while the sweep decides and removes
            keep, sweep = self.store.unused_uploads(cutoff)
            for sha, path in list(self.shelf.kept()):
                if sha in keep:
                    continue
                if sha not in sweep:  # on disk from before uploads were noted: its age on disk counts
                    try:
                        if path.stat().st_mtime * 1000 >= cutoff:
                            continue
                    except FileNotFoundError:
                        continue
                freed += self.shelf.remove(sha)
                n += 1
        if n:
            log.info("swept %d unused uploads (%.1f MiB): no record names them", n, freed / 1024 / 1024)
        return n, freed

    # -- overdue work becomes alerts ---------------------------------------------------------
    def check(self) -> int:
        """Raise an alert for every overdue round and test at every site (one per round or test and place, kept
        while it stays overdue; recording the round or test settles it). Returns how many are overdue."""
        if self.alerts is None:
            return 0
        n = 0
        now = self.now_ms()
        for site in list(self._campuses()):
            ctx = self.context(site)
            if ctx.desk is None:
                continue
            book = ctx.desk.book
            overdue = [r for r in self.due_rounds(ctx) if r.status == "overdue"]
            tests = [t for t in self.due_tests(ctx) if t.status == "overdue"]
            missed: dict[str, list[DueRound]] = {}
            for r in overdue:
                missed.setdefault(r.subject, []).append(r)
            for rounds in missed.values():
                book.record(round_alert(rounds, ctx, self.alerts.language, now), now, repeat=False)
            for t in tests:
                book.record(test_alert(t, ctx, self.alerts.language, now), now, repeat=False)
            n += len(overdue) + len(tests) + self.check_readings(ctx, now)
        return n

    def check_readings(self, ctx: Context, now: int) -> int:
        """Raise (or keep current) a ``reading-overdue`` alert for each zone whose monthly reading is overdue, and
        resolve it for a zone read since. Returns how many zones are overdue."""
        if ctx.desk is None or self.alerts is None:
            return 0
        n = 0
        for r in self.reading_rounds(ctx):
            if r.status == "overdue":
                ctx.desk.book.record(overdue_alert(r, ctx.campus, self.alerts.language, now, ctx.tz), now,
                                     repeat=False)
                n += 1
            else:
                ctx.desk.book.settle(READING_RULE, r.subject, "every meter of the zone has been read", now)
        return n

    def hand_on(self) -> int:
        """Hand readings by hand not yet handed on to the alert engine: publish each on its meter's reading topic
        (QoS 1, the broker confirms) and note it. Ingest, subscribed there too, finds the reading already stored
        (the same site, device and time: written again, unchanged). Returns how many were handed on."""
        if self.publish is None:
            return 0
        n = 0
        with self._handing:
            for row in self.manual.not_handed():
                body = orjson.dumps({"ts": row.ts_ms, "values": row.values})
                try:
                    self.publish(f"{self.topic_prefix}/{row.site}/{row.device}/reading", body)
                except (OSError, RuntimeError, ValueError) as exc:  # paho: offline, queue full; TimeoutError
                    log.warning("a reading by hand is not handed to the alert engine yet (tried again in %.0f s): "
                                "%s", HAND_ON_S, exc)
                    break
                self.manual.handed(row.id, self.now_ms())
                n += 1
        return n

    def settle(self, ctx: Context, rule: str, subject: str, reason: str) -> int | None:
        """Resolve an alert a record has settled (no-op without alerts)."""
        if ctx.desk is None:
            return None
        return ctx.desk.book.settle(rule, subject, reason, self.now_ms())

    def keep_checking(self) -> None:
        """Look for overdue work every ``check_s`` (with alerts on), and sweep unused uploads now and every
        ``files_sweep_s``, each in a thread of its own until :meth:`close`."""
        if self.settings.check_s > 0 and self.alerts is not None:
            self._every(self.settings.check_s, self.check, "records-check", "looking for overdue rounds and tests")
        if self.publish is not None:
            self._every(HAND_ON_S, self.hand_on, "records-hand-on", "handing readings by hand to the alert engine")
        if self.settings.files_sweep_s > 0:
            try:
                self.sweep_files()  # at start, before any request: then every files_sweep_s
            except OSError:
                log.exception("sweeping unused uploads failed")
            self._every(self.settings.files_sweep_s, self.sweep_files, "records-files", "sweeping unused uploads")

    def _every(self, seconds: float, work: Callable[[], object], name: str, what: str) -> None:
        def loop() -> None:
            while not self._stop.wait(seconds):
                try:
                    work()
                except Exception:  # one bad pass must not end the loop; the next one tries again
                    log.exception("%s failed", what)

        thread = threading.Thread(target=loop, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.store.close()
        self.manual.close()
