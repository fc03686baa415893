"""A plan's run (预案执行): the checklist an alert opens when it activates an emergency plan, kept beside the alert.

The plain rules:
- the run starts when the alert is told (raised live, or confirmed after a backfill): each step's time limit
  (``within``) counts from then, so a step is due at start + within;
- the run keeps the plan as it was when it started (a later edit of the plans file changes no run under way);
- a step is ticked once, by whoever does it (the token's name), when the server's clock says, with a note and
  photos; a step ticked after its time limit is done late;
- a step past its time limit and not ticked is late: told once, up the alert's route (see ``AlertBook``);
- resolving the alert closes the run: a step never ticked by then was skipped; nothing is ticked after.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from alerts.plans import Plan
from alerts.store import AlertStore
from campus.errors import MeterwatchError, NotFound
from campus.labels import Name


class StepRefused(MeterwatchError):
    """A step cannot be ticked (the run is closed, or the step was ticked already): 409 with why."""


# the built-in roles, as people read them (a roster's own roles: their holders' names and titles)
ROLES = {"on_duty": Name(zh="值班电工", en="electrician on duty"),
         "crew_leader": Name(zh="水电组组长", en="crew leader"),
         "canteen_manager": Name(zh="食堂经理", en="canteen manager"),
         "office_head": Name(zh="总务处主任", en="office head")}


def minutes(seconds: float, zh: bool) -> str:
    """A time limit as people say it: 15 分钟 / 15 min, 2 小时 / 2 h (under a minute: 30 秒 / 30 s)."""
    if seconds < 60:
        return f"{round(seconds)} 秒" if zh else f"{round(seconds)} s"
    m = round(seconds / 60)
    if m >= 120 and m % 60 == 0:
        return f"{m // 60} 小时" if zh else f"{m // 60} h"
    return f"{m} 分钟" if zh else f"{m} min"


@dataclass(frozen=True, slots=True)
class RunStep:
    n: int                 # 1, 2, …: the step's place in the plan
    id: str
    text: Name
    role: str
    within_s: float | None
    due_ms: int | None
    done_ms: int | None
    done_by: str | None
    note: str | None
    photos: tuple[str, ...]
    late_ms: int | None    # when its lateness was told

    def past(self, at_ms: int) -> bool:
        """Is ``at_ms`` after the step's limit? (At the limit is in time; a step without one is never late.)"""
        return self.due_ms is not None and at_ms > self.due_ms

    def state(self, closed: bool, now_ms: int) -> str:
        """done | late (done after its limit) | overdue (past its limit, open) | skipped (never ticked, run closed)
        | open."""
        if self.done_ms is not None:
            return "late" if self.past(self.done_ms) else "done"
        if closed:
            return "skipped"
        return "overdue" if self.past(now_ms) else "open"


@dataclass(frozen=True, slots=True)
class Run:
    alert_id: int
    plan: str
    name: Name
    started_ms: int
    steps: tuple[RunStep, ...]
    snapshot: dict[str, Any]    # the plan as it was: places and contacts too

    def step(self, n: int) -> RunStep:
        for s in self.steps:
            if s.n == n:
                return s
        raise NotFound(f"plan {self.plan!r} has steps 1-{len(self.steps)}; no step {n}")

    def tickable(self, n: int, closed: bool) -> RunStep:
        """Step ``n``, if it may be ticked: NotFound for a step the plan lacks, StepRefused once the run is closed
        (``closed``: its alert resolved) or the step was ticked already."""
        step = self.step(n)
        if closed:
            raise StepRefused(f"alert #{self.alert_id} is resolved: its plan's run is closed, nothing more is "
                              "ticked (add what happened after in the incident report)")
        if step.done_ms is not None:
            raise StepRefused(f"step {n} ({step.text.zh}) was ticked already, by {step.done_by}")
        return step


def snapshot(plan: Plan) -> dict[str, Any]:
    """The plan as a run keeps it (JSON): id, name, steps, places and contacts in both languages."""
    def name(n: Name) -> dict[str, str]:
        return {"zh": n.zh, "en": n.en}

    return {"id": plan.id, "name": name(plan.name),
            "steps": [{"id": s.id, "text": name(s.text), "role": s.role, "within": s.within} for s in plan.steps],
            "places": [{"what": p.what, "name": name(p.name), "building": p.building,
                        "where": name(p.where), "photo": bool(p.photo)} for p in plan.places],
            "contacts": [{"name": name(c.name), "phone": c.phone} for c in plan.contacts]}


