"""Devices and their readings (tag: devices)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from campus.contract import Kind
from campus.model import MAX_INTERVAL_S, Department, Meter
from campus.virtual import MAX_CHARS as VIRTUAL_MAX_CHARS


class DeviceHealthPublic(BaseModel):
    """The gateway's last poll of a meter: why it is silent, in words."""

    model_config = {"json_schema_extra": {"examples": [{
        "ok": False, "code": "no_answer", "reason": "没有应答：rs485-1 上的 000012345678 三次未应答",
        "error": "no answer from 000012345678 on rs485-1 after 3 tries", "last_answer": "2026-11-22T05:33:20+08:00",
        "success_rate": 0.82, "gateway": "gw-canteen-1", "gateway_name": "一食堂集中器", "bus": "rs485-1",
        "at": "2026-11-22T08:15:00+08:00"}]}}
    ok: bool = Field(description="the last poll got an answer")
    code: str | None = Field(description="no_answer, checksum, garbled, abnormal, wrong_address, link_down; "
                             "null when ok")
    reason: str = Field(description="the last poll's outcome in words, in the language asked for (?lang=)")
    error: str | None = Field(description="the gateway's own words (English), as it sent them")
    last_answer: datetime | None = Field(description="when the meter last answered (site time)")
    success_rate: float | None = Field(description="share of the last 24 h of polls answered, 0..1")
    gateway: str
    gateway_name: str = Field(description="the gateway's name (its id when it has none)")
    bus: str
    at: datetime = Field(description="when the gateway said this (site time)")


class DevicePublic(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "id": "c1-elec", "name": "一食堂总电表", "kind": "electricity", "site": "yucai", "building": "canteen-1",
        "department": "canteen", "zone": "zone-north", "interval_s": 900, "multiplier": 40, "rated_capacity": 400,
        "role": None, "parent": None, "item": "01D20", "item_name": "厨房餐厅", "item_default": True,
        "status": "online", "last_seen": "2026-11-22T08:15:00+08:00"}]}}
    id: str
    name: str
    kind: Kind
    site: str
    building: str
    department: Department
    zone: str
    interval_s: int
    multiplier: float
    rated_capacity: float | None
    role: str | None
    parent: str | None = Field(default=None, description="sub-meter of this meter")
    gateway: str | None = Field(default=None, description="the gateway (集中器/DTU) that publishes for it; "
                                "none: it publishes for itself")
    meter: Meter | None = Field(default=None, description="how its gateway reads it: bus, protocol, nameplate "
                                "address or Modbus unit and profile")
    manual: bool = Field(default=False, description="read by hand (抄表), once a month")
    item: str | None = Field(default=None, description="energy item code (分项能耗编码) its use counts under: the one "
                             "it names, else its parent meter's, else its default (electricity 01000, a canteen's "
                             "01D20, water 02000, gas 03A00), or its shares of items ('01A00 60%, 01B00 40%'); "
                             "null for a water-quality sensor or a virtual meter")
    item_name: str | None = Field(default=None, description="the item's name in the language asked for (lang=)")
    item_default: bool = Field(default=False, description="the device names no item: it has its parent "
                               "meter's, else the default for its kind and building")
    virtual: str | None = Field(default=None, description="a virtual meter's sum of other meters (虚拟表), e.g. "
                                "'pr-main - c1-elec'; it takes no readings")
    status: Literal["online", "offline", "unknown"]
    last_seen: datetime | None
    health: DeviceHealthPublic | None = Field(default=None, description="its gateway's last poll of it (meters "
                                              "on a gateway's bus); null until the gateway says")


class DeviceUpdate(BaseModel):
    """Fields to change; those left out stay as they are."""

    model_config = {"extra": "forbid", "json_schema_extra": {"examples": [
        {"name": "一食堂总电表(新)", "multiplier": 60},
        {"gateway": "gw-canteen-1", "meter": {"bus": "rs485-1", "protocol": "dlt645", "address": "000012345678"}}]}}
    kind: Kind | None = None
    building: str | None = None
    zone: str | None = None
    name: str | None = None
    interval_s: int | None = Field(default=None, gt=0, le=MAX_INTERVAL_S, description="reporting interval in "
                                   "seconds; up to 31 days (2678400) for a meter read by hand")
    multiplier: float | None = Field(default=None, gt=0)
    rated_capacity: float | None = Field(default=None, gt=0)
    initial_register: float | None = Field(default=None, ge=0)
    role: str | None = None
    parent: str | None = None
    gateway: str | None = Field(default=None, description="gateway id; a new one is added to the registry")
    meter: Meter | None = Field(default=None, description="the meter link: a bus of its gateway, the protocol and "
                                "the nameplate address (12 digits DL/T 645, 14 hex digits CJ/T 188) or the Modbus "
                                "unit with a profile or an inline register map; null removes the link")
    manual: bool | None = Field(default=None, description="read by hand (抄表): no gateway, no meter link, "
                                "interval_s up to 31 days")
    item: Annotated[str, Field(min_length=1, max_length=400)] | None = Field(
        default=None, description="energy item (分项能耗): the code (01A00) or its name (照明插座用电, Lighting and "
        "sockets), or shares of items for a meter that feeds several, '01A00 60%, 01B00 40%' (adding up to 100); "
        "null: its parent meter's, else its kind's default (electricity 01000, a canteen's 01D20, water 02000, gas "
        "03A00)")
    virtual: Annotated[str, Field(min_length=1, max_length=VIRTUAL_MAX_CHARS)] | None = Field(
        default=None, description="a virtual meter (虚拟表): its use is this sum of other meters of its kind, e.g. "
        "'pr-main - c1-elec - c2-elec' or '0.5 * pump-room' (+, −, *, numbers and parentheses; a space before a "
        "minus); it then takes no gateway, meter link, parent or register fields. Every meter it names must be "
        "one the token sees")


class DeviceCreate(DeviceUpdate):
    """A new meter or sensor; ``building`` must exist in the campus file, ``zone`` defaults to the building's."""

    model_config = {"extra": "forbid", "json_schema_extra": {"examples": [{
        "id": "c1-elec-2", "kind": "electricity", "building": "canteen-1", "name": "一食堂厨房分表",
        "interval_s": 900, "multiplier": 1, "rated_capacity": 120, "parent": "c1-elec", "gateway": "gw-canteen-1",
        "meter": {"bus": "rs485-1", "protocol": "dlt645", "address": "000012345679"}}]}}
    id: str = Field(examples=["c1-elec-2"])
    kind: Kind
    building: str


class ReadingPublic(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"ts": "2026-11-22T08:15:00+08:00", "seq": 1841,
                                                        "values": {"energy_kwh": 12873.25, "power_kw": 3.1}}]}}
    ts: datetime
    seq: int | None = None
    values: dict[str, float]
    manual: bool = Field(default=False, description="read by hand (抄表), not by a gateway")
    read_by: str | None = Field(default=None, description="who read it by hand (the token that entered it)")


class ReadingsPublic(BaseModel):
    device: str
    kind: Kind
    start: datetime
    end: datetime
    interval_s: int | None = Field(description="bucket size when downsampled, else null (raw)")
    agg: str | None
    count: int
    readings: list[ReadingPublic]
