"""Provincial school energy quotas (能耗定额): the table the project ships (``reports/quotas.yaml``), and where a
site's year falls against one.

Rules, written plainly:
- A quota gives three figures in kgce per m² of floor area per year: 约束值 (restraint, the most a school may use),
  基准值 (baseline) and 引导值 (guide, what a good school achieves), guide ≤ baseline ≤ restraint.
- It declares the convention it counts by, and the site is converted to it before comparing: electricity at the
  calorific equivalent (当量值, the report's 0.1229) or at the equivalent value of power generation (等价值: the
  quota's own figure, else ``[report] equivalent_kgce_per_kwh`` for the year); natural gas at the quota's
  coefficient where it fixes one, else the report's; tap water in or out.
- The band: ≤ 引导值 → ``guide``; ≤ 基准值 → ``baseline``; ≤ 约束值 → ``restraint``; above → ``above``.
- No band ("—" and why) when the year is not over, its coverage is below ``[report] completeness_min``, the site
  has no floor area, or the convention needs an 等价值 that is not set for the year.
"""

from __future__ import annotations

import math
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from campus.errors import ConfigError
from campus.yamlfile import parse_yaml_model

Band = Literal["guide", "baseline", "restraint", "above"]
BAND_NAMES: dict[str, tuple[str, str]] = {
    "guide": ("≤ 引导值", "≤ guide value"), "baseline": ("≤ 基准值", "≤ baseline"),
    "restraint": ("≤ 约束值", "≤ restraint"), "above": ("超过约束值", "above the restraint")}
QuotaGap = Literal["unfinished", "incomplete", "no_floor_area", "no_equivalent_value"]
MAX_FILE_CHARS = 256 * 1024


class Quota(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    name: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1, max_length=500)
    province: str = Field(default="", max_length=40)
    school_type: Literal["higher", "primary_secondary", "primary", "secondary", "vocational", "kindergarten",
                         "other"]
    heating: Literal["excluded", "included", "district", "air", "gas"] = Field(
        description="excluded: a non-heating quota (非供暖能耗); else the heating the quota's figures include")
    electricity: Literal["calorific", "equivalent"]
    electricity_kgce_per_kwh: float | None = Field(default=None, gt=0, le=1, description="the 等价值 the "
                                                   "standard fixes (only with electricity = equivalent)")
    gas_kgce_per_m3: float | None = Field(default=None, gt=0, le=5)
    water: Literal["in", "out"]
    restraint: float = Field(gt=0, le=10_000)
    baseline: float = Field(gt=0, le=10_000)
    guide: float = Field(gt=0, le=10_000)
    verified: bool = Field(description="false: a figure could not be checked against the published text")
    note: str = Field(default="", max_length=1000)

    @field_validator("electricity_kgce_per_kwh", "gas_kgce_per_m3", "restraint", "baseline", "guide")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Quota:
        if not self.guide <= self.baseline <= self.restraint:
            raise ValueError(f"quota {self.id}: 引导值 {self.guide} ≤ 基准值 {self.baseline} ≤ 约束值 "
                             f"{self.restraint} must hold")
        if self.electricity == "calorific" and self.electricity_kgce_per_kwh is not None:
            raise ValueError(f"quota {self.id}: electricity_kgce_per_kwh is for electricity = equivalent (等价值); "
                             "calorific uses the report's 0.1229")
        return self


class QuotaTable(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quotas: list[Quota] = Field(max_length=1000)

    @model_validator(mode="after")
    def _unique(self) -> QuotaTable:
        ids = [q.id for q in self.quotas]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"quota ids listed twice: {', '.join(dup)}")
        return self


def parse_quotas(text: str, source: str = "quotas.yaml") -> QuotaTable:
    """The quota table in ``text``; a ConfigError naming the line and field when it is wrong."""
    if len(text) > MAX_FILE_CHARS:
        raise ConfigError(f"{source}: {len(text)} characters; a quota table is at most {MAX_FILE_CHARS}")
    return parse_yaml_model(text, QuotaTable, source)


@cache
def shipped() -> QuotaTable:
    return parse_quotas(resources.files("reports").joinpath("quotas.yaml").read_text(encoding="utf-8"),
                        "reports/quotas.yaml")


def band(value: float, q: Quota) -> Band:
    if value <= q.guide:
        return "guide"
    if value <= q.baseline:
        return "baseline"
    if value <= q.restraint:
        return "restraint"
    return "above"


class QuotaResult(BaseModel):
    """A year of a site against its quota, in the quota's convention."""

    quota: str
    name: str
    source: str
    verified: bool
    electricity: Literal["calorific", "equivalent"]
    electricity_kgce_per_kwh: float | None = Field(description="what electricity was counted at; null: not known")
    gas_kgce_per_m3: float
    water: Literal["in", "out"]
    heating: str
    restraint: float
    baseline: float
    guide: float
    energy_kgce: float | None = Field(description="the year's energy in the quota's convention; null: see gap")
    floor_area_m2: float
    kgce_per_m2: float | None
    band: Band | None = Field(description="guide (≤ 引导值), baseline (≤ 基准值), restraint (≤ 约束值), above; "
                                          "null: see gap")
    gap: QuotaGap | None = Field(default=None, description="why there is no band: unfinished (the year is not "
                                 "over), incomplete (coverage below completeness_min), no_floor_area, "
                                 "no_equivalent_value (no 等价值 for the year: set [report] equivalent_kgce_per_kwh)")
    coverage: float


def against(q: Quota, *, electricity_kwh: float, gas_m3: float, water_m3: float, floor_area_m2: float,
            coverage: float, over: bool, completeness_min: float, calorific: float, report_gas: float,
            water_kgce_per_t: float, equivalent: float | None) -> QuotaResult:
    """The year (its use by carrier) against ``q``; ``equivalent``: [report]'s 等价值 for the year, if set."""
    e_factor = calorific if q.electricity == "calorific" else (q.electricity_kgce_per_kwh or equivalent)
    gas = q.gas_kgce_per_m3 if q.gas_kgce_per_m3 is not None else report_gas
    energy = None if e_factor is None else (electricity_kwh * e_factor + gas_m3 * gas
                                            + (water_m3 * water_kgce_per_t if q.water == "in" else 0.0))
    per_m2 = energy / floor_area_m2 if energy is not None and floor_area_m2 > 0 else None
    gap: QuotaGap | None = None
    if not over:
        gap = "unfinished"
    elif coverage < completeness_min:
        gap = "incomplete"
    elif floor_area_m2 <= 0:
        gap = "no_floor_area"
    elif e_factor is None:
        gap = "no_equivalent_value"
    return QuotaResult(
        quota=q.id, name=q.name, source=q.source, verified=q.verified, electricity=q.electricity,
        electricity_kgce_per_kwh=e_factor, gas_kgce_per_m3=gas, water=q.water, heating=q.heating,
        restraint=q.restraint, baseline=q.baseline, guide=q.guide, energy_kgce=energy, floor_area_m2=floor_area_m2,
        kgce_per_m2=per_m2, band=band(per_m2, q) if gap is None and per_m2 is not None else None, gap=gap,
        coverage=coverage)
