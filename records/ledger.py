"""The hazard ledger (隐患排查台账) and the drinking-water public notice (上墙公示) as tables for XLSX and PDF."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from campus.model import Campus
from records.store import HazardRow, WaterTestRow
from records.water import Limit, SamplingPoint, standard
from reports.config import ReportSettings
from reports.render import pdf, xlsx
from reports.render.energy_tables import Cell, Table

STATUS = {"open": ("待处理", "open"), "assigned": ("整改中", "assigned"), "fixed": ("已整改", "fixed")}


def _t(ms: int | None, tz: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz).strftime("%Y-%m-%d %H:%M") if ms else ""


def hazard_table(campus: Campus, hazards: list[HazardRow], zh: bool) -> Table:
    tz = ZoneInfo(campus.site.timezone)
    names = {b.id: b.name for b in campus.buildings}
    head = (["编号", "发现时间", "位置", "隐患描述", "发现人", "整改责任人", "整改期限", "整改完成时间", "整改人",
             "状态", "巡查记录"] if zh else
            ["No.", "Found", "Where", "Hazard", "Found by", "Assigned to", "Due", "Fixed", "Fixed by", "Status",
             "Round"])
    rows: list[list[Cell]] = [
        [h.id, _t(h.reported_ms, tz), names.get(h.building or "", h.building or h.zone or ""), h.title, h.reported_by,
         h.assigned_to or "", h.due or "", _t(h.fixed_ms, tz), h.fixed_by or "",
         STATUS[h.status][0 if zh else 1], f"#{h.round_id}" if h.round_id else ""] for h in hazards]
    open_ = sum(1 for h in hazards if h.status != "fixed")
    note = (f"共 {len(hazards)} 项，已整改 {len(hazards) - open_} 项，未整改 {open_} 项。" if zh else
            f"{len(hazards)} hazards, {len(hazards) - open_} fixed, {open_} open.")
    return Table("hazards", "隐患排查台账" if zh else "Hazard ledger", head, rows, [0] + [None] * 10, note)


def hazard_ledger(campus: Campus, hazards: list[HazardRow], fmt: str, settings: ReportSettings, zh: bool,
                  now: dt.datetime) -> bytes:
    table = hazard_table(campus, hazards, zh)
    if fmt == "xlsx":
        return xlsx.render_views([table])
    title = f"{campus.site.name} 隐患排查台账" if zh else f"{campus.site.name} — hazard ledger"
    sub = f"生成时间 {now:%Y-%m-%d %H:%M}" if zh else f"generated {now:%Y-%m-%d %H:%M}"
    return pdf.render_views(title, sub, [table], settings)


Latest = tuple[SamplingPoint, WaterTestRow | None, WaterTestRow | None, dict[str, Limit]]
"""A point on the notice: its latest laboratory test, its latest self-test (either may be missing), its limits."""


def _verdict(r: dict[str, object] | None, zh: bool) -> str:
    if r is None:
        return ""
    return ("合格" if r["ok"] else "不合格") if zh else ("pass" if r["ok"] else "FAIL")


def _said(r: dict[str, object] | None) -> str:
    return "" if r is None else f"{r['value']:g} {r['unit']}".strip()


def notice_tables(campus: Campus, latest: list[Latest], zh: bool) -> list[Table]:
    """One table per point: each parameter's latest laboratory result beside its latest self-test, so a later
    self-test that passed never hides a laboratory test that failed."""
    tz = ZoneInfo(campus.site.timezone)
    out = []
    for point, lab, own, _ in latest:
        building = campus.building(point.building)
        where = f"{point.name}（{building.name if building else point.building}）"
        if lab is None and own is None:
            out.append(Table(point.id, where, ["检测项目", "结果"] if zh else ["Parameter", "Result"],
                             [["尚无检测记录" if zh else "no test recorded yet", ""]], [None, None]))
            continue
        labs = {r["field"]: r for r in lab.results} if lab else {}
        owns = {r["field"]: r for r in own.results} if own else {}
        head = (["检测项目", "标准限值", "实验室检测", "评价", "自检", "评价"] if zh else
                ["Parameter", "Limit", "Laboratory", "Verdict", "Self-test", "Verdict"])
        rows: list[list[Cell]] = []
        for field in dict.fromkeys([*labs, *owns]):
            r = labs.get(field) or owns[field]
            rows.append([r["name"] if zh else r["name_en"], r["limit"], _said(labs.get(field)),
                         _verdict(labs.get(field), zh), _said(owns.get(field)), _verdict(owns.get(field), zh)])
        said = []
        if lab is not None:
            said.append(f"实验室检测：采样 {_t(lab.taken_ms, tz)}，检测单位 {lab.lab}" if zh else
                        f"laboratory: sampled {_t(lab.taken_ms, tz)} by {lab.lab}")
        else:
            said.append("实验室检测：尚无记录" if zh else "laboratory: none recorded yet")
        if own is not None:
            said.append(f"自检：采样 {_t(own.taken_ms, tz)}" if zh else f"self-test: sampled {_t(own.taken_ms, tz)}")
        else:
            said.append("自检：尚无记录" if zh else "self-test: none recorded yet")
        out.append(Table(point.id, where, head, rows, [None] * 6, ("；" if zh else "; ").join(said)))
    return out


def water_notice(campus: Campus, latest: list[Latest],
                 settings: ReportSettings, zh: bool, now: dt.datetime) -> bytes:
    title = f"{campus.site.name} 饮用水水质检测结果公示" if zh else f"{campus.site.name} — drinking water test results"
    # each point is held to its role's standard: GB 5749 for taps and tanks, CJ 94 for direct-drinking fountains
    held = "、".join(dict.fromkeys(standard(p.role) for p, *_ in latest)) or standard("drinking")
    held_en = "; ".join(dict.fromkeys(standard(p.role, "en") for p, *_ in latest)) or standard("drinking", "en")
    sub = (f"依据 {held}。公示日期 {now:%Y-%m-%d}。如有疑问请联系总务处。" if zh else
           f"Held to {held_en}. Posted {now:%Y-%m-%d}. Questions: the logistics office.")
    return pdf.render_views(title, sub, notice_tables(campus, latest, zh), settings, notice=True)
