"""The energy flow (tag: consumption): nodes and links for a sankey diagram (``reports.flow``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from campus.contract import Kind


class FlowNodePublic(BaseModel):
    id: str = Field(description="incomer | loss | unitemised | building:<id> | item:<code>",
                    examples=["building:canteen-1"])
    kind: Literal["incomer", "loss", "building", "item", "unitemised"]
    name: str = Field(description="what people read: the building's or item's name", examples=["第一食堂"])
    value: float = Field(description="use in the month, kWh or m³ (losses and 未分项 may be negative where meters "
                         "disagree)")
    code: str | None = Field(default=None, description="the building's code or the item's code (分项编码)")
    devices: list[str] = Field(default_factory=list, description="the meters it adds up")


class FlowLinkPublic(BaseModel):
    source: str
    target: str
    value: float


class FlowPublic(BaseModel):
    site: str
    kind: Kind
    unit: str
    month: str = Field(examples=["2026-10"])
    start: datetime
    end: datetime
    whole: bool = Field(description="the token sees the whole site: the incomer and the losses are shown")
    nodes: list[FlowNodePublic]
    links: list[FlowLinkPublic]
