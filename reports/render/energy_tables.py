"""The report's views as plain tables, in zh-CN or English: what CSV, XLSX and PDF all lay out.

Cells hold numbers as numbers (XLSX keeps them so); ``decimals`` says how to show each column.
"""

from __future__ import annotations

import re

from campus.labels import CATEGORIES, SEVERITIES
from reports.energy import CoefficientUsed, Comparison, Costs, EnergyReport, Gap, Row
from reports.factors import REGION_NAMES
from reports.render.item_tables import item_table
from reports.render.table import DASH, Cell, Table

__all__ = ["DASH", "Cell", "Table", "tables"]


KIND_NAMES = {"electricity": ("电", "Electricity"), "water": ("水", "Water"), "gas": ("天然气", "Natural gas")}
METRIC_NAMES = {"electricity_kwh": ("用电量", "Electricity"), "water_m3": ("用水量", "Water"),
                "gas_m3": ("用气量", "Natural gas"), "energy_kgce": ("综合能耗", "Energy (standard coal)"),
                "co2_kg": ("二氧化碳排放", "CO2 emissions")}


COEFFICIENT_NAMES = {
    "coal_electricity": ("电力折标准煤系数", "Electricity to standard coal"),
    "coal_gas": ("天然气折标准煤系数", "Natural gas to standard coal"),
    "coal_water": ("自来水折标准煤系数", "Tap water to standard coal"),
    "co2_electricity": ("电力二氧化碳排放因子", "Electricity CO2 emission factor"),
    "co2_gas": ("天然气二氧化碳排放因子", "Natural gas CO2 emission factor"),
}




def _l(pair: tuple[str, str], zh: bool) -> str:
    return pair[0] if zh else pair[1]


def figure_headers(zh: bool, costs: bool = False) -> list[str]:
    """The figures' headers; ``costs``: each energy's cost in 元 beside its quantity."""
    head = (["用电量 kWh", "用水量 m³", "用气量 m³", "综合能耗 kgce", "二氧化碳 kg", "单位面积能耗 kgce/m²",
             "人均能耗 kgce/人", "人均用水 m³/人", "数据完整率 %"] if zh else
            ["Electricity kWh", "Water m³", "Gas m³", "Energy kgce", "CO2 kg", "Energy per area kgce/m²",
             "Energy per person kgce", "Water per person m³", "Data coverage %"])
    if not costs:
        return head
    return [head[0], COST_NAMES[0][0 if zh else 1], head[1], COST_NAMES[1][0 if zh else 1], head[2],
            COST_NAMES[2][0 if zh else 1], *head[3:]]


COST_NAMES = (("电费 元", "Electricity 元"), ("水费 元", "Water 元"), ("燃气费 元", "Gas 元"))
COST_FIELDS = ("electricity_yuan", "water_yuan", "gas_yuan")


def has_costs(report: EnergyReport) -> bool:
    """The report carries costs (a billing file priced its meters): its tables show them."""
    return report.site_total.cost is not None




def or_dash(value: float | None) -> Cell:
    """A figure, or "—" where there is none to show (never a blank that reads as zero)."""
    return DASH if value is None else value


THIS_MONTH, PREVIOUS_MONTH = ("本月", "this month"), ("上月", "previous month")
SAME_MONTH_LAST_YEAR, YEAR_SO_FAR = ("去年同月", "same month last year"), ("年内", "year so far")
THIS_PERIOD, SAME_PERIOD_LAST_YEAR = ("本期", "this period"), ("去年同期", "same period last year")


def gap_note(gap: Gap | None, this_coverage: float, other_coverage: float, zh: bool,
             this: tuple[str, str] = THIS_MONTH, other: tuple[str, str] = PREVIOUS_MONTH) -> str:
    """Why a change is left out ("—"), in words: 上月数据不全 (完整率 6.7 %), 去年同月无数据, 本月未结束."""
    pct = "{:.1f} %"
    if gap is None:
        return ""
    if gap == "unfinished":
        return f"{this[0]}未结束" if zh else f"{this[1]} is not over"
    if gap == "incomplete":
        return (f"{this[0]}数据不全 (完整率 {pct.format(this_coverage * 100)})" if zh else
                f"{this[1]} incomplete ({pct.format(this_coverage * 100)} coverage)")
    if gap == "compared_zero":
        return f"{other[0]}用量为零" if zh else f"nothing used {other[1]}"
    if other_coverage <= 0:
        return f"{other[0]}无数据" if zh else f"no data for {other[1]}"
    return (f"{other[0]}数据不全 (完整率 {pct.format(other_coverage * 100)})" if zh else
            f"{other[1]} incomplete ({pct.format(other_coverage * 100)} coverage)")


