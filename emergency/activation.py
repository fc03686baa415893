"""A plan started by hand (人工启动预案): when trouble comes that no meter sees first — a typhoon warning, a burst
pipe somebody found, a smell of gas — whoever is on the spot starts the plan for a device or a building.

The plain rules:
- it raises a real alert, 应急预案启动 (``emergency``), of the plan's first category and severity where the plan
  names them (else safety, major), on that device or building, routed, told and escalated as any other, with the
  plan's run opened at once: its steps' time limits count from now;
- it is a real event: counted like every real alert, never marked as a drill;
- one plan is started once at a time for a building: starting it again while its alert is open is refused, naming
  that alert (the checklist is there already);
- who started it, and why, go with it: the token's name and the note, in the alert's own words.
"""

from __future__ import annotations

from alerts.book import AlertStateError, NewAlert
from alerts.desk import SiteDesk
from alerts.rules import RECORD_RULES
from campus.labels import Name
from emergency.drills import RULE
from emergency.target import target


def start_plan(desk: SiteDesk, plan_id: str, *, device: str | None, building: str | None, by: str, note: str,
               now_ms: int, language: str = "zh-CN") -> int:
    """Start ``plan_id`` by hand for a device or building of ``desk``'s site; the id of the alert it raised."""
    t = target(desk, plan_id, device, building, "the plan")
    plan, base = t.plan, RECORD_RULES[RULE]
    category = (plan.activates.categories[0] if plan.activates.categories else base.category).value
    severity = (plan.activates.severities[0] if plan.activates.severities else base.severity).value
    subject = f"plan:{plan.id}:{t.building.id}"
    open_ = desk.book.store.open_for(desk.campus.site.id, RULE, subject)
    if open_ is not None:
        raise AlertStateError(f"plan {plan.id} ({plan.name.zh}) is already started for {t.building.name}: alert "
                              f"#{open_.id}, its checklist is /#plan/{open_.id}")
    said = f"：{note}" if note else ""
    detail = Name(zh=f"{plan.name.zh}由 {by} 人工启动（{t.where}）{said}",
                  en=f"{plan.name.en} started by hand by {by} ({t.where}){': ' + note if note else ''}")
    texts = {"subject": Name(zh=f"{t.where} · {plan.name.zh}", en=f"{t.where} · {plan.name.en}"), "detail": detail,
             "reading": Name(zh=f"人工启动{said}", en=f"started by hand{': ' + note if note else ''}")}
    return desk.book.record(NewAlert(
        rule=RULE, category=category, severity=severity, subject=subject, detail=detail.text(language), ts=now_ms,
        zone=t.zone, building=t.building.id, device=t.device, department=t.building.department.value, texts=texts,
        plan=plan.id), now_ms)
