"""The gateway process: the device list → one :class:`gateway.bus.FieldBus` and one schedule thread per bus →
the on-disk buffer → the broker.

Rules:
- Every answer is buffered (fsync'd) before anything else happens with it; the publisher takes it from there
  and deletes it on PUBACK. SIGKILL at any moment loses nothing taken; SIGTERM stops after the transaction
  under way, sends what it can for a few seconds, says ``offline`` and leaves.
- After each answer: the meter's health (published when its outcome changed, at least hourly) and, if the
  answer ends a gap across a midnight (or is the first ever), the missed days from the meter's freezes.
- Each failure is said in words (the bus's ``ReadFailed``) and published as the meter's health; it never stops
  the bus, and never another bus.
- One MQTT connection: the buses behind 4G DTUs over MQTT talk over the publisher's (``Publisher.channel``);
  a second connection of the gateway's account would take its place on a broker that uses the username as the
  client id, as the one meterwatch deploys does.
- The device list is read again every ``campus_poll_s`` (the file when it changed; the API with If-None-Match):
  only the buses whose line or meters changed are closed and opened again.
- A technical drill: on ``{prefix}/{site}/{gateway}/drill`` (QoS 1) ``{"drill": ID, "device": DEVICE}`` for one of
  its meters, the gateway publishes one reading of it tagged ``"drill": ID``, stamped with the gateway's clock now
  (ingest checks the clock as for any reading, and a drill reading can never pass for a real one already stored):
  the values of the meter's last answer to this process, else its initial register (or a neutral pH). Never a
  fresh read: the bus belongs to its schedule, and the drill checks the path from here to the alert engine, not the
  meter. A request that is not well formed, or names a meter this gateway does not read, is logged and ignored.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from datetime import datetime
from typing import Any, Protocol

from campus.contract import KIND_FIELDS, REGISTER_FIELD, drill_request_topic, parse_drill_request
from campus.db import private_dir
from campus.errors import ConfigError, PayloadError
from campus.model import Bus, Device
from campus.model import Protocol as MeterProtocol
from gateway.backfill import backfill, has_freezes
from gateway.buffer import FILE, Buffer
from gateway.config import GatewaySettings
from gateway.devicelist import ApiDeviceList, FileDeviceList, GatewayView, changed_buses
from gateway.dtu import MqttChannel
from gateway.health import MeterHealth, TimeSync
from gateway.publisher import Publisher
from gateway.schedule import BusSchedule, Clock, SystemClock
from ingest.config import MqttSettings

log = logging.getLogger("meterwatch.gateway")


class BusLike(Protocol):
    """What the process needs of a bus (``gateway.bus.FieldBus``)."""

    def open(self) -> None: ...
    def close(self) -> None: ...
    def read(self, device: Device) -> Any: ...
    def freezes(self, device: Device, days: list[int]) -> list[tuple[int, dict[str, float]]]: ...
    def sync_time(self, at: datetime) -> None: ...


class BusFactory(Protocol):
    """Makes a bus. ``channel``: the process's MQTT connection, for a bus behind a 4G DTU over MQTT."""

    def __call__(self, gateway_id: str, bus: Bus, devices: list[Device], *, mqtt: MqttSettings | None = None,
                 zone: str = "Asia/Shanghai", channel: MqttChannel | None = None) -> BusLike: ...


def _field_bus(gateway_id: str, bus: Bus, devices: list[Device], *, mqtt: MqttSettings | None = None,
               zone: str = "Asia/Shanghai", channel: MqttChannel | None = None) -> BusLike:
    from gateway.bus import FieldBus

    return FieldBus(gateway_id, bus, devices, mqtt=mqtt, zone=zone, channel=channel)


def _failure(exc: BaseException) -> tuple[str, str]:
    """(code, words) of a failed read: the bus's ReadFailed says both; anything else is a link fault."""
    code = getattr(exc, "code", None)
    words = getattr(exc, "words", None)
    if isinstance(code, str) and isinstance(words, str):
        return code, words
    if isinstance(exc, OSError) and str(exc):
        return "link_down", str(exc)
    if isinstance(exc, ValueError):
        return "garbled", str(exc)
    return "link_down", f"{type(exc).__name__}: {exc}"


def _neutral(device: Device) -> dict[str, float]:
    """A valid reading of a meter that has not answered this process yet: its initial register (else 0), or a
    neutral pH for a water-quality sensor. Only ever sent tagged as a drill: never stored, never evaluated."""
    register = REGISTER_FIELD[device.kind]
    if register is None:
        return {"ph": 7.0}
    return {register: float(device.initial_register or 0.0)}


class _Line:
    """One open bus and its schedule."""

    def __init__(self, bus: BusLike, schedule: BusSchedule, config: Bus) -> None:
        self.bus, self.schedule, self.config = bus, schedule, config
        self.opened = False
        self.open_error = ""


