"""Report settings: every conversion coefficient with its source and year, and the PDF font.

Defaults (see ``../shared/DOMAIN.md``):
- standard coal, GB/T 2589-2020 (in force 2021-04-01), calorific equivalent (当量值):
  electricity 0.1229 kgce/kWh, natural gas 1.2143 kgce/m³; tap water 0.0857 kgce/t (common practice).
- CO2: national grid average 0.5306 kgCO2/kWh for 2023 (Ministry of Ecology and Environment with the
  National Bureau of Statistics); natural gas 2.1622 kgCO2/m³.
Override any of them in ``[report.coefficients.NAME]`` (e.g. a regional grid factor).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class Coefficient(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: float = Field(ge=0)
    unit: str
    source: str
    year: int


DEFAULT_COEFFICIENTS: dict[str, Coefficient] = {
    "coal_electricity": Coefficient(value=0.1229, unit="kgce/kWh", year=2020,
                                    source="GB/T 2589-2020 综合能耗计算通则, 电力当量值"),
    "coal_gas": Coefficient(value=1.2143, unit="kgce/m³", year=2020,
                            source="GB/T 2589-2020 综合能耗计算通则, 天然气(气田)"),
    "coal_water": Coefficient(value=0.0857, unit="kgce/t", year=2020,
                              source="自来水折标煤常用系数 (tap water, common practice)"),
    "co2_electricity": Coefficient(value=0.5306, unit="kgCO2/kWh", year=2023,
                                   source="生态环境部、国家统计局 2023年全国电力平均二氧化碳排放因子"),
    "co2_gas": Coefficient(value=2.1622, unit="kgCO2/m³", year=2023,
                           source="天然气二氧化碳排放系数 (natural gas combustion)"),
}

# TrueType fonts with both CJK and Latin glyphs (Droid Sans Fallback has no digits; Noto CJK is CFF, which
# reportlab cannot embed).
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",              # Debian fonts-wqy-microhei
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",                # Debian fonts-wqy-zenhei
)


class ReportSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    coefficients: dict[str, Coefficient] = Field(default_factory=dict,
                                                 description="overrides of the defaults, by name")
    water_in_energy: bool = Field(default=False, description="add tap water's kgce to the total energy "
                                                             "(the bureau's form reports water as use)")
    refresh_s: float = Field(default=60, ge=0, description="roll-ups brought up to date in the background this "
                                                           "often by serve and demo (0: only when asked)")
    completeness_min: float = Field(default=0.9, ge=0, le=1, description="a meter below this is flagged")
    pdf_font: Path | None = Field(default=None, description="a TrueType font with Chinese glyphs; default: the "
                                                            "first of the Debian fonts listed in reports/config.py")

    def coefficient(self, name: str) -> Coefficient:
        return self.coefficients.get(name) or DEFAULT_COEFFICIENTS[name]

    def all_coefficients(self) -> dict[str, Coefficient]:
        return {name: self.coefficient(name) for name in DEFAULT_COEFFICIENTS}
