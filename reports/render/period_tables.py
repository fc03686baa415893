"""A term or year summary's views as plain tables (zh-CN or English), laid out by CSV, XLSX and PDF alike."""

from __future__ import annotations

from reports.render.energy_tables import (
    FIG_DECIMALS,
    KIND_NAMES,
    METRIC_NAMES,
    SAME_PERIOD_LAST_YEAR,
    THIS_PERIOD,
    Table,
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
    return out
