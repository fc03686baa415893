"""The device registry kept in the state database, seeded from the campus file(s): one or many sites.

Each site's whole campus document is one validated row, so every cross-field rule in
:mod:`campus.model` holds after each change. Device ids are unique within a site (topics name
the site); a device is ``(site, id)``. Lookups on the ingest hot path are served from memory
and refreshed when another process (``meterwatch devices import``, the API) bumps the version.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import ValidationError

from campus.contract import Kind, Topic
from campus.db import Db, Place, is_sqlite, run_script, write_transaction
from campus.errors import AlreadyExists, ConfigError, Invalid, NotFound, StateUnavailable
from campus.migrations import Migration, open_store
from campus.model import Campus, Device, Gateway

if TYPE_CHECKING:
    from campus.ledger import GatewayRows


@dataclass(frozen=True, slots=True)
class DeviceTags:
    """What ingest stamps on every reading of a device."""

    kind: Kind
    site: str
    building: str
    department: str
    zone: str
    rated_capacity: float | None = None


@dataclass(frozen=True, slots=True)
class Upserted:
    """What a ledger import changed."""

    added: int
    updated: int
    gateways_added: int = 0
    buses_added: int = 0
    buses_replaced: int = 0


NO_CAMPUS = "no campus loaded: start with a campus file ([campus] file)"


def _sites(conn: Db) -> None:
    """One validated campus document per site, and the registry's version. Databases from before sites kept
    one campus in table ``campus``: it becomes its site's row."""
    run_script(conn, """
        CREATE TABLE IF NOT EXISTS sites (site TEXT PRIMARY KEY, doc TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS registry_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
        """)
    if not is_sqlite(conn) or conn.execute("SELECT name FROM sqlite_master WHERE name = 'campus'").fetchone() is None:
        return
    row = conn.execute("SELECT version, doc FROM campus WHERE id = 1").fetchone()
    if row is not None:
        campus = Campus.model_validate_json(row[1])
        conn.execute("INSERT OR IGNORE INTO sites VALUES (?, ?)", (campus.site.id, row[1]))
        _bump(conn)
    conn.execute("DROP TABLE campus")


def _bump(conn: Db) -> None:
    """One more change: every process holding the registry in memory reads it again."""
    conn.execute("INSERT INTO registry_version VALUES (1, 1) ON CONFLICT(id) DO UPDATE SET version = version + 1")


MIGRATIONS = [Migration(1, "the campus of each site, and the registry's version", _sites)]


log = logging.getLogger("meterwatch.registry")


