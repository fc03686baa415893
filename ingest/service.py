"""Ingest assembled: registry, store, spool, dead letters, presence, pipeline and MQTT source."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ingest.campus import Campus
from ingest.config import IngestSettings, MqttSettings, StoreSettings
from ingest.deadletters import DeadLetterStore
from ingest.errors import StoreUnavailable
from ingest.mqtt import MqttSource
from ingest.pipeline import Pipeline
from ingest.registry import Registry
from ingest.spool import Spool
from ingest.status import PresenceStore
from ingest.stores import ReadingStore, open_store

log = logging.getLogger("meterwatch.ingest")


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


class IngestService:
    def __init__(self, *, data_dir: Path, mqtt: MqttSettings, store: StoreSettings, ingest: IngestSettings,
                 campus: Campus | None = None, connect_mqtt: bool = True) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        self.registry = Registry(data_dir / "meterwatch.db")
        if campus is not None:
            self.registry.seed(campus)
        self.store: ReadingStore = open_store(store, data_dir)
        self.dead_letters = DeadLetterStore(data_dir / "meterwatch.db")
        self.presence = PresenceStore(data_dir / "meterwatch.db")
        self.spool = Spool(data_dir / "spool.db", ingest.spool_max_readings)
        self.pipeline = Pipeline(registry=self.registry, store=self.store, dead_letters=self.dead_letters,
                                 presence=self.presence, spool=self.spool, settings=ingest,
                                 topic_prefix=mqtt.topic_prefix)
        self.mqtt: MqttSource | None = None
        if connect_mqtt:
            self.mqtt = MqttSource(mqtt, self.pipeline.submit)
            self.pipeline.ack = self.mqtt.ack

    def start(self) -> None:
        self.pipeline.start()
        if self.mqtt is not None:
            self.mqtt.start()

    def stop(self) -> None:
        if self.mqtt is not None:
            self.mqtt.stop()
        self.pipeline.stop()
        for part in (self.store, self.spool, self.dead_letters, self.presence, self.registry):
            part.close()

    def health(self) -> Health:
        h = self.pipeline.store_health
        reachable = h.reachable
        if self.spool.depth == 0:
            try:
                self.store.ping()
                reachable = True
            except StoreUnavailable as exc:
                reachable, h.last_error = False, str(exc)
        connected = self.mqtt.connected if self.mqtt is not None else True
        ok = connected and reachable and self.spool.depth == 0
        c = self.pipeline.counters
        return Health("ok" if ok else "degraded", connected, self.store.backend, reachable,
                      None if reachable else h.last_error, self.spool.depth, self.pipeline.backlog,
                      self.dead_letters.count(), c.received, c.stored, c.acknowledged)
