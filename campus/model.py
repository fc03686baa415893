"""The campus registry: site, buildings, zones (责任区) and devices, from a YAML file.

Cross-field rules are checked here, once: every device's building and zone exist, a
building belongs to at most one zone, meters have a register, ids are unique.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from campus.contract import KIND_FIELDS, REGISTER_FIELD, Identifier, Kind
from campus.errors import ConfigError
from campus.items import check_building_code, default_item, item_shares, item_text
from campus.virtual import MAX_CHARS, Terms, check, expanded, parse
from campus.yamlfile import parse_yaml_model, read_text

INCOMER = "incomer"
DEFAULT_ZONE = "default"  # the zone of a device whose building is in no zone (validating it again keeps it)


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
    code: str | None = Field(default=None, description="building code (建筑识别编码): 6-digit division, category "
                             "letter (D: culture and education), 3 digits, e.g. 330106D001")

    @field_validator("code")
    @classmethod
    def _code(cls, value: str | None) -> str | None:
        return None if value is None else check_building_code(value)


class Zone(BaseModel):
    """An electricians' responsibility area (责任区)."""

    model_config = _Strict
    id: Identifier
    name: str
    buildings: list[Identifier] = Field(default_factory=list)


HOST_PORT = r"^[A-Za-z0-9.\-\[\]:]{1,253}:[0-9]{1,5}$"
HostPort = Annotated[str, Field(pattern=HOST_PORT, description="host:port, e.g. 10.1.2.3:8899")]
MAX_INTERVAL_S = 31 * 86_400  # a meter read by hand is read once a month


class Protocol(StrEnum):
    """What a meter speaks on its bus."""

    DLT645 = "dlt645"            # DL/T 645-2007 (electricity)
    DLT645_1997 = "dlt645_1997"  # DL/T 645-1997 (older electricity meters)
    CJT188 = "cjt188"            # CJ/T 188-2004 (water, gas, heat)
    MODBUS = "modbus"            # Modbus RTU on a serial line, Modbus TCP on a modbus_tcp bus


# each protocol's line convention: DL/T 645 and CJ/T 188 2400 8E1, Modbus RTU 9600 8N1
SERIAL_DEFAULTS: dict[Protocol, tuple[int, str]] = {
    Protocol.DLT645: (2400, "E"), Protocol.DLT645_1997: (1200, "E"), Protocol.CJT188: (2400, "E"),
    Protocol.MODBUS: (9600, "N"),
}


# an MQTT topic a DTU uses: printable, no spaces, no wildcards, not a broker's own ($SYS…); the topics go into the
# broker's ACL file a line each, so a newline or a space in one would write rules of its own
DtuTopic = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^#+$\s\x00-\x1f\x7f][^#+\s\x00-\x1f\x7f]*$")]


class DtuTopics(BaseModel):
    """A 4G DTU that carries the bus bytes over MQTT: requests published to ``down``, answers on ``up``."""

    model_config = _Strict
    up: DtuTopic
    down: DtuTopic

    @model_validator(mode="after")
    def _two(self) -> DtuTopics:
        if self.up == self.down:
            raise ValueError("up and down must be two topics: the DTU would read its own answers as requests")
        return self


