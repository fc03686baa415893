"""Drills (应急演练): a real alert of a plan's kind, marked as a drill, and the figures an inspector asks about.

The plain rules:
- a drill raises a real alert of its plan's kind (the plan's first rule; a plan that no rule activates: 应急预案启动),
  on a chosen device or building, routed, told and escalated exactly as a real one, its plan's run opened;
- it is marked 演练 / DRILL in every message, list and figure; it enters no report, bulletin or statistic, and no
  reading is written for it;
- the drill row and its alert are written in one transaction (a crash leaves both or neither);
- its figures come from what happened to its alert, on the server's clock: time to the first message, to the
  acknowledgement, to each step, to the resolution; the steps skipped (never ticked) or late (past their limit);
- a drill is over when its alert is resolved; its record (PDF) is filed then, once, in each language asked for
  (by the server's drill check, or when it is first asked for), and those bytes are what is handed out after.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from alerts.book import NewAlert
from alerts.desk import SiteDesk
from alerts.plans import Plan
from alerts.rules import RECORD_RULES
from alerts.runs import Run
from alerts.store import Alert, AlertStore
from campus.errors import NotFound
from campus.labels import Name
from emergency.target import target

RULE = "emergency"  # a plan no rule activates: its drills (and its start by hand) raise this



@dataclass(frozen=True, slots=True)
class Drill:
    id: int
    site: str
    plan: str
    zone: str | None
    building: str | None
    device: str | None
    chain: bool
    started_ms: int
    started_by: str
    alert_id: int | None
    chain_result: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class StepFigure:
    n: int
    text: Name
    due_s: float | None      # its limit, seconds from the start
    done_s: float | None     # when it was ticked, seconds from the start
    done_by: str | None
    state: str               # done | late | skipped | overdue | open


@dataclass(frozen=True, slots=True)
class Figures:
    """What a drill measured, in seconds from the moment its alert was raised (None: did not happen)."""

    first_notice_s: float | None
    ack_s: float | None
    resolved_s: float | None
    steps: tuple[StepFigure, ...]

    @property
    def skipped(self) -> int:
        return sum(1 for s in self.steps if s.state == "skipped")

    @property
    def late(self) -> int:
        return sum(1 for s in self.steps if s.state in ("late", "overdue"))


COLUMNS = "id, site, plan, zone, building, device, chain, started_ms, started_by, alert_id, chain_result"


def _drill(r: tuple[Any, ...]) -> Drill:
    return Drill(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7], r[8], r[9],
                 json.loads(r[10]) if r[10] else None)


class Drills:
    """Drills in the alerts' own database, beside the alerts they raise."""

    def __init__(self, store: AlertStore) -> None:
        self.store = store

    def get(self, drill_id: int) -> Drill:
        rows = self.store.rows(f"SELECT {COLUMNS} FROM drills WHERE id = ?", (drill_id,))  # noqa: S608
        if not rows:
            raise NotFound(f"no drill #{drill_id}")
        return _drill(rows[0])

    def of_alert(self, alert_id: int) -> Drill | None:
        rows = self.store.rows(f"SELECT {COLUMNS} FROM drills WHERE alert_id = ?", (alert_id,))  # noqa: S608
        return _drill(rows[0]) if rows else None

    def of_site(self, site: str | None = None, plan: str | None = None) -> list[Drill]:
        """Drills, the newest first (of ``site``, of ``plan``)."""
        terms = [(c, v) for c, v in (("site", site), ("plan", plan)) if v is not None]
        where = " AND ".join(f"{c} = ?" for c, _ in terms) or "1 = 1"
        return [_drill(r) for r in self.store.rows(
            f"SELECT {COLUMNS} FROM drills WHERE {where} ORDER BY started_ms DESC, id DESC",  # noqa: S608
            tuple(v for _, v in terms))]

    def filed(self, drill_id: int, language: str) -> bytes | None:
        """The record filed for a finished drill, in ``language``."""
        rows = self.store.rows("SELECT pdf FROM drill_records WHERE drill_id = ? AND language = ?",
                               (drill_id, language))
        return bytes(rows[0][0]) if rows else None

    def file(self, drill_id: int, language: str, pdf: bytes, now_ms: int) -> bytes:
        """File a finished drill's record (once: the first one filed stays); the bytes filed."""
        with self.store.tx():
            self.store.execute("INSERT OR IGNORE INTO drill_records (drill_id, language, pdf, made_ms) "
                               "VALUES (?, ?, ?, ?)", (drill_id, language, pdf, now_ms))
        return self.filed(drill_id, language) or pdf

    def unfiled(self) -> list[Drill]:
        """Finished drills (their alert resolved) with no record filed yet."""
        return [_drill(r) for r in self.store.rows(
            f"SELECT {', '.join('d.' + c for c in COLUMNS.split(', '))} FROM drills d "  # noqa: S608
            "JOIN alerts a ON a.id = d.alert_id WHERE a.status = 'resolved' AND NOT EXISTS "
            "(SELECT 1 FROM drill_records r WHERE r.drill_id = d.id)")]

    def last_started(self, site: str) -> dict[str, int]:
        """Each plan's newest drill at ``site``: plan → when it started."""
        return {str(p): int(t) for p, t in self.store.rows(
            "SELECT plan, max(started_ms) FROM drills WHERE site = ? GROUP BY plan", (site,))}

    def start(self, desk: SiteDesk, plan_id: str, *, device: str | None, building: str | None, by: str,
              now_ms: int, chain: dict[str, Any] | None = None, language: str = "zh-CN") -> Drill:
        """Start a drill of ``plan_id`` on a device or a building of ``desk``'s site: the drill row and its alert,
        in one transaction. ``chain``: the technical drill's result, kept with it."""
        t = target(desk, plan_id, device, building, "the drill")
        plan, b, zone, where, campus = t.plan, t.building, t.zone, t.where, desk.campus
        rule, category, severity = kind(desk, plan)
        store = self.store
        with store.tx():
            cur = store.execute("INSERT INTO drills (site, plan, zone, building, device, chain, started_ms, "
                                "started_by, chain_result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                (campus.site.id, plan.id, zone, b.id, device, int(chain is not None), now_ms, by,
                                 json.dumps(chain, ensure_ascii=False) if chain is not None else None))
            drill_id = int(cur.lastrowid or 0)
            detail = Name(zh=f"应急演练：{plan.name.zh}（{where}），由 {by} 发起",
                          en=f"Emergency drill: {plan.name.en} ({where}), started by {by}")
            texts = {"subject": Name(zh=f"{where} · 演练 #{drill_id}", en=f"{where} · drill #{drill_id}"),
                     "detail": detail, "reading": Name(zh="演练（模拟事件，无真实读数）",
                                                       en="drill (a simulated event, no real reading)")}
            alert = NewAlert(rule=rule, category=category, severity=severity, subject=f"drill:{drill_id}",
                             detail=detail.text(language), ts=now_ms, zone=zone, building=b.id, device=device,
                             department=b.department.value, texts=texts, plan=plan.id, drill=drill_id)
            alert_id = desk.book.open(alert, now_ms)
            store.execute("UPDATE drills SET alert_id = ? WHERE id = ?", (alert_id, drill_id))
        desk.book.settle("drill-overdue", f"drill:{plan.id}", f"drill #{drill_id} started by {by}", now_ms)
        return self.get(drill_id)