class GatewayProcess:
    def __init__(self, settings: GatewaySettings, *, clock: Clock | None = None,
                 bus_factory: BusFactory | None = None) -> None:
        self.settings = settings
        self.gateway_id = settings.gateway.id
        self.clock = clock or SystemClock()
        self._bus_factory = bus_factory or _field_bus
        g = settings.gateway
        if g.server is not None and g.token is not None:
            self.source: ApiDeviceList | FileDeviceList = ApiDeviceList(
                g.server, g.token.get_secret_value(), g.id, g.site, cache=settings.data_dir / "devices.json")
        elif settings.campus.file is not None:
            self.source = FileDeviceList(settings.campus.file, g.id, g.site)
        else:  # the settings refuse this already
            raise ConfigError("no device list: [campus] file or [gateway] server and token")
        self.view: GatewayView | None = None
        self.buffer: Buffer | None = None
        self.publisher: Publisher | None = None
        self.health = MeterHealth(g.id, g.health_every_s)
        self._lines: dict[str, _Line] = {}
        self._last_ok: dict[str, int | None] = {}
        self._last_values: dict[str, dict[str, float]] = {}  # device → its last answer's values (for drills)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="mw-gateway-devices", daemon=True)
        self.polls = 0

    # --- start and stop -------------------------------------------------------------------------------------
    def start(self) -> None:
        data_dir = private_dir(self.settings.data_dir)
        view = self.source.fetch()
        if view is None:  # the first fetch always answers
            raise ConfigError("the device list answered nothing")
        self.buffer = Buffer(data_dir / FILE, self.settings.gateway.buffer_max_readings)
        self.publisher = Publisher(self.settings.broker(), view.site.id, self.gateway_id, self.buffer,
                                   batch_max=self.settings.gateway.batch_max_readings)
        self.publisher.start()
        self.publisher.channel.subscribe(drill_request_topic(self.publisher.prefix, view.site.id,
                                                             self.gateway_id), self._drill)
        self._apply(view)
        self._watcher.start()
        log.info("gateway started", extra={"gateway": self.gateway_id, "site": view.site.id,
                                           "buses": sorted(self._lines), "meters": len(view.devices),
                                           "buffered": self.buffer.depth,
                                           "broker": f"{self.settings.mqtt.host}:{self.settings.mqtt.port}"})

    def stop(self) -> None:
        self._stop.set()
        if self._watcher.is_alive():
            self._watcher.join(10)
        with self._lock:
            for line in self._lines.values():  # every bus finishes its transaction at once, not one after another
                line.schedule.request_stop()
            for name in list(self._lines):
                self._close(name)
        if self.publisher is not None:
            self.publisher.stop()
        if self.buffer is not None:
            self.buffer.close()
        log.info("gateway stopped", extra={"gateway": self.gateway_id})

    # --- the device list ------------------------------------------------------------------------------------
    def _watch(self) -> None:
        every = self.settings.gateway.campus_poll_s
        while not self._stop.wait(every):
            try:
                view = self.source.fetch()
            except ConfigError as exc:
                log.warning("device list not read; keeping the last one", extra={"error": str(exc)})
                continue
            except Exception:
                log.exception("device list not read; keeping the last one")
                continue
            if view is not None:
                self._apply(view)

    def _apply(self, view: GatewayView) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            old = self.view
            changed = changed_buses(old, view) if old is None or old.site == view.site else set(
                view.buses()) | set(self._lines)
            self.view = view
            if old is not None and changed:
                log.info("device list changed: reopening buses", extra={"buses": sorted(changed)})
            buses = view.buses()
            for name in sorted(changed):
                self._close(name)
                if name in buses:
                    try:
                        self._open(view, *buses[name])
                    except Exception:  # one bad bus never keeps the others from being read
                        log.exception("bus not started; the others run", extra={"bus": name})

    def _open(self, view: GatewayView, bus: Bus, devices: tuple[Device, ...]) -> None:
        buffer = self._buffer()
        # an MQTT DTU's bus talks over the publisher's connection: one connection per gateway account, because the
        # broker meterwatch deploys makes the username the client id, and a second connection would take its place
        field = self._bus_factory(self.gateway_id, bus, list(devices), mqtt=self.settings.broker(),
                                  zone=view.site.timezone, channel=self._publisher().channel)
        for d in devices:
            last = buffer.last_ok(d.id)
            self._last_ok[d.id] = last
            self.health.seed(d.id, bus.name, last)
        sync = TimeSync(self.settings.gateway.time_sync, self.settings.gateway.time_sync_hour, view.tz, buffer)
        line: _Line

        def poll(device: Device) -> None:
            self._poll(line, device)

        def between(now_ms: int) -> None:
            if any(d.meter is not None and d.meter.protocol is MeterProtocol.DLT645 for d in devices) \
                    and sync.due(bus.name, now_ms):
                try:
                    line.bus.sync_time(datetime.fromtimestamp(now_ms / 1000, view.tz))
                    log.info("meters' clocks set (DL/T 645 broadcast time)", extra={"bus": bus.name})
                except Exception as exc:  # noqa: BLE001 - said in words; tried again tomorrow
                    log.warning("broadcast time failed", extra={"bus": bus.name, "error": _failure(exc)[1]})
                sync.done(bus.name, now_ms)

        schedule = BusSchedule(bus.name, devices, view.tz, poll, clock=self.clock, between=between)
        line = _Line(field, schedule, bus)
        self._lines[bus.name] = line
        self._try_open(line)
        schedule.start()

    def _close(self, name: str) -> None:
        line = self._lines.pop(name, None)
        if line is None:
            return
        line.schedule.stop()
        try:
            line.bus.close()
        except Exception:
            log.exception("closing bus failed", extra={"bus": name})

    def _try_open(self, line: _Line) -> bool:
        if line.opened:
            return True
        try:
            line.bus.open()
            line.opened = True
        except Exception as exc:  # noqa: BLE001 - a port not there yet: each poll tries again and says why
            line.open_error = _failure(exc)[1]
            log.warning("bus not open", extra={"bus": line.config.name, "error": line.open_error})
        return line.opened

    # --- one read -------------------------------------------------------------------------------------------
    def _poll(self, line: _Line, device: Device) -> None:
        buffer, publisher = self._buffer(), self._publisher()
        bus = line.config.name
        self.polls += 1
        try:
            if not self._try_open(line):
                raise ConnectionError(f"bus {bus} could not be opened: {line.open_error}")
            answer = line.bus.read(device)
            values = {k: float(v) for k, v in answer.values.items()
                      if k in KIND_FIELDS[device.kind] and math.isfinite(float(v))}
            at_ms = int(answer.at_ms)
            register = REGISTER_FIELD[device.kind]
            if register is not None and register not in values:  # never publish a reading without its register
                raise ValueError(f"{device.id} on {bus}: the answer has no {register}")
        except Exception as exc:  # noqa: BLE001 - every failure is a health message, never the end of the bus
            code, words = _failure(exc)
            log.info("meter not read", extra={"device": device.id, "bus": bus, "code": code, "error": words})
            self._health(device, bus, self.clock.now_ms(), code, words)
            return
        previous = self._last_ok.get(device.id)
        buffer.add_many([(device.id, at_ms, values)], last_ok=True)
        self._last_ok[device.id] = at_ms
        self._last_values[device.id] = values
        publisher.wake()
        self._health(device, bus, at_ms, None, None)
        if has_freezes(device):
            self._backfill(line, device, previous, at_ms)

    # --- a technical drill ----------------------------------------------------------------------------------
    def _drill(self, topic: str, payload: bytes) -> None:
        """A drill request, on paho's thread: checked, and the answer handed to the publisher's thread."""
        try:
            drill, device_id = parse_drill_request(payload)
        except PayloadError as exc:
            log.warning("drill request ignored", extra={"error": exc.reason})
            return
        view = self.view
        device = next((d for d in view.devices if d.id == device_id), None) if view is not None else None
        if device is None:
            log.warning("drill request for a meter this gateway does not read: ignored",
                        extra={"device": device_id, "drill": drill})
            return
        values = self._last_values.get(device.id) or _neutral(device)
        body = json.dumps({"ts": self.clock.now_ms(), "values": values, "drill": drill},
                          separators=(",", ":")).encode()
        if self._publisher().drill(device.id, body):
            log.info("drill answered", extra={"device": device.id, "drill": drill})
        else:
            log.warning("drill request ignored: too many at once", extra={"device": device.id, "drill": drill})

    def _backfill(self, line: _Line, device: Device, previous: int | None, now_ms: int) -> None:
        view = self.view
        if view is None:
            return
        try:
            n = backfill(device, lambda d, days: line.bus.freezes(d, list(days)), self._buffer(),
                         last_ok_ms=previous, now_ms=now_ms, tz=view.tz,
                         backfill_days=self.settings.gateway.backfill_days,
                         per_read=self.settings.gateway.backfill_per_read)
        except Exception as exc:  # noqa: BLE001 - tried again after the next gap
            log.warning("daily freezes not read", extra={"device": device.id, "error": _failure(exc)[1]})
            return
        if n:
            self._publisher().wake()

    def _health(self, device: Device, bus: str, at_ms: int, code: str | None, words: str | None) -> None:
        message = self.health.record(device.id, bus, at_ms, code=code, error=words)
        if message is not None:
            self._publisher().health(device.id, message)

    def _buffer(self) -> Buffer:
        if self.buffer is None:
            raise RuntimeError("the gateway process is not started")
        return self.buffer

    def _publisher(self) -> Publisher:
        if self.publisher is None:
            raise RuntimeError("the gateway process is not started")
        return self.publisher