class Bus(BaseModel):
    """One RS-485 (or M-Bus) line of a gateway, and how it is reached: exactly one of ``serial`` (an adapter on
    the gateway box), ``tcp`` (a serial server or DTU in transparent mode; the gateway connects), ``listen``
    (DTUs dial in and first send ``register``), ``mqtt`` (a 4G DTU carrying the bus bytes over MQTT) or
    ``modbus_tcp`` (a Modbus TCP meter or gateway)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)
    name: Identifier
    serial: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None, description="serial device path on the gateway box, e.g. /dev/ttyUSB0")
    baud: Literal[300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] | None = Field(
        default=None, description="default: the protocol's convention (DL/T 645, CJ/T 188: 2400; Modbus: 9600)")
    parity: Literal["N", "E", "O"] | None = Field(default=None, description="default: E for DL/T 645 and "
                                                  "CJ/T 188, N for Modbus")
    stopbits: Literal[1, 2] = 1
    tcp: HostPort | None = Field(default=None, description="a serial server or DTU in transparent TCP mode")
    listen: HostPort | None = Field(default=None, description="the address DTUs dial in to")
    registration: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        default=None, alias="register",
        description="the registration packet (注册包) a dialling DTU sends first; 'hex:4757…' for bytes")
    heartbeat: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="the DTU's heartbeat packet (心跳包), dropped from the bus bytes")
    mqtt: DtuTopics | None = None
    modbus_tcp: HostPort | None = Field(default=None, description="a Modbus TCP device, e.g. 10.1.2.4:502")
    timeout_ms: int = Field(default=1000, ge=50, le=30_000, description="wait this long for an answer")
    retries: int = Field(default=2, ge=0, le=5, description="ask again this many times before giving up")

    @model_validator(mode="after")
    def _one_way(self) -> Bus:
        ways = [w for w in ("serial", "tcp", "listen", "mqtt", "modbus_tcp") if getattr(self, w) is not None]
        if len(ways) != 1:
            raise ValueError(f"bus {self.name!r}: give exactly one of serial, tcp, listen, mqtt, modbus_tcp "
                             f"(got {', '.join(ways) or 'none'})")
        if self.registration is not None and self.listen is None:
            raise ValueError(f"bus {self.name!r}: register is the packet a DTU sends when it dials in; "
                             "it needs listen")
        if self.serial is None and (self.baud is not None or self.parity is not None):
            raise ValueError(f"bus {self.name!r}: baud and parity are set on the DTU or serial server "
                             "itself, not here")
        return self

    @property
    def way(self) -> str:
        return next(w for w in ("serial", "tcp", "listen", "mqtt", "modbus_tcp") if getattr(self, w) is not None)


class Gateway(BaseModel):
    """A concentrator or DTU (集中器 / DTU) that publishes for the devices naming it. It connects to the broker
    with its id as the MQTT username; so does a device without a gateway, for itself. Its ``buses`` are the
    lines that ``meterwatch gateway`` polls."""

    model_config = _Strict
    id: Identifier
    name: str = ""
    building: Identifier | None = Field(default=None, description="where it is installed")
    buses: list[Bus] = Field(default_factory=list, max_length=64)

    @model_validator(mode="after")
    def _bus_names(self) -> Gateway:
        seen: set[str] = set()
        for bus in self.buses:
            if bus.name in seen:
                raise ValueError(f"gateway {self.id!r}: bus name {bus.name!r} is used twice")
            seen.add(bus.name)
        return self

    def bus(self, name: str) -> Bus | None:
        return next((b for b in self.buses if b.name == name), None)


class ModbusRegister(BaseModel):
    """Where one value sits in a Modbus meter: ``address`` (0-based), ``type``, ``scale`` (value = raw ×
    scale), ``word_order`` of 32/64-bit values (ABCD: high word first; CDAB: low word first) and ``function``
    (3 holding, 4 input registers)."""

    model_config = _Strict
    address: int = Field(ge=0, le=65_535)
    type: Literal["int16", "uint16", "int32", "uint32", "float32", "int64", "uint64"] = "uint16"
    scale: float = Field(default=1.0, allow_inf_nan=False)
    word_order: Literal["ABCD", "CDAB"] = "ABCD"
    function: Literal[3, 4] = 3

    @field_validator("scale")
    @classmethod
    def _nonzero(cls, value: float) -> float:
        if value == 0:
            raise ValueError("scale 0 makes every value 0")
        return value

    @model_validator(mode="after")
    def _inside(self) -> ModbusRegister:
        size = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2, "int64": 4, "uint64": 4}[self.type]
        if self.address + size - 1 > 65_535:
            raise ValueError(f"a {self.type} at address {self.address} takes {size} registers and runs past the "
                             "last one (65535)")
        return self


class Meter(BaseModel):
    """How the gateway reaches a device: its ``bus``, ``protocol`` and address as printed on the nameplate
    (12 digits for DL/T 645, 14 hex digits — meter number then manufacturer code — for CJ/T 188), or the Modbus
    ``unit`` with a named ``profile`` or an inline ``registers`` map."""

    model_config = _Strict
    bus: Identifier
    protocol: Protocol
    address: str | None = Field(default=None, max_length=14)
    unit: int | None = Field(default=None, ge=1, le=247, description="Modbus unit id")
    profile: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")] | None = Field(
        default=None, description="a shipped Modbus register map (meterwatch gateway profiles)")
    registers: dict[str, ModbusRegister] | None = Field(default=None, max_length=16)
    meter_type: int | None = Field(default=None, ge=0, le=255, description="CJ/T 188 meter type T (0x10 cold "
                                   "water, 0x11 hot water, 0x30 gas); default from the device's kind")

    @model_validator(mode="after")
    def _address(self) -> Meter:
        p = self.protocol
        if p in (Protocol.DLT645, Protocol.DLT645_1997):
            if self.address is None or not re.fullmatch(r"[0-9]{12}", self.address):
                raise ValueError(f"a {p.value} address is the 12 digits on the nameplate, e.g. 000012345678 "
                                 f"(got {self.address!r})")
            if self.address == "9" * 12:
                raise ValueError("999999999999 is DL/T 645's broadcast address, which every meter takes and none "
                                 "answers: give the meter's own address (meterwatch gateway scan finds it)")
        elif p is Protocol.CJT188:
            if self.address is None or not re.fullmatch(r"[0-9A-Fa-f]{14}", self.address):
                raise ValueError("a cjt188 address is 14 hex digits: the meter number (10) then the "
                                 f"manufacturer code (4), e.g. 12345678901234 (got {self.address!r})")
            self.address = self.address.upper()
            if self.address == "A" * 14:
                raise ValueError("AAAAAAAAAAAAAA is CJ/T 188's broadcast address, which every meter answers: give "
                                 "the meter's own address (meterwatch gateway scan finds it)")
        if p is Protocol.MODBUS:
            if self.unit is None:
                raise ValueError("a modbus meter needs its unit id (1-247)")
            if (self.profile is None) == (self.registers is None):
                raise ValueError("a modbus meter needs exactly one of profile (a shipped register map) or "
                                 "registers (an inline map)")
            if self.address is not None:
                raise ValueError("a modbus meter is addressed by unit, not address")
        elif self.unit is not None or self.profile is not None or self.registers is not None:
            raise ValueError(f"unit, profile and registers are for modbus meters, not {p.value}")
        if self.meter_type is not None and p is not Protocol.CJT188:
            raise ValueError("meter_type is the CJ/T 188 meter type byte")
        return self


class Device(BaseModel):
    model_config = _Strict
    id: Identifier
    kind: Kind
    building: Identifier
    zone: Identifier | None = None
    name: str = ""
    gateway: Identifier | None = Field(default=None, description="the gateway that publishes for it; none: itself")
    interval_s: int = Field(default=900, gt=0, le=MAX_INTERVAL_S, description="reporting interval; 15 min "
                            "standard, up to 31 days for a meter read by hand")
    multiplier: float = Field(default=1.0, gt=0, description="CT/PT ratio applied to register deltas")
    rated_capacity: float | None = Field(default=None, gt=0, description="max kW or m3/h, for plausibility")
    initial_register: float | None = Field(default=None, ge=0, description="register reading at installation")
    role: str | None = Field(default=None, description="e.g. drinking, canteen_water, water_heater, secondary_supply; "
                             "'incomer' for a site supply meter")
    parent: Identifier | None = Field(default=None, description="sub-meter of this meter (its use is already in it)")
    meter: Meter | None = Field(default=None, description="how its gateway reads it: bus, protocol, address")
    manual: bool = Field(default=False, description="read by hand (抄表): no gateway, no meter link")
    item: str | None = Field(default=None, max_length=400, description="energy item code (分项能耗), e.g. "
                             "01A00 照明插座, or shares of items, '01A00 60%, 01B00 40%'; default its parent "
                             "meter's, else from its kind and building")
    virtual: str | None = Field(default=None, max_length=MAX_CHARS, description="a virtual meter (虚拟表): its use "
                                "is this sum of other meters of its kind, e.g. 'main - b1 - b2' or '0.5 * pump' "
                                "(campus.virtual); it has no gateway, no meter link and no readings of its own")

    @property
    def counts_in_totals(self) -> bool:
        """Building, department, zone and site totals add up main meters only: a sub-meter's use is already in
        its parent's, and an incomer measures the whole site (it is reported beside the sum, for line loss).
        A virtual meter counts in no total either: it is made of meters that are counted already (or of the
        incomer, which is not), so adding it would count its terms twice; public area = incomer − Σ buildings is
        exactly the gap the site total leaves beside the incomer, and the energy flow shows it there."""
        return self.parent is None and self.role != INCOMER and self.virtual is None

    @model_validator(mode="after")
    def _meter_fields(self) -> Device:
        if REGISTER_FIELD[self.kind] is None and (
            self.multiplier != 1.0 or self.rated_capacity is not None or self.initial_register is not None
        ):
            raise ValueError("water_quality sensors have no register: drop multiplier/rated_capacity/initial_register")
        m = self.meter
        if m is not None:
            if self.gateway is None:
                raise ValueError("a meter link (meter:) names a bus of the device's gateway: set gateway")
            if m.protocol in (Protocol.DLT645, Protocol.DLT645_1997) and self.kind is not Kind.ELECTRICITY:
                raise ValueError(f"{m.protocol.value} is for electricity meters, not {self.kind.value}")
            if m.protocol is Protocol.CJT188 and self.kind not in (Kind.WATER, Kind.GAS):
                raise ValueError(f"cjt188 is for water and gas meters, not {self.kind.value}")
            unknown = sorted(set(m.registers or {}) - set(KIND_FIELDS[self.kind]))
            if unknown:
                raise ValueError(f"registers {', '.join(unknown)} are not {self.kind.value} values; use "
                                 f"{', '.join(KIND_FIELDS[self.kind])}")
        if self.manual and (self.gateway is not None or m is not None):
            raise ValueError("a meter read by hand (manual: true) has no gateway and no meter link")
        if self.manual and REGISTER_FIELD[self.kind] is None:
            raise ValueError("only meters with a register are read by hand")
        if self.item is not None:
            if REGISTER_FIELD[self.kind] is None:
                raise ValueError("water_quality sensors measure no energy: drop item")
            self.item = item_text(item_shares(self.item, self.kind))  # one canonical text: 01A00 60%, 01B00 40%
        if self.virtual is not None:
            self._virtual_fields()
        return self

    def _virtual_fields(self) -> None:
        if REGISTER_FIELD[self.kind] is None:
            raise ValueError("a virtual meter adds up meters with a register: water_quality has none")
        extra = [name for name, off in (("gateway", self.gateway is None), ("meter", self.meter is None),
                                        ("manual", not self.manual), ("parent", self.parent is None),
                                        ("multiplier", self.multiplier == 1.0),
                                        ("rated_capacity", self.rated_capacity is None),
                                        ("initial_register", self.initial_register is None)) if not off]
        if extra:
            raise ValueError(f"virtual meter {self.id!r} takes no readings of its own: drop {', '.join(extra)}")
        if self.role == INCOMER:
            raise ValueError(f"virtual meter {self.id!r} cannot be the incomer: the incomer is a real meter")
        try:
            parse(self.virtual or "")
        except ValueError as exc:
            raise ValueError(f"virtual meter {self.id!r}: {exc}") from None


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
                self.devices[i] = dev.model_copy(update={"zone": owner.get(dev.building, DEFAULT_ZONE)})
            elif dev.zone not in zones and not (dev.zone == DEFAULT_ZONE and dev.building not in owner):
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
        gateways = {g.id: g for g in self.gateways}
        topics: dict[str, str] = {}
        for g in self.gateways:
            for line in g.buses:
                if line.mqtt is None:
                    continue
                who = f"{g.id}.{line.name}"  # the DTU's broker username
                if who in gateways or who in kinds:
                    raise ValueError(f"gateway {g.id!r} bus {line.name!r}: its DTU logs in to the broker as {who!r}, "
                                     "which is already a gateway's or device's id: rename the bus")
                for topic in (line.mqtt.up, line.mqtt.down):
                    if topic in topics:
                        raise ValueError(f"gateway {g.id!r} bus {line.name!r}: topic {topic!r} is already used by "
                                         f"{topics[topic]}: each DTU needs topics of its own")
                    topics[topic] = f"gateway {g.id!r} bus {line.name!r}"
        wired: dict[tuple[str, str, str], str] = {}
        for dev in self.devices:
            if dev.meter is None or dev.gateway is None:
                continue
            bus = gateways[dev.gateway].bus(dev.meter.bus)
            if bus is None:
                raise ValueError(f"device {dev.id!r}: gateway {dev.gateway!r} has no bus {dev.meter.bus!r} "
                                 f"(buses: {', '.join(b.name for b in gateways[dev.gateway].buses) or 'none'})")
            if bus.modbus_tcp is not None and dev.meter.protocol is not Protocol.MODBUS:
                raise ValueError(f"device {dev.id!r}: bus {bus.name!r} is Modbus TCP; only modbus meters are on it")
            key = (dev.gateway, bus.name, dev.meter.address or f"unit {dev.meter.unit}")
            if key in wired:
                raise ValueError(f"device {dev.id!r}: {key[2]} on bus {bus.name!r} is already device {wired[key]!r}")
            wired[key] = dev.id
        for dev in self.devices:
            if dev.parent is not None and kinds.get(dev.parent) != dev.kind:
                raise ValueError(f"device {dev.id!r}: parent {dev.parent!r} must be a {dev.kind.value} meter "
                                 "in this file")
        virtual = self.virtual_terms()
        for dev in self.devices:
            if dev.parent in virtual:
                raise ValueError(f"device {dev.id!r}: parent {dev.parent!r} is a virtual meter; a sub-meter's "
                                 "parent is a real meter")
        return self

    def virtual_terms(self) -> dict[str, Terms]:
        """Each virtual meter's terms (device id → coefficient), checked: every id a meter of its kind in this
        site, no meter made of itself, no circle of virtual meters (ValueError naming what to fix)."""
        virtuals = {d.id: d.virtual for d in self.devices if d.virtual is not None}
        if not virtuals:
            return {}
        return check(virtuals, {d.id: d.kind.value for d in self.devices})

    def virtual_real_terms(self) -> dict[str, Terms]:
        """Each virtual meter as a sum of real meters only (a virtual term replaced by its own terms, worked out
        once each): what an hour of it reads."""
        return expanded(self.virtual_terms())

    def building(self, building_id: str) -> Building | None:
        return next((b for b in self.buildings if b.id == building_id), None)

    def items_of(self, device: Device) -> dict[str, float]:
        """The device's energy items (分项能耗编码) with the share of its use under each (1.0 for one): the one(s)
        it names; else, for a sub-meter, its parent's (a sub-meter of the lighting meter measures lighting); else
        its kind's default for its building (a canteen's electricity is 01D20). Empty for a water-quality sensor
        and for a virtual meter (made of other meters, it is no item's own use)."""
        if device.virtual is not None:
            return {}
        seen = {device.id}
        at = device
        while at.item is None and at.parent is not None and at.parent not in seen:
            parent = next((d for d in self.devices if d.id == at.parent and d.kind is device.kind), None)
            if parent is None:
                break
            seen.add(parent.id)
            at = parent
        if at.item is not None:
            return item_shares(at.item, device.kind)
        building = self.building(device.building)
        code = default_item(device.kind, building.department.value if building else None)
        return {} if code is None else {code: 1.0}

    def item_of(self, device: Device) -> str | None:
        """The device's energy item: its only one, or its largest share (the first named of equal ones); None for a
        water-quality sensor and a virtual meter (:meth:`items_of`)."""
        shares = self.items_of(device)
        return max(shares, key=lambda code: shares[code]) if shares else None

    def zone_of(self, building_id: str) -> str | None:
        """The responsibility zone a building lies in (None: in none)."""
        return next((z.id for z in self.zones if building_id in z.buildings), None)

    def publishers(self) -> dict[str, list[Device]]:
        """Who connects to the broker, and the devices each may publish for: every gateway, and every device
        without a gateway (for itself). A meter read by hand connects to nothing: the server enters its readings;
        nor does a virtual meter (it is computed)."""
        out: dict[str, list[Device]] = {g.id: [] for g in self.gateways}
        for dev in self.devices:
            if not dev.manual and dev.virtual is None:  # a virtual meter is computed: it publishes nothing
                out.setdefault(dev.gateway or dev.id, []).append(dev)
        return out

    def dtus(self) -> dict[str, tuple[str, DtuTopics]]:
        """The 4G DTUs that carry a bus's bytes over MQTT, by their broker username ``{gateway}.{bus}`` → (the
        gateway's id, the bus's topics): each writes its ``up`` topic and reads its ``down`` topic, nothing else."""
        return {f"{g.id}.{b.name}": (g.id, b.mqtt) for g in self.gateways for b in g.buses if b.mqtt is not None}


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