class Registry:
    def __init__(self, path: Place) -> None:
        self._conn = open_store(path, "registry", MIGRATIONS)
        self._lock = threading.Lock()
        self._campuses: dict[str, Campus] = {}
        self._docs: dict[str, str] = {}  # each site's document as last parsed: only a changed one is parsed again
        self._tags: dict[str, dict[str, DeviceTags]] = {}  # site -> device -> tags
        self._topics: dict[str, tuple[Topic, DeviceTags]] = {}
        self._version = -1
        self._checked = 0.0

    # -- persistence -------------------------------------------------------------------
    def _read(self, site: str) -> Campus | None:
        row = self._conn.execute("SELECT doc FROM sites WHERE site = ?", (site,)).fetchone()
        return None if row is None else Campus.model_validate_json(row[0])

    def _refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked < 1.0:
            return
        self._checked = now
        try:
            row = self._conn.execute("SELECT version FROM registry_version WHERE id = 1").fetchone()
            version = row[0] if row else 0
            if version == self._version:
                return
            docs = self._conn.execute("SELECT site, doc FROM sites ORDER BY site").fetchall()
        except StateUnavailable as exc:
            if force or self._version < 0:
                raise
            log.warning("the registry kept in memory serves until the state database is back: %s", exc)
            return  # ingest and the alert engine go on with the devices they know; changes wait for the database
        campuses: dict[str, Campus] = {}
        tags: dict[str, dict[str, DeviceTags]] = {}
        for site, doc in docs:
            known = self._campuses.get(site)
            if known is not None and self._docs.get(site) == doc:
                campuses[site], tags[site] = known, self._tags[site]  # unchanged: the same objects
                continue
            campus = campuses[site] = Campus.model_validate_json(doc)
            self._docs[site] = doc
            tags[site] = _site_tags(campus)
        for gone in set(self._docs) - set(campuses):
            del self._docs[gone]
        self._campuses, self._tags, self._version = campuses, tags, version
        self._topics = {}

    def save(self, campus: Campus) -> None:
        self.change(lambda current: campus, campus.site.id)

    def change(self, edit: Callable[[Campus | None], Campus], site: str | None = None) -> Campus:
        """Read a site's campus, apply ``edit`` and write the result in one write transaction (BEGIN
        IMMEDIATE), so changes made at the same time by other requests or processes are never lost: each
        sees the one before. ``site``: None for the only site there is."""
        return self._change_all([(site, edit)])[0]

    def _change_all(self, edits: list[tuple[str | None, Callable[[Campus | None], Campus]]]) -> list[Campus]:
        """Several sites' changes in one transaction (a district's campus files at start: one commit, not 300)."""
        with self._lock:
            with write_transaction(self._conn):
                written = []
                for site, edit in edits:
                    site = site or self._only_site_locked()
                    campus = edit(self._read(site))
                    try:
                        campus = Campus.model_validate(campus.model_dump())
                    except ValidationError as exc:
                        raise Invalid(str(exc.errors()[0]["msg"]).removeprefix("Value error, ")) from exc
                    if campus.site.id != site:
                        raise Invalid(f"a change to site {site!r} may not rename it to {campus.site.id!r}")
                    doc = campus.model_dump_json()
                    self._conn.execute("INSERT INTO sites VALUES (?, ?) ON CONFLICT(site) DO UPDATE SET doc = "
                                       "excluded.doc", (site, doc))
                    written.append((site, campus, doc))
                _bump(self._conn)
                version = self._conn.execute("SELECT version FROM registry_version WHERE id = 1").fetchone()[0]
            if self._version == version - 1:  # nobody wrote in between: ours are the only changes to take in
                campuses, tags = dict(self._campuses), dict(self._tags)
                for site, campus, doc in written:
                    campuses[site], tags[site], self._docs[site] = campus, _site_tags(campus), doc
                self._campuses, self._tags, self._version = dict(sorted(campuses.items())), tags, version
                self._topics = {}
            else:
                self._refresh(force=True)
            return [campus for _, campus, _ in written]

    def _only_site_locked(self) -> str:
        sites = [r[0] for r in self._conn.execute("SELECT site FROM sites ORDER BY site LIMIT 2")]
        if not sites:
            raise ConfigError(NO_CAMPUS)
        if len(sites) > 1:
            raise ConfigError("the registry holds several sites: name the site")
        return str(sites[0])

    def seed(self, campus: Campus) -> None:
        """Adopt a site from a campus file: its site, buildings and zones; its devices added or updated, others
        kept (those the API or a ledger import added)."""
        self.change(_adopter(campus), campus.site.id)

    def seed_all(self, campuses: list[Campus]) -> None:
        self._change_all([(c.site.id, _adopter(c)) for c in campuses])

    # -- reads -------------------------------------------------------------------------
    @property
    def campuses(self) -> dict[str, Campus]:
        """Every site's campus, by site id (in id order)."""
        with self._lock:
            self._refresh()
            return self._campuses

    @property
    def campus(self) -> Campus:
        """The campus of the only site; with several sites, callers name one (:meth:`site`)."""
        campuses = self.campuses
        if not campuses:
            raise ConfigError(NO_CAMPUS)
        if len(campuses) > 1:
            raise ConfigError(f"the registry holds {len(campuses)} sites ({', '.join(list(campuses)[:5])}"
                              f"{', ...' if len(campuses) > 5 else ''}): name the site")
        return next(iter(campuses.values()))

    def site(self, site: str | None) -> Campus:
        """A site's campus (None: the only site); NotFound if there is no such site."""
        if site is None:
            return self.campus
        campus = self.campuses.get(site)
        if campus is None:
            if not self.campuses:
                raise ConfigError(NO_CAMPUS)
            raise NotFound(f"no site {site!r}")
        return campus

    def tags(self, site: str, device_id: str) -> DeviceTags | None:
        with self._lock:
            self._refresh()
            tags = self._tags.get(site, {}).get(device_id)
            if tags is None:
                self._refresh(force=True)
                tags = self._tags.get(site, {}).get(device_id)
            return tags

    def resolve(self, topic: str, prefix: str) -> tuple[Topic, DeviceTags | None]:
        """Parse a topic and find its device's tags; known topics are cached until the registry changes."""
        if time.monotonic() - self._checked >= 1.0:
            with self._lock:
                self._refresh()
        hit = self._topics.get(topic)  # hot path: a dict lookup, no lock (a refresh replaces the dict)
        if hit is not None:
            return hit
        parsed = Topic.parse(topic, prefix)
        tags = self.tags(parsed.site, parsed.device)
        if tags is not None:
            with self._lock:
                self._topics[topic] = (parsed, tags)  # one store into the dict readers see: no copy per topic
        return parsed, tags

    def locate(self, device_id: str) -> list[tuple[Campus, Device]]:
        """Every site's device with this id."""
        return [(c, d) for c in self.campuses.values() for d in c.devices if d.id == device_id]

    def device(self, device_id: str, site: str | None = None) -> Device:
        """A site's device; without ``site``, the one device with this id in any site (NotFound when none,
        AlreadyExists when several sites have one: name the site)."""
        return self.find(device_id, site)[1]

    def find(self, device_id: str, site: str | None = None) -> tuple[Campus, Device]:
        if site is not None:
            campus = self.site(site)
            found = next((d for d in campus.devices if d.id == device_id), None)
            if found is None:
                raise NotFound(f"no device {device_id!r} in site {site!r}")
            return campus, found
        hits = self.locate(device_id)
        if not hits:
            raise NotFound(f"no device {device_id!r}")
        if len(hits) > 1:
            raise AlreadyExists(f"device id {device_id!r} is used in sites "
                                f"{', '.join(c.site.id for c, _ in hits)}: address it as "
                                f"/api/v1/sites/SITE/devices/{device_id}")
        return hits[0]

    # -- writes ------------------------------------------------------------------------
    def upsert_devices(self, devices: list[Device], site: str | None = None) -> tuple[int, int]:
        """Add new devices; for known ones change only the fields the caller set (a ledger row's columns)."""
        done = self.upsert(devices, (), site)
        return done.added, done.updated

    def upsert(self, devices: Sequence[Device], gateways: Sequence[GatewayRows], site: str | None = None) -> Upserted:
        """A ledger import, in one transaction: first each gateway's buses (a bus added, or replacing the bus of
        that name; a gateway a row names is added; its name and building changed where a row gives them), then
        the devices (new ones added; for known ones only the fields the caller set change). A device marked read
        by hand (``manual``) loses its gateway and meter link unless the row gives them."""
        counted: list[Upserted] = []

        def upsert(campus: Campus | None) -> Campus:
            campus = self._loaded(campus)
            listed = {g.id: g for g in campus.gateways}
            buses_added = buses_replaced = gateways_added = 0
            for rows in gateways:
                old_gw = listed.get(rows.id)
                if old_gw is None:
                    gateways_added += 1
                    old_gw = Gateway(id=rows.id)
                buses = {b.name: b for b in old_gw.buses}
                for bus in rows.buses:
                    buses_replaced += bus.name in buses
                    buses_added += bus.name not in buses
                    buses[bus.name] = bus
                listed[rows.id] = old_gw.model_copy(update={
                    "name": old_gw.name if rows.name is None else rows.name,
                    "building": old_gw.building if rows.building is None else rows.building,
                    "buses": list(buses.values())})
            by_id = {d.id: d for d in campus.devices}
            added = sum(1 for d in devices if d.id not in by_id)
            for dev in devices:
                old = by_id.get(dev.id)
                if old is not None:
                    given = dev.model_dump(include=dev.model_fields_set)
                    if "building" in given and "zone" not in given:
                        given["zone"] = None  # derived again from the new building's zone
                    if given.get("manual"):
                        given.setdefault("gateway", None)
                        given.setdefault("meter", None)
                    dev = Device.model_validate({**old.model_dump(), **given})
                by_id[dev.id] = dev
            counted[:] = [Upserted(added, len(devices) - added, gateways_added, buses_added, buses_replaced)]
            return campus.model_copy(update={"devices": list(by_id.values()), "gateways": list(listed.values())})

        self.change(upsert, site)
        return counted[0]

    def put_gateway(self, gateway: Gateway, site: str | None = None,
                    check: Callable[[Campus], None] | None = None) -> bool:
        """Create a gateway or replace its name, building and buses (True: created). :class:`AlreadyExists` when
        a device still names a bus the new buses lack (move its meter link first), or when a new gateway's id
        already publishes for another site. ``check(campus)`` runs inside the transaction on the campus as it is
        (the API's scope checks), before anything changes."""
        created: list[bool] = []

        def put(campus: Campus | None) -> Campus:
            campus = self._loaded(campus)
            if check is not None:
                check(campus)
            old = next((g for g in campus.gateways if g.id == gateway.id), None)
            names = {b.name for b in gateway.buses}
            stranded = [d for d in campus.devices if d.gateway == gateway.id and d.meter is not None
                        and d.meter.bus not in names]
            if stranded:
                buses = sorted({d.meter.bus for d in stranded if d.meter is not None})
                raise AlreadyExists(
                    f"gateway {gateway.id!r}: bus {', '.join(map(repr, buses))} is still named by device "
                    f"{', '.join(d.id for d in stranded[:10])}{' …' if len(stranded) > 10 else ''}: keep the bus, or "
                    "move or remove their meter links first (PATCH the device with another meter.bus, or meter: null)")
            if old is None:
                self._publisher_free(gateway.id, campus.site.id, "gateway")
            created[:] = [old is None]
            kept = [gateway if g.id == gateway.id else g for g in campus.gateways]
            return campus.model_copy(update={"gateways": kept if old is not None else [*kept, gateway]})

        self.change(put, site)
        return created[0]

    def add_device(self, device: Device, site: str | None = None) -> None:
        """Add a new device; :class:`AlreadyExists` if the id is taken (checked inside the transaction)."""

        def add(campus: Campus | None) -> Campus:
            campus = self._loaded(campus)
            if any(d.id == device.id for d in campus.devices):
                raise AlreadyExists(f"device {device.id!r} exists")
            self._publisher_free(device.gateway or device.id, campus.site.id,
                                 "gateway" if device.gateway else "device")
            return campus.model_copy(update={"devices": [*campus.devices, device]})

        self.change(add, site)

    def update_device(self, device_id: str, fields: dict[str, object], site: str | None = None) -> None:
        """Change only ``fields`` of a device, merged with its current record inside the transaction."""

        def update(campus: Campus | None) -> Campus:
            campus = self._loaded(campus)
            old = next((d for d in campus.devices if d.id == device_id), None)
            if old is None:
                raise NotFound(f"no device {device_id!r}")
            new = Device.model_validate({**old.model_dump(), **fields})
            if (new.gateway or new.id) != (old.gateway or old.id):
                self._publisher_free(new.gateway or new.id, campus.site.id, "gateway" if new.gateway else "device")
            return campus.model_copy(update={"devices": [new if d.id == device_id else d for d in campus.devices]})

        self.change(update, site)

    def _publisher_free(self, who: str, site: str, what: str) -> None:
        """A device publishes as its gateway (or as itself without one), and a broker username names one client:
        :class:`AlreadyExists` if another site already has a publisher ``who`` (else revoking it in one site would
        cut off the other, and the broker's files could not be written). ``what``: gateway or device, for words."""
        self._refresh(force=True)  # inside the write transaction: every other site as it is now
        for other, campus in self._campuses.items():
            if other != site and who in campus.publishers():
                raise AlreadyExists(f"{who!r} already publishes for another site ({other}): a broker username names "
                                    f"one client, so choose another {what} id")

    def delete_device(self, device_id: str, site: str | None = None) -> None:
        def delete(campus: Campus | None) -> Campus:
            campus = self._loaded(campus)
            if not any(d.id == device_id for d in campus.devices):
                raise NotFound(f"no device {device_id!r}")
            if any(d.parent == device_id for d in campus.devices):
                raise AlreadyExists(f"device {device_id!r} has sub-meters: change their parent first")
            return campus.model_copy(update={"devices": [d for d in campus.devices if d.id != device_id]})

        self.change(delete, site)

    @staticmethod
    def _loaded(campus: Campus | None) -> Campus:
        if campus is None:
            raise ConfigError(NO_CAMPUS)
        return campus

    @property
    def backend(self) -> str:
        """Where the registry lives: ``sqlite`` (meterwatch.db) or ``postgresql`` (``[state] url``)."""
        return "sqlite" if is_sqlite(self._conn) else "postgresql"

    def ping(self) -> None:
        """Nothing if the state database answers; :class:`StateUnavailable` with the reason if not."""
        self._conn.execute("SELECT 1").fetchone()

    def close(self) -> None:
        self._conn.close()


