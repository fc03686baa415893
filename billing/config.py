"""[billing] and the billing file: tariffs, payers (cost centres), shared meters, the incomer, incentives.

The billing file is YAML beside the rules and the roster: ``tariffs:``, ``payers:`` and the rest for one site,
or ``sites: {SITE: {...}}`` for several. It is checked on load, and against the campus when a site's billing is
built: a payer naming a meter or building the campus does not have, a meter billed to two payers, or a tariff
of the wrong kind is refused with what to fix.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from billing.tariffs import Tariff, TariffKind, parse_tariffs
from campus.errors import ConfigError
from campus.yamlfile import load_yaml_model, parse_yaml_model

Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Amount = Annotated[Decimal, Field(ge=0, le=10_000_000, max_digits=16, decimal_places=6)]


class BillingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: Path | None = Field(default=None, description="tariffs, payers and incentives (YAML); without one there "
                              "are no costs: statements answer 404 saying so")
    bill_gap_ratio: float = Field(default=0.05, ge=0, le=1, description="a supplier's bill more than this far "
                                  "(a share of the bill's quantity) from the incomer or the payers' sum raises a data "
                                  "alert: a meter is wrong or something is unmetered")
    allowance_notice: list[Annotated[float, Field(gt=0, le=10, allow_inf_nan=False)]] = Field(
        default=[0.8, 1.0], max_length=10, description="shares of a dorm room's free allowance (定额) at which its "
        "representative is told")
    allowance_check_s: float = Field(default=600, ge=0, le=86_400, description="how often dorm rooms' use this "
                                     "month is checked against their allowance, and notices owed are sent (and "
                                     "retried); 0: never")


class PayerType(StrEnum):
    DEPARTMENT = "department"
    CANTEEN = "canteen"
    SHOP = "shop"
    HOUSING = "housing"
    DORM_ROOM = "dorm_room"
    OTHER = "other"


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=60)
    email: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)


class Payer(BaseModel):
    """A cost centre: it owns ``meters`` (and the main meters of ``buildings``) and pays by ``tariffs``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Ident
    name: str = Field(min_length=1, max_length=120)
    type: PayerType = PayerType.DEPARTMENT
    meters: list[Ident] = Field(default_factory=list, max_length=10_000)
    buildings: list[Ident] = Field(default_factory=list, max_length=1000)
    tariffs: dict[TariffKind, Ident] = Field(min_length=1)
    allowance: dict[TariffKind, Annotated[Decimal, Field(gt=0, le=1_000_000, decimal_places=3)]] = Field(
        default_factory=dict, description="monthly free use (定额), kWh or m³: only use above it is charged")
    contact: Contact | None = Field(default=None, description="who is told (the room's representative)")
    floor_area_m2: float | None = Field(default=None, ge=0, allow_inf_nan=False, description="for sharing by area; "
                                        "default: its buildings' floor area")
    occupants: int | None = Field(default=None, ge=0, description="for sharing by occupants; default: its "
                                  "buildings' occupants")


class ShareBy(StrEnum):
    RATIO = "ratio"
    AREA = "area"
    OCCUPANTS = "occupants"


class Shared(BaseModel):
    """A meter shared by several payers: by given ratios, or by their floor area or occupants."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    meter: Ident
    by: ShareBy
    payers: dict[Ident, Annotated[float, Field(ge=0, allow_inf_nan=False)]] | list[Ident] = Field(
        min_length=2, description="ratio: {payer: weight}; area or occupants: the payers (or {payer: figure} to "
        "override their buildings' m² or people)")

    def weights(self, default: dict[str, float]) -> dict[str, float]:
        if isinstance(self.payers, list):
            return {p: default.get(p, 0.0) for p in self.payers}
        return dict(self.payers)


class Remainder(StrEnum):
    KEEP = "keep"                # the school keeps losses and unmetered public use
    BY_USE = "by_use"
    BY_AREA = "by_area"
    BY_OCCUPANTS = "by_occupants"


class Incomer(BaseModel):
    """What the school pays the utility for a kind: its supply meter and the utility's tariff."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    meter: Ident
    tariff: Ident
    remainder: Remainder = Remainder.KEEP


class Incentive(BaseModel):
    """奖罚: a reward per unit saved below the target, a penalty per unit above, outside a dead band, capped."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    payer: Ident | None = None
    building: Ident | None = None
    kind: TariffKind
    target: Annotated[Decimal, Field(gt=0)] | None = Field(default=None, description="monthly, kWh or m³; "
                                                           "default: the building's target in the campus file")
    reward_per_unit: Amount = Decimal(0)
    penalty_per_unit: Amount = Decimal(0)
    dead_band: float = Field(default=0.0, ge=0, le=1, description="a share of the target within which nothing "
                             "is paid either way")
    reward_cap: Amount | None = None
    penalty_cap: Amount | None = None

    @model_validator(mode="after")
    def _one(self) -> Incentive:
        if (self.payer is None) == (self.building is None):
            raise ValueError("an incentive is for one payer or one building: give payer or building")
        return self


class FuelTarget(BaseModel):
    """The canteen fuel account's target: 元 per meal, per canteen payer."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    payer: Ident
    cost_per_meal: Amount


