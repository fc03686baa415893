"""The water-quality board (tag: water quality)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


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
        description="against the limits: out (red), near: within 10 % of an edge, 2 °C for a temperature (amber), ok "
                    "(green); null: no limit")
    limits: list[LimitPublic]


class SensorBoardPublic(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "device": "ta-fountain", "name": "教学楼A饮水机", "building": "teach-a", "building_name": "教学楼A栋",
        "role": "drinking", "role_name": "饮用水",
        "standard": "GB 5749-2022 生活饮用水卫生标准", "last_seen": "2026-11-22T08:10:00+08:00", "standing": "ok",
        "values": [{"field": "ph", "name": "pH", "value": 7.2, "unit": "", "standing": "ok",
                    "limits": [{"rule": "drinking-ph", "rule_name": "饮用水pH超出限值", "low": 6.5, "high": 8.5}]}]}]}}
    device: str
    name: str
    building: str
    building_name: str
    role: str | None
    role_name: str | None
    standard: str | None = Field(default=None, description="where its role's limits come from, in the language asked "
                                                           "for (GB 5749 for drinking water; Legionella control for "
                                                           "hot water)")
    last_seen: datetime | None
    standing: Literal["ok", "near", "out", "stale"] = Field(
        description="the worst of its values; stale: no reading for 3 intervals (grey)")
    values: list[SensorValuePublic]