def figure_cells(r: Row, costs: bool = False) -> list[Cell]:
    f, i = r.figures, r.indicators
    per_person = or_dash if r.per_person else (lambda _: DASH)
    rest: list[Cell] = [f.energy_kgce, f.co2_kg, or_dash(i.kgce_per_m2), per_person(i.kgce_per_person),
                        per_person(i.water_m3_per_person), r.coverage * 100]
    if not costs:
        return [f.electricity_kwh, f.water_m3, f.gas_m3, *rest]
    c = cost_cells(r.cost)
    return [f.electricity_kwh, c[0], f.water_m3, c[1], f.gas_m3, c[2], *rest]


def cost_cells(cost: Costs | None) -> list[Cell]:
    """Each energy's cost in 元, or "—" where it is not known."""
    return [DASH if cost is None or getattr(cost, k) is None else getattr(cost, k) for k in COST_FIELDS]


FIG_DECIMALS: list[int | None] = [1, 1, 1, 1, 1, 3, 2, 2, 1]
COST_FIG_DECIMALS: list[int | None] = [1, 2, 1, 2, 1, 2, 1, 1, 3, 2, 2, 1]


def tables(report: EnergyReport) -> list[Table]:
    zh = report.language.startswith("zh")
    costs = has_costs(report)
    decimals = COST_FIG_DECIMALS if costs else FIG_DECIMALS
    out = [_summary(report, zh)]
    head = (["建筑", "部门", "建筑面积 m²", "用能人数"] if zh
            else ["Building", "Department", "Floor area m²", "Occupants"])
    dept_names = {d.id: d.name for d in report.departments}
    out.append(Table("buildings", "按建筑" if zh else "By building", head + figure_headers(zh, costs),
                     [[b.name, dept_names.get(b.department or "", b.department), b.floor_area_m2, b.occupants,
                       *figure_cells(b, costs)] for b in report.buildings],
                     [None, None, 0, 0, *decimals], _cost_note(report, zh, "buildings") if costs else ""))
    head = ["部门", "建筑面积 m²", "用能人数"] if zh else ["Department", "Floor area m²", "Occupants"]
    out.append(Table("departments", "按部门" if zh else "By department", head + figure_headers(zh, costs),
                     [[d.name, d.floor_area_m2, d.occupants, *figure_cells(d, costs)] for d in report.departments]
                     + [[("合计" if zh else "Total"), report.site_total.floor_area_m2, report.site_total.occupants,
                         *figure_cells(report.site_total, costs)]],
                     [None, 0, 0, *decimals], _cost_note(report, zh, "total") if costs else ""))
    if report.items:
        out.append(item_table(report))
    out.append(carrier_table(report, zh))
    out.append(Table("comparisons", "环比与同比" if zh else "Month-on-month and year-on-year",
                     ["范围", "项目", "单位", "本月", "上月", "环比 %", "去年同月", "同比 %", "说明"] if zh else
                     ["Scope", "Item", "Unit", "This month", "Previous month", "MoM %", "Same month last year",
                      "YoY %", "Note"],
                     [[c.scope_name, _l(METRIC_NAMES[c.metric], zh), c.unit, c.this_month, or_dash(c.previous_month),
                       or_dash(c.mom_pct), or_dash(c.last_year), or_dash(c.yoy_pct), _comparison_note(c, zh)]
                      for c in report.comparisons],
                     [None, None, None, 1, 1, 1, 1, 1, None],
                     (f"环比、同比仅在两期均已结束且数据完整率均不低于 {report.completeness_min * 100:.0f} % 时计算, "
                      "否则显示“—”并说明原因。") if zh else
                     (f"A change is given only when both periods are over and both have at least "
                      f"{report.completeness_min * 100:.0f} % of their readings; otherwise “—” and why.")))
    out.append(Table("targets", "节能降耗指标完成情况" if zh else "Energy-saving targets",
                     ["部门", "能源", "单位", "月指标", "本月用量", "月完成 %", "年指标", "年累计", "年完成 %",
                      "本月是否超标", "说明"] if zh else
                     ["Department", "Energy", "Unit", "Monthly target", "This month", "Month %", "Annual target",
                      "Year to date", "Year %", "Over this month", "Note"],
                     [[t.department_name, _l(KIND_NAMES[t.kind.value], zh), t.unit, t.month_target, t.month_use,
                       t.month_pct, t.year_target, t.ytd_use,
                       or_dash(t.ytd_pct),
                       ("超标" if t.over else "正常") if zh else ("over" if t.over else "ok"),
                       gap_note(t.ytd_gap, t.ytd_coverage, t.ytd_coverage, zh, YEAR_SO_FAR)]
                      for t in report.targets],
                     [None, None, None, 0, 1, 1, 0, 1, 1, None, None],
                     "年指标按月指标×12计; 是否超标指本月用量对月指标" if zh else
                     "annual target = 12 × monthly target; over: this month's use against the monthly target"))
    building_names = {b.id: b.name for b in report.buildings}
    out.append(Table("completeness", "数据完整性(按表计)" if zh else "Data completeness per meter",
                     ["表计", "类型", "建筑", "收到读数", "应收读数", "完整率 %", "达标",
                      "异常跳变(已剔除)", "换表/归零"] if zh else
                     ["Meter", "Type", "Building", "Readings", "Expected", "Coverage %", "Complete",
                      "Implausible jumps (excluded)", "New meter cycles"],
                     [[m.name + ((("（人工抄表）" if zh else " (read by hand)")) if m.manual else ""),
                       _l(KIND_NAMES[m.kind.value], zh), building_names.get(m.building, m.building),
                       m.readings, m.expected, m.coverage * 100,
                       ("是" if m.complete else "否") if zh else ("yes" if m.complete else "no"),
                       m.implausible, m.new_cycles] for m in report.completeness],
                     [None, None, None, 0, 0, 1, None, 0, 0]))
    out.append(Table("alerts", "本月告警(按类别)" if zh else "This month's alerts by category",
                     ["类别", "级别", "发生次数", "未关闭"] if zh else ["Category", "Severity", "Raised", "Still open"],
                     [[_l(CATEGORIES.get(a.category, (a.category, a.category)), zh),
                       _l(SEVERITIES.get(a.severity, (a.severity, a.severity)), zh), a.raised, a.open]
                      for a in report.alerts],
                     [None, None, 0, 0]))
    out.append(coefficient_table(report.coefficients, zh))
    if report.filed is not None and report.filed.changes:
        f = report.filed
        out.append(Table(
            "filed", "自报送以来的变化" if zh else "Changed since filing",
            ["建筑", "类别", "报送值", "现值", "变化", "单位"] if zh
            else ["Building", "Kind", "Filed", "Now", "Change", "Unit"],
            [[c.building_name, KIND_NAMES[c.kind.value][0 if zh else 1], c.filed, c.now, c.change, c.unit]
             for c in f.changes], [None, None, 1, 1, 1, None],
            (f"第 {f.version} 版由 {f.filed_by} 于 {f.filed_at:%Y-%m-%d %H:%M} 报送; 之后到达的迟到读数改变了以上数值。"
             if zh else f"Version {f.version} was filed by {f.filed_by} on {f.filed_at:%Y-%m-%d %H:%M}; late "
             f"readings since changed the figures above.")))
    return out


