"""A term or year summary's views as plain tables (zh-CN or English), laid out by CSV, XLSX and PDF alike."""

from __future__ import annotations

from reports.quotas import BAND_NAMES, QuotaResult
from reports.render.energy_tables import (
    DASH,
    FIG_DECIMALS,
    KIND_NAMES,
    METRIC_NAMES,
    SAME_PERIOD_LAST_YEAR,
    THIS_PERIOD,
    Cell,
    Table,
    coefficient_table,
    figure_cells,
    figure_headers,
    gap_note,
    or_dash,
)
from reports.summaries import PeriodReport


def period_tables(report: PeriodReport) -> list[Table]:
    zh = report.language.startswith("zh")
    head = (["建筑", "部门", "建筑面积 m²", "用能人数"] if zh
            else ["Building", "Department", "Floor area m²", "Occupants"])
    depts = {d.id: d.name for d in report.departments}
    out = [Table("buildings", "按建筑" if zh else "By building", head + figure_headers(zh),
                 [[b.name, depts.get(b.department or "", b.department), b.floor_area_m2, b.occupants,
                   *figure_cells(b)] for b in report.buildings], [None, None, 0, 0, *FIG_DECIMALS])]
    head = ["部门", "建筑面积 m²", "用能人数"] if zh else ["Department", "Floor area m²", "Occupants"]
    total = report.site_total
    out.append(Table("departments", "按部门" if zh else "By department", head + figure_headers(zh),
                     [[d.name, d.floor_area_m2, d.occupants, *figure_cells(d)] for d in report.departments]
                     + [[("合计" if zh else "Total"), total.floor_area_m2, total.occupants, *figure_cells(total)]],
                     [None, 0, 0, *FIG_DECIMALS]))
    out.insert(0, Table(
        "year_on_year", "同比" if zh else "Year on year",
        ["范围", "项目", "单位", "本期", "去年同期", "同比 %", "说明"] if zh else
        ["Scope", "Item", "Unit", "This period", "Same period last year", "YoY %", "Note"],
        [[c.scope_name, METRIC_NAMES[c.metric][0 if zh else 1], c.unit, c.this_period, or_dash(c.last_year),
          or_dash(c.yoy_pct), gap_note(c.yoy_gap, c.this_coverage, c.last_year_coverage, zh, THIS_PERIOD,
                                       SAME_PERIOD_LAST_YEAR)]
         for c in report.year_on_year], [None, None, None, 1, 1, 1, None],
        (f"本期 {report.period_start:%Y-%m-%d} 至 {report.period_end:%Y-%m-%d}(不含); 去年同期 "
         f"{report.previous_start:%Y-%m-%d} 至 {report.previous_end:%Y-%m-%d}(不含)") if zh else
        (f"This period {report.period_start:%Y-%m-%d} to {report.period_end:%Y-%m-%d} (exclusive); last year "
         f"{report.previous_start:%Y-%m-%d} to {report.previous_end:%Y-%m-%d} (exclusive)")))
    out.append(Table("targets", "节能降耗指标完成情况" if zh else "Energy-saving targets",
                     ["部门", "能源", "单位", "本期指标", "本期用量", "完成 %", "是否超标", "说明"] if zh else
                     ["Department", "Energy", "Unit", "Target", "Use", "%", "Over", "Note"],
                     [[t.department_name, KIND_NAMES[t.kind.value][0 if zh else 1], t.unit, t.target, t.use,
                       or_dash(t.pct), ("超标" if t.over else "正常") if zh else ("over" if t.over else "ok"),
                       gap_note(t.gap, t.coverage, t.coverage, zh, THIS_PERIOD)] for t in report.targets],
                     [None, None, None, 0, 1, 1, None, None],
                     "本期指标 = 月指标 × 本期覆盖的月数(不足一月按天计)" if zh else
                     "Target = the monthly target × the months the period covers (a part month by its days)"))
    if report.quota is not None:
        out.insert(0, quota_table(report.quota, zh, report.completeness_min))
    out.append(coefficient_table(report.coefficients, zh))
    return out


