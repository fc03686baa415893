"""The monthly bulletin's view as a plain table (zh-CN or English), laid out by CSV, XLSX and PDF alike."""

from __future__ import annotations

from reports.bulletin import Bulletin, IncentiveRow
from reports.render.energy_tables import (
    DASH,
    KIND_NAMES,
    SAME_MONTH_LAST_YEAR,
    THIS_MONTH,
    Cell,
    Table,
    gap_note,
    or_dash,
)

OUTCOMES = {"reward": ("奖励", "reward"), "penalty": ("罚款", "penalty"), "none": (DASH, DASH)}


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
    if b.incentives is not None:
        out.append(incentive_table(b.incentives, zh))
    return out


def incentive_table(rows: list[IncentiveRow], zh: bool) -> Table:
    """奖罚: one row per incentive with a result this month."""
    def row(r: IncentiveRow) -> list[Cell]:
        band = f"±{r.dead_band * 100:g}% ({r.dead_band_low}–{r.dead_band_high})"
        amount: Cell = DASH if r.outcome == "none" else abs(r.amount)
        notes = [("封顶" if zh else "capped")] if r.capped else []
        if r.gap == "unfinished":
            notes.append("本月未结束, 暂不奖励" if zh else "the month is not over: no reward yet")
        elif r.gap == "incomplete":
            notes.append(f"数据不全 (完整率 {r.coverage * 100:.1f} %), 不予奖励" if zh else
                         f"incomplete data ({r.coverage * 100:.1f} % coverage): no reward")
        capped = "; ".join(notes)
        return [r.who, KIND_NAMES[r.kind.value][0 if zh else 1], r.unit, r.use, r.target, band,
                OUTCOMES[r.outcome][0 if zh else 1], DASH if r.outcome == "none" else abs(r.units), amount, capped]

    return Table(
        "incentives", "奖罚" if zh else "Rewards and penalties",
        ["名称", "能源", "单位", "本月用量", "目标", "不奖不罚区间", "结果", "超出/节约", "金额 元", "说明"] if zh else
        ["Name", "Energy", "Unit", "Use", "Target", "Dead band", "Outcome", "Over/saved", "Amount 元", "Note"],
        [row(r) for r in rows], [None, None, None, 2, 2, None, None, 2, 2, None],
        "超出区间上限的用量按单价罚款, 低于区间下限节约的用量按单价奖励, 均有封顶; 区间内(含边界)不奖不罚; "
        "本月未结束或数据不全时不予奖励; 本月无数据者不列。" if zh else
        "Use over the dead band's upper edge is charged a penalty per unit, use saved below its lower edge earns a "
        "reward per unit, both capped; nothing within the band (edges included); no reward before the month is over "
        "or when its data is incomplete; no data this month: not listed.")
