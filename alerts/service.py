"""Alerts assembled: its own MQTT subscription → engine → alert book → outbox → dispatcher.

The alert service reads the live stream itself (a second persistent MQTT session), so it keeps
working while the time-series store is down, and ingest never waits for it. A batch of
messages is evaluated, its alerts, events, notices and the engine state are committed in one
transaction, and only then acknowledged to the broker: a crash re-delivers the batch and the
engine, restored from the same commit, skips what it has already seen.

History pages nobody: a reading that arrives more than ``fresh_s`` after it was taken (a backlog, a backfill)
moves the alerts' state like any other, but nothing it raises, escalates or resolves is sent; an alert it raised
is told once a live reading keeps it firing (:meth:`AlertBook.apply`).

A drill's reading never reaches the engine (no state, no alert): once its batch is acknowledged, the service says
it saw it on ``{prefix}/{site}/drills/{drill}/alerts``, ``{"device", "rules": [the rules watching the device]}``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path

import orjson

from alerts.book import AlertBook
from alerts.channels import MqttNotifier, Notifier
from alerts.config import AlertSettings
from alerts.desk import AlertDesk
from alerts.dispatch import Dispatcher
from alerts.engine import Engine, Transition
from campus.clock import Clock, make_clock
from campus.contract import DEFAULT_LIMITS, Limits, drill_topic
from campus.db import DataDir
from campus.errors import HOLD
from campus.leases import Leases
from ingest.config import MqttSettings
from ingest.decode import Inbound, decode
from ingest.mqtt import MqttSource

log = logging.getLogger("meterwatch.alerts")

LEASE_LOOK_S = 1.0  # how often a process looks whether it still holds its sites, and takes free ones


def _lease(site: str) -> str:
    return f"alerts:{site}"


class AlertService:
    def __init__(self, *, data_dir: Path, mqtt: MqttSettings, settings: AlertSettings, language: str = "zh-CN",
                 clock: Clock | None = None, connect_mqtt: bool = True,
                 notifiers: dict[str, Notifier] | None = None, limits: Limits = DEFAULT_LIMITS,
                 plans_file: Path | None = None, state_url: str | None = None) -> None:
        self.limits = limits  # ingest's ([ingest] settings): what it refuses, the engine never sees either
        self.desk = AlertDesk(data_dir=data_dir, settings=settings, language=language,
                              topic_prefix=mqtt.topic_prefix, clock=clock, plans_file=plans_file,
                              state_url=state_url)
        d = self.desk
        self.settings, self.prefix = settings, mqtt.topic_prefix
        self.clock = clock or make_clock(settings.clock)
        self.store, self.registry, self.lock = d.store, d.registry, d.lock
        # the first process to watch sets it for all (a second one starting at the same time takes the first's)
        self.watching_since_ms = int(self.store.meta_once("watching_since_ms", str(self.clock.now_ms())))
        self.owned: list[str] | None = list(settings.sites) or None  # None: every site
        # a site is evaluated by one process at a time: the one holding its lease (campus/leases.py)
        self.leases = Leases(DataDir(data_dir, state_url).shared)
        self._leases_looked = -LEASE_LOOK_S
        self._waiting: set[str] = set()  # sites another process holds, said once in the log
        self.engines: dict[str, Engine] = {}
        self.books: dict[str, AlertBook] = {}  # each owned site's, as of the last campus refresh
        self._queue: queue.Queue[Inbound | None] = queue.Queue()
        self._stop = threading.Event()
        self.evaluated = 0  # messages evaluated (or recorded as failed) and acknowledged, since start
        self.failed = 0  # messages that could not be evaluated (recorded in the store), since start
        self._drills: list[tuple[str, bytes]] = []  # (topic, body): drills seen in the batch, said once it is acked
        self.ticked_ms: int | None = None  # the service clock at the last completed tick (escalations done to it)
        self.mqtt: MqttSource | None = None
        all_notifiers = dict(notifiers or {})
        if connect_mqtt:
            account = mqtt.account(settings.username, settings.password, settings.client_id)
            self.mqtt = MqttSource(account, self._queue.put, sites=self.owned)
            all_notifiers.setdefault("mqtt", MqttNotifier(self.mqtt.publish))
        self.dispatcher = Dispatcher(self.store, all_notifiers, retry_initial_s=settings.retry_initial_s,
                                     retry_max_s=settings.retry_max_s, max_attempts=settings.max_attempts,
                                     sites=[])
        self._refresh_campus()  # the sites it holds (and the dispatcher with them)
        self._thread = threading.Thread(target=self._run, name="mw-alerts", daemon=True)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        self.dispatcher.start()
        self._thread.start()
        if self.mqtt is not None:
            self.mqtt.start()

    def stop(self) -> None:
        if self.mqtt is not None:
            self.mqtt.stop()
        self._stop.set()
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(10)
        self.dispatcher.stop()
        self.leases.close()
        self.desk.close()

    # -- the evaluator -----------------------------------------------------------------
    def _run(self) -> None:
        next_tick = 0.0
        backoff = 0.5
        while not self._stop.is_set():
            timeout = max(0.0, next_tick - time.monotonic())
            batch: list[Inbound] = []
            try:
                first = self._queue.get(timeout=timeout)
                if first is not None:
                    batch.append(first)
                while len(batch) < self.settings.max_batch_messages:
                    nxt = self._queue.get_nowait()
                    if nxt is None:
                        break
                    batch.append(nxt)
            except queue.Empty:
                pass
            if batch:
                try:
                    self.evaluate(batch)
                    backoff = 0.5
                except Exception:  # our own store failed (a message's failure is isolated in evaluate)
                    log.exception("alert evaluation failed; the batch stays unacknowledged and is tried again")
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 30.0)
                    for m in batch:
                        self._queue.put(m)
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + self.settings.tick_s
                try:
                    self.tick()
                except Exception:  # the next tick tries again; readings keep flowing meanwhile
                    log.exception("alert tick failed")

    @property
    def engine(self) -> Engine:
        """The only site's engine (one-site callers and tests)."""
        if len(self.engines) != 1:
            raise ValueError(f"{len(self.engines)} engines: use engines[SITE]")
        return next(iter(self.engines.values()))

    def _refresh_campus(self) -> None:
        """An engine for every site this process owns and holds the lease of, following campus changes (state is
        kept by key); at most every second, a look at the leases: one lost is a site dropped (another process
        takes it), one free is a site taken, its engine continuing from the state the last holder saved."""
        changed = self.desk.refresh()
        look = time.monotonic() - self._leases_looked >= LEASE_LOOK_S
        if look:
            self._leases_looked = time.monotonic()
            held = self.leases.check()
            for site in [s for s in self.engines if _lease(s) not in held]:
                log.warning("site %s: its lease is lost, another alert process evaluates it from now", site)
                del self.engines[site]
                self.books.pop(site, None)
        for site, desk in self.desk.known.items():
            if self.owned is not None and site not in self.owned:
                continue
            if site not in self.engines:
                if not look or not self.leases.take(_lease(site)):
                    if site not in self._waiting:
                        self._waiting.add(site)
                        log.info("site %s is evaluated by another alert process: this one takes over when it "
                                 "is gone", site)
                    continue
                self._waiting.discard(site)
            self.books[site] = desk.book
            engine = self.engines.get(site)
            if engine is None:
                self.engines[site] = Engine(desk.rules, self.store.load_engine(site),
                                            watching_since_ms=self.watching_since_ms)
            elif site in changed:
                engine.use(desk.rules)
        self.dispatcher.sites = sorted(self.engines)  # the notices of the sites it holds, and no others

    def _save_engines(self) -> None:
        for site, engine in self.engines.items():
            self.store.save_engine(site, *engine.dirty())

    def evaluate(self, batch: list[Inbound]) -> None:
        """Decode, evaluate and commit one batch, then acknowledge it. A message whose evaluation fails, for
        whatever reason, is undone (its savepoint), recorded as an evaluation failure and skipped."""
        self._drills = []  # a batch tried again says its drills once
        with self.lock:
            self._refresh_campus()
            now = self.clock.now_ms()
            updates: dict[str, dict[tuple[str, str], tuple[Transition, bool]]] = {}
            with self.store.tx():
                for msg in batch:
                    try:
                        with self.store.savepoint():
                            self._evaluate_one(msg, now, updates)
                    except HOLD:
                        raise
                    except Exception as exc:  # noqa: BLE001 - one message never stops the rest
                        self.failed += 1
                        error = f"{type(exc).__name__}: {exc}"
                        log.error("a message could not be evaluated; recorded and skipped",
                                  extra={"topic": msg.topic, "error": error[:300]})
                        self.store.record_failure(msg.topic, msg.payload, error, now)
                for site, site_updates in updates.items():
                    for t, history in site_updates.values():
                        self._apply(site, [t], now, history=history)
                self._save_engines()
        self.dispatcher.wake()
        if self.mqtt is not None:
            for msg in batch:
                self.mqtt.ack(msg)
        self.evaluated += len(batch)
        drills, self._drills = self._drills, []
        for topic, body in drills:
            try:
                if self.mqtt is not None:
                    self.mqtt.send(topic, body)
            except (OSError, RuntimeError, ValueError) as exc:  # paho's queue full: the drill goes unanswered
                log.warning("drill not answered", extra={"topic": topic, "error": str(exc)})

    def _evaluate_one(self, msg: Inbound, now: int,
                      updates: dict[str, dict[tuple[str, str], tuple[Transition, bool]]]) -> None:
        d = decode(msg, self.registry, self.prefix, self.limits)  # refusals: ingest's dead letters
        if d.drill is not None:  # never the engine's: only which rules would have watched it
            engine = self.engines.get(d.drill.site)
            if engine is not None:
                rules = [r.id for r in engine.book.by_device.get(d.drill.device, [])]
                self._drills.append((drill_topic(self.prefix, d.drill.site, d.drill.drill, "alerts"),
                                     orjson.dumps({"device": d.drill.device, "rules": rules})))
            return
        fresh_ms = self.settings.fresh_s * 1000
        for r in d.readings:
            engine = self.engines.get(r.site)
            if engine is None:
                continue  # another alert process's site
            self.clock.saw(r.ts)
            history = 0 < fresh_ms < msg.received_ms - r.ts  # arrived long after it was taken: pages nobody
            self._apply(r.site, engine.reading(r), now, updates.setdefault(r.site, {}), history=history)
        if d.health is not None:
            (site, device), health = d.health
            engine = self.engines.get(site)
            if engine is not None:
                self._apply(site, engine.health(device, health), now, updates.setdefault(site, {}))
        for (site, device), online in d.statuses:
            engine = self.engines.get(site)
            if engine is not None:
                self._apply(site, engine.status(device, online, msg.received_ms), now, updates.setdefault(site, {}))

    def _apply(self, site: str, transitions: list[Transition], now: int,
               updates: dict[tuple[str, str], tuple[Transition, bool]] | None = None, *, history: bool = False) -> None:
        if not transitions:
            return  # most readings: the campus is looked up once per batch, not once per reading
        engine, book = self.engines[site], self.books[site]
        for t in transitions:
            if t.kind == "update" and updates is not None:
                updates[(t.rule.id, t.subject)] = (t, history)  # repeats within a batch: only the newest is written
                continue
            if updates is not None:
                updates.pop((t.rule.id, t.subject), None)
            applied = book.apply(t, now, history=history)
            if applied.raised is not None:
                engine.bind((t.rule.id, t.subject), applied.raised)
            elif applied.closed_by_hand:
                engine.resolved_by_hand(t.rule.id, t.subject)

    def tick(self) -> None:
        """Silence checks and escalation, on the service's clock."""
        with self.lock:
            now = self.clock.now_ms()
            self._refresh_campus()
            escalated = 0
            with self.store.tx():
                for site, engine in self.engines.items():
                    self._apply(site, engine.tick(now), now)
                self._save_engines()
            for book in self.books.values():
                escalated += book.escalate(now)
            if escalated:
                self.dispatcher.wake()
            self.ticked_ms = now
        self.dispatcher.wake()
