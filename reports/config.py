"""Report settings: the conversion factors a report uses (versioned, with their sources), quotas, the PDF font.

The factors are the table in ``reports/factors.yaml`` (see reports/factors.py for the rules): a month uses the
versions valid in its year, the grid CO2 factor of the site's region where one is set. Natural gas's kgce and CO2
come from one heating value: the table's, or the supplier's from the gas bill (``gas_heating_value_kj_m3``).
Configuration adds versions (``[[report.factors]]``: a later year) and may override a tabled factor for every year
(``[report.coefficients.NAME]``, kept for older configs). Quotas: ``reports/quotas.yaml`` plus
``[[report.quotas]]``; ``quota`` (or ``[report.sites.SITE] quota``) names the one a site is held to.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reports import factors as fx
from reports import quotas as qx
from reports.factors import CoefficientUsed, Factor, FactorSet, Region


class Coefficient(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: float = Field(ge=0)
    unit: str
    source: str
    year: int


# TrueType fonts with both CJK and Latin glyphs (Droid Sans Fallback has no digits; Noto CJK is CFF, which
# reportlab cannot embed).
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",              # Debian fonts-wqy-microhei
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",                # Debian fonts-wqy-zenhei
)


class SiteReportSettings(BaseModel):
    """``[report.sites.SITE]``: what differs for one site."""

    model_config = ConfigDict(extra="forbid")
    region: Region | None = Field(default=None, description="its grid region (华北 north, 东北 northeast, 华东 "
                                  "east, 华中 central, 西北 northwest, 南方 south, 西南 southwest)")
    quota: str | None = Field(default=None, description="the quota (能耗定额) it is held to, by id")
    gas_heating_value_kj_m3: float | None = Field(default=None, gt=1000, le=100_000,
                                                  description="its gas supplier's low heating value, kJ/m³")


class ReportSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    coefficients: dict[str, Coefficient] = Field(default_factory=dict,
                                                 description="overrides of a tabled factor for every year, by name")
    factors: list[Factor] = Field(default_factory=list, max_length=1000,
                                  description="factor versions added to reports/factors.yaml (e.g. a later year)")
    region: Region | None = Field(default=None, description="the grid region for co2_electricity; none: national")
    gas_heating_value_kj_m3: float | None = Field(default=None, gt=1000, le=100_000, description="the gas "
                                                  "supplier's low heating value (kJ/m³, from the bill); none: the "
                                                  "table's (GB/T 2589)")
    gas_heating_value_source: str | None = Field(default=None, max_length=500)
    equivalent_kgce_per_kwh: dict[int, float] = Field(default_factory=dict, description="electricity's "
                                                      "equivalent value (等价值) by year, kgce/kWh, for quotas that "
                                                      "count by it without fixing a figure")
    quota: str | None = Field(default=None, description="the quota every site is held to, by id")
    quotas: list[qx.Quota] = Field(default_factory=list, max_length=1000,
                                   description="quotas added to reports/quotas.yaml")
    sites: dict[str, SiteReportSettings] = Field(default_factory=dict)
    water_in_energy: bool = Field(default=False, description="add tap water's kgce to the total energy "
                                                             "(the bureau's form reports water as use)")
    refresh_s: float = Field(default=60, ge=0, description="roll-ups brought up to date in the background this "
                                                           "often by serve and demo (0: only when asked)")
    completeness_min: float = Field(default=0.9, ge=0, le=1, description="a meter below this is flagged")
    pdf_font: Path | None = Field(default=None, description="a TrueType font with Chinese glyphs; default: the "
                                                            "first of the Debian fonts listed in reports/config.py")

    @field_validator("coefficients")
    @classmethod
    def _known(cls, value: dict[str, Coefficient]) -> dict[str, Coefficient]:
        for name in value:
            if name in fx.DERIVED:
                raise ValueError(f"{name} is derived from the gas heating value: set [report] "
                                 "gas_heating_value_kj_m3 (the supplier's, from the bill) instead")
            if name not in fx.TABLED:
                raise ValueError(f"unknown coefficient {name!r}: one of {', '.join(fx.TABLED)}")
        return value

    @field_validator("equivalent_kgce_per_kwh")
    @classmethod
    def _plausible(cls, value: dict[int, float]) -> dict[int, float]:
        for year, v in value.items():
            if not 1990 <= year <= 2100 or not 0.1 <= v <= 1.0:
                raise ValueError(f"equivalent_kgce_per_kwh {year} = {v}: a year 1990–2100 and about 0.3 kgce/kWh")
        return value

    @model_validator(mode="after")
    def _quotas_exist(self) -> ReportSettings:
        known = {q.id for q in self.all_quotas()}
        for where, q in [("quota", self.quota), *((f"sites.{s}.quota", c.quota) for s, c in self.sites.items())]:
            if q is not None and q not in known:
                raise ValueError(f"[report] {where} = {q!r}: no such quota (known: {', '.join(sorted(known))})")
        return self

    # -- factors ------------------------------------------------------------------------------------------------
    def region_of(self, site: str | None) -> str:
        own = self.sites.get(site or "")
        return (own.region if own and own.region else None) or self.region or "national"

    def factors_for(self, year: int, site: str | None = None) -> FactorSet:
        """The factors a month of ``year`` uses at ``site``."""
        table = fx.shipped()
        region = self.region_of(site)
        versions = fx.merge(table.factors, self.factors)
        used: list[CoefficientUsed] = []
        for name in fx.TABLED:
            if name in self.coefficients:
                c = self.coefficients[name]
                used.append(CoefficientUsed(name=name, value=c.value, unit=c.unit, source=c.source, year=c.year,
                                            version=f"{name}@config"))
                continue
            f = fx.pick(versions, name, year, region)
            used.append(CoefficientUsed(name=name, value=f.value, unit=f.unit, source=f.source, year=f.year,
                                        region=f.region if name == "co2_electricity" else None,
                                        version=f.version))
        own = self.sites.get(site or "")
        heating = (own.gas_heating_value_kj_m3 if own and own.gas_heating_value_kj_m3 else None) \
            or self.gas_heating_value_kj_m3
        used.extend(fx.gas_factors(table.natural_gas, heating, self.gas_heating_value_source, table.kgce_kj))
        order = {n: i for i, n in enumerate(fx.NAMES)}
        return FactorSet(year=year, region=region, used=tuple(sorted(used, key=lambda c: order[c.name])))

    # -- quotas -------------------------------------------------------------------------------------------------
    def all_quotas(self) -> list[qx.Quota]:
        by_id = {q.id: q for q in qx.shipped().quotas}
        by_id.update({q.id: q for q in self.quotas})
        return list(by_id.values())

    def quota_of(self, site: str | None) -> qx.Quota | None:
        own = self.sites.get(site or "")
        wanted = (own.quota if own and own.quota else None) or self.quota
        return next((q for q in self.all_quotas() if q.id == wanted), None) if wanted else None

    def equivalent_for(self, year: int) -> float | None:
        """The 等价值 set for ``year``, else the latest set before it; None when none is."""
        before = [y for y in self.equivalent_kgce_per_kwh if y <= year]
        return self.equivalent_kgce_per_kwh[max(before)] if before else None