class SiteBilling(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tariffs: list[dict[str, Any]] = Field(default_factory=list, max_length=500)
    payers: list[Payer] = Field(default_factory=list, max_length=20_000)
    shared: list[Shared] = Field(default_factory=list, max_length=10_000)
    incomer: dict[TariffKind, Incomer] = Field(default_factory=dict)
    incentives: list[Incentive] = Field(default_factory=list, max_length=10_000)
    fuel_targets: list[FuelTarget] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _consistent(self) -> SiteBilling:
        _check(self)
        return self

    def tariff_map(self) -> dict[str, Tariff]:
        return parse_tariffs(self.tariffs)


def _check(site: SiteBilling | BillingFile) -> None:
    """One site's billing is consistent: tariffs valid, payers, shared meters, incomer, incentives named right."""
    try:
        tariffs = parse_tariffs(site.tariffs)
    except ValueError as exc:
        raise ValueError(f"tariffs: {exc}") from None
    ids: set[str] = set()
    owner: dict[str, str] = {}
    for p in site.payers:
        if p.id in ids:
            raise ValueError(f"payer {p.id} is given twice")
        ids.add(p.id)
        for kind, tid in p.tariffs.items():
            _tariff_of(tariffs, tid, kind, f"payer {p.id}")
        for m in p.meters:
            if m in owner:
                raise ValueError(f"meter {m} is billed to both {owner[m]} and {p.id}: a meter has one payer, or "
                                 "list it under shared: with how it is split")
            owner[m] = p.id
    for s in site.shared:
        if s.meter in owner:
            raise ValueError(f"meter {s.meter} is shared and also billed to {owner[s.meter]}: take it out of "
                             "that payer's meters")
        owner[s.meter] = "shared"
        for pid in (s.payers if isinstance(s.payers, list) else list(s.payers)):
            if pid not in ids:
                raise ValueError(f"shared meter {s.meter} names payer {pid}, which is not in payers:")
    for kind, inc in site.incomer.items():
        _tariff_of(tariffs, inc.tariff, kind, f"incomer {kind.value}")
    for i in site.incentives:
        if i.payer is not None and i.payer not in ids:
            raise ValueError(f"an incentive names payer {i.payer}, which is not in payers:")
    for f in site.fuel_targets:
        if f.payer not in ids:
            raise ValueError(f"a fuel target names payer {f.payer}, which is not in payers:")


def _tariff_of(tariffs: dict[str, Tariff], tid: str, kind: TariffKind, who: str) -> Tariff:
    t = tariffs.get(tid)
    if t is None:
        raise ValueError(f"{who} names tariff {tid}, which is not in tariffs: (known: {', '.join(sorted(tariffs))})")
    if t.kind is not kind:
        raise ValueError(f"{who}: tariff {tid} is for {t.kind.value}, not {kind.value}")
    return t


class BillingFile(BaseModel):
    """One site's billing at the top level, or ``sites: {SITE: ...}``."""

    model_config = ConfigDict(extra="forbid")
    sites: dict[Ident, SiteBilling] | None = None
    tariffs: list[dict[str, Any]] = Field(default_factory=list, max_length=500)
    payers: list[Payer] = Field(default_factory=list, max_length=20_000)
    shared: list[Shared] = Field(default_factory=list, max_length=10_000)
    incomer: dict[TariffKind, Incomer] = Field(default_factory=dict)
    incentives: list[Incentive] = Field(default_factory=list, max_length=10_000)
    fuel_targets: list[FuelTarget] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="before")
    @classmethod
    def _one_form(cls, data: Any) -> Any:
        if isinstance(data, dict) and "sites" in data and len(data) > 1:
            raise ValueError("give either sites: {SITE: {tariffs, payers, ...}} or one site's tariffs and payers "
                             "at the top level, not both")
        return data

    @model_validator(mode="after")
    def _consistent(self) -> BillingFile:
        if self.sites is None:  # checked here, so a mistake is a ConfigError with its line like any other
            _check(self)
        return self

    def for_sites(self) -> dict[str | None, SiteBilling]:
        if self.sites is not None:
            out: dict[str | None, SiteBilling] = {}
            out.update(self.sites)
            return out
        return {None: SiteBilling.model_construct(**{k: getattr(self, k) for k in SiteBilling.model_fields})}


def load_billing(path: Path) -> dict[str | None, SiteBilling]:
    """The billing file: site → its billing (key None: the one site's, for every site)."""
    return load_yaml_model(path, BillingFile, "billing file").for_sites()


def parse_billing(text: str, source: str = "billing file") -> dict[str | None, SiteBilling]:
    return parse_yaml_model(text, BillingFile, source).for_sites()


def billing_for(files: dict[str | None, SiteBilling], site: str) -> SiteBilling:
    found = files.get(site, files.get(None))
    if found is None:
        raise ConfigError(f"the billing file has no site {site!r} (it has {', '.join(str(s) for s in files)})")
    return found
