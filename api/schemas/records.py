"""Records: check rounds, the hazard ledger, water tests and the files kept with them (tag: records)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="a file's SHA-256, as POST /photos answered")]


class ItemAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item: int = Field(ge=0, le=99, description="the item's index in the template's checklist")
    ok: bool | None = Field(default=None, description="true: OK; false: a problem (say what in the note); null or "
                            "left out: not answered, which is refused (each item is answered, none by default)")
    note: str = Field(default="", max_length=2000)
    photos: list[Sha256] = Field(default_factory=list, max_length=20,
                              description="SHA-256 of photos of this item uploaded to /photos (or send them in this "
                              "request as multipart parts photo-N, N the item's index)")


class RoundCreate(BaseModel):
    """A check round as the electrician walked it. Who and when are not fields: the token and the server's clock."""

    model_config = ConfigDict(extra="forbid")
    template: str = Field(max_length=64, examples=["zone-patrol"])
    zone: str | None = Field(default=None, max_length=64, description="for a round walked per zone")
    building: str | None = Field(default=None, max_length=64, description="for a round walked per building")
    items: list[ItemAnswer] = Field(max_length=100)
    note: str = Field(default="", max_length=4000)
    photos: list[Sha256] = Field(default_factory=list, max_length=20,
                              description="SHA-256 of photos uploaded to /photos (or send them in this request)")
    hazards: bool = Field(default=True, description="make each problem item an open hazard in the ledger")


class ItemPublic(BaseModel):
    item: int
    zh: str
    en: str
    ok: bool
    note: str
    photos: list[str] = Field(default_factory=list, description="photos of this item (SHA-256)")


class RoundPublic(BaseModel):
    id: int
    site: str
    template: str
    template_name: str
    zone: str
    building: str | None
    recorded_by: str = Field(description="the token that recorded it")
    recorded_at: datetime = Field(description="the server's clock")
    day: date
    items: list[ItemPublic]
    problems: int
    note: str
    photos: list[str]
    hazards: list[int] = Field(default_factory=list, description="hazards this round opened (when it was recorded)")


class PersonPublic(BaseModel):
    id: str
    name: str


class TemplatePublic(BaseModel):
    id: str
    name: str = Field(description="in the language asked (lang=)")
    every: str
    per: str
    items: list[str]


class HazardCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=500, description="what was found")
    building: str | None = Field(default=None, max_length=64)
    device: str | None = Field(default=None, max_length=64, description="the meter or sensor it concerns, if any")
    inspection: int | None = Field(default=None, ge=1, le=2**62, description="the check round that found it")
    due: date | None = Field(default=None, description="to be fixed by (整改期限)")
    note: str = Field(default="", max_length=4000)
    photos: list[Sha256] = Field(default_factory=list, max_length=20)


class HazardUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["assigned", "fixed"]
    assigned_to: str | None = Field(default=None, max_length=100, description="who is to fix it (with assigned)")
    due: date | None = None
    note: str = Field(default="", max_length=4000, description="what was done (needed with fixed)")
    photos: list[Sha256] = Field(default_factory=list, max_length=20)


class StepPublic(BaseModel):
    at: datetime
    by: str
    status: str
    note: str
    photos: list[str]


class HazardPublic(BaseModel):
    id: int
    site: str
    title: str
    zone: str | None
    building: str | None
    device: str | None
    inspection: int | None
    status: str
    reported_by: str
    reported_at: datetime
    assigned_to: str | None
    assigned_at: datetime | None
    fixed_by: str | None
    fixed_at: datetime | None
    due: date | None
    note: str
    photos: list[str]
    steps: list[StepPublic] = Field(default_factory=list)


class ValueWithLimit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: float = Field(allow_inf_nan=False)
    min: float | None = Field(default=None, allow_inf_nan=False, description="its lower limit")
    max: float | None = Field(default=None, allow_inf_nan=False, description="its upper limit")
    unit: str | None = Field(default=None, max_length=20)
    name: str | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _order(self) -> ValueWithLimit:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


Param = Annotated[str, Field(max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]


class WaterTestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    point: str = Field(max_length=64, description="a sampling point: a drinking-water sensor's id, or one of the "
                       "campus file's sampling_points", examples=["ta-fountain"])
    taken_at: datetime = Field(description="when the sample was taken (not when it is recorded)")
    kind: Literal["self", "lab", "filter"] = Field(description="self-test, laboratory test, or a filter change")
    lab: str | None = Field(default=None, max_length=200, description="the laboratory (with kind: lab)")
    values: dict[Param, float | ValueWithLimit] = Field(
        default_factory=dict, max_length=60,
        description="parameter → value; a parameter meterwatch does not know comes with its limit: {value, max}",
        examples=[{"ph": 7.2, "turbidity_ntu": 0.3, "lead_mgl": {"value": 0.002, "max": 0.01, "unit": "mg/L"}}])
    note: str = Field(default="", max_length=4000)

    @model_validator(mode="after")
    def _aware(self) -> WaterTestCreate:
        if self.taken_at.tzinfo is None:
            raise ValueError("taken_at needs its UTC offset, e.g. 2026-11-20T10:00:00+08:00")
        if not 2000 <= self.taken_at.year <= 2100:
            raise ValueError("taken_at: a year between 2000 and 2100")
        for k, v in self.values.items():
            if isinstance(v, float) and v != v:
                raise ValueError(f"{k}: not a number")
        return self


class ResultPublic(BaseModel):
    field: str
    name: str
    value: float
    unit: str
    low: float | None
    high: float | None
    limit: str
    ok: bool
    rule: str | None = Field(description="the alert rule that holds a sensor here to this limit")


class WaterTestPublic(BaseModel):
    id: int
    site: str
    point: str
    point_name: str
    kind: str
    lab: str | None
    taken_at: datetime
    recorded_by: str
    recorded_at: datetime
    results: list[ResultPublic]
    passed: bool
    attachment: str | None = Field(description="/api/v1/files/{sha256} of the laboratory's PDF")
    note: str
    alerts: list[int] = Field(description="alerts this test raised")


class PointPublic(BaseModel):
    id: str
    name: str
    building: str
    zone: str
    role: str
    device: str | None
    filter: bool
    limits: dict[str, str]


class KeptPublic(BaseModel):
    sha256: str = Field(description="name it by this in a record's photos")
    media_type: str
    bytes: int
    width: int | None = None
    height: int | None = None
    url: str
