"""The monthly bulletin's view as a plain table (zh-CN or English), laid out by CSV, XLSX and PDF alike."""

from __future__ import annotations

from reports.bulletin import Bulletin
from reports.render.energy_tables import KIND_NAMES, SAME_MONTH_LAST_YEAR, THIS_MONTH, Table, gap_note, or_dash


def bulletin_tables(b: Bulletin) -> list[Table]:
    zh = b.language.startswith("zh")
    out = []
    for scope, title in (("department", ("各部门", "Departments")), ("building", ("各楼宇(本楼指标)",
                                                                            "Buildings with their own targets"))):
        rows = [x for x in b.lines if x.scope == scope]
        if not rows:
            continue
        out.append(Table(
            scope, title[0 if zh else 1],
            ["名称", "同类", "能源", "单位", "本月用量", "指标", "完成 %", "是否超标", "去年同月", "同比 %", "人均",
             "每平方米", "同类排名", "说明"] if zh else
            ["Name", "Among", "Energy", "Unit", "Use", "Target", "%", "Over", "Same month last year", "YoY %",
             "Per person", "Per m²", "Rank", "Note"],
            [[x.name, x.peers_name, KIND_NAMES[x.kind.value][0 if zh else 1], x.unit, x.use, x.target, x.pct,
              ("超标" if x.over else "正常") if zh else ("over" if x.over else "ok"), or_dash(x.last_year),
              or_dash(x.yoy_pct), or_dash(x.per_person), or_dash(x.per_m2), f"{x.rank}/{x.of}",
              gap_note(x.yoy_gap, x.coverage, x.last_year_coverage, zh, THIS_MONTH, SAME_MONTH_LAST_YEAR)]
             for x in rows],
            [None, None, None, None, 1, 0, 1, None, 1, 1, 2, 3, None, None],
            "同类排名按用量占指标的比例由低到高。" if zh
            else "Ranked among peers by use against target, lowest first."))
    return out
