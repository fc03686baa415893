"""Who connects to the broker (tag: gateways)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


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
