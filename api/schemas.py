"""Response and request schemas (the HTTP contract), one family per resource."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from campus.contract import Kind
from campus.model import Department


class HealthPublic(BaseModel):
    status: Literal["ok", "degraded"] = Field(description="degraded: broker or store unreachable, or spool not empty")
    mqtt_connected: bool
    store_backend: str
    store_reachable: bool
    store_error: str | None
    spool_depth: int = Field(description="readings held on disk until the store takes them")
    backlog: int = Field(description="messages received and not yet committed")
    dead_letters: int = Field(description="refused messages waiting for replay")
    received: int
    stored: int
    acknowledged: int
    warnings: list[str] = Field(default_factory=list, description="things to look at before they become a problem, "
                                                                   "e.g. dead letters near their bound")


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
    status: Literal["online", "offline", "unknown"]
    last_seen: datetime | None


class DeviceUpdate(BaseModel):
    """Fields to change; those left out stay as they are."""

    model_config = {"extra": "forbid", "json_schema_extra": {"examples": [{"name": "一食堂总电表(新)",
                                                                            "multiplier": 60}]}}
    kind: Kind | None = None
    building: str | None = None
    zone: str | None = None
    name: str | None = None
    interval_s: int | None = Field(default=None, gt=0, le=86_400)
    multiplier: float | None = Field(default=None, gt=0)
    rated_capacity: float | None = Field(default=None, gt=0)
    initial_register: float | None = Field(default=None, ge=0)
    role: str | None = None
    parent: str | None = None
    gateway: str | None = Field(default=None, description="gateway id; a new one is added to the registry")


class DeviceCreate(DeviceUpdate):
    """A new meter or sensor; ``building`` must exist in the campus file, ``zone`` defaults to the building's."""

    model_config = {"extra": "forbid", "json_schema_extra": {"examples": [{
        "id": "c1-elec-2", "kind": "electricity", "building": "canteen-1", "name": "一食堂厨房分表",
        "interval_s": 900, "multiplier": 1, "rated_capacity": 120, "parent": "c1-elec"}]}}
    id: str = Field(examples=["c1-elec-2"])
    kind: Kind
    building: str


class GatewayPublic(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "id": "gw-canteen-1", "name": "一食堂集中器", "building": "canteen-1", "is_device": False,
        "devices": ["c1-elec", "c1-water", "c1-gas"], "credentials": "active"}]}}
    id: str = Field(description="its MQTT username")
    name: str
    building: str | None
    is_device: bool = Field(description="a device without a gateway, publishing for itself")
    devices: list[str] = Field(description="the devices it may publish for")
    credentials: Literal["none", "active", "revoked"] = Field(
        description="none: it cannot connect yet (meterwatch credentials issue ID)")


class ReadingPublic(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"ts": "2026-11-22T08:15:00+08:00", "seq": 1841,
                                                        "values": {"energy_kwh": 12873.25, "power_kw": 3.1}}]}}
    ts: datetime
    seq: int | None = None
    values: dict[str, float]


class ReadingsPublic(BaseModel):
    device: str
    kind: Kind
    start: datetime
    end: datetime
    interval_s: int | None = Field(description="bucket size when downsampled, else null (raw)")
    agg: str | None
    count: int
    readings: list[ReadingPublic]


class RefusedItem(BaseModel):
    index: int = Field(description="position in the batch payload, from 0")
    reason: str | None = Field(description="why; given for the first 20 refused items")


class EvaluationFailurePublic(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "id": 3, "at": "2026-11-22T08:15:02+08:00", "topic": "campus/yucai/c1-gas/reading",
        "payload": '{"ts": 1795000000, "values": {"volume_m3": 12}}',
        "error": "ZeroDivisionError: float division by zero"}]}}
    id: int
    at: datetime = Field(description="when the alert engine tried it")
    topic: str
    payload: str = Field(description="the message's first 4 KiB (UTF-8, invalid bytes replaced)")
    error: str = Field(description="what went wrong; the reading itself was stored by ingest")


