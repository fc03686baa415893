"""The hazard ledger (隐患排查台账) and the drinking-water public notice (上墙公示) as tables for XLSX and PDF."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from campus.model import Campus
from records.store import HazardRow, WaterTestRow
from records.water import Limit, SamplingPoint
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


def notice_tables(campus: Campus, latest: list[tuple[SamplingPoint, WaterTestRow | None, dict[str, Limit]]],
                  zh: bool) -> list[Table]:
    tz = ZoneInfo(campus.site.timezone)
    out = []
    for point, test, _ in latest:
        building = campus.building(point.building)
        where = f"{point.name}（{building.name if building else point.building}）"
        if test is None:
            out.append(Table(point.id, where, ["检测项目", "结果"] if zh else ["Parameter", "Result"],
                             [["尚无检测记录" if zh else "no test recorded yet", ""]], [None, None]))
            continue
        kind = ("实验室检测" if test.kind == "lab" else "自检") if zh else ("laboratory" if test.kind == "lab" else
                                                                           "self-test")
        head = (["检测项目", "结果", "单位", "标准限值", "评价"] if zh else
                ["Parameter", "Result", "Unit", "Limit", "Verdict"])
        rows = [[r["name"] if zh else r["name_en"], r["value"], r["unit"], r["limit"],
                 ("合格" if r["ok"] else "不合格") if zh else ("pass" if r["ok"] else "FAIL")] for r in test.results]
        when = _t(test.taken_ms, tz)
        note = (f"{kind}，采样时间 {when}" + (f"，检测单位 {test.lab}" if test.lab else "") if zh else
                f"{kind}, sampled {when}" + (f", by {test.lab}" if test.lab else ""))
        out.append(Table(point.id, where, head, rows, [None, None, None, None, None], note))
    return out


def water_notice(campus: Campus, latest: list[tuple[SamplingPoint, WaterTestRow | None, dict[str, Limit]]],
                 settings: ReportSettings, zh: bool, now: dt.datetime) -> bytes:
    title = f"{campus.site.name} 饮用水水质检测结果公示" if zh else f"{campus.site.name} — drinking water test results"
    sub = (f"依据 GB 5749-2022《生活饮用水卫生标准》。公示日期 {now:%Y-%m-%d}。如有疑问请联系总务处。" if zh else
           f"Held to GB 5749-2022. Posted {now:%Y-%m-%d}. Questions: the logistics office.")
    return pdf.render_views(title, sub, notice_tables(campus, latest, zh), settings, notice=True)