def coefficient_table(coefficients: list[CoefficientUsed], zh: bool) -> Table:
    """The factors used, each with the year it is valid from, its region, its source and, for natural gas, how it
    was derived from the heating value (the JSON also names each version, name@year[/region])."""
    rows: list[list[Cell]] = []
    for c in coefficients:
        region = _l(REGION_NAMES.get(c.region, (c.region, c.region)), zh) if c.region else DASH
        rows.append([_l(COEFFICIENT_NAMES.get(c.name, (c.name, c.name)), zh), c.value, c.unit,
                     DASH if c.year is None else str(c.year), region,
                     c.source + (f" ({c.derivation})" if c.derivation else "")])
    return Table("coefficients", "折算系数" if zh else "Conversion coefficients",
                 ["名称", "数值", "单位", "适用年份起", "区域", "来源与推导"] if zh else
                 ["Name", "Value", "Unit", "Valid from", "Region", "Source and derivation"],
                 rows, [None, 4, None, None, None, None],
                 "各系数取本月所在年份适用的版本(不晚于该年的最新一版); "
                 "天然气的折标系数与排放因子由同一低位发热量推导。" if zh else
                 "Each factor is the version valid in the month's year (the latest not after it); natural gas's "
                 "kgce and CO2 factors both come from one low heating value.")


