"""Use per bucket and group (tag: consumption)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from campus.contract import Kind


class BucketPublic(BaseModel):
    start: datetime
    end: datetime
    value: float = Field(description="use in the bucket, kWh or m³")
    coverage: float = Field(description="readings received ÷ expected in the bucket (0–1), up to now")


class GroupUsePublic(BaseModel):
    key: str = Field(examples=["canteen-1"], description="the group's id; group_by=item: the item code (01A00 …) or "
                     "'unitemised' (未分项)")
    name: str = Field(examples=["第一食堂"], description="its name in the language asked for (lang=)")
    total: float
    coverage: float
    meters: list[str] = Field(description="meters added up (main meters only, unless group_by=device)")
    manual: list[str] = Field(default_factory=list, description="of those meters, the ones read by hand (抄表): "
                              "each owes one reading a month to its coverage")
    note: str | None = Field(default=None, description="group_by=item: when a share is negative, which meters their "
                             "sub-meters outread (sub-meters read more than the meter above them)")
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
    group_by: Literal["device", "building", "department", "zone", "site", "item"]
    start: datetime
    end: datetime
    total: float
    complete_at: float = Field(description="coverage at or above which a period's data counts as complete "
                                           "([report] completeness_min); below it a comparison with that period "
                                           "shows no percentage", examples=[0.9])
    groups: list[GroupUsePublic]
    flagged: list[FlaggedStepPublic] = Field(description="steps the register rules flagged: implausible jumps "
                                                         "(excluded), new meter cycles, dips")

    model_config = {"json_schema_extra": {"examples": [{
        "kind": "electricity", "unit": "kWh", "interval": "day", "group_by": "building",
        "start": "2026-03-02T00:00:00+08:00", "end": "2026-03-03T00:00:00+08:00", "total": 210.0,
        "complete_at": 0.9,
        "groups": [{"key": "office", "name": "行政办公楼", "total": 210.0, "coverage": 0.98, "meters": ["of-elec"],
                    "buckets": [{"start": "2026-03-02T00:00:00+08:00", "end": "2026-03-03T00:00:00+08:00",
                                 "value": 210.0, "coverage": 0.98}]}],
        "flagged": [{"device": "of-elec", "start": "2026-03-02T05:30:00+08:00", "end": "2026-03-02T06:30:00+08:00",
                     "flag": "implausible", "register_from": 135.0, "register_to": 5000.0}]}]}}
