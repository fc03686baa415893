"""The monthly report's sub-item table (分项能耗表), in zh-CN or English: per building and kind, each item's use, then
未分项 (unitemised) and the building's total; the site's totals last. The rule is ``reports.items``'s."""

from __future__ import annotations

from reports.energy import EnergyReport
from reports.items import BuildingItems
from reports.render.table import DASH, Cell, Table

KIND_NAMES = {"electricity": ("电", "Electricity"), "water": ("水", "Water"), "gas": ("燃气", "Gas")}


def item_table(report: EnergyReport) -> Table:
    zh = report.language.startswith("zh")
    head = (["建筑", "建筑编码", "能源", "分项编码", "分项", "用量", "单位", "说明"] if zh else
            ["Building", "Building code", "Energy", "Item code", "Item", "Use", "Unit", "Note"])
    rows: list[list[Cell]] = []
    for b in report.items:
        site = b.building == report.site
        where = ("全校合计" if zh else "Whole site") if site else b.building_name
        kind = KIND_NAMES[b.kind.value][0 if zh else 1]
        for item in b.items:
            unitemised = item.item == "unitemised"
            rows.append([where, b.code or DASH, kind, DASH if unitemised else item.item, item.name, item.value,
                         b.unit, _note(b, zh) if unitemised else ""])
        rows.append([where, b.code or DASH, kind, DASH, "合计" if zh else "Total", b.total, b.unit,
                     ("各分项 + 未分项 = 建筑总用量" if zh else "items + unitemised = the building's use")
                     if not site else ("各建筑之和" if zh else "the buildings added up")])
    note = ((f"分项编码依据《{report.items_source}》。每块表计入其分项(未指定时取其上级表的分项, "
             "再无则: 电 01000, 食堂用电 01D20, 水 02000, 燃气 03A00; 一表多分项时按所填比例分摊), "
             "其用量扣除其下级分表后计入该分项; 计入 01000 电或 03000 燃气的部分即未分项。"
             "未分项 = 总表 − 已分项分表, 可为负(分表读数之和大于总表), 照实列出。") if zh else
            (f"Item codes: {report.items_source}. Each meter counts under its item (else its parent "
             "meter's, else electricity 01000, a canteen's electricity 01D20, water 02000, gas 03A00; a meter shared "
             "by items by its shares), less its sub-meters; what counts under "
             "01000 electricity or 03000 gas is unitemised: the main meter less its itemised sub-meters. It may be "
             "negative (the sub-meters read more than the main meter) and is shown as it is."))
    return Table("items", "分项能耗" if zh else "Sub-item energy", head, rows,
                 [None, None, None, None, None, 1, None, None], note)


def _note(b: BuildingItems, zh: bool) -> str:
    if b.unitemised < 0 or b.negative:
        who = "、".join(b.negative) if zh else ", ".join(b.negative)
        return (f"为负: 分表读数之和大于总表 ({who})" if zh else
                f"negative: the sub-meters read more than the main meter ({who})")
    return ""