class DeadLetterPublic(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "id": 7, "topic": "campus/yucai/c9-water/reading", "payload": '{"ts": 1795000000, "values": {"volume_m3": 12}}',
        "reason": "unknown device 'c9-water': add it to the campus file or import it, then replay",
        "items": [], "first_received": "2026-11-22T08:15:02+08:00",
        "last_received": "2026-11-22T08:30:02+08:00", "times": 2, "replayed_at": None}]}}
    id: int
    topic: str
    payload: str = Field(description="raw payload (UTF-8, invalid bytes replaced)")
    reason: str
    items: list[RefusedItem] = Field(description="refused items of a batch payload (the others were stored)")
    first_received: datetime
    last_received: datetime
    times: int
    replayed_at: datetime | None


class ReplayResult(BaseModel):
    id: int
    stored_readings: int


class AlertPublic(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "id": 12, "rule": "canteen-gas-closed", "name": "食堂非营业时间燃气流量", "category": "safety",
        "severity": "critical", "status": "acknowledged", "subject": "c1-gas", "subject_name": "一食堂燃气表",
        "device": "c1-gas", "device_name": "一食堂燃气表", "building": "canteen-1", "building_name": "第一食堂",
        "zone": "zone-north", "zone_name": "北区(生活区)责任区", "department": "canteen", "value": 6.2, "unit": "m³/h",
        "limit": "> 0.5", "detail": "gas flowing while the canteen is closed", "started": "2026-03-10T21:30:00+08:00",
        "last_seen": "2026-03-10T21:45:00+08:00", "acknowledged_by": "li",
        "acknowledged_at": "2026-03-10T21:41:00+08:00",
        "ack_comment": "已到现场，正在关阀", "resolved_at": None, "resolved_by": None, "resolve_reason": None,
        "route": None, "escalation_level": 1, "next_escalation": None, "site": "yucai", "site_name": "育才中学"}]}}
    id: int
    site: str = ""
    site_name: str = ""
    rule: str
    name: str = Field(description="the rule's name in the configured language")
    category: Literal["energy", "safety", "data"]
    severity: Literal["critical", "major", "minor", "warning"]
    status: Literal["active", "acknowledged", "resolved"]
    subject: str = Field(description="the device id, or the department for budget rules")
    subject_name: str = Field(description="the device's name, or the department's in the language asked for")
    device: str | None
    device_name: str | None
    building: str | None
    building_name: str | None
    zone: str | None
    zone_name: str | None
    department: str | None
    value: float | None
    unit: str | None
    limit: str | None
    detail: str | None
    started: datetime
    last_seen: datetime = Field(description="time of the newest reading that kept it active")
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    ack_comment: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolve_reason: str | None
    route: str | None
    escalation_level: int
    next_escalation: datetime | None


class AlertEventPublic(BaseModel):
    id: int
    at: datetime
    type: str = Field(description="raised, severity, acknowledged, escalated, resolved, notified, notify_retry, "
                                  "notify_failed")
    actor: str | None
    detail: dict[str, object]


class AckRequest(BaseModel):
    """Who acknowledges is the caller's token (or the signed link), never a field here."""

    comment: str | None = Field(default=None, max_length=1000, examples=["已到现场，正在关阀"])


class ResolveRequest(BaseModel):
    """Who resolves is the caller's token, never a field here."""

    reason: str = Field(min_length=1, max_length=1000, examples=["更换传感器后读数正常"])


class RulePublic(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "id": "drinking-ph", "name": {"zh": "饮用水pH超出限值", "en": "Drinking water pH out of range"},
        "category": "safety", "severity": "major", "enabled": True, "target": {"roles": ["drinking"]},
        "condition": {"type": "threshold", "field": "ph", "below": 6.5, "above": 8.5}, "for_s": 600, "count": 1,
        "schedule": None, "clear_for_s": 600, "route": None, "note": "GB 5749-2022: pH 6.5–8.5"}]}}
    id: str
    name: dict[str, str]
    category: str
    severity: str
    enabled: bool
    target: dict[str, object]
    condition: dict[str, object]
    for_s: float
    count: int
    schedule: object | None
    clear_for_s: float
    route: str | None
    note: str


class BucketPublic(BaseModel):
    start: datetime
    end: datetime
    value: float = Field(description="use in the bucket, kWh or m³")
    coverage: float = Field(description="readings received ÷ expected in the bucket (0–1), up to now")


class GroupUsePublic(BaseModel):
    key: str = Field(examples=["canteen-1"])
    name: str = Field(examples=["第一食堂"])
    total: float
    coverage: float
    meters: list[str] = Field(description="meters added up (main meters only, unless group_by=device)")
    buckets: list[BucketPublic]


