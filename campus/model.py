"""The campus registry: site, buildings, zones (责任区) and devices, from a YAML file.

Cross-field rules are checked here, once: every device's building and zone exist, a
building belongs to at most one zone, meters have a register, ids are unique.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from campus.contract import REGISTER_FIELD, Identifier, Kind
from campus.errors import ConfigError
from campus.yamlfile import parse_yaml_model, read_text

INCOMER = "incomer"


class Department(StrEnum):
    CANTEEN = "canteen"
    DORMITORY = "dormitory"
    TEACHING = "teaching"
    OFFICE = "office"
    BOILER_ROOM = "boiler_room"
    POWER_ROOM = "power_room"
    OTHER = "other"


_Strict = ConfigDict(extra="forbid")


class Site(BaseModel):
    model_config = _Strict
    id: Identifier
    name: str
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}, e.g. Asia/Shanghai") from None
        return value


class Building(BaseModel):
    model_config = _Strict
    id: Identifier
    name: str
    department: Department
    floor_area_m2: float = Field(default=0, ge=0)
    occupants: int = Field(default=0, ge=0)
    targets: dict[Kind, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict, description="this building's monthly targets, kWh or m³ (the console draws them)")


class Zone(BaseModel):
    """An electricians' responsibility area (责任区)."""

    model_config = _Strict
    id: Identifier
    name: str
    buildings: list[Identifier] = Field(default_factory=list)


class Gateway(BaseModel):
    """A concentrator or DTU (集中器 / DTU) that publishes for the devices naming it. It connects to the broker
    with its id as the MQTT username; so does a device without a gateway, for itself."""

    model_config = _Strict
    id: Identifier
    name: str = ""
    building: Identifier | None = Field(default=None, description="where it is installed")


class Device(BaseModel):
    model_config = _Strict
    id: Identifier
    kind: Kind
    building: Identifier
    zone: Identifier | None = None
    name: str = ""
    gateway: Identifier | None = Field(default=None, description="the gateway that publishes for it; none: itself")
    interval_s: int = Field(default=900, gt=0, le=86_400, description="reporting interval; 15 min standard")
    multiplier: float = Field(default=1.0, gt=0, description="CT/PT ratio applied to register deltas")
    rated_capacity: float | None = Field(default=None, gt=0, description="max kW or m3/h, for plausibility")
    initial_register: float | None = Field(default=None, ge=0, description="register reading at installation")
    role: str | None = Field(default=None, description="e.g. drinking, canteen_water, water_heater, secondary_supply; "
                             "'incomer' for a site supply meter")
    parent: Identifier | None = Field(default=None, description="sub-meter of this meter (its use is already in it)")

    @property
    def counts_in_totals(self) -> bool:
        """Building, department, zone and site totals add up main meters only: a sub-meter's use is already in
        its parent's, and an incomer measures the whole site (it is reported beside the sum, for line loss)."""
        return self.parent is None and self.role != INCOMER

    @model_validator(mode="after")
    def _meter_fields(self) -> Device:
        if REGISTER_FIELD[self.kind] is None and (
            self.multiplier != 1.0 or self.rated_capacity is not None or self.initial_register is not None
        ):
            raise ValueError("water_quality sensors have no register: drop multiplier/rated_capacity/initial_register")
        return self


class SamplingPoint(BaseModel):
    """A drinking-water sampling point without a sensor of its own (every drinking-water sensor is one already):
    a tap or a fountain that is self-tested every two weeks and sent to the laboratory once a term."""

    model_config = _Strict
    id: Identifier
    name: str
    building: Identifier
    role: str = Field(default="drinking", description="drinking, canteen_water or secondary_supply: picks the limits")
    filter: bool = Field(default=False, description="a fountain whose filter is changed once a term")


