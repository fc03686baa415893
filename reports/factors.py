"""Conversion factors with a validity: the table the project ships (``reports/factors.yaml``) and the set a report
uses for its month.

Rules, written plainly:
- Every factor version has a name, a value, a unit, the year from which it applies, a region (the grid CO2 factor;
  ``national`` for the rest) and its source.
- A report for a month of year Y uses, for each name, the version of the latest year ≤ Y (a month older than every
  version uses the oldest). With a region set, the region's version is used where one exists for a year ≤ Y,
  else the national one.
- Natural gas is derived, not tabled: from one low heating value H (kJ/m³; the supplier's from the bill where set)
  ``coal_gas = H ÷ 29307.6`` kgce/m³ and ``co2_gas = H ÷ 10⁶ × 15.3 × 0.99 × 44/12`` kgCO2/m³, so the two always
  describe the same gas (CO2 ÷ kgce = 1.6277 whatever H is).
- A version added by configuration (``[[report.factors]]``) joins the table; one with the same name, year and
  region replaces the shipped one. Nothing a filed report used is rewritten: it keeps its bytes, and its JSON
  names each version (``co2_electricity@2023/east``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from campus.errors import ConfigError
from campus.yamlfile import parse_yaml_model

Region = Literal["national", "north", "northeast", "east", "central", "northwest", "south", "southwest"]
REGION_NAMES: dict[str, tuple[str, str]] = {
    "national": ("全国", "national"), "north": ("华北", "North"), "northeast": ("东北", "North-east"),
    "east": ("华东", "East"), "central": ("华中", "Central"), "northwest": ("西北", "North-west"),
    "south": ("南方", "South"), "southwest": ("西南", "South-west")}
TABLED = ("coal_electricity", "coal_water", "co2_electricity")   # names the file must give (national)
DERIVED = ("coal_gas", "co2_gas")                                # from the heating value, never tabled
NAMES = ("coal_electricity", "coal_gas", "coal_water", "co2_electricity", "co2_gas")
KGCE_KJ = 29307.6          # 1 kgce = 7000 kcal × 4.1868 kJ/kcal
MAX_FILE_CHARS = 256 * 1024


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


class Factor(BaseModel):
    """One version of a factor: valid from ``year`` (in ``region``) until a later version."""

    model_config = ConfigDict(extra="forbid")
    name: Literal["coal_electricity", "coal_water", "co2_electricity"]
    value: float = Field(ge=0, le=100)
    unit: str = Field(min_length=1, max_length=40)
    year: int = Field(ge=1990, le=2100, description="valid from 1 January of this year")
    region: Region = "national"
    source: str = Field(min_length=1, max_length=1000)

    _finite_value = field_validator("value")(_finite)

    @model_validator(mode="after")
    def _region_only_for_the_grid(self) -> Factor:
        if self.region != "national" and self.name != "co2_electricity":
            raise ValueError(f"{self.name} has no regional versions: leave region out (only co2_electricity, the "
                             "grid factor, is regional)")
        return self

    @property
    def version(self) -> str:
        return f"{self.name}@{self.year}" + ("" if self.region == "national" else f"/{self.region}")


class GasBasis(BaseModel):
    """Natural gas: one low heating value and the carbon it carries."""

    model_config = ConfigDict(extra="forbid")
    heating_value_kj_m3: float = Field(gt=1000, le=100_000)
    heating_value_source: str = Field(min_length=1, max_length=2000)
    carbon_kgc_per_gj: float = Field(gt=0, le=100)
    oxidation: float = Field(gt=0, le=1)
    carbon_source: str = Field(min_length=1, max_length=2000)
    derivation: str = Field(min_length=1, max_length=2000)

    _finite_values = field_validator("heating_value_kj_m3", "carbon_kgc_per_gj", "oxidation")(_finite)


class FactorTable(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kgce_kj: float = Field(gt=0)
    natural_gas: GasBasis
    factors: list[Factor] = Field(min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _complete_and_unique(self) -> FactorTable:
        seen: set[str] = set()
        for f in self.factors:
            if f.version in seen:
                raise ValueError(f"{f.version} is listed twice: keep one version per name, year and region")
            seen.add(f.version)
        for name in TABLED:
            if not any(f.name == name and f.region == "national" for f in self.factors):
                raise ValueError(f"no national version of {name}: the table needs one to fall back to")
        return self


def parse_factors(text: str, source: str = "factors.yaml") -> FactorTable:
    """The factor table in ``text``; a ConfigError naming the line and field when it is wrong."""
    if len(text) > MAX_FILE_CHARS:
        raise ConfigError(f"{source}: {len(text)} characters; a factor table is at most {MAX_FILE_CHARS}")
    return parse_yaml_model(text, FactorTable, source)


@cache
def shipped() -> FactorTable:
    """The table the project ships, read once."""
    return parse_factors(resources.files("reports").joinpath("factors.yaml").read_text(encoding="utf-8"),
                         "reports/factors.yaml")


class CoefficientUsed(BaseModel):
    """A factor as a report used it (kept in its JSON: what a filed month was computed with)."""

    name: str
    value: float
    unit: str
    source: str
    year: int | None = Field(description="valid from this year; null: derived, not of a year (natural gas)")
    region: str | None = Field(default=None, description="the grid region of co2_electricity; null: not regional")
    version: str | None = Field(default=None, description="name@year[/region], or name@config for an override")
    derivation: str | None = Field(default=None, description="how a derived factor (natural gas) was reached")


@dataclass(frozen=True)
class FactorSet:
    """The factors valid for one year (and region): what a month's report multiplies by."""

    year: int
    region: str
    used: tuple[CoefficientUsed, ...]

    def value(self, name: str) -> float:
        return self.get(name).value

    def get(self, name: str) -> CoefficientUsed:
        for c in self.used:
            if c.name == name:
                return c
        raise KeyError(f"no factor {name!r} (known: {', '.join(c.name for c in self.used)})")


