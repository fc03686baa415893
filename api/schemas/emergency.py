"""Emergency plans (应急预案), their runs beside the alerts, and drills (tag: emergency)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.records import Sha256


class PlanStepPublic(BaseModel):
    n: int = Field(description="1, 2, …: its place in the plan")
    id: str
    text: str = Field(description="what to do, in the language asked for")
    role: str = Field(description="on_duty, or a role of the duty roster")
    role_name: str = Field(description="who, as people read it (值班电工, or the role's holders)")
    within_min: float | None = Field(description="its time limit, minutes from the alert; none: no limit")


class PlanPlacePublic(BaseModel):
    n: int
    what: str = Field(description="valve, breaker, gas_shutoff, pump, hydrant or other")
    name: str
    building: str
    building_name: str
    where: str | None
    photo: str | None = Field(description="the photo's URL, if the plan has one")


class ContactPublic(BaseModel):
    name: str
    phone: str


class PlanPublic(BaseModel):
    id: str
    site: str
    name: str
    rules: list[str] = Field(description="the alert rules that activate it")
    categories: list[str]
    severities: list[str]
    steps: list[PlanStepPublic]
    places: list[PlanPlacePublic] = Field(description="the places the asker's token may see")
    contacts: list[ContactPublic]
    drill: Literal["term", "month", "year", "never"] = Field(description="how often it is drilled")


class RunStepPublic(PlanStepPublic):
    due: datetime | None = Field(description="by when, on the server's clock (alert + limit)")
    done_at: datetime | None
    done_by: str | None
    done_by_name: str | None
    note: str | None
    photos: list[str]
    state: Literal["done", "late", "skipped", "overdue", "open"]


class RunPublic(BaseModel):
    alert_id: int
    plan: str
    name: str
    drill: int | None = Field(description="the drill that raised the alert, if it is one (演练)")
    started: datetime
    closed: datetime | None = Field(description="when the alert was resolved (the run closes with it)")
    steps: list[RunStepPublic]
    places: list[PlanPlacePublic]
    contacts: list[ContactPublic]


class StepTick(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=2000, description="what was done, what was found")
    photos: list[Sha256] = Field(default_factory=list, max_length=10,
                              description="SHA-256 of photos uploaded for the site (POST /api/v1/photos)")


class FiguresPublic(BaseModel):
    first_notice_s: float | None = Field(description="seconds from the alert to its first message sent to a person")
    ack_s: float | None = Field(description="seconds to the acknowledgement")
    resolved_s: float | None = Field(description="seconds to the resolution")
    steps_s: list[float | None] = Field(description="seconds to each step (none: not ticked)")
    skipped: int = Field(description="steps never ticked before the resolution")
    late: int = Field(description="steps ticked after their limit, or past it and open")


class PlanStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device: str | None = Field(default=None, max_length=64, description="the device the trouble is at")
    building: str | None = Field(default=None, max_length=64, description="or the building")
    note: str = Field(default="", max_length=500, description="why: what was seen (台风红色预警, 一楼走廊爆管)")


class DrillCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plan: str = Field(max_length=64, description="the plan to drill (GET /api/v1/plans)")
    device: str | None = Field(default=None, max_length=64, description="the device the drill is about")
    building: str | None = Field(default=None, max_length=64, description="or the building")
    chain: bool = Field(default=False, description="a technical drill too: one drill-tagged reading through the "
                        "broker from the device's gateway, checked at ingest and by the alert engine, never stored")


class ChainStagePublic(BaseModel):
    stage: str
    ok: bool
    said: str


class ChainPublic(BaseModel):
    ok: bool
    said: str = Field(description="what passed, or what failed and what to fix")
    stages: list[ChainStagePublic]


class DrillPublic(BaseModel):
    id: int
    site: str
    plan: str
    plan_name: str
    building: str | None
    building_name: str | None
    device: str | None
    device_name: str | None
    started: datetime
    started_by: str
    alert_id: int | None
    status: Literal["running", "finished"] = Field(description="finished once its alert is resolved")
    chain: ChainPublic | None = Field(description="the technical drill's result, if one was asked for")
    figures: FiguresPublic | None


class DueDrillPublic(BaseModel):
    plan: str
    plan_name: str
    every: Literal["term", "month", "year", "never"]
    window_start: date
    window_end: date
    status: Literal["due", "overdue"]
    last: datetime | None = Field(description="the plan's newest drill")
