"""The alert engine in a process of its own, so that on a small server it has a core (and a GIL)
apart from ingest and the API. It keeps its own MQTT session; if it dies it is started again and
the broker hands it whatever it had not acknowledged."""

from __future__ import annotations

import logging
import multiprocessing
import threading
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from alerts.config import AlertSettings
from campus.children import READY, start_child, stop_child
from campus.contract import DEFAULT_LIMITS, Limits
from ingest.config import MqttSettings

log = logging.getLogger("meterwatch.alerts")
SUBSCRIBE_WAIT_S = 20.0


@dataclass(frozen=True)
class AlertProcessConfig:
    data_dir: Path
    mqtt: MqttSettings
    settings: AlertSettings
    language: str
    log_level: str = "INFO"
    limits: Limits = DEFAULT_LIMITS  # ingest's plausibility bounds: the engine refuses what ingest refuses
    plans_file: Path | None = None   # [records] plans_file: the plans an alert activates
    state_url: str | None = field(default=None, repr=False)  # [state] url (may hold its password)


def alert_process_main(conn: Connection, config: AlertProcessConfig) -> None:
    """Runs until the parent says stop or goes away (a pipe, not a shared lock: a killed process
    holding a multiprocessing lock would leave it locked for good)."""
    from alerts.service import AlertService
    from campus.logs import setup_logging

    setup_logging(config.log_level)
    service = AlertService(data_dir=config.data_dir, mqtt=config.mqtt, settings=config.settings,
                           language=config.language, limits=config.limits, plans_file=config.plans_file,
                           state_url=config.state_url)
    service.start()
    if service.mqtt is not None:  # ready means subscribed (the broker keeps our messages from then on), or, with
        service.mqtt.wait_connected(SUBSCRIBE_WAIT_S)  # the broker away, that we tried long enough
    conn.send(READY)
    try:
        conn.recv()
    except EOFError:
        pass
    service.stop()


class AlertProcess:
    def __init__(self, config: AlertProcessConfig) -> None:
        self.config = config
        self.restarts = 0
        self._stop = threading.Event()
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._ready = False
        self._watch: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        """Running and subscribed-or-subscribing (started up)."""
        return self._ready and self._proc is not None and self._proc.is_alive()

    def start(self, timeout: float = 60.0) -> None:
        self._spawn(timeout)
        self._watch = threading.Thread(target=self._watchdog, name="mw-alerts-watchdog", daemon=True)
        self._watch.start()

    def _spawn(self, timeout: float) -> None:
        self._ready = False
        self._proc, self._conn = start_child(alert_process_main, (self.config,), "meterwatch-alerts", timeout)
        self._ready = True

    def _watchdog(self) -> None:
        while not self._stop.wait(1.0):
            if self._proc is not None and not self._proc.is_alive() and not self._stop.is_set():
                log.error("alert process died; starting it again", extra={"exit_code": self._proc.exitcode})
                self.restarts += 1
                try:
                    self._spawn(60)
                except RuntimeError:
                    log.exception("alert process failed to start; retrying")

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.join(5)
        stop_child(self._proc, self._conn, "stop", timeout)
