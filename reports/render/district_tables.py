"""The district report's views as plain tables (zh-CN or English), laid out by CSV, XLSX and PDF alike."""

from __future__ import annotations

from reports.district import DistrictReport, SiteTarget
from reports.render.energy_tables import COST_NAMES, DASH, KIND_NAMES, Cell, Table, cost_cells, fmt, or_dash

TOTAL_COST_NAMES = (("电费 元", "Electricity cost 元"), ("水费 元", "Water cost 元"), ("燃气费 元", "Gas cost 元"))


def district_tables(report: DistrictReport) -> list[Table]:
    zh = report.language.startswith("zh")
    head = (["排名", "学校/校区", "单位面积能耗 kgce/m²", "人均能耗 kgce/人", "人均排名", "综合能耗 kgce",
             "二氧化碳 kg", "用电量 kWh", "用水量 m³", "用气量 m³", "人均用水 m³/人", "能耗同比 %", "建筑面积 m²",
             "用能人数", "指标完成", "数据完整率 %"] if zh else
            ["Rank", "Site", "Energy per area kgce/m²", "Energy per person kgce", "Rank per person", "Energy kgce",
             "CO2 kg", "Electricity kWh", "Water m³", "Gas m³", "Water per person m³", "Energy YoY %",
             "Floor area m²", "Occupants", "Targets", "Data coverage %"])
    costs = any(s.cost is not None for s in report.sites)  # a cost column per energy, beside its quantity
    decimals: list[int | None] = [0, None, 3, 2, 0, 1, 1, 1, 1, 1, 2, 1, 0, 0, None, 1]
    if costs:
        head = [*head[:8], COST_NAMES[0][0 if zh else 1], head[8], COST_NAMES[1][0 if zh else 1], head[9],
                COST_NAMES[2][0 if zh else 1], *head[10:]]
        decimals = [*decimals[:8], 2, 1, 2, 1, 2, *decimals[10:]]
    rows: list[list[Cell]] = []
    for s in report.sites:
        f = s.figures
        c = cost_cells(s.cost)
        use: list[Cell] = ([f.electricity_kwh, c[0], f.water_m3, c[1], f.gas_m3, c[2]] if costs else
                           [f.electricity_kwh, f.water_m3, f.gas_m3])
        rows.append([s.rank, s.name + ("" if s.complete else (" (数据不全)" if zh else " (incomplete)")),
                     s.kgce_per_m2, s.kgce_per_person, s.rank_per_person, f.energy_kgce, f.co2_kg,
                     *use, s.water_m3_per_person, or_dash(s.energy_yoy_pct),
                     s.floor_area_m2, s.occupants, _targets(s.targets, zh), s.coverage * 100])
    note = ("按单位建筑面积能耗由低到高排名; 数据完整率低于月报要求的学校标注“数据不全”。" if zh else
            "Ranked by energy per m² of floor area, lowest first; sites under the report's data coverage "
            "minimum are marked incomplete.")
    if costs:
        note += (" 费用为各校月报的合计(有进线总表计价的为学校向供应单位支付的费用); “—”为未知。" if zh else
                 " Costs are each site's report total (what the school pays the utility where its incomer is "
                 "priced); “—”: not known.")
    ranking = Table("ranking", "各校能耗排名" if zh else "Sites ranked", head, rows, decimals, note)
    t = report.total
    cost_rows: list[list[Cell]] = [[name[0 if zh else 1], DASH if value == DASH else fmt(value, 2)]
                                   for name, value in zip(TOTAL_COST_NAMES, cost_cells(report.cost), strict=True)
                                   ] if costs else []
    summary = Table("summary", "全区合计" if zh else "District total",
                    ["项目", "数值"] if zh else ["Item", "Value"],
                    [[("学校数" if zh else "Sites"), str(len(report.sites))],
                     [("超指标学校数" if zh else "Sites over a target"), str(sum(s.over_target for s in report.sites))],
                     [("综合能耗 kgce" if zh else "Energy kgce"), fmt(t.energy_kgce, 1)],
                     [("二氧化碳 kg" if zh else "CO2 kg"), fmt(t.co2_kg, 1)],
                     [("用电量 kWh" if zh else "Electricity kWh"), fmt(t.electricity_kwh, 1)],
                     [("用水量 m³" if zh else "Water m³"), fmt(t.water_m3, 1)],
                     [("用气量 m³" if zh else "Gas m³"), fmt(t.gas_m3, 1)],
                     [("单位面积能耗 kgce/m²" if zh else "Energy per area kgce/m²"), fmt(report.kgce_per_m2, 3)],
                     [("人均能耗 kgce/人" if zh else "Energy per person kgce"), fmt(report.kgce_per_person, 2)],
                     *cost_rows],
                    [None, None])
    return [summary, ranking]


def _targets(targets: list[SiteTarget], zh: bool) -> str:
    parts = []
    for t in targets:
        name = KIND_NAMES[t.kind.value][0 if zh else 1]
        parts.append(f"{name} {t.month_pct:.0f}%" + ("↑" if t.over else ""))
    return ", ".join(parts) or "—"
