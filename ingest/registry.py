"""The device registry kept in the state database, seeded from the campus file.

The whole campus document is one validated row, so every cross-field rule in
:mod:`ingest.campus` holds after each change. Lookups on the ingest hot path are served
from memory and refreshed when another process (``meterwatch devices import``, the API)
bumps the version.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from ingest.campus import Campus, Device
from ingest.contract import Kind, Topic
from ingest.db import connect
from ingest.errors import AlreadyExists, ConfigError, NotFound


@dataclass(frozen=True, slots=True)
class DeviceTags:
    """What ingest stamps on every reading of a device."""

    kind: Kind
    site: str
    building: str
    department: str
    zone: str
    rated_capacity: float | None = None


class Registry:
    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._lock = threading.Lock()
        self._conn.execute("CREATE TABLE IF NOT EXISTS campus (id INTEGER PRIMARY KEY CHECK (id = 1), "
                           "version INTEGER NOT NULL, doc TEXT NOT NULL)")
        self._campus: Campus | None = None
        self._tags: dict[str, DeviceTags] = {}
        self._topics: dict[str, tuple[Topic, DeviceTags]] = {}
        self._version = -1
        self._checked = 0.0

    # -- persistence -------------------------------------------------------------------
    def _read(self) -> tuple[int, Campus | None]:
        row = self._conn.execute("SELECT version, doc FROM campus WHERE id = 1").fetchone()
        if row is None:
            return 0, None
        return row[0], Campus.model_validate_json(row[1])

    def _refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked < 1.0:
            return
        self._checked = now
        row = self._conn.execute("SELECT version FROM campus WHERE id = 1").fetchone()
        version = row[0] if row else 0
        if version == self._version:
            return
        version, campus = self._read()
        self._campus, self._version = campus, version
        self._tags, self._topics = {}, {}
        if campus is not None:
            depts = {b.id: b.department.value for b in campus.buildings}
            self._tags = {
                d.id: DeviceTags(d.kind, campus.site.id, d.building, depts[d.building], d.zone or "default",
                                 d.rated_capacity)
                for d in campus.devices
            }

    def save(self, campus: Campus) -> None:
        self.change(lambda current: campus)

    def change(self, edit: Callable[[Campus | None], Campus]) -> Campus:
        """Read the campus, apply ``edit`` and write the result in one write transaction (BEGIN IMMEDIATE), so
        changes made at the same time by other requests or processes are never lost: each sees the one before."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                _, current = self._read()
                campus = edit(current)
                try:
                    campus = Campus.model_validate(campus.model_dump())
                except ValidationError as exc:
                    raise ConfigError(str(exc.errors()[0]["msg"])) from exc
                self._conn.execute(
                    "INSERT INTO campus (id, version, doc) VALUES (1, 1, ?) "
                    "ON CONFLICT(id) DO UPDATE SET version = version + 1, doc = excluded.doc",
                    (campus.model_dump_json(),),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._refresh(force=True)
            return campus

    def seed(self, campus: Campus) -> None:
        """Adopt a campus file: its site, buildings and zones; its devices added or updated, others kept."""

        def adopt(current: Campus | None) -> Campus:
            if current is None:
                return campus
            listed = {d.id for d in campus.devices}
            kept = [d for d in current.devices if d.id not in listed and campus.building(d.building)]
            return campus.model_copy(update={"devices": campus.devices + kept})

        self.change(adopt)

    # -- reads -------------------------------------------------------------------------
    @property
    def campus(self) -> Campus:
        with self._lock:
            self._refresh()
            if self._campus is None:
                raise ConfigError("no campus loaded: start with a campus file ([campus] file)")
            return self._campus

    def tags(self, device_id: str) -> DeviceTags | None:
        with self._lock:
            self._refresh()
            tags = self._tags.get(device_id)
            if tags is None:
                self._refresh(force=True)
                tags = self._tags.get(device_id)
            return tags

    def resolve(self, topic: str, prefix: str) -> tuple[Topic, DeviceTags | None]:
        """Parse a topic and find its device's tags; known topics are cached until the registry changes."""
        if time.monotonic() - self._checked >= 1.0:
            with self._lock:
                self._refresh()
        hit = self._topics.get(topic)  # hot path: a dict lookup, no lock (the dict is replaced, not mutated)
        if hit is not None:
            return hit
        parsed = Topic.parse(topic, prefix)
        tags = self.tags(parsed.device)
        if tags is not None:
            with self._lock:
                self._topics = {**self._topics, topic: (parsed, tags)}
        return parsed, tags

    def device(self, device_id: str) -> Device:
        found = next((d for d in self.campus.devices if d.id == device_id), None)
        if found is None:
            raise NotFound(f"no device {device_id!r}")
        return found

    # -- writes ------------------------------------------------------------------------
    def upsert_devices(self, devices: list[Device]) -> tuple[int, int]:
        """Add new devices; for known ones change only the fields the caller set (a ledger row's columns)."""
        counted: list[int] = []

        def upsert(campus: Campus | None) -> Campus:
            campus = self._loaded(campus)
            by_id = {d.id: d for d in campus.devices}
            counted[:] = [sum(1 for d in devices if d.id not in by_id)]
            for dev in devices:
                old = by_id.get(dev.id)
                if old is not None:
                    given = dev.model_dump(include=dev.model_fields_set)
                    if "building" in given and "zone" not in given:
                        given["zone"] = None  # derived again from the new building's zone
                    dev = Device.model_validate({**old.model_dump(), **given})
                by_id[dev.id] = dev
            return campus.model_copy(update={"devices": list(by_id.values())})

        self.change(upsert)
        return counted[0], len(devices) - counted[0]

    def add_device(self, device: Device) -> None:
        """Add a new device; :class:`AlreadyExists` if the id is taken (checked inside the transaction)."""

        def add(campus: Campus | None) -> Campus:
            campus = self._loaded(campus)
            if any(d.id == device.id for d in campus.devices):
                raise AlreadyExists(f"device {device.id!r} exists")
            return campus.model_copy(update={"devices": [*campus.devices, device]})

        self.change(add)

    def update_device(self, device_id: str, fields: dict[str, object]) -> None:
        """Change only ``fields`` of a device, merged with its current record inside the transaction."""

        def update(campus: Campus | None) -> Campus:
            campus = self._loaded(campus)
            old = next((d for d in campus.devices if d.id == device_id), None)
            if old is None:
                raise NotFound(f"no device {device_id!r}")
            new = Device.model_validate({**old.model_dump(), **fields})
            return campus.model_copy(update={"devices": [new if d.id == device_id else d for d in campus.devices]})

        self.change(update)

    def delete_device(self, device_id: str) -> None:
        def delete(campus: Campus | None) -> Campus:
            campus = self._loaded(campus)
            if not any(d.id == device_id for d in campus.devices):
                raise NotFound(f"no device {device_id!r}")
            if any(d.parent == device_id for d in campus.devices):
                raise AlreadyExists(f"device {device_id!r} has sub-meters: change their parent first")
            return campus.model_copy(update={"devices": [d for d in campus.devices if d.id != device_id]})

        self.change(delete)

    @staticmethod
    def _loaded(campus: Campus | None) -> Campus:
        if campus is None:
            raise ConfigError("no campus loaded: start with a campus file ([campus] file)")
        return campus

    def close(self) -> None:
        self._conn.close()