class Campus(BaseModel):
    model_config = _Strict
    site: Site
    buildings: list[Building]
    zones: list[Zone] = Field(default_factory=list)
    devices: list[Device] = Field(default_factory=list)
    gateways: list[Gateway] = Field(default_factory=list, description="named by devices' `gateway`; listing one "
                                    "here gives it a name and a building (a gateway a device names is added)")
    calendar: dict[str, Any] = Field(default_factory=dict, description="school terms; used by simulators and rules")
    targets: dict[Department, dict[Kind, float]] = Field(
        default_factory=dict, description="monthly energy-saving targets (节能降耗指标) per department: kWh or m³")
    sampling_points: list[SamplingPoint] = Field(
        default_factory=list, description="drinking-water sampling points without a sensor (water tests)")

    @model_validator(mode="after")
    def _references(self) -> Campus:
        for label, items in (("building", self.buildings), ("zone", self.zones), ("device", self.devices),
                             ("gateway", self.gateways)):
            seen: set[str] = set()
            for item in items:
                if item.id in seen:
                    raise ValueError(f"{label} id {item.id!r} is used twice")
                seen.add(item.id)
        buildings = {b.id for b in self.buildings}
        owner: dict[str, str] = {}
        for zone in self.zones:
            for b in zone.buildings:
                if b not in buildings:
                    raise ValueError(f"zone {zone.id!r} names unknown building {b!r}")
                if b in owner:
                    raise ValueError(f"building {b!r} is in zones {owner[b]!r} and {zone.id!r}")
                owner[b] = zone.id
        zones = {z.id for z in self.zones}
        for i, dev in enumerate(self.devices):
            if dev.building not in buildings:
                raise ValueError(f"device {dev.id!r} names unknown building {dev.building!r}")
            if dev.zone is None:
                self.devices[i] = dev.model_copy(update={"zone": owner.get(dev.building, "default")})
            elif dev.zone not in zones:
                raise ValueError(f"device {dev.id!r} names unknown zone {dev.zone!r}")
        kinds = {d.id: d.kind for d in self.devices}
        seen_points: set[str] = set()
        for point in self.sampling_points:
            if point.building not in buildings:
                raise ValueError(f"sampling point {point.id!r} names unknown building {point.building!r}")
            if point.id in kinds or point.id in seen_points:
                raise ValueError(f"sampling point id {point.id!r} is used twice (a sensor is a point already, "
                                 "under its device id)")
            seen_points.add(point.id)
        listed = {g.id for g in self.gateways}
        for g in self.gateways:
            if g.id in kinds:
                raise ValueError(f"gateway {g.id!r} has the id of a device: both are MQTT usernames, use another")
            if g.building is not None and g.building not in buildings:
                raise ValueError(f"gateway {g.id!r} names unknown building {g.building!r}")
        for dev in self.devices:
            if dev.gateway is None:
                continue
            if dev.gateway in kinds:
                raise ValueError(f"device {dev.id!r}: gateway {dev.gateway!r} is a device's id; a device without "
                                 "a gateway publishes for itself (leave gateway empty)")
            if dev.gateway not in listed:  # named in a ledger row or an API call: it exists from now on
                self.gateways.append(Gateway(id=dev.gateway))
                listed.add(dev.gateway)
        for dev in self.devices:
            if dev.parent is not None and kinds.get(dev.parent) != dev.kind:
                raise ValueError(f"device {dev.id!r}: parent {dev.parent!r} must be a {dev.kind.value} meter "
                                 "in this file")
        return self

    def building(self, building_id: str) -> Building | None:
        return next((b for b in self.buildings if b.id == building_id), None)

    def zone_of(self, building_id: str) -> str | None:
        """The responsibility zone a building lies in (None: in none)."""
        return next((z.id for z in self.zones if building_id in z.buildings), None)

    def publishers(self) -> dict[str, list[Device]]:
        """Who connects to the broker, and the devices each may publish for: every gateway, and every device
        without a gateway (for itself)."""
        out: dict[str, list[Device]] = {g.id: [] for g in self.gateways}
        for dev in self.devices:
            out.setdefault(dev.gateway or dev.id, []).append(dev)
        return out


class CampusFile(BaseModel):
    """A file of several sites: ``sites:`` a list of campus documents, each in the one-site form."""

    model_config = _Strict
    sites: list[Campus] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> CampusFile:
        unique_sites(self.sites)
        return self


def unique_sites(campuses: list[Campus]) -> list[Campus]:
    seen: set[str] = set()
    for c in campuses:
        if c.site.id in seen:
            raise ValueError(f"site id {c.site.id!r} is used twice")
        seen.add(c.site.id)
    return campuses


def parse_campus(text: str, source: str = "<campus>") -> Campus:
    return parse_yaml_model(text, Campus, source)


def parse_sites(text: str, source: str = "<campus>") -> list[Campus]:
    """One site (``site:`` at the top, today's form) or several (``sites:``)."""
    if re.search(r"^sites\s*:", text, re.MULTILINE):
        return parse_yaml_model(text, CampusFile, source).sites
    return [parse_campus(text, source)]


def _read(path: Path) -> str:
    return read_text(path, "campus file")


def load_campus(path: Path) -> Campus:
    """A file of exactly one site."""
    sites = load_sites(path)
    if len(sites) != 1:
        raise ConfigError(f"{path} holds {len(sites)} sites; this needs one (name the site, e.g. --site "
                          f"{sites[0].site.id})")
    return sites[0]


def load_sites(path: Path) -> list[Campus]:
    """Every site of a campus file, or of every ``*.yaml``/``*.yml`` file in a directory (in name order)."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        if not files:
            raise ConfigError(f"campus directory {path} has no *.yaml files")
        campuses = [c for f in files for c in parse_sites(_read(f), str(f))]
    else:
        campuses = parse_sites(_read(path), str(path))
    try:
        return unique_sites(campuses)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from exc

