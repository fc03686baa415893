"""The ingest pipeline: queue → decode → commit (store or spool, dead letters, presence) → ack.

One writer thread takes whatever has queued (up to ``max_batch_messages``), so batches grow
with load and latency stays low when idle. Nothing is acknowledged before it is committed:
readings to the store (or, if the store is down, to the on-disk spool), refusals to the
dead-letter store, status, last-seen and meter health to the presence tables. A drainer thread empties the
spool into the store with exponential backoff. A drill's reading is stored nowhere (not even as last seen):
once its batch is committed, ``on_drill`` is told what ingest made of it (the service answers the drill).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import orjson

from campus.contract import Reading, shorten
from campus.db import DataDir
from campus.errors import HOLD, PayloadError, StoreRejected, StoreUnavailable
from campus.registry import Registry
from ingest.config import IngestSettings, StoreSettings
from ingest.deadletters import DeadLetterStore, Refusal
from ingest.decode import Decoded, Drill, Inbound, decode, refuse
from ingest.spool import Spool
from ingest.status import PresenceStore
from ingest.stores import ReadingStore, open_store

log = logging.getLogger("meterwatch.ingest")


@dataclass
class Counters:
    received: int = 0
    stored: int = 0
    spooled: int = 0
    dead_lettered: int = 0
    acknowledged: int = 0


@dataclass
class StoreHealth:
    reachable: bool = True
    last_error: str | None = None
    since_ms: int = field(default_factory=lambda: time.time_ns() // 1_000_000)


class Pipeline:
    def __init__(self, *, registry: Registry, store: ReadingStore, dead_letters: DeadLetterStore,
                 presence: PresenceStore, spool: Spool, settings: IngestSettings, topic_prefix: str,
                 ack: Callable[[Inbound], None] = lambda msg: None) -> None:
        self.registry, self.store, self.dead_letters = registry, store, dead_letters
        self.presence, self.spool, self.settings = presence, spool, settings
        self.topic_prefix = topic_prefix
        self.limits = settings.limits
        self.ack = ack
        self.on_drill: Callable[[list[Drill]], None] | None = None  # drills' readings checked, after their commit
        self.counters = Counters()
        self.store_health = StoreHealth()
        self._queue: queue.Queue[Inbound | None] = queue.Queue()
        self._stop = threading.Event()
        self._spooled = threading.Event()
        self._commit_lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    @classmethod
    def open(cls, data_dir: Path, store: StoreSettings, settings: IngestSettings, topic_prefix: str,
             state_url: str | None = None) -> Pipeline:
        """Open every part from the data directory (the registry from the state server with ``state_url``): what
        the service and the worker process both run."""
        dirs = DataDir(data_dir, state_url)
        db = dirs.state
        letters = DeadLetterStore(db, max_count=settings.dead_letter_max_count,
                                  max_bytes=settings.dead_letter_max_bytes)
        return cls(registry=Registry(dirs.shared), store=open_store(store, data_dir), dead_letters=letters,
                   presence=PresenceStore(db), spool=Spool(DataDir(data_dir).spool, settings.spool_max_readings),
                   settings=settings, topic_prefix=topic_prefix)

    def close(self) -> None:
        for part in (self.store, self.spool, self.dead_letters, self.presence, self.registry):
            part.close()

    # -- lifecycle ---------------------------------------------------------------------
    def start(self, *, writer: bool = True) -> None:
        """Start the drainer and, unless batches are committed by the caller (worker process), the writer."""
        self._threads = [threading.Thread(target=self._drainer, name="mw-drainer", daemon=True)]
        if writer:
            self._threads.append(threading.Thread(target=self._writer, name="mw-writer", daemon=True))
        for t in self._threads:
            t.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish what is queued, then stop (unacknowledged messages stay with the broker)."""
        self._queue.put(None)
        self._stop.set()
        self._spooled.set()
        for t in self._threads:
            t.join(timeout)

    def submit(self, msg: Inbound) -> None:
        """Called from the MQTT thread for every message."""
        self._queue.put(msg)

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    # -- writer ------------------------------------------------------------------------
    def _writer(self) -> None:
        limit = self.settings.max_batch_messages
        backoff = self.settings.retry_initial_s
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < limit:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                batch.append(nxt)
            try:
                self.commit(batch)
                backoff = self.settings.retry_initial_s
            except Exception:  # our own storage failed (not a message's fault): hold the acks, try again
                log.exception("commit failed; messages stay unacknowledged and are tried again")
                if self._stop.wait(backoff):
                    return
                backoff = min(backoff * 2, self.settings.retry_max_s)
                for msg in batch:
                    self._queue.put(msg)

    def commit(self, batch: list[Inbound]) -> list[Decoded]:
        """Decode, store and acknowledge a batch. Whatever one message causes, foreseen or not, makes that
        message a dead letter and the rest go on. Only failures of our own storage (SQLite, the disk, a full
        spool at shutdown) raise: the batch then stays unacknowledged."""
        try:
            return self._commit(batch)
        except HOLD:
            raise
        except Exception as exc:  # noqa: BLE001 - isolate the message that caused it
            if len(batch) == 1:
                return [self._commit_failed(batch[0], exc)]
            log.warning("batch commit failed; committing its messages one by one",
                        extra={"error": f"{type(exc).__name__}: {exc}", "messages": len(batch)})
            return [d for msg in batch for d in self.commit([msg])]

    def _commit_failed(self, msg: Inbound, exc: Exception) -> Decoded:
        log.error("message could not be committed; kept as a dead letter",
                  extra={"topic": msg.topic, "error": f"{type(exc).__name__}: {exc}"})
        refusal = refuse(msg, f"could not be committed ({type(exc).__name__}: {shorten(str(exc), 200)}); "
                              f"kept for replay")
        self.dead_letters.add([refusal])
        self.ack(msg)
        c = self.counters
        c.received, c.dead_lettered, c.acknowledged = c.received + 1, c.dead_lettered + 1, c.acknowledged + 1
        return Decoded(refusals=[refusal])

    def _commit(self, batch: list[Inbound]) -> list[Decoded]:
        decoded = [decode(m, self.registry, self.topic_prefix, self.limits) for m in batch]
        readings = [r for d in decoded for r in d.readings]
        refusals = [f for d in decoded for f in d.refusals]
        with self._commit_lock:
            rejected = self._store(readings)
            if rejected:
                refusals += self._store_refusals(batch, decoded, rejected)
                readings = [r for i, r in enumerate(readings) if i not in rejected]
            self.dead_letters.add(refusals)
            seen: dict[tuple[str, str], int] = {}
            for r in readings:
                if r.ts > seen.get((r.site, r.device), 0):
                    seen[(r.site, r.device)] = r.ts
            statuses = {key: (online, m.received_ms) for m, d in zip(batch, decoded, strict=True)
                        for key, online in d.statuses}
            health = {d.health[0]: d.health[1] for d in decoded if d.health is not None}
            stored = [(r.site, r.device, r.ts) for r in readings] if self.spool.depth == 0 else []
            self.presence.record(seen, statuses, stored, health)
        for msg in batch:
            self.ack(msg)
        c = self.counters
        c.received += len(batch)
        c.dead_lettered += len(refusals)
        c.acknowledged += len(batch)
        drills = [d.drill for d in decoded if d.drill is not None]
        if drills and self.on_drill is not None:
            try:
                self.on_drill(drills)
            except Exception:  # committed already: the drill goes unanswered (its check says so), nothing else
                log.exception("a drill's answer failed", extra={"drills": [d.drill for d in drills]})
        return decoded

    def _store(self, readings: list[Reading]) -> dict[int, str]:
        """Write readings to the store, else the spool. Returns {index: reason} of readings the store refuses
        for good (isolated by splitting), which are not stored."""
        if not readings:
            return {}
        if self.spool.depth == 0:
            try:
                rejected = self._write_isolating(readings)
                self._stored(readings if not rejected else [r for i, r in enumerate(readings) if i not in rejected],
                             note=False)
                self._mark_store(True)
                return rejected
            except StoreUnavailable as exc:
                self._mark_store(False, str(exc))
        backoff = self.settings.retry_initial_s
        while not self.spool.has_room(len(readings)):  # backpressure: hold the acks, the broker keeps the rest
            log.warning("spool full, holding acknowledgements", extra={"depth": self.spool.depth})
            if self._stop.wait(backoff):
                raise StoreUnavailable("stopping with the spool full: these messages stay unacknowledged")
            backoff = min(backoff * 2, self.settings.retry_max_s)
        self.spool.append(readings)
        self.counters.spooled += len(readings)
        self._spooled.set()
        return {}

    def _write_isolating(self, readings: Sequence[Reading], first: int = 0) -> dict[int, str]:
        """Write; where the store refuses the chunk for good (or fails in a way nobody foresaw), split it in
        halves until each refused reading stands alone. Returns {index: reason}. StoreUnavailable propagates."""
        try:
            self.store.write(readings)
            return {}
        except StoreUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - StoreRejected, or the store client's own surprise
            if len(readings) == 1:
                why = str(exc) if isinstance(exc, StoreRejected) else f"{type(exc).__name__}: {exc}"
                return {first: f"store refused it ({shorten(why, 300)})"}
            mid = len(readings) // 2
            return {**self._write_isolating(readings[:mid], first),
                    **self._write_isolating(readings[mid:], first + mid)}

    @staticmethod
    def _store_refusals(batch: list[Inbound], decoded: list[Decoded], rejected: dict[int, str]) -> list[Refusal]:
        """One dead letter per message some of whose readings the store refused (the whole payload)."""
        out, at = [], 0
        for msg, d in zip(batch, decoded, strict=True):
            mine = [(i - at, rejected[i]) for i in range(at, at + len(d.readings)) if i in rejected]
            at += len(d.readings)
            if mine:
                items = tuple((d.positions[i], reason) for i, reason in mine)
                out.append(refuse(msg, f"{len(mine)} of {len(d.readings)} readings: {mine[0][1]}",
                                  items if len(d.positions) > 1 else ()))
        return out

    def _stored(self, readings: Sequence[Reading], *, note: bool = True) -> None:
        """After a store commit: count, and note the times per device for the roll-ups (``commit`` notes
        its own in the presence transaction it makes anyway)."""
        self.counters.stored += len(readings)
        if note:
            self.presence.record({}, {}, [(r.site, r.device, r.ts) for r in readings])

    def _mark_store(self, ok: bool, error: str | None = None) -> None:
        h = self.store_health
        if ok != h.reachable:
            h.since_ms = time.time_ns() // 1_000_000
            log.warning("store reachable" if ok else "store unreachable, spooling", extra={"error": error})
        h.reachable = ok
        if error:
            h.last_error = error

    # -- drainer -----------------------------------------------------------------------
    def _drainer(self) -> None:
        backoff = self.settings.retry_initial_s
        while not self._stop.is_set():
            if self.spool.depth == 0:
                self._spooled.wait(1.0)
                self._spooled.clear()
                continue
            ids, readings = self.spool.peek()
            try:
                rejected = self._write_isolating(readings)
            except StoreUnavailable as exc:
                self._mark_store(False, str(exc))
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.settings.retry_max_s)
                continue
            except Exception:  # our own dead-letter or spool file failed: try again later
                log.exception("spool drain failed")
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.settings.retry_max_s)
                continue
            if rejected:  # never stall on them: they become dead letters, replayable, and the rest goes on
                log.error("store refused spooled readings; kept as dead letters", extra={"readings": len(rejected)})
                self.dead_letters.add([self._spooled_refusal(readings[i], reason) for i, reason in rejected.items()])
            # noted before leaving the spool: a crash between repeats, never loses, it
            self._stored([r for i, r in enumerate(readings) if i not in rejected])
            self.spool.remove(ids)
            self._mark_store(True)
            backoff = self.settings.retry_initial_s

    def _spooled_refusal(self, r: Reading, reason: str) -> Refusal:
        """A spooled reading the store refuses, as a dead letter in the contract's own form (replayable)."""
        body = {"ts": r.ts, "values": r.values} if r.seq is None else {"ts": r.ts, "seq": r.seq, "values": r.values}
        return Refusal(f"{self.topic_prefix}/{r.site}/{r.device}/reading", orjson.dumps(body), reason,
                       time.time_ns() // 1_000_000)

    # -- replay ------------------------------------------------------------------------
    def replay(self, letter_id: int) -> int:
        """Run a dead letter through decode again (as of when it was first received) and write it to the store.
        Marked replayed only once its readings are in the store: a refusal raises PayloadError, a store that
        cannot be reached StoreUnavailable, and the letter stays pending. A batch whose items are still partly
        refused has its valid readings stored all the same (as live ingest would store them now) and the
        letter says which items are left."""
        letter = self.dead_letters.get(letter_id)
        decoded = decode(Inbound(letter.topic, letter.payload, letter.first_ms), self.registry, self.topic_prefix,
                         self.limits)
        if decoded.refusals:
            refusal = decoded.refusals[0]
            if decoded.readings:
                with self._commit_lock:
                    rejected = self._write_isolating(decoded.readings)
                    self._stored([r for i, r in enumerate(decoded.readings) if i not in rejected])
                    self.dead_letters.add([replace(refusal, received_ms=letter.last_ms, dup=True)])  # its reason now
            raise PayloadError(refusal.reason)
        with self._commit_lock:
            rejected = self._write_isolating(decoded.readings)
            if rejected:
                raise PayloadError(next(iter(rejected.values())))
            self._stored(decoded.readings)
            now = time.time_ns() // 1_000_000
            if decoded.statuses:
                self.presence.record({}, {key: (online, now) for key, online in decoded.statuses})
            if decoded.health is not None:
                self.presence.record({}, {}, health={decoded.health[0]: decoded.health[1]})
            self.dead_letters.mark_replayed(letter_id, now)
        return len(decoded.readings)
