"""Payers, tariffs and filed statements as the API shows them (statements are ``billing.statements`` models)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PayerMeter(BaseModel):
    id: str
    name: str
    kind: str
    share: float = Field(description="1 for a meter it owns; its share of a shared meter")
    via: str = Field(description="meter (listed), building (a main meter of its building) or shared")
    less: list[str] = Field(description="sub-meters billed to others, taken off")


class TariffRef(BaseModel):
    id: str
    name: str


class PayerPublic(BaseModel):
    id: str
    name: str
    type: str
    meters: list[PayerMeter]
    tariffs: dict[str, TariffRef]
    allowance: dict[str, Decimal]


class TariffPublic(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    name: str
    kind: str
    source: str | None = None
    versions: list[dict[str, Any]]


class FiledStatementFile(BaseModel):
    format: str
    sha256: str
    bytes: int


class StatementFilingPublic(BaseModel):
    site: str
    month: str
    payer: str
    version: int
    filed_by: str
    filed_at: datetime
    files: list[FiledStatementFile]
    changes: list[dict[str, Any]] | None = Field(default=None, description="lines that differ now from the "
                                                 "filed copy (a tariff correction, late readings); none: "
                                                 "a corrected statement is not owed")
