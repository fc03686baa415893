"""The annual public-institution return (公共机构能源资源消费统计): the form's rows, the values entered by hand, and
the ``[returns]`` settings.

What the form is, and where each part comes from (README, "The annual return"):

- Two base tables (基层表), filled once a year by each institution for the year before, under the 国家机关事务管理局's
  statistical system (《公共机构能源资源消费统计调查制度》, last revised 2025-11, approved by the National Bureau of
  Statistics): the institution's basic information (基本信息) and its energy and resource consumption (能源资源消费
  状况), each energy with its quantity and what it cost (元).
- Table 1's items 101 单位性质 (the classification code: 021 教育事业 for a school), 102 建筑面积 and
  103 用能人数 and their definitions are those of the published 2010 form; the vehicle counts by fuel
  (汽油车, 柴油车, 新能源汽车) follow the 2015 revision (which replaced 公务用车 by 新能源汽车数量); their item
  codes were not found and are left blank.
- Table 2's rows and their codes: 170 汽油, 180 柴油, 190 煤油, 200 热力, 210 其他能源 (in 吨标准煤) are those seen
  in the published 2010 form; the codes 110-160 of the rows before them, and their order, follow the same numbering and
  are assumed. Units: the 2010 text gives 升 for the oils and 吨标煤 for "other"; the electricity unit is a setting
  (``electricity_unit``: 万kWh by default, or kWh), and heat is in GJ (assumed).
- The deadline: the 公共机构节能条例 (article 15) has each institution report the year before by 31 March.

Rows are data (:data:`ROWS`), not scattered literals: a province's variant is a change here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from campus.contract import Kind

FieldKind = Literal["int", "decimal", "money", "code", "credit_code"]


@dataclass(frozen=True, slots=True)
class Row:
    """One row of table 2: an energy or resource, its unit, where its quantity and its cost come from."""

    key: str
    code: str
    zh: str
    en: str
    unit_zh: str
    unit_en: str
    metered: Kind | None        # its quantity comes from the meters' roll-ups; None: entered (``key``_qty)
    places: int                 # the quantity's decimals on the form
    kgce: str | None            # the factor (name in :data:`FACTORS`) that turns its quantity into kgce; None: none


ROWS: tuple[Row, ...] = (
    Row("electricity", "110", "电", "Electricity", "千瓦时", "kWh", Kind.ELECTRICITY, 2, "electricity"),
    Row("water", "120", "水", "Water", "吨", "t", Kind.WATER, 2, None),
    Row("coal", "130", "煤炭", "Coal", "吨", "t", None, 3, "coal"),
    Row("gas", "140", "天然气", "Natural gas", "立方米", "m³", Kind.GAS, 2, "gas"),
    Row("lpg", "150", "液化石油气", "LPG", "千克", "kg", None, 2, "lpg"),
    Row("town_gas", "160", "人工煤气", "Manufactured gas", "立方米", "m³", None, 2, "town_gas"),
    Row("petrol", "170", "汽油", "Petrol", "升", "L", None, 2, "petrol"),
    Row("diesel", "180", "柴油", "Diesel", "升", "L", None, 2, "diesel"),
    Row("kerosene", "190", "煤油", "Kerosene", "升", "L", None, 2, "kerosene"),
    Row("heat", "200", "热力", "Heat", "吉焦", "GJ", None, 3, "heat"),
    Row("other", "210", "其他能源", "Other energy", "吨标准煤", "tce", None, 3, "other"),
)
ROW = {r.key: r for r in ROWS}

# kgce per form unit (not water). Electricity and natural gas: the report's own coefficients ([report.coefficients],
# so the return and the monthly report agree); the others GB/T 2589-2020's (kgce per kg) times an assumed density.
FACTORS: dict[str, tuple[float, str]] = {
    "coal": (714.3, "GB/T 2589-2020 原煤 0.7143 kgce/kg × 1000 kg/t"),
    "lpg": (1.7143, "GB/T 2589-2020 液化石油气 1.7143 kgce/kg"),
    "town_gas": (0.5714, "GB/T 2589-2020 焦炉煤气 0.5714 kgce/m³ (人工煤气 assumed as coke-oven gas)"),
    "petrol": (1.0741, "GB/T 2589-2020 汽油 1.4714 kgce/kg × 0.73 kg/L (density assumed)"),
    "diesel": (1.2531, "GB/T 2589-2020 柴油 1.4571 kgce/kg × 0.86 kg/L (density assumed)"),
    "kerosene": (1.1771, "GB/T 2589-2020 煤油 1.4714 kgce/kg × 0.80 kg/L (density assumed)"),
    "heat": (34.12, "GB/T 2589-2020 热力 0.03412 kgce/MJ × 1000 MJ/GJ"),
    "other": (1000.0, "entered in tce: 1000 kgce/t"),
}


@dataclass(frozen=True, slots=True)
class Entry:
    """A value that may be entered by hand: its kind and bounds."""

    key: str
    kind: FieldKind
    zh: str
    en: str
    max: Decimal = Decimal("1e12")


VEHICLES: tuple[tuple[str, str, str], ...] = (
    ("vehicles_petrol", "汽油车", "petrol vehicles"), ("vehicles_diesel", "柴油车", "diesel vehicles"),
    ("vehicles_new_energy", "新能源汽车", "new-energy vehicles"), ("vehicles_other", "其他车辆", "other vehicles"))

ENTRIES: dict[str, Entry] = {e.key: e for e in (
    Entry("credit_code", "credit_code", "统一社会信用代码", "unified social credit code"),
    Entry("unit_nature", "code", "单位性质", "institution type code"),
    Entry("floor_area_m2", "decimal", "建筑面积", "floor area", Decimal("1e8")),
    Entry("energy_users", "int", "用能人数", "energy users", Decimal("1e7")),
    *(Entry(k, "int", zh, en, Decimal("1e5")) for k, zh, en in VEHICLES),
    *(Entry(f"{r.key}_qty", "decimal", f"{r.zh}消费量", f"{r.en.lower()} quantity") for r in ROWS if r.metered is None),
    *(Entry(f"{r.key}_yuan", "money", f"{r.zh}费用", f"{r.en.lower()} cost") for r in ROWS),
)}

CREDIT_CODE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}")  # GB 32100-2015's 18 characters
NATURE_CODE = re.compile(r"0[1-3][0-9]?")  # 01 国家机关, 02 事业单位 (021 教育事业 …), 03 社会团体


def check_value(key: str, raw: object) -> str | None:
    """The entered value as stored (a canonical string; None clears it), or ValueError saying what to fix."""
    entry = ENTRIES.get(key)
    if entry is None:
        raise ValueError(f"unknown field {key!r}: use one of {', '.join(ENTRIES)}")
    if raw is None:
        return None
    if entry.kind in ("code", "credit_code"):
        if not isinstance(raw, str):
            raise ValueError(f"{key}: give text, e.g. {'021' if entry.kind == 'code' else '12330100MB0000000X'}")
        text = raw.strip().upper()
        if entry.kind == "code" and not NATURE_CODE.fullmatch(text):
            raise ValueError(f"{key}: {raw[:40]!r} is not a classification code: 01 国家机关, 02 事业单位 "
                             "(021 教育事业, 022 科技, 023 文化, 024 卫生, 025 体育, 026 其他), 03 社会团体")
        if entry.kind == "credit_code" and not CREDIT_CODE.fullmatch(text):
            raise ValueError(f"{key}: {raw[:40]!r} is not a unified social credit code: 18 characters, digits and "
                             "capital letters except I, O, Z, S, V (GB 32100-2015)")
        return text
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError(f"{key}: give a number")
    try:
        value = Decimal(str(raw).strip())
    except ArithmeticError:
        raise ValueError(f"{key}: {str(raw)[:40]!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{key}: give a finite number")
    if value < 0:
        raise ValueError(f"{key}: {value} is negative: a quantity, count or cost is 0 or more")
    if value > entry.max:
        raise ValueError(f"{key}: {value} is more than {entry.max:,}: check the unit ({entry.zh})")
    exponent = value.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if entry.kind == "int":
        if value != value.to_integral_value():
            raise ValueError(f"{key}: {value} is not a whole number ({entry.zh} counts)")
        return str(int(value))
    if entry.kind == "money" and places > 2:
        raise ValueError(f"{key}: {value} has {places} decimals: give 元 to the fen (2 decimals)")
    if entry.kind == "money":
        return format(value.quantize(Decimal("0.01")), "f")
    if places > 6:
        raise ValueError(f"{key}: {value} has {places} decimals: 6 at most")
    return format(value.normalize() if places else value.quantize(Decimal(1)), "f")


class ReturnSettings(BaseModel):
    """``[returns]``: the annual return's deadline, its reminder, its units and the fuels' factors."""

    model_config = ConfigDict(extra="forbid")
    deadline: str = Field(default="03-31", description="MM-DD of the year after the one reported (公共机构节能条例 "
                          "art. 15: by 31 March)")
    remind_days_before: int = Field(default=30, ge=0, le=300, description="the reminder goes this many days before "
                                    "the deadline (local midnight); 0: on the day")
    check_s: float = Field(default=3600, ge=0, description="how often the reminder is looked for (0: never)")
    remind: list[str] = Field(default_factory=list, description="person ids on the duty roster to remind; default: "
                              "the roster's bulletin: heads")
    electricity_unit: Literal["万kWh", "kWh"] = Field(default="万kWh", description="electricity's unit on the form")
    unit_nature: str = Field(default="021", description="单位性质 when none is entered: 021 教育事业")
    factors: dict[str, float] = Field(default_factory=dict, description="kgce per form unit, overriding FACTORS "
                                      "(coal, lpg, town_gas, petrol, diesel, kerosene, heat, other)")

    @field_validator("deadline")
    @classmethod
    def _deadline(cls, value: str) -> str:
        m = re.fullmatch(r"(\d{2})-(\d{2})", value)
        if m is None or not (1 <= int(m[1]) <= 12 and 1 <= int(m[2]) <= (29 if m[1] == "02" else 31)
                             and (m[1], m[2]) not in {("04", "31"), ("06", "31"), ("09", "31"), ("11", "31")}):
            raise ValueError(f"{value!r}: write the deadline as MM-DD, e.g. 03-31")
        return value

    @field_validator("factors")
    @classmethod
    def _factors(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [k for k in value if k not in FACTORS]
        if bad:
            raise ValueError(f"unknown factor {bad[0]!r}: use {', '.join(FACTORS)}")
        if any(v < 0 for v in value.values()):
            raise ValueError("a factor is 0 or more (kgce per form unit)")
        return value

    def factor(self, name: str) -> float:
        return self.factors.get(name, FACTORS[name][0])