def kind(desk: SiteDesk, plan: Plan) -> tuple[str, str, str]:
    """The rule, category and severity of a drill's alert: the plan's first rule's, else 应急预案启动 (of the plan's
    first category and severity when it names them)."""
    for rule_id in plan.activates.rules:
        rule = desk.rules.file_rule(rule_id)
        if rule is not None:
            return rule.id, rule.category.value, rule.severity.value
        own = RECORD_RULES.get(rule_id)
        if own is not None:
            return rule_id, own.category.value, own.severity.value
    base = RECORD_RULES[RULE]
    category = plan.activates.categories[0] if plan.activates.categories else base.category
    severity = plan.activates.severities[0] if plan.activates.severities else base.severity
    return RULE, category.value, severity.value


def figures(alert: Alert, run: Run | None, first_notice_ms: int | None, now_ms: int) -> Figures:
    """What the drill (or any alert with a plan) measured, from its alert, its run and its first message sent."""
    start = alert.started_ms

    def since(ms: int | None) -> float | None:
        return None if ms is None else (ms - start) / 1000

    closed = alert.status == "resolved"
    steps = tuple(StepFigure(s.n, s.text, since(s.due_ms), since(s.done_ms), s.done_by, s.state(closed, now_ms))
                  for s in (run.steps if run is not None else ()))
    return Figures(since(first_notice_ms), since(alert.ack_ms), since(alert.resolved_ms), steps)


def first_notice_ms(store: AlertStore, alert_id: int) -> int | None:
    """When the first message about the raise reached somebody (a person's channel or a group's; MQTT is not a
    person)."""
    for e in store.events(alert_id):
        if e.type == "notified" and e.detail.get("about") == "raised" and e.detail.get("channel") != "mqtt":
            return e.ts_ms
    return None