def _site_tags(campus: Campus) -> dict[str, DeviceTags]:
    depts = {b.id: b.department.value for b in campus.buildings}
    return {d.id: DeviceTags(d.kind, campus.site.id, d.building, depts[d.building], d.zone or "default",
                             d.rated_capacity) for d in campus.devices
            if d.virtual is None}  # a virtual meter takes no readings: ingest refuses them (ingest.decode)


def _adopter(campus: Campus) -> Callable[[Campus | None], Campus]:
    """The edit that adopts a campus file's site: its devices added or updated, others kept; its gateways likewise
    (what the file says of a gateway wins, field by field: one it lists without ``buses:``, or only names from a
    device, keeps the buses, name and building the API or a ledger gave it)."""

    def adopt(current: Campus | None) -> Campus:
        if current is None:
            return campus
        listed = {d.id for d in campus.devices}
        kept = [d for d in current.devices if d.id not in listed and campus.building(d.building)]
        before = {g.id: g for g in current.gateways}
        gateways = [g if g.id not in before else g.model_copy(update={
            f: getattr(before[g.id], f) for f in ("name", "building", "buses") if f not in g.model_fields_set})
            for g in campus.gateways]
        named = {g.id for g in gateways}
        gateways += [g for g in current.gateways if g.id not in named
                     and (g.building is None or campus.building(g.building))]
        return campus.model_copy(update={"devices": campus.devices + kept, "gateways": gateways})

    return adopt
