"""Ingest on two cores: MQTT receive and acknowledge in this process, decode and commit in a worker.

CPython runs one thread at a time per process. Receiving with paho already keeps one core busy at
full rate, so decoding, validation and the store write run in a separate process that gets the
other core. Batches go over a pipe; the worker answers after each commit, and only then are the
batch's messages acknowledged to the broker. If the worker dies, a new one is started and every
unconfirmed batch is sent again (writes are idempotent, so a batch committed twice is stored once).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path

from campus.children import READY, start_child, stop_child
from ingest.config import IngestSettings, StoreSettings
from ingest.decode import Drill, Inbound

log = logging.getLogger("meterwatch.worker")


@dataclass(frozen=True)
class WorkerConfig:
    data_dir: Path
    store: StoreSettings
    ingest: IngestSettings
    topic_prefix: str
    state_url: str | None = field(default=None, repr=False)  # [state] url (may hold its password)


@dataclass(frozen=True)
class Progress:
    """What the worker reports after each batch."""

    received: int = 0
    stored: int = 0
    spooled: int = 0
    dead_lettered: int = 0
    store_reachable: bool = True
    store_error: str | None = None
    drills: tuple[Drill, ...] = ()  # the drills' readings of this batch (not a total): the parent answers them


def worker_main(conn: Connection, config: WorkerConfig) -> None:
    """The worker process: commit every batch it is sent, answer with Progress, stop on None."""
    from campus.logs import LOG_FILE_ENV, setup_logging
    from ingest.pipeline import Pipeline

    if os.environ.get(LOG_FILE_ENV):  # the service logs to a file: so does its worker (else warnings on stderr)
        setup_logging("INFO")
    pipeline = Pipeline.open(config.data_dir, config.store, config.ingest, config.topic_prefix,
                             config.state_url)
    drills: list[Drill] = []
    pipeline.on_drill = drills.extend
    pipeline.start(writer=False)
    conn.send(READY)
    try:
        while True:
            try:
                batch = conn.recv()
            except (EOFError, OSError):
                break
            if batch is None:
                break
            pipeline.commit(batch)
            c, h = pipeline.counters, pipeline.store_health
            conn.send(Progress(c.received, c.stored, c.spooled, c.dead_lettered, h.reachable, h.last_error,
                               tuple(drills)))
            drills.clear()
    finally:
        pipeline.stop()
        pipeline.close()


class WorkerLink:
    """The parent's side: batches messages to the worker, acknowledges what it committed."""

    def __init__(self, config: WorkerConfig, ack: Callable[[Inbound], None], *, window: int = 2) -> None:
        self.config = config
        self.ack = ack
        self.on_drill: Callable[[list[Drill]], None] | None = None  # as Pipeline's: after the batch's commit
        self.window = window
        self.progress = Progress()
        self.acknowledged = 0
        self.restarts = 0
        self._base = Progress()  # totals of workers that died
        self._queue: queue.Queue[Inbound] = queue.Queue()
        self._stop = threading.Event()
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._thread: threading.Thread | None = None

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def submit(self, msg: Inbound) -> None:
        self._queue.put(msg)

    def start(self, timeout: float = 60.0) -> None:
        """Start the worker and wait until it can commit (so nothing is received before it can be stored)."""
        self._spawn(timeout)
        self._thread = threading.Thread(target=self._run, name="mw-shipper", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        stop_child(self._proc, self._conn, None, timeout)

    def _spawn(self, timeout: float = 60.0) -> None:
        self._proc, self._conn = start_child(worker_main, (self.config,), "meterwatch-ingest-worker", timeout)

    def _collect(self, block: bool) -> list[Inbound]:
        try:
            first = self._queue.get(timeout=0.2) if block else self._queue.get_nowait()
        except queue.Empty:
            return []
        batch = [first]
        while len(batch) < self.config.ingest.max_batch_messages:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        unconfirmed: deque[list[Inbound]] = deque()
        while not (self._stop.is_set() and not unconfirmed and self._queue.empty()):
            conn = self._conn
            if conn is None:
                return
            try:
                if len(unconfirmed) < self.window:
                    batch = self._collect(block=not unconfirmed)
                    if batch:
                        unconfirmed.append(batch)  # first: if the send fails, the restart sends it again
                        conn.send(batch)
                if unconfirmed and conn.poll(0.001 if len(unconfirmed) < self.window else 0.5):
                    progress: Progress = conn.recv()
                    done = unconfirmed.popleft()
                    for msg in done:
                        self.ack(msg)
                    self.acknowledged += len(done)
                    self.progress = self._add(progress)
                    if progress.drills and self.on_drill is not None:
                        self._answer(list(progress.drills))
            except (EOFError, OSError, RuntimeError):
                self._restart(unconfirmed)
                continue
            if self._proc is not None and not self._proc.is_alive():
                self._restart(unconfirmed)

    def _answer(self, drills: list[Drill]) -> None:
        try:
            if self.on_drill is not None:
                self.on_drill(drills)
        except Exception:  # never taken for the worker's death: the drill goes unanswered, its check says so
            log.exception("a drill's answer failed", extra={"drills": [d.drill for d in drills]})

    def _add(self, p: Progress) -> Progress:
        b = self._base
        return replace(p, drills=(), received=b.received + p.received, stored=b.stored + p.stored,
                       spooled=b.spooled + p.spooled, dead_lettered=b.dead_lettered + p.dead_lettered)

    def _restart(self, unconfirmed: deque[list[Inbound]]) -> None:
        log.error("ingest worker died; starting a new one and resending unconfirmed batches",
                  extra={"batches": len(unconfirmed)})
        self._base = self.progress
        if self._conn is not None:
            self._conn.close()
        if self._proc is not None and self._proc.is_alive():
            self._proc.terminate()
        while True:
            self.restarts += 1
            self._stop.wait(min(0.2 * 2 ** min(self.restarts, 6), 10.0))  # a worker that cannot start: back off
            try:
                self._spawn()
                break
            except RuntimeError as exc:
                log.error("ingest worker failed to start", extra={"error": str(exc)})
        if self._conn is not None:
            for batch in unconfirmed:
                self._conn.send(batch)
