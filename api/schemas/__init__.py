"""Response and request schemas: the pydantic models of the HTTP contract (request bodies and responses), a module
per OpenAPI tag (``alerts``, ``devices``, ``records`` ...), every one importable from here; routers import them from
here. OpenAPI names a component after its class, so a class keeps its name when it moves.

Except where two contract models share a class name: FastAPI then names each after its module and class, and moving
one would rename its component. So the campus models are defined here, in ``api.schemas`` (its ``BuildingPublic`` is
``api__schemas__BuildingPublic``), and three routers keep theirs: ``DuePublic`` in ``api.routers.inspections`` and
in ``api.routers.water_tests``, the sweep's ``BuildingPublic`` (with ``SweepPublic`` and ``LinePublic``) in
``api.routers.sweep``. The reports (``EnergyReport``, ``Bulletin`` ...) are ``reports``' own models."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.schemas.access import Me, ScopePublic, TokenCreate, TokenCreated, TokenPublic
from api.schemas.alerts import AckRequest, AlertEventPublic, AlertPublic, EvaluationFailurePublic, ResolveRequest
from api.schemas.consumption import BucketPublic, ConsumptionPublic, FlaggedStepPublic, GroupUsePublic
from api.schemas.dead_letters import DeadLetterPublic, RefusedItem, ReplayResult
from api.schemas.devices import DeviceCreate, DevicePublic, DeviceUpdate, ReadingPublic, ReadingsPublic
from api.schemas.flow import FlowLinkPublic, FlowNodePublic, FlowPublic
from api.schemas.gateways import BusPublic, GatewayPublic, GatewayPut
from api.schemas.health import HealthPublic
from api.schemas.records import (
    HazardCreate,
    HazardPublic,
    HazardUpdate,
    ItemAnswer,
    ItemPublic,
    KeptPublic,
    PersonPublic,
    PointPublic,
    ResultPublic,
    RoundCreate,
    RoundPublic,
    StepPublic,
    TemplatePublic,
    ValueWithLimit,
    WaterTestCreate,
    WaterTestPublic,
)
from api.schemas.reports import FiledFilePublic, FilingPublic
from api.schemas.rules import RulePublic
from api.schemas.water_quality import LimitPublic, SensorBoardPublic, SensorValuePublic

__all__ = [
    "AckRequest",
    "AlertEventPublic",
    "AlertPublic",
    "BucketPublic",
    "BusPublic",
    "BuildingPublic",
    "CampusPublic",
    "ConsumptionPublic",
    "FlowLinkPublic",
    "FlowNodePublic",
    "FlowPublic",
    "DeadLetterPublic",
    "DepartmentPublic",
    "DeviceCreate",
    "DevicePublic",
    "DeviceUpdate",
    "EvaluationFailurePublic",
    "FiledFilePublic",
    "FilingPublic",
    "FlaggedStepPublic",
    "GatewayPublic",
    "GatewayPut",
    "GroupUsePublic",
    "HazardCreate",
    "HazardPublic",
    "HazardUpdate",
    "HealthPublic",
    "ItemAnswer",
    "ItemPublic",
    "KeptPublic",
    "LimitPublic",
    "Me",
    "PersonPublic",
    "PointPublic",
    "ReadingPublic",
    "ReadingsPublic",
    "RefusedItem",
    "ReplayResult",
    "ResolveRequest",
    "ResultPublic",
    "RoundCreate",
    "RoundPublic",
    "RulePublic",
    "ScopePublic",
    "SensorBoardPublic",
    "SensorValuePublic",
    "SitePublic",
    "SiteSummary",
    "StepPublic",
    "TemplatePublic",
    "TokenCreate",
    "TokenCreated",
    "TokenPublic",
    "ValueWithLimit",
    "WaterTestCreate",
    "WaterTestPublic",
    "ZonePublic",
]


# The campus (tag: campus): defined here, not in a module of its own (see above).
class BuildingPublic(BaseModel):
    id: str
    name: str
    code: str | None = Field(default=None, description="the building code (建筑识别编码, 10 characters: 6-digit "
                             "administrative division, category letter, 3-digit number), e.g. 330106D001; null: "
                             "none given")
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