QUOTA_GAPS = {
    "unfinished": ("本年未结束", "the year is not over"),
    "incomplete": ("本年数据不全 (完整率 {pct:.1f} %, 需 ≥ {need:.0f} %)",
                   "the year is incomplete ({pct:.1f} % coverage, {need:.0f} % needed)"),
    "no_floor_area": ("未填写建筑面积", "no floor area in the campus file"),
    "no_equivalent_value": ("未设置本年电力等价值 ([report] equivalent_kgce_per_kwh)",
                            "no equivalent value (等价值) of electricity set for the year "
                            "([report] equivalent_kgce_per_kwh)"),
}


def quota_gap_note(q: QuotaResult, zh: bool, completeness_min: float) -> str:
    if q.gap is None:
        return ""
    text = QUOTA_GAPS[q.gap][0 if zh else 1]
    return text.format(pct=q.coverage * 100, need=completeness_min * 100)


def quota_table(q: QuotaResult, zh: bool, completeness_min: float) -> Table:
    """The year against the quota, in the quota's convention, and the band it falls in (or "—" and why)."""
    elec = ((f"等价值 {q.electricity_kgce_per_kwh:.4f} kgce/kWh" if q.electricity_kgce_per_kwh else "等价值 (未设置)")
            if q.electricity == "equivalent" else f"当量值 {q.electricity_kgce_per_kwh:.4f} kgce/kWh") if zh else \
        ((f"equivalent value {q.electricity_kgce_per_kwh:.4f} kgce/kWh" if q.electricity_kgce_per_kwh
          else "equivalent value (not set)") if q.electricity == "equivalent"
         else f"calorific {q.electricity_kgce_per_kwh:.4f} kgce/kWh")
    water = (("计入" if q.water == "in" else "不计入") if zh else ("in" if q.water == "in" else "out"))
    band = DASH if q.band is None else BAND_NAMES[q.band][0 if zh else 1]
    rows: list[list[Cell]] = [
        ["定额" if zh else "Quota", q.name, ""],
        ["来源" if zh else "Source", q.source + ("" if q.verified else (" (数值未经原文核实, 为假定值)" if zh else
                                                                   " (figures not verified: assumed)")), ""],
        ["电力折标口径" if zh else "Electricity counted at", elec, ""],
        ["天然气折标系数" if zh else "Natural gas", f"{q.gas_kgce_per_m3:.4f}", "kgce/m³"],
        ["自来水" if zh else "Tap water", water, ""],
        ["本年综合能耗(定额口径)" if zh else "Energy this year (quota's convention)",
         DASH if q.energy_kgce is None else q.energy_kgce, "kgce"],
        ["建筑面积" if zh else "Floor area", q.floor_area_m2, "m²"],
        ["单位建筑面积能耗" if zh else "Energy per floor area", DASH if q.kgce_per_m2 is None else q.kgce_per_m2,
         "kgce/(m²·a)"],
        ["引导值" if zh else "Guide value", q.guide, "kgce/(m²·a)"],
        ["基准值" if zh else "Baseline", q.baseline, "kgce/(m²·a)"],
        ["约束值" if zh else "Restraint", q.restraint, "kgce/(m²·a)"],
        ["所在档次" if zh else "Band", band, quota_gap_note(q, zh, completeness_min)],
    ]
    return Table("quota", "能耗定额对标" if zh else "Against the energy quota",
                 ["项目", "数值", "单位/说明"] if zh else ["Item", "Value", "Unit / note"],
                 rows, [None, 2, None],
                 "按定额自身的折算口径换算本校全年用能后对标; "
                 "本系统无法拆分供暖能耗, 非供暖定额对标时偏保守。" if zh else
                 "The site's year converted to the quota's own convention; meterwatch cannot separate heating "
                 "energy, so against a non-heating quota the figure errs high.")
