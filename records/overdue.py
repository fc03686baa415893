"""The alerts overdue work raises: a round not walked, a water test or filter change not done. They are `data`
alerts routed like any other (the zone's electrician on duty first), one per round or test and place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alerts.book import NewAlert
from alerts.rules import RECORD_RULES

if TYPE_CHECKING:
    from records.context import Context
    from records.due import DueRound
    from records.water import Due

TEST_NAMES = {"self": ("水质自检", "water self-test"), "lab": ("送检(实验室检测)", "laboratory test"),
              "filter": ("滤芯更换", "filter change")}


def round_alert(missed: list[DueRound], ctx: Context, language: str, now_ms: int) -> NewAlert:
    """One alert for a template and place: the latest round missed, and how many were in the last two weeks."""
    r = max(missed, key=lambda m: m.window.end)
    rule = RECORD_RULES["round-overdue"]
    building = ctx.campus.building(r.place.building) if r.place.building else None
    zone = next((z.name for z in ctx.campus.zones if z.id == r.place.zone), r.place.zone)
    where = building.name if building else zone
    zh = language.startswith("zh")
    n = len(missed)
    detail = (f"{r.template.name.zh}（{where}）应于 {r.window.end} 前完成，未见记录" +
              (f"；近两周共 {n} 次未完成" if n > 1 else "") if zh else
              f"{r.template.name.en} ({where}) was due by {r.window.end}; none recorded" +
              (f"; {n} missed in the last two weeks" if n > 1 else ""))
    return NewAlert(rule="round-overdue", category=rule.category.value, severity=rule.severity.value,
                       subject=r.subject, detail=detail, ts=now_ms, zone=r.place.zone, building=r.place.building,
                       department=building.department.value if building else None, value=n,
                       limit=str(r.window.end))


def test_alert(t: Due, ctx: Context, language: str, now_ms: int) -> NewAlert:
    rule = RECORD_RULES["water-test-overdue"]
    zh = language.startswith("zh")
    what = TEST_NAMES[t.kind][0 if zh else 1]
    detail = (f"{t.point.name}：{what}应于 {t.due} 前完成" if zh else f"{t.point.name}: {what} was due by {t.due}")
    building = ctx.campus.building(t.point.building)
    return NewAlert(rule="water-test-overdue", category=rule.category.value, severity=rule.severity.value,
                       subject=f"{t.kind}:{t.point.id}", detail=detail, ts=now_ms, zone=t.point.zone,
                       building=t.point.building, device=t.point.device,
                       department=building.department.value if building else None, limit=str(t.due))
