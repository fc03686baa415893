"""The ingest pipeline: queue → decode → commit (store or spool, dead letters, presence) → ack.

One writer thread takes whatever has queued (up to ``max_batch_messages``), so batches grow
with load and latency stays low when idle. Nothing is acknowledged before it is committed:
readings to the store (or, if the store is down, to the on-disk spool), refusals to the
dead-letter store, status and last-seen to the presence table. A drainer thread empties the
spool into the store with exponential backoff.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ingest.config import IngestSettings, StoreSettings
from ingest.contract import Reading
from ingest.deadletters import DeadLetterStore, Refusal
from ingest.decode import Decoded, Inbound, decode
from ingest.errors import PayloadError, StoreRejected, StoreUnavailable
from ingest.registry import Registry
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
        self.ack = ack
        self.counters = Counters()
        self.store_health = StoreHealth()
        self._queue: queue.Queue[Inbound | None] = queue.Queue()
        self._stop = threading.Event()
        self._spooled = threading.Event()
        self._commit_lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    @classmethod
    def open(cls, data_dir: Path, store: StoreSettings, settings: IngestSettings, topic_prefix: str) -> Pipeline:
        """Open every part from the data directory: what the service and the worker process both run."""
        db = data_dir / "meterwatch.db"
        return cls(registry=Registry(db), store=open_store(store, data_dir), dead_letters=DeadLetterStore(db),
                   presence=PresenceStore(db), spool=Spool(data_dir / "spool.db", settings.spool_max_readings),
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
            except Exception:  # never let the writer die: the broker redelivers what we did not ack
                log.exception("commit failed; messages stay unacknowledged")
                time.sleep(1)
                for msg in batch:
                    self._queue.put(msg)

    def commit(self, batch: list[Inbound]) -> list[Decoded]:
        decoded = [decode(m, self.registry, self.topic_prefix) for m in batch]
        readings = [r for d in decoded for r in d.readings]
        refusals = [f for d in decoded for f in d.refusals]
        with self._commit_lock:
            refusals += self._store(readings, batch, decoded)
            self.dead_letters.add(refusals)
            seen: dict[str, int] = {}
            for r in readings:
                if r.ts > seen.get(r.device, 0):
                    seen[r.device] = r.ts
            statuses = {d.status[0]: (d.status[1], m.received_ms) for m, d in zip(batch, decoded, strict=True)
                        if d.status is not None}
            stored = [(r.device, r.ts) for r in readings] if self.spool.depth == 0 else []
            self.presence.record(seen, statuses, stored)
        for msg in batch:
            self.ack(msg)
        c = self.counters
        c.received += len(batch)
        c.dead_lettered += len(refusals)
        c.acknowledged += len(batch)
        return decoded

    def _store(self, readings: list[Reading], batch: list[Inbound], decoded: list[Decoded]) -> list[Refusal]:
        """Write readings to the store, else the spool. Returns refusals for readings the store rejects."""
        if not readings:
            return []
        if self.spool.depth == 0:
            try:
                self.store.write(readings)
                self._stored(readings, note=False)
                self._mark_store(True)
                return []
            except StoreUnavailable as exc:
                self._mark_store(False, str(exc))
            except StoreRejected:
                return self._store_one_by_one(batch, decoded)
        backoff = self.settings.retry_initial_s
        while not self.spool.has_room(len(readings)):  # backpressure: hold the acks, the broker keeps the rest
            log.warning("spool full, holding acknowledgements", extra={"depth": self.spool.depth})
            if self._stop.wait(backoff):
                raise StoreUnavailable("stopping with the spool full: these messages stay unacknowledged")
            backoff = min(backoff * 2, self.settings.retry_max_s)
        self.spool.append(readings)
        self.counters.spooled += len(readings)
        self._spooled.set()
        return []

    def _store_one_by_one(self, batch: list[Inbound], decoded: list[Decoded]) -> list[Refusal]:
        refusals = []
        for msg, d in zip(batch, decoded, strict=True):
            if not d.readings:
                continue
            try:
                self.store.write(d.readings)
                self._stored(d.readings)
            except StoreRejected as exc:
                refusals.append(Refusal(msg.topic, msg.payload, f"store refused: {exc}", msg.received_ms,
                                        None, msg.dup))
            except StoreUnavailable:
                self.spool.append(d.readings)
                self._spooled.set()
        return refusals

    def _stored(self, readings: Sequence[Reading], *, note: bool = True) -> None:
        """After a store commit: count, and note the times per device for the roll-ups (``commit`` notes
        its own in the presence transaction it makes anyway)."""
        self.counters.stored += len(readings)
        if note:
            self.presence.record({}, {}, [(r.device, r.ts) for r in readings])

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
                self.store.write(readings)
            except StoreUnavailable as exc:
                self._mark_store(False, str(exc))
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.settings.retry_max_s)
                continue
            except StoreRejected as exc:  # keep it: an operator must look (logged, spool stays)
                log.error("store rejects spooled readings", extra={"error": str(exc)})
                self._stop.wait(self.settings.retry_max_s)
                continue
            self._stored(readings)  # noted before leaving the spool: a crash between repeats, never loses, it
            self.spool.remove(ids)
            self._mark_store(True)
            backoff = self.settings.retry_initial_s

    # -- replay ------------------------------------------------------------------------
    def replay(self, letter_id: int) -> int:
        """Run a dead letter through decode again; on success store it and mark it replayed."""
        letter = self.dead_letters.get(letter_id)
        now = time.time_ns() // 1_000_000
        decoded = decode(Inbound(letter.topic, letter.payload, now), self.registry, self.topic_prefix)
        if decoded.refusals:
            raise PayloadError(decoded.refusals[0].reason)
        with self._commit_lock:
            if self._store(decoded.readings, [], []):
                raise PayloadError("store refused the replayed readings")
            if decoded.status is not None:
                self.presence.record({}, {decoded.status[0]: (decoded.status[1], now)})
            self.dead_letters.mark_replayed(letter_id, now)
        return len(decoded.readings)