def pick(versions: Iterable[Factor], name: str, year: int, region: str) -> Factor:
    """The version of ``name`` valid in ``year`` for ``region`` (see the module's rules)."""
    of_name = [f for f in versions if f.name == name]
    for wanted in ((region, "national") if region != "national" else ("national",)):
        here = sorted((f for f in of_name if f.region == wanted), key=lambda f: f.year)
        before = [f for f in here if f.year <= year]
        if before:
            return before[-1]
    national = sorted((f for f in of_name if f.region == "national"), key=lambda f: f.year)
    if not national:
        raise KeyError(f"no national version of {name}")
    return national[0]  # older than every version: the oldest


def merge(table: Sequence[Factor], added: Sequence[Factor]) -> list[Factor]:
    """The shipped versions with the configured ones added (a configured one replaces the same version)."""
    by_version = {f.version: f for f in table}
    for f in added:
        by_version[f.version] = f
    return list(by_version.values())


def gas_factors(gas: GasBasis, heating_value_kj_m3: float | None = None, heating_source: str | None = None,
                kgce_kj: float = KGCE_KJ) -> tuple[CoefficientUsed, CoefficientUsed]:
    """coal_gas and co2_gas from one heating value (the supplier's if given, else the table's)."""
    h = heating_value_kj_m3 if heating_value_kj_m3 is not None else gas.heating_value_kj_m3
    where = heating_source or ("the supplier's heating value ([report] gas_heating_value_kj_m3)"
                               if heating_value_kj_m3 is not None else gas.heating_value_source)
    coal = h / kgce_kj
    co2 = h / 1e6 * gas.carbon_kgc_per_gj * gas.oxidation * 44 / 12
    how_coal = f"{h:g} kJ/m³ ÷ {kgce_kj:g} kJ/kgce"
    how_co2 = f"{h:g} kJ/m³ ÷ 10⁶ × {gas.carbon_kgc_per_gj:g} kgC/GJ × {gas.oxidation:g} × 44/12"
    version = f"@{h:g}kJ"
    return (CoefficientUsed(name="coal_gas", value=coal, unit="kgce/m³", year=None, source=where,
                            version="coal_gas" + version, derivation=how_coal),
            CoefficientUsed(name="co2_gas", value=co2, unit="kgCO2/m³", year=None, source=f"{where}; "
                            f"{gas.carbon_source}", version="co2_gas" + version, derivation=how_co2))
