"""The canteens' fuel as the API takes and shows it: deliveries and meals entered by hand (``billing.fuel``); the
account itself is ``billing.fuel_account.FuelAccount``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from billing.fuel import Fuel, Unit

Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="the canteen's payer id")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Sha = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="an upload's SHA-256 (POST /api/v1/photos)")]


class DeliveryIn(BaseModel):
    """A delivery of bottled LPG (液化石油气), diesel (柴油), coal (煤) or another fuel, from its receipt."""

    model_config = ConfigDict(extra="forbid")
    payer: Ident
    day: dt.date = Field(description="the day delivered (the site's date); its month bears the cost")
    fuel: Fuel = Field(description="lpg, diesel, coal or other")
    fuel_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=60)] | None = Field(
        default=None, description="for fuel other: what it is (醇基燃料, 木炭)")
    quantity: Annotated[Decimal, Field(gt=0, le=1_000_000, max_digits=13, decimal_places=3)] = Field(
        description="in unit")
    unit: Unit = Field(description="lpg: kg, t, bottle; diesel: L, kg, t; coal: kg, t; other: kg, t, L, m3, bottle")
    kg_per_bottle: Annotated[Decimal, Field(gt=0, le=1000, max_digits=7, decimal_places=3)] | None = Field(
        default=None, description="unit bottle (瓶) only: the kg in one bottle")
    unit_price: Annotated[Decimal, Field(ge=0, le=1_000_000, max_digits=14, decimal_places=4)] = Field(
        description="元 per unit (per bottle, per kg, per L, per t), as on the receipt")
    supplier: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    photo: Sha | None = Field(default=None, description="the receipt photo, uploaded first for the same site")
    note: Text = ""
    replaces: Annotated[int, Field(ge=1, le=2**62)] | None = Field(
        default=None, description="the delivery this corrects: it is kept, shown as replaced, and no longer counted")


class DeliveryPublic(BaseModel):
    id: int
    site: str
    payer: str
    payer_name: str
    day: dt.date
    month: str = Field(description="the month that bears its cost")
    fuel: Fuel
    fuel_name: str
    quantity: Decimal
    unit: Unit
    kg_per_bottle: Decimal | None
    unit_price: Decimal
    amount: Decimal = Field(description="元: quantity × unit price, half up to the fen")
    counted_unit: str = Field(description="kg, L or m³: the unit the account adds it in")
    counted_quantity: Decimal
    supplier: str
    photo: str | None
    photo_url: str | None
    note: str
    entered_by: str = Field(description="the token's name")
    entered_at: dt.datetime = Field(description="the server's clock")
    replaces: int | None
    replaced_by: int | None = Field(description="the correction that replaced it (then it is not counted)")


class MealsIn(BaseModel):
    """Meals served by a canteen on a day, or in a month. Day figures win over a month figure: a month that has
    day figures counts their sum, and a month figure for it is refused (409)."""

    model_config = ConfigDict(extra="forbid")
    payer: Ident
    day: dt.date | None = Field(default=None, description="a day's meals (give day or month)")
    month: Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] | None = Field(
        default=None, description="YYYY-MM: a month's meals, when they are not counted by day")
    meals: Annotated[int, Field(ge=0, le=10_000_000)]
    note: Text = ""

    @model_validator(mode="after")
    def _one(self) -> MealsIn:
        if (self.day is None) == (self.month is None):
            raise ValueError("give day (YYYY-MM-DD) or month (YYYY-MM), one of them")
        if self.day is not None and self.meals > 1_000_000:
            raise ValueError(f"{self.meals} meals in one day: at most 1000000 (is it a month's figure? send month)")
        return self

    @property
    def period(self) -> str:
        return self.day.isoformat() if self.day is not None else str(self.month)


class MealsPublic(BaseModel):
    id: int
    site: str
    payer: str
    payer_name: str
    period: str = Field(description="YYYY-MM-DD (a day) or YYYY-MM (a month)")
    meals: int
    note: str
    entered_by: str
    entered_at: dt.datetime
    replaces: int | None
    replaced_by: int | None
    counted: bool = Field(description="counted in its month (a month figure is not when the month has day figures)")
