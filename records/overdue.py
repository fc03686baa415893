"""The alerts overdue work raises: a round not walked, a water test or filter change not done. They are `data`
alerts routed like any other (the zone's electrician on duty first), one per round or test and place."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from alerts.book import NewAlert
from alerts.rules import RECORD_RULES
from campus.labels import Name

if TYPE_CHECKING:
    from records.context import Context
    from records.due import DueRound
    from records.water import Due

TEST_NAMES = {"self": ("水质自检", "water self-test"), "lab": ("送检(实验室检测)", "laboratory test"),
              "filter": ("滤芯更换", "filter change")}


def _days_late(due: dt.date, ctx: Context, now_ms: int) -> int:
    return max(0, (dt.datetime.fromtimestamp(now_ms / 1000, ctx.tz).date() - due).days)


def _late(days: int, due: dt.date) -> dict[str, Name]:
    """An overdue alert's value and limit in people's words: days late against the date it was due by."""
    return {"unit": Name(zh="天", en="days"), "limit": Name(zh=f"应于 {due} 前完成", en=f"due by {due}"),
            "reading": Name(zh=f"逾期 {days} 天 · 应于 {due} 前完成",
                            en=f"{days} day{'' if days == 1 else 's'} late · due by {due}")}


def round_alert(missed: list[DueRound], ctx: Context, language: str, now_ms: int) -> NewAlert:
    """One alert for a template and place: the latest round missed, and how many were in the last two weeks."""
    r = max(missed, key=lambda m: m.window.end)
    rule = RECORD_RULES["round-overdue"]
    building = ctx.campus.building(r.place.building) if r.place.building else None
    zone = next((z.name for z in ctx.campus.zones if z.id == r.place.zone), r.place.zone)
    where = building.name if building else zone
    n = len(missed)
    days = _days_late(r.window.end, ctx, now_ms)
    detail = Name(zh=f"{r.template.name.zh}（{where}）应于 {r.window.end} 前完成，未见记录" +
                  (f"；近两周共 {n} 次未完成" if n > 1 else ""),
                  en=f"{r.template.name.en} ({where}) was due by {r.window.end}; none recorded" +
                  (f"; {n} missed in the last two weeks" if n > 1 else ""))
    texts = {"subject": Name(zh=f"{r.template.name.zh} · {where}", en=f"{r.template.name.en} · {where}"),
             "detail": detail, **_late(days, r.window.end)}
    return NewAlert(rule="round-overdue", category=rule.category.value, severity=rule.severity.value,
                    subject=r.subject, detail=detail.text(language), ts=now_ms, zone=r.place.zone,
                    building=r.place.building, department=building.department.value if building else None,
                    value=days, limit=str(r.window.end), texts=texts)


def test_alert(t: Due, ctx: Context, language: str, now_ms: int) -> NewAlert:
    rule = RECORD_RULES["water-test-overdue"]
    zh, en = TEST_NAMES[t.kind]
    detail = Name(zh=f"{t.point.name}：{zh}应于 {t.due} 前完成", en=f"{t.point.name}: {en} was due by {t.due}")
    texts = {"subject": Name(zh=f"{t.point.name} · {zh}", en=f"{t.point.name} · {en}"), "detail": detail,
             **_late(_days_late(t.due, ctx, now_ms), t.due)}
    building = ctx.campus.building(t.point.building)
    return NewAlert(rule="water-test-overdue", category=rule.category.value, severity=rule.severity.value,
                    subject=f"{t.kind}:{t.point.id}", detail=detail.text(language), ts=now_ms, zone=t.point.zone,
                    building=t.point.building, device=t.point.device,
                    department=building.department.value if building else None,
                    value=_days_late(t.due, ctx, now_ms), limit=str(t.due), texts=texts)
