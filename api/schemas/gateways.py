"""Who connects to the broker, and the buses each gateway polls (tag: gateways)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from campus.contract import Identifier
from campus.model import Bus

Way = Literal["serial", "tcp", "listen", "mqtt", "modbus_tcp"]


class BusPublic(Bus):
    """A bus of a gateway as the campus file has it, with how it is reached and how many devices are on it."""

    reached_by: Way = Field(description="how the bus is reached: serial (an adapter on the gateway box), tcp (a serial "
                     "server or DTU; the gateway connects), listen (DTUs dial in), mqtt (a 4G DTU), modbus_tcp")
    devices: int = Field(ge=0, description="devices whose meter link names this bus")


class GatewayPublic(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "id": "gw-canteen-1", "name": "一食堂集中器", "building": "canteen-1", "is_device": False,
        "devices": ["c1-elec", "c1-water", "c1-gas"], "credentials": "active",
        "buses": [{"name": "rs485-1", "serial": "/dev/ttyUSB0", "baud": 2400, "parity": "E", "stopbits": 1,
                   "timeout_ms": 1000, "retries": 2, "reached_by": "serial", "devices": 2}]}]}}
    id: str = Field(description="its MQTT username")
    name: str
    building: str | None
    is_device: bool = Field(description="a device without a gateway, publishing for itself")
    devices: list[str] = Field(description="the devices it may publish for")
    credentials: Literal["none", "active", "revoked"] = Field(
        description="none: it cannot connect yet (meterwatch credentials issue ID)")
    buses: list[BusPublic] | None = Field(
        default_factory=list, description="the lines it polls, each with its device count; null when the token is "
        "narrowed and does not see the whole gateway (its building and every device on it)")


class GatewayPut(BaseModel):
    """A gateway as it is to be: its name, the building it is installed in, and all of its buses (a bus left out
    is removed, which is refused while a device's meter link names it)."""

    model_config = {"extra": "forbid", "json_schema_extra": {"examples": [{
        "name": "一食堂集中器", "building": "canteen-1",
        "buses": [{"name": "rs485-1", "serial": "/dev/ttyUSB0", "baud": 2400, "parity": "E"},
                  {"name": "dtu-2", "tcp": "10.1.2.3:8899"},
                  {"name": "dtu-3", "listen": "0.0.0.0:9000", "register": "GW3"},
                  {"name": "dtu-4", "mqtt": {"up": "dtu/GW4/up", "down": "dtu/GW4/down"}},
                  {"name": "pm-1", "modbus_tcp": "10.1.2.4:502"}]}]}}
    name: str = Field(default="", max_length=200)
    building: Identifier | None = Field(default=None, description="where it is installed (a building of the site)")
    buses: list[Bus] = Field(default_factory=list, max_length=64)
