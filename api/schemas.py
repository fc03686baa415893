"""Response and request schemas (the HTTP contract), one family per resource."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from ingest.campus import Department
from ingest.contract import Kind


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


class DevicePublic(BaseModel):
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
    status: Literal["online", "offline", "unknown"]
    last_seen: datetime | None


class ReadingPublic(BaseModel):
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


class DeadLetterPublic(BaseModel):
    id: int
    topic: str
    payload: str = Field(description="raw payload (UTF-8, invalid bytes replaced)")
    reason: str
    item_index: int | None
    first_received: datetime
    last_received: datetime
    times: int
    replayed_at: datetime | None


class ReplayResult(BaseModel):
    id: int
    stored_readings: int
