"""The annual return as a PDF to sign (A4 landscape): the same three tables as the XLSX, through the report's PDF
renderer (its CJK font, its sign-off fields)."""

from __future__ import annotations

from decimal import Decimal

from reports.annual_return import AnnualReturn
from reports.config import ReportSettings
from reports.render.energy_tables import Cell, Table
from reports.render.pdf import render_views
from reports.render.return_xlsx import SOURCES


def _say(zh: bool, a: str, b: str) -> str:
    return a if zh else b


def _n(value: Decimal | float | None) -> str:
    """A number as the form shows it: its own decimals (a float to 0.01), thousands separated; "—" for none."""
    if value is None:
        return "—"
    return format(value, ",") if isinstance(value, Decimal) else f"{value:,.2f}"


def views(r: AnnualReturn) -> list[Table]:
    zh = r.language.startswith("zh")
    i = 0 if zh else 1
    b = r.basic
    basic: list[list[Cell]] = [
        [_say(zh, "单位名称", "Name"), "", "", b.name, ""],
        [_say(zh, "统一社会信用代码", "Unified social credit code"), "", "", b.credit_code or "—", ""],
        [_say(zh, "单位性质", "Institution type"), "", "101", b.unit_nature, SOURCES[b.unit_nature_from][i]],
        [_say(zh, "建筑面积", "Floor area"), _say(zh, "平方米", "m²"), "102", float(b.floor_area_m2),
         SOURCES[b.floor_area_from][i]],
        [_say(zh, "用能人数", "Energy users"), _say(zh, "人", "people"), "103", b.energy_users,
         SOURCES[b.energy_users_from][i]],
    ]
    basic += [[_say(zh, f"车辆数：{v.name}", f"Vehicles: {v.name}"), _say(zh, "辆", "vehicles"), "",
               "—" if v.count is None else v.count, ""] for v in b.vehicles]
    lines: list[list[Cell]] = [
        [ln.item, ln.unit, ln.code, _n(ln.quantity), _n(ln.cost),
         "/".join(SOURCES[x][i] for x in (ln.quantity_from, ln.cost_from) if x is not None)] for ln in r.lines]
    ind = r.indicators
    lines += [
        [_say(zh, "能源消费总量（综合能耗）", "Total energy"), _say(zh, "吨标准煤", "tce"), "", _n(r.total_tce), None,
         ""],
        [_say(zh, "单位建筑面积能耗", "Energy per floor area"), _say(zh, "千克标准煤/平方米", "kgce/m²"), "",
         _n(ind.kgce_per_m2), None, ""],
        [_say(zh, "人均综合能耗", "Energy per person"), _say(zh, "千克标准煤/人", "kgce/person"), "",
         _n(ind.kgce_per_person), None, ""],
        [_say(zh, "人均用水量", "Water per person"), _say(zh, "吨/人", "t/person"), "",
         _n(ind.water_t_per_person), None, ""]]
    out = [
        Table("basic", _say(zh, "公共机构基本信息", "Basic information"),
              [_say(zh, h, e) for h, e in (("指标名称", "Item"), ("计量单位", "Unit"), ("代码", "Code"),
                                           ("数值", "Value"), ("来源", "Source"))], basic, [None, None, None, 2, None]),
        Table("consumption", _say(zh, "公共机构能源资源消费状况", "Energy and resource consumption"),
              [_say(zh, h, e) for h, e in (("指标名称", "Item"), ("计量单位", "Unit"), ("代码", "Code"),
                                           ("消费量", "Quantity"), ("金额（元）", "Cost (元)"), ("来源", "Source"))],
              lines, [None] * 6)]
    if r.to_fix:
        out.append(Table("to_fix", _say(zh, "报送前请核对或补填", "To enter or check before filing"),
                         [_say(zh, "字段", "Field"), _say(zh, "说明", "What to do")],
                         [[f.field, f.zh if zh else f.en] for f in r.to_fix], [None, None]))
    return out


def render_return_pdf(r: AnnualReturn, settings: ReportSettings) -> bytes:
    zh = r.language.startswith("zh")
    title = _say(zh, f"{r.site_name} {r.year}年度公共机构能源资源消费统计",
                 f"{r.site_name}: public-institution energy return {r.year}")
    sub = _say(zh, f"制表机关：国家机关事务管理局 · 批准机关：国家统计局 · 报送截止：{r.deadline:%Y-%m-%d}",
               f"Form of the National Government Offices Administration · due {r.deadline:%Y-%m-%d}")
    return render_views(title, sub, views(r), settings, signed=r.language)
