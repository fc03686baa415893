"""The annual return of one site for one calendar year: the form's two tables filled in (``reports.return_form``).

Where each figure comes from (rules, written plainly):

1. **Metered quantities** (electricity, water, natural gas) are the year's use of the site's main meters, from the
   daily roll-ups exactly as the year summary adds them up (``reports.summaries``: sub-meters and the incomer are
   not counted twice), rounded half up to the form's decimals (electricity in 万kWh to 0.0001 = 1 kWh).
2. **Entered quantities** (coal, LPG, manufactured gas, petrol, diesel, kerosene, heat, other) are what the office
   entered; a row nobody entered is blank, not 0.
3. **Costs**: what the caller found priced by billing (``billed``: the app adds the billing file's months up) wins;
   else the entered cost; else blank, listed in ``to_fix`` when the row has a quantity.
4. **Floor area** (102) and **energy users** (103): entered, else the campus file's buildings added up (the monthly
   report's site row: every building's ``floor_area_m2`` and ``occupants``), marked ``campus``.
5. **Total energy** (综合能耗) in kgce: each row's shown quantity × its factor: electricity and natural gas at the
   report's coefficients (``[report.coefficients]``), the others at ``[returns] factors`` (GB/T 2589-2020); water is
   not energy. The indicators: kgce per m², kgce per energy user, water t per energy user (None: divided by 0).
6. ``to_fix`` lists what must be entered or checked before filing, in zh-CN and English.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel, Field

from campus.contract import Kind
from campus.model import Campus
from reports.config import ReportSettings
from reports.return_form import ENTRIES, ROWS, VEHICLES, ReturnSettings, Row

Source = Literal["meters", "entered", "billing", "campus", "setting"]
REPORT_FACTORS = {"electricity": "coal_electricity", "gas": "coal_gas"}


class Entered(BaseModel):
    """A value entered by hand: the canonical text (None: cleared), who entered it and when (ms)."""

    value: str | None
    by: str
    at_ms: int
    note: str = ""


class Line(BaseModel):
    """One row of table 2 (能源资源消费状况)."""

    key: str
    code: str
    item: str
    unit: str
    quantity: Decimal | None = Field(description="in ``unit``, to the form's decimals; null: not entered")
    quantity_from: Source | None
    coverage: float | None = Field(default=None, description="metered rows: readings received ÷ expected")
    cost: Decimal | None = Field(description="元; null: not priced and not entered")
    cost_from: Source | None
    kgce: float = Field(description="the quantity in standard coal (0 for water and blank rows)")


class Vehicle(BaseModel):
    key: str
    name: str
    count: int | None


class Basic(BaseModel):
    """Table 1 (基本信息)."""

    name: str
    credit_code: str | None
    unit_nature: str
    unit_nature_from: Source
    floor_area_m2: Decimal
    floor_area_from: Source
    energy_users: int
    energy_users_from: Source
    vehicles: list[Vehicle]


class Indicators(BaseModel):
    kgce_per_m2: float | None
    kgce_per_person: float | None
    water_t_per_person: float | None


class ToFix(BaseModel):
    field: str
    zh: str
    en: str


class AnnualReturn(BaseModel):
    site: str
    site_name: str
    year: int
    language: str
    timezone: str
    deadline: date = Field(description="the day it is due, in the site's time zone")
    generated_at: datetime
    basic: Basic
    lines: list[Line]
    total_kgce: float
    total_tce: Decimal = Field(description="综合能耗, tonnes of standard coal to 0.001")
    indicators: Indicators
    to_fix: list[ToFix]
    entered: dict[str, Entered] = Field(description="the values entered by hand, with who and when")
    completeness_min: float


def deadline_of(year: int, settings: ReturnSettings) -> date:
    month, day = (int(x) for x in settings.deadline.split("-"))
    leap = calendar.isleap(year + 1)
    return date(year + 1, month, 28 if (month, day) == (2, 29) and not leap else day)


def _q(value: Decimal | float, places: int) -> Decimal:
    return Decimal(repr(value) if isinstance(value, float) else value).quantize(Decimal(1).scaleb(-places),
                                                                                 rounding=ROUND_HALF_UP)


def _label(row: Row, zh: bool, settings: ReturnSettings) -> tuple[str, str, int]:
    """Item name, unit and decimals of ``row`` on the form."""
    if row.key == "electricity" and settings.electricity_unit == "万kWh":
        return (row.zh if zh else row.en), ("万千瓦时" if zh else "10⁴ kWh"), 4
    return (row.zh if zh else row.en), (row.unit_zh if zh else row.unit_en), row.places


def build_return(campus: Campus, year: int, metered: dict[Kind, tuple[float, float]], billed: dict[str, Decimal],
                 entries: dict[str, Entered], settings: ReturnSettings, report: ReportSettings, *,
                 language: str = "zh-CN", now: datetime) -> AnnualReturn:
    """The return (rules 1-6). ``metered``: the year's use and coverage per kind (the whole site's); ``billed``: the
    row keys billing prices, in 元; ``entries``: the current entered values by field."""
    factors = report.factors_for(year, campus.site.id)  # the year's own (reports/factors.yaml, versioned)
    zh = language.startswith("zh")
    value = {k: e.value for k, e in entries.items() if e.value is not None}
    to_fix: list[ToFix] = []

    def fix(field: str, zh_text: str, en_text: str) -> None:
        to_fix.append(ToFix(field=field, zh=zh_text, en=en_text))

    lines: list[Line] = []
    for row in ROWS:
        item, unit, places = _label(row, zh, settings)
        coverage = None
        quantity: Decimal | None
        q_from: str | None
        if row.metered is not None:
            use, coverage = metered.get(row.metered, (0.0, 1.0))
            shown = use / 10000 if unit in ("万千瓦时", "10⁴ kWh") else use
            quantity, q_from = _q(shown, places), "meters"
            if coverage < report.completeness_min and use > 0:
                fix(row.key, f"{row.zh}：表计数据完整率 {coverage:.0%}，低于 {report.completeness_min:.0%}，"
                    "请核对后再报送",
                    f"{row.en}: the meters sent {coverage:.0%} of their readings, below "
                    f"{report.completeness_min:.0%}: check before filing")
        else:
            raw = value.get(f"{row.key}_qty")
            quantity, q_from = (_q(Decimal(raw), places), "entered") if raw is not None else (None, None)
        cost: Decimal | None
        if row.key in billed:
            cost, c_from = billed[row.key], "billing"
        elif f"{row.key}_yuan" in value:
            cost, c_from = Decimal(value[f"{row.key}_yuan"]), "entered"
        else:
            cost, c_from = None, None
            if quantity is not None and quantity > 0:
                fix(f"{row.key}_yuan", f"{row.zh}：有消费量而无费用，请填写 {row.key}_yuan（元）",
                    f"{row.en}: a quantity but no cost: enter {row.key}_yuan (元)")
        if row.metered is None and quantity is None and cost is not None:
            fix(f"{row.key}_qty", f"{row.zh}：有费用而无消费量，请填写 {row.key}_qty（{row.unit_zh}）",
                f"{row.en}: a cost but no quantity: enter {row.key}_qty ({row.unit_en})")
        kgce = 0.0
        if quantity is not None and row.kgce is not None:
            per_unit = (factors.value(REPORT_FACTORS[row.key]) if row.key in REPORT_FACTORS
                        else settings.factor(row.kgce))
            kwh = quantity * 10000 if places == 4 and row.key == "electricity" else quantity
            kgce = float(kwh) * per_unit
        lines.append(Line(key=row.key, code=row.code, item=item, unit=unit, quantity=quantity,
                          quantity_from=q_from, coverage=coverage, cost=cost, cost_from=c_from,  # type: ignore[arg-type]
                          kgce=kgce))

    area_default = sum(b.floor_area_m2 for b in campus.buildings)
    users_default = sum(b.occupants for b in campus.buildings)
    area = Decimal(value["floor_area_m2"]) if "floor_area_m2" in value else _q(area_default, 2)
    users = int(value["energy_users"]) if "energy_users" in value else users_default
    if area <= 0:
        fix("floor_area_m2", "建筑面积为 0：请填写 floor_area_m2（平方米）或在校园文件中给出各楼 floor_area_m2",
            "floor area is 0: enter floor_area_m2 (m²) or give the buildings' floor_area_m2 in the campus file")
    if users <= 0:
        fix("energy_users", "用能人数为 0：请填写 energy_users（人）", "energy users is 0: enter energy_users (people)")
    if "credit_code" not in value:
        fix("credit_code", "请填写统一社会信用代码 credit_code", "enter the unified social credit code (credit_code)")
    vehicles = [Vehicle(key=k, name=n_zh if zh else n_en, count=int(value[k]) if k in value else None)
                for k, n_zh, n_en in VEHICLES]
    for fuel, kinds in (("petrol", ("vehicles_petrol",)), ("diesel", ("vehicles_diesel",))):
        if f"{fuel}_qty" in value and all(k not in value for k in kinds):
            row = ROWS[[r.key for r in ROWS].index(fuel)]
            fix(kinds[0], f"{row.zh}有消费量：请填写车辆数 {kinds[0]}（辆，没有则填 0）",
                f"{row.en} was used: enter the vehicle count {kinds[0]} (0 if none)")

    total = sum(ln.kgce for ln in lines)
    water = next(ln.quantity for ln in lines if ln.key == "water") or Decimal(0)
    basic = Basic(name=campus.site.name, credit_code=value.get("credit_code"),
                  unit_nature=value.get("unit_nature", settings.unit_nature),
                  unit_nature_from="entered" if "unit_nature" in value else "setting",
                  floor_area_m2=area, floor_area_from="entered" if "floor_area_m2" in value else "campus",
                  energy_users=users, energy_users_from="entered" if "energy_users" in value else "campus",
                  vehicles=vehicles)
    return AnnualReturn(
        site=campus.site.id, site_name=campus.site.name, year=year, language=language,
        timezone=campus.site.timezone, deadline=deadline_of(year, settings), generated_at=now, basic=basic,
        lines=lines, total_kgce=total, total_tce=_q(Decimal(repr(total)) / 1000, 3),
        indicators=Indicators(kgce_per_m2=total / float(area) if area > 0 else None,
                              kgce_per_person=total / users if users > 0 else None,
                              water_t_per_person=float(water) / users if users > 0 else None),
        to_fix=to_fix, entered={k: e for k, e in entries.items() if k in ENTRIES},
        completeness_min=report.completeness_min)