class Runs:
    """Runs and their steps in the alerts' own database (the same transaction as the alert that opens one)."""

    def __init__(self, store: AlertStore) -> None:
        self.store = store

    def start(self, alert_id: int, plan: dict[str, Any], now_ms: int) -> None:
        """Inside ``store.tx``: open the run of ``alert_id`` (once: a second start changes nothing)."""
        cur = self.store.execute("INSERT OR IGNORE INTO plan_runs (alert_id, plan, snapshot, started_ms) "
                                 "VALUES (?, ?, ?, ?)", (alert_id, plan["id"], json.dumps(plan, ensure_ascii=False),
                                                         now_ms))
        if cur.rowcount == 0:
            return
        for n, step in enumerate(plan["steps"], start=1):
            within = step.get("within")
            self.store.execute("INSERT INTO plan_steps (alert_id, n, due_ms) VALUES (?, ?, ?)",
                               (alert_id, n, None if within is None else now_ms + int(within * 1000)))

    def run(self, alert_id: int) -> Run | None:
        got = self.store.rows("SELECT plan, snapshot, started_ms FROM plan_runs WHERE alert_id = ?", (alert_id,))
        if not got:
            return None
        plan, snap, started = got[0]
        plan_doc = json.loads(snap)
        rows = self.store.rows("SELECT n, due_ms, done_ms, done_by, note, photos, late_ms FROM plan_steps "
                               "WHERE alert_id = ? ORDER BY n", (alert_id,))
        steps = []
        for n, due, done, by, note, photos, late in rows:
            s = plan_doc["steps"][n - 1]
            steps.append(RunStep(n, s["id"], Name(**s["text"]), s["role"], s.get("within"), due, done, by, note,
                                 tuple(json.loads(photos)), late))
        return Run(alert_id, plan, Name(**plan_doc["name"]), started, tuple(steps), plan_doc)

    def tick(self, alert_id: int, n: int, by: str, note: str | None, photos: list[str], now_ms: int, *,
             closed: bool) -> RunStep:
        """Inside ``store.tx``: step ``n`` done by ``by`` now (``closed``: the alert is resolved, nothing is)."""
        run = self.run(alert_id)
        if run is None:
            raise NotFound(f"alert #{alert_id} activated no emergency plan")
        step = run.tickable(n, closed)
        self.store.execute("UPDATE plan_steps SET done_ms = ?, done_by = ?, note = ?, photos = ? "
                           "WHERE alert_id = ? AND n = ?", (now_ms, by, note, json.dumps(photos), alert_id, n))
        self.store.event(alert_id, now_ms, "step_done", by, n=n, step=step.id, text=step.text.zh, note=note,
                         photos=photos, late=step.past(now_ms))
        return dataclasses.replace(step, done_ms=now_ms, done_by=by, note=note, photos=tuple(photos))

    def late(self, site: str, now_ms: int) -> list[tuple[int, int]]:
        """(alert id, step n) of every step past its limit (a tick at the limit is in time), not ticked and not told
        yet, of an open alert."""
        return [(int(a), int(n)) for a, n in self.store.rows(
            "SELECT s.alert_id, s.n FROM plan_steps s JOIN alerts a ON a.id = s.alert_id WHERE s.due_ms < ? "
            "AND s.done_ms IS NULL AND s.late_ms IS NULL AND a.status != 'resolved' AND a.site = ? "
            "ORDER BY s.due_ms, s.alert_id, s.n", (now_ms, site))]

    def told_late(self, alert_id: int, n: int, now_ms: int) -> bool:
        """Inside ``store.tx``: note that step ``n``'s lateness is being told; False if another pass did."""
        cur = self.store.execute("UPDATE plan_steps SET late_ms = ? WHERE alert_id = ? AND n = ? AND late_ms IS NULL "
                                 "AND done_ms IS NULL", (now_ms, alert_id, n))
        return cur.rowcount == 1