def carrier_table(report: EnergyReport, zh: bool) -> Table:
    """The site's use by carrier, each in standard coal and CO2, with the factor each was multiplied by."""
    f = report.site_total.figures
    c = {x.name: x.value for x in report.coefficients}
    counted = report.water_in_energy
    yes, no = ("计入", "不计入") if zh else ("counted", "not counted")
    rows: list[list[Cell]] = [
        [_l(KIND_NAMES["electricity"], zh), f.electricity_kwh, "kWh", c.get("coal_electricity", DASH),
         f.electricity_kgce, c.get("co2_electricity", DASH), f.electricity_co2_kg, yes],
        [_l(KIND_NAMES["gas"], zh), f.gas_m3, "m³", c.get("coal_gas", DASH), f.gas_kgce, c.get("co2_gas", DASH),
         f.gas_co2_kg, yes],
        [_l(KIND_NAMES["water"], zh), f.water_m3, "m³", c.get("coal_water", DASH), f.water_kgce, DASH, DASH,
         yes if counted else no],
        ["合计" if zh else "Total", "", "", "", f.energy_kgce, "", f.co2_kg, ""]]
    return Table("carriers", "分能源折标煤与碳排放" if zh else "Standard coal and CO2 by carrier",
                 ["能源", "用量", "单位", "折标系数", "折标煤 kgce", "排放因子", "二氧化碳 kg", "综合能耗"] if zh else
                 ["Carrier", "Use", "Unit", "kgce factor", "kgce", "CO2 factor", "CO2 kg", "In total energy"],
                 rows, [None, 1, None, 4, 1, 4, 1, None],
                 "合计 = 电 + 天然气(自来水按 [report] water_in_energy 计入); 自来水无排放因子。" if zh else
                 "Total = electricity + natural gas (tap water only with [report] water_in_energy); tap water has no "
                 "CO2 factor.")


def _cost_note(report: EnergyReport, zh: bool, what: str) -> str:
    """How the costs were reached, in a sentence under the table."""
    if what == "buildings":
        note = ("费用按各建筑主表所属结算单位的电价、水价、气价计算(共用表按分摊比例), 与其结算单的用量电费一致, "
                "不含基本电费、需量电费和奖罚; “—”表示有用量的表计未分配结算单位, 无法计价。" if zh else
                "Costs are each building's main meters priced at the tariff of the payer holding them (shared meters "
                "by their shares), as on the payers' statements, without fixed or demand charges or incentives; "
                "“—”: a meter with use is held by no payer and cannot be priced.")
        return note
    cost = report.site_total.cost
    kinds = [KIND_NAMES[k.value][0 if zh else 1] for k in (cost.from_incomer if cost else [])]
    if not kinds:
        return "合计行的费用为各建筑之和。" if zh else "The total's costs are the buildings' added up."
    return (f"合计行的{'、'.join(kinds)}费为学校向供应单位支付的进线总表费用"
            "(含损耗、未计量用量及基本电费、需量电费), 其余为各建筑之和。" if zh else
            f"The total's {', '.join(k.lower() for k in kinds)} cost is what the school pays the utility (the "
            "incomer's bill: losses, unmetered use, fixed and demand charges included); the others are the "
            "buildings' added up.")


