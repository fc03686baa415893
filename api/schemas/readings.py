"""Readings by hand (抄表): the reading a person sends, what is kept, and the month's reading round (tag: records)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.schemas.records import PersonPublic, Sha256
from campus.contract import Kind

FieldName = Annotated[str, Field(max_length=40)]


class ManualReadingCreate(BaseModel):
    """A register read by a person. Who is not a field (the token); when is the server's clock unless ``read_at``
    says when it was read (at most 7 days ago, e.g. copied from a paper sheet)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"site": "yucai", "device": "old-boiler-water", "values": {"volume_m3": 1234.5}, "note": "表盖破损"}]})
    site: str | None = Field(default=None, max_length=64, description="the meter's site (or ?site=; needed only "
                             "when the token sees several)")
    device: str = Field(max_length=64, description="the meter read by hand (manual: true)")
    values: dict[FieldName, Any] = Field(max_length=10, description="the register fields of its kind, as the "
                                         "payload contract names them: energy_kwh, or volume_m3")
    read_at: AwareDatetime | None = Field(default=None, description="when it was read (RFC 3339 with offset, e.g. "
                                          "2026-12-04T10:00:00+08:00); default now; at most 7 days ago, not in "
                                          "the future")
    note: str = Field(default="", max_length=2000)
    photos: list[Sha256] = Field(default_factory=list, max_length=5, description="the dial's photo uploaded to "
                                 "/photos (or send it in this request as the multipart part 'photo')")
    replacement: bool = Field(default=False, description="the meter was replaced: its lower register starts a new "
                              "meter cycle")
    confirm: bool = Field(default=False, description="take a rise past the rated capacity × elapsed hours (after a "
                          "409 asked to confirm it)")


class LastReadingPublic(BaseModel):
    at: datetime
    value: float
    manual: bool = Field(description="read by hand")


class ManualReadingPublic(BaseModel):
    id: int
    site: str
    device: str
    device_name: str
    kind: Kind
    values: dict[str, float]
    read_at: datetime = Field(description="when it was read (the reading's time)")
    entered_at: datetime = Field(description="when it was entered (the server's clock)")
    read_by: str = Field(description="the token that entered it")
    note: str
    photos: list[str]
    replacement: bool
    confirmed: bool = Field(description="a rise past the rated capacity, confirmed by the reader")
    previous: LastReadingPublic | None = Field(description="the reading it was checked against")
    manual: bool = True


class MeterDuePublic(BaseModel):
    device: str
    name: str
    kind: Kind
    building: str
    building_name: str
    field: str = Field(description="the register field to read: energy_kwh or volume_m3")
    unit: str
    multiplier: float
    rated_capacity: float | None
    status: str = Field(description="done (read this month), due or overdue")
    last: LastReadingPublic | None = Field(description="its newest reading, to set the new one against")


class ReadingRoundPublic(BaseModel):
    zone: str
    zone_name: str
    month: str = Field(description="the month whose reading is asked for (YYYY-MM)")
    due_by: date = Field(description="the month's last workday on the school calendar")
    status: str = Field(description="done, due or overdue")
    done: int
    total: int
    assigned: list[PersonPublic] = Field(description="who the duty roster has on duty there")
    meters: list[MeterDuePublic]
