"""Devices and their readings (tag: devices)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from campus.contract import Kind
from campus.model import MAX_INTERVAL_S, Department, Meter


class DevicePublic(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "id": "c1-elec", "name": "一食堂总电表", "kind": "electricity", "site": "yucai", "building": "canteen-1",
        "department": "canteen", "zone": "zone-north", "interval_s": 900, "multiplier": 40, "rated_capacity": 400,
        "role": None, "parent": None, "status": "online", "last_seen": "2026-11-22T08:15:00+08:00"}]}}
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
    status: Literal["online", "offline", "unknown"]
    last_seen: datetime | None


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