def _comparison_note(c: Comparison, zh: bool) -> str:
    parts = []
    for label, gap, other, cov in ((("环比", "MoM"), c.mom_gap, PREVIOUS_MONTH, c.previous_coverage),
                                   (("同比", "YoY"), c.yoy_gap, SAME_MONTH_LAST_YEAR, c.last_year_coverage)):
        if gap is not None:
            parts.append(f"{_l(label, zh)}: {gap_note(gap, c.this_coverage, cov, zh, THIS_MONTH, other)}")
    return "; ".join(parts)


def _summary(report: EnergyReport, zh: bool) -> Table:
    s = report.site_total
    f, i = s.figures, s.indicators
    complete = sum(m.complete for m in report.completeness)
    rows: list[list[Cell]] = [
        ["单位" if zh else "Site", report.site_name, ""],
        ["月份" if zh else "Month", report.month, ""],
        ["用电量" if zh else "Electricity", f.electricity_kwh, "kWh"],
        ["用水量" if zh else "Water", f.water_m3, "m³"],
        ["用气量" if zh else "Natural gas", f.gas_m3, "m³"],
        ["综合能耗(当量值)" if zh else "Energy, standard coal (calorific)", f.energy_kgce, "kgce"],
        ["二氧化碳排放" if zh else "CO2 emissions", f.co2_kg, "kg"],
        ["单位建筑面积能耗" if zh else "Energy per floor area", i.kgce_per_m2, "kgce/m²"],
        ["人均综合能耗" if zh else "Energy per person", or_dash(i.kgce_per_person), "kgce/人" if zh else "kgce/person"],
        ["人均用水量" if zh else "Water per person", or_dash(i.water_m3_per_person), "m³/人" if zh else "m³/person"],
        ["建筑面积" if zh else "Floor area", _whole(s.floor_area_m2), "m²"],
        ["用能人数" if zh else "Occupants", s.occupants, "人" if zh else "people"],
        ["数据完整率" if zh else "Data coverage", s.coverage * 100, "%"],
        ["完整率达标表计" if zh else "Meters with complete data", int(complete), f"/ {len(report.completeness)}"],
    ]
    if report.incomer is not None:
        inc = report.incomer
        rows += [["进线总表用电" if zh else "Incomer electricity", inc.incomer_kwh, "kWh"],
                 ["线损及未计量" if zh else "Line loss and unmetered", inc.loss_pct, "%"]]
    if s.cost is not None:
        for (zh_name, en_name), value, kind in zip((("电费", "Electricity cost"), ("水费", "Water cost"),
                                                    ("燃气费", "Gas cost")), cost_cells(s.cost),
                                                   ("electricity", "water", "gas"), strict=True):
            billed = kind in {k.value for k in s.cost.from_incomer}
            rows.append([zh_name + ("(进线总表)" if billed else "") if zh else
                         en_name + (" (incomer's bill)" if billed else ""), value, "元"])
    return Table("summary", "概况" if zh else "Summary", ["项目", "数值", "单位"] if zh else ["Item", "Value", "Unit"],
                 rows, [None, 2, None])


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def spreadsheet_safe(value: Cell) -> Cell:
    """A text cell that a spreadsheet would run as a formula (it begins with = + - @, a tab or a CR) gets a
    leading apostrophe (OWASP's CSV-injection advice); numbers stay numbers. Names come from spreadsheets
    and the API, so they are never trusted. Control characters a worksheet cannot hold (XML 1.0 forbids them)
    become U+FFFD."""
    if not isinstance(value, str):
        return value
    value = _CONTROL.sub("\ufffd", value)
    if value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _whole(x: float) -> float | int:
    """A whole amount (a floor area of 58,100 m²) as an int: shown without decimals."""
    return int(x) if float(x).is_integer() else x


def fmt(value: Cell, decimals: int | None) -> str:
    """A cell as text: a count (an int) without decimals, an amount with ``decimals``, thousands separated."""
    if value is None:
        return ""
    if isinstance(value, str) or decimals is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{decimals}f}"
