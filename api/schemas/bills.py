"""The suppliers' bills as the API takes and shows them (tag: billing); the reconciliation is
``billing.reconcile.Reconciliation``."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from billing.reconcile import Reconciliation
from billing.tariffs import TariffKind

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="a photo's SHA-256, as POST /photos answered")]
Band = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Quantity = Annotated[Decimal, Field(ge=0, le=10_000_000_000, max_digits=16, decimal_places=3,
                                    description="kWh or m³, as on the bill (at most 3 decimals)")]
Money = Annotated[Decimal, Field(ge=0, le=1_000_000_000, max_digits=14, decimal_places=2,
                                 description="元 to the fen, a decimal string such as \"51952.00\"")]
Text = Annotated[str, Field(pattern=r"^[^\x00-\x1f\x7f]*$", description="no control characters")]
Lines = Annotated[str, Field(pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$",
                             description="no control characters but line breaks and tabs")]
MAX_DAYS = 366


class Period(BaseModel):
    """Whole local days, both inclusive (suppliers read on their own days: not always a calendar month)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: date = Field(alias="from", examples=["2026-10-01"])
    to: date = Field(examples=["2026-10-31"], description="the last day billed (inclusive)")

    @model_validator(mode="after")
    def _order(self) -> Period:
        if self.to < self.from_:
            raise ValueError(f"the period ends ({self.to}) before it starts ({self.from_}): give from ≤ to")
        if (self.to - self.from_).days >= MAX_DAYS:
            raise ValueError(f"the period runs {(self.to - self.from_).days + 1} days: a bill covers at most "
                             f"{MAX_DAYS} days")
        if self.from_.year < 2001 or self.to.year > 2099:
            raise ValueError("a bill's period lies between 2001-01-01 and 2099-12-31")
        return self


class BillCreate(BaseModel):
    """A supplier's bill as printed. Who entered it and when are not fields: the token and the server's clock."""

    model_config = ConfigDict(extra="forbid")
    kind: TariffKind
    supplier: Text = Field(min_length=1, max_length=120, examples=["国网某市供电公司"],
                           description="供电局、自来水公司、燃气公司: as on the bill")
    period: Period
    quantities: dict[Band, Quantity] = Field(
        min_length=1, max_length=12, examples=[{"total": "74420"}, {"peak": "20000", "flat": "30000",
                                                                    "valley": "24420"}],
        description="per band, named as in the incomer's tariff (sharp, peak, flat, valley, deep_valley, "
                    "flat_rate, tier_1 …), or {total: …}; with both, total is the bands' sum")
    amount: Money
    number: Text | None = Field(default=None, min_length=1, max_length=64, description="the bill's number")
    photo: Sha256 | None = Field(default=None, description="a photo of the bill, uploaded to /photos first")
    note: Lines = Field(default="", max_length=2000)
    replaces: int | None = Field(default=None, ge=1, le=2**62, description="the bill this one corrects: it is "
                                 "kept, marked replaced")

    @field_validator("supplier")
    @classmethod
    def _named(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("name the supplier (供电局、自来水公司、燃气公司)")
        return v.strip()

    @model_validator(mode="after")
    def _total(self) -> BillCreate:
        bands = {b: q for b, q in self.quantities.items() if b != "total"}
        if "total" in self.quantities and bands and sum(bands.values()) != self.quantities["total"]:
            raise ValueError(f"total {self.quantities['total']} is not the sum of the bands "
                             f"({sum(bands.values())}): give the bands, or the total only")
        return self


class PeriodPublic(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: date = Field(alias="from")
    to: date


class BillPublic(BaseModel):
    id: int
    site: str
    kind: TariffKind
    supplier: str
    period: PeriodPublic
    quantities: dict[str, Decimal]
    quantity: Decimal = Field(description="its total, else the sum of its bands")
    unit: str
    amount: Decimal
    number: str | None
    photo: str | None
    photo_url: str | None
    note: str
    recorded_by: str = Field(description="the token that entered it")
    recorded_at: datetime
    status: Literal["current", "replaced", "withdrawn"]
    replaces: int | None
    replaced_by: int | None
    withdrawn_by: str | None = None
    withdrawn_at: datetime | None = None
    withdrawn_reason: str | None = None
    reconciliation: Reconciliation | None = Field(default=None, description="the bill against the incomer and the "
                                                  "payers over its days")
    alert: int | None = Field(default=None, description="its open bill-gap alert (a current bill)")