class FlaggedStepPublic(BaseModel):
    device: str
    start: datetime
    end: datetime
    flag: Literal["new_cycle", "dip", "implausible"] = Field(
        description="new_cycle: meter replaced/reset (counted from zero if plausible); dip: counted nothing; "
                    "implausible: excluded")
    register_from: float
    register_to: float


class ConsumptionPublic(BaseModel):
    kind: Kind
    unit: str = Field(examples=["kWh"])
    interval: Literal["hour", "day", "month"]
    group_by: Literal["device", "building", "department", "zone", "site"]
    start: datetime
    end: datetime
    total: float
    groups: list[GroupUsePublic]
    flagged: list[FlaggedStepPublic] = Field(description="steps the register rules flagged: implausible jumps "
                                                         "(excluded), new meter cycles, dips")

    model_config = {"json_schema_extra": {"examples": [{
        "kind": "electricity", "unit": "kWh", "interval": "day", "group_by": "building",
        "start": "2026-03-02T00:00:00+08:00", "end": "2026-03-03T00:00:00+08:00", "total": 210.0,
        "groups": [{"key": "office", "name": "行政办公楼", "total": 210.0, "coverage": 0.98, "meters": ["of-elec"],
                    "buckets": [{"start": "2026-03-02T00:00:00+08:00", "end": "2026-03-03T00:00:00+08:00",
                                 "value": 210.0, "coverage": 0.98}]}],
        "flagged": [{"device": "of-elec", "start": "2026-03-02T05:30:00+08:00", "end": "2026-03-02T06:30:00+08:00",
                     "flag": "implausible", "register_from": 135.0, "register_to": 5000.0}]}]}}


class BuildingPublic(BaseModel):
    id: str
    name: str
    department: str
    department_name: str
    zone: str | None = Field(description="the responsibility zone (责任区) it belongs to")
    zone_name: str | None
    floor_area_m2: float
    occupants: int
    targets: dict[str, float] = Field(description="its own monthly targets by kind, kWh or m³ (may be empty)")


class ZonePublic(BaseModel):
    id: str
    name: str
    buildings: list[str]


class DepartmentPublic(BaseModel):
    id: str
    name: str
    buildings: list[str]
    targets: dict[str, float] = Field(description="monthly energy-saving targets (节能降耗指标) by kind")


class SiteSummary(BaseModel):
    id: str
    name: str
    timezone: str
    buildings: int = Field(description="buildings this token sees there")
    devices: int = Field(description="devices this token sees there")


class SitePublic(BaseModel):
    id: str
    name: str
    timezone: str


class CampusPublic(BaseModel):
    """What the console needs to name things: the site, its buildings, zones and departments with targets."""

    site: SitePublic
    buildings: list[BuildingPublic]
    zones: list[ZonePublic]
    departments: list[DepartmentPublic]


class LimitPublic(BaseModel):
    rule: str = Field(description="the threshold rule that holds the value to it")
    rule_name: str = Field(description="its name in the language asked for")
    low: float | None
    high: float | None


class SensorValuePublic(BaseModel):
    field: str = Field(examples=["ph"])
    name: str = Field(examples=["pH"])
    value: float
    unit: str
    standing: Literal["ok", "near", "out"] | None = Field(
        description="against the limits: out (red), near: within 10 % of an edge (amber), ok (green); null: no limit")
    limits: list[LimitPublic]


class SensorBoardPublic(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "device": "ta-fountain", "name": "教学楼A饮水机", "building": "teach-a", "building_name": "教学楼A栋",
        "role": "drinking", "role_name": "饮用水", "last_seen": "2026-11-22T08:10:00+08:00", "standing": "ok",
        "values": [{"field": "ph", "name": "pH", "value": 7.2, "unit": "", "standing": "ok",
                    "limits": [{"rule": "drinking-ph", "rule_name": "饮用水pH超出限值", "low": 6.5, "high": 8.5}]}]}]}}
    device: str
    name: str
    building: str
    building_name: str
    role: str | None
    role_name: str | None
    last_seen: datetime | None
    standing: Literal["ok", "near", "out", "stale"] = Field(
        description="the worst of its values; stale: no reading for 3 intervals (grey)")
    values: list[SensorValuePublic]
