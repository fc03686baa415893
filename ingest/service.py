"""Ingest assembled: registry, store, spool, dead letters, presence, pipeline, worker and MQTT source.

A drill's reading, once its batch is committed (stored nowhere), is answered on
``{prefix}/{site}/drills/{drill}/ingest``: ``{"device", "ok", "error"?}`` (QoS 1, handed to paho without waiting).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from campus.contract import drill_topic
from campus.db import private_dir
from campus.errors import StateUnavailable, StoreUnavailable
from campus.model import Campus
from ingest.config import IngestSettings, MqttSettings, StoreSettings
from ingest.decode import Drill
from ingest.mqtt import MqttSource
from ingest.pipeline import Counters, Pipeline
from ingest.stores import Point, PointSink, point_sink
from ingest.worker import WorkerConfig, WorkerLink

log = logging.getLogger("meterwatch.ingest")
WARN_FILL = 0.8  # health warns when the dead-letter store is this full
HEALTH_MEASUREMENT = "meterwatch"  # this service's health, written beside the readings for dashboards


@dataclass(frozen=True)
class Health:
    status: str
    mqtt_connected: bool
    store_backend: str
    store_reachable: bool
    store_error: str | None
    spool_depth: int
    backlog: int
    dead_letters: int
    received: int
    stored: int
    acknowledged: int
    warnings: tuple[str, ...] = ()
    state_backend: str = "sqlite"  # where the registry and tokens live: sqlite, or postgresql ([state] url)
    state_reachable: bool = True
    state_error: str | None = None


class IngestService:
    """Ingest for every site of the registry. With ``worker="process"`` (the default) messages are decoded and
    committed in a worker process (see :mod:`ingest.worker`); ``"thread"`` keeps everything in this process."""

    def __init__(self, *, data_dir: Path, mqtt: MqttSettings, store: StoreSettings, ingest: IngestSettings,
                 campus: Campus | list[Campus] | None = None, connect_mqtt: bool = True,
                 state_url: str | None = None) -> None:
        private_dir(data_dir)
        self.data_dir = data_dir
        # this process's pipeline: the in-process writer, dead-letter replay and direct commits
        self.pipeline = Pipeline.open(data_dir, store, ingest, mqtt.topic_prefix, state_url)
        p = self.pipeline
        self.registry, self.store, self.dead_letters, self.presence, self.spool = (
            p.registry, p.store, p.dead_letters, p.presence, p.spool)
        if campus is not None:  # the campus file's sites, in one commit; others (added before) are kept
            self.registry.seed_all([campus] if isinstance(campus, Campus) else campus)
        self.mqtt: MqttSource | None = None
        self.link: WorkerLink | None = None
        self._health_stop = threading.Event()
        self._health_thread: threading.Thread | None = None
        if not connect_mqtt:
            return
        if ingest.worker == "process":
            self.link = WorkerLink(WorkerConfig(data_dir, store, ingest, mqtt.topic_prefix, state_url),
                                   ack=lambda m: None)
            self.mqtt = MqttSource(mqtt, self.link.submit)
            self.link.ack = self.mqtt.ack
            self.link.on_drill = self._answer_drills
        else:
            self.mqtt = MqttSource(mqtt, self.pipeline.submit)
            self.pipeline.ack = self.mqtt.ack
            self.pipeline.on_drill = self._answer_drills
        self.prefix = mqtt.topic_prefix

    def _answer_drills(self, drills: list[Drill]) -> None:
        """Say what ingest made of each drill's reading (it stored none of them)."""
        for d in drills:
            body: dict[str, object] = {"device": d.device, "ok": d.error is None}
            if d.error is not None:
                body["error"] = d.error
            log.info("drill reading checked, not stored", extra={"site": d.site, "drill": d.drill,
                                                                 "device": d.device, "error": d.error})
            if self.mqtt is not None:
                try:
                    self.mqtt.send(drill_topic(self.prefix, d.site, d.drill, "ingest"), orjson.dumps(body))
                except (OSError, RuntimeError, ValueError) as exc:  # paho's queue full: the drill goes unanswered
                    log.warning("drill not answered", extra={"drill": d.drill, "error": str(exc)})

    def start(self, health_every_s: float = 60.0) -> None:
        """Start ingest; with a store dashboards read (InfluxDB), also write this service's health into it
        every ``health_every_s`` (measurement ``meterwatch``: dead letters, spool depth, backlog, ...)."""
        sink = point_sink(self.store)
        if sink is not None and health_every_s > 0:
            self._health_stop.clear()
            self._health_thread = threading.Thread(target=self._health_loop, args=(sink, health_every_s),
                                                   name="mw-health-points", daemon=True)
            self._health_thread.start()
        if self.link is not None:
            self.link.start()  # the worker drains the spool too
        else:
            self.pipeline.start()
        if self.mqtt is not None:
            self.mqtt.start()

    def stop(self) -> None:
        self._health_stop.set()
        if self._health_thread is not None:
            self._health_thread.join(10)
        if self.mqtt is not None:
            self.mqtt.stop()
        if self.link is not None:
            self.link.stop()
        self.pipeline.stop()
        self.pipeline.close()

    @property
    def counters(self) -> Counters:
        """Messages received and acknowledged, readings stored, by this service since it started."""
        own = self.pipeline.counters
        if self.link is None:
            return own
        p = self.link.progress
        return Counters(received=p.received + own.received, stored=p.stored + own.stored,
                        spooled=p.spooled + own.spooled, dead_lettered=p.dead_lettered + own.dead_lettered,
                        acknowledged=self.link.acknowledged + own.acknowledged)

    def health(self) -> Health:
        h = self.pipeline.store_health
        reachable, error = h.reachable, h.last_error
        if self.link is not None:
            reachable, error = self.link.progress.store_reachable, self.link.progress.store_error
        depth = self.spool.depth
        if depth == 0:
            try:
                self.store.ping()
                reachable = True
            except StoreUnavailable as exc:
                reachable, error = False, str(exc)
        connected = self.mqtt.connected if self.mqtt is not None else True
        state_error = None
        try:
            self.registry.ping()
        except StateUnavailable as exc:
            state_error = str(exc)
        ok = connected and reachable and depth == 0 and state_error is None
        c = self.counters
        backlog = self.link.backlog if self.link is not None else self.pipeline.backlog
        letters = self.dead_letters.usage()
        warnings = []
        if letters.fill >= WARN_FILL:
            warnings.append(f"dead letters at {letters.fill:.0%} of their bound ({letters.count} letters, "
                            f"{letters.bytes} bytes; [ingest] dead_letter_max_count / dead_letter_max_bytes): past it "
                            f"replayed ones go first, then the oldest. Replay or fix their causes.")
        if letters.evicted:
            warnings.append(f"{letters.evicted} dead letters were evicted at the bound")
        return Health("ok" if ok else "degraded", connected, self.store.backend, reachable,
                      None if reachable else error, depth, backlog, self.dead_letters.count(),
                      c.received, c.stored, c.acknowledged, tuple(warnings), self.registry.backend,
                      state_error is None, state_error)

    def health_point(self, now_ms: int) -> Point:
        h = self.health()
        fields = {"ok": h.status == "ok", "mqtt_connected": h.mqtt_connected, "spool_depth": h.spool_depth,
                  "backlog": h.backlog, "dead_letters": h.dead_letters, "received": h.received, "stored": h.stored,
                  "acknowledged": h.acknowledged}
        sites = list(self.registry.campuses)
        return Point(HEALTH_MEASUREMENT, {"site": sites[0] if len(sites) == 1 else "all"},
                     {k: float(v) for k, v in fields.items()}, now_ms)

    def _health_loop(self, sink: PointSink, every_s: float) -> None:
        while True:
            try:
                sink.write_points([self.health_point(int(time.time() * 1000))])
            except Exception as exc:  # noqa: BLE001 - the store is down (the spool shows it) or the campus not loaded
                log.info("health not written to the store", extra={"error": str(exc)[:200]})
            if self._health_stop.wait(every_s):
                return
