"""Refused messages and their replay (tag: dead letters)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class RefusedItem(BaseModel):
    index: int = Field(description="position in the batch payload, from 0")
    reason: str | None = Field(description="why; given for the first 20 refused items")


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
