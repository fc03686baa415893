"""The alert lifecycle: engine transitions, acknowledgements and hand resolves become alert rows,
events and notices in the outbox (all inside the caller's transaction).

    active ──ack──▶ acknowledged ──clear / resolve──▶ resolved
       └───────────────clear / resolve───────────────────┘
One open alert per (rule, subject); repeats update it. Escalation climbs the route's levels
while nobody has acknowledged, and stops at ack or resolve.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import quote

from alerts.engine import Transition
from alerts.messages import render, said, words
from alerts.plans import PlanBook
from alerts.roster import DutyRoster, Person, Route
from alerts.rules import RuleBook, Severity
from alerts.runs import ROLES, Runs, minutes, snapshot
from alerts.store import Alert, AlertStore
from campus.errors import MeterwatchError
from campus.labels import DEPARTMENTS, CampusNames, Name, label


class AlertStateError(MeterwatchError):
    """The alert is not in a state that allows this (e.g. acknowledging a resolved alert)."""


@dataclass(frozen=True)
class BookSettings:
    site: str
    language: str
    public_url: str
    secret: bytes
    tz: dt.tzinfo
    topic_prefix: str = "campus"
    mqtt: bool = True
    ack_link_ttl_s: float = 86_400.0


@dataclass(frozen=True)
class NewAlert:
    """An alert to raise: from an engine transition, or from a record (an overdue round, a water test outside its
    limit, a drifting sensor)."""

    rule: str
    category: str
    severity: str
    subject: str
    detail: str
    ts: int
    zone: str | None = None
    building: str | None = None
    device: str | None = None
    department: str | None = None
    value: float | None = None
    limit: str | None = None
    unit: str | None = None
    texts: dict[str, Name] | None = None  # people's words in both languages: subject, detail, limit, unit, reading
    plan: str | None = None   # the emergency plan it opens, whatever the plans' matching says (a drill's)
    drill: int | None = None  # the drill that raises it (演练): marked everywhere, counted nowhere

    @property
    def said(self) -> str | None:
        return words(self.texts) if self.texts else None


class Applied(NamedTuple):
    raised: int | None = None        # the id of an alert this transition raised
    closed_by_hand: bool = False     # the engine's alert was resolved by a person meanwhile


def _next_escalation(route: Route, level: int, now_ms: int) -> int | None:
    """When the level after ``level`` is due (its ``after`` counts from the raise), or None at the top."""
    if level + 1 >= len(route.levels):
        return None
    return now_ms + int((route.levels[level + 1].after - route.levels[level].after) * 1000)


def sign(secret: bytes, alert_id: int, person: str, expires_s: int) -> str:
    """The signature of a signed acknowledge link: alert, person and expiry (epoch seconds)."""
    return hmac.new(secret, f"{alert_id}:{person}:{expires_s}".encode(), hashlib.sha256).hexdigest()[:32]


def ack_query(secret: bytes, alert_id: int, person: str, expires_s: int) -> str:
    return f"by={quote(person)}&exp={expires_s}&sig={sign(secret, alert_id, person, expires_s)}"


class AlertBook:
    def __init__(self, store: AlertStore, roster: DutyRoster, rules: RuleBook, settings: BookSettings,
                 plans: PlanBook | None = None) -> None:
        self.store, self.roster, self.rules, self.settings, self.plans = store, roster, rules, settings, plans
        self.names = CampusNames(rules.campus)
        self.runs = Runs(store)

    # -- engine transitions (inside store.tx) --------------------------------------------
    def apply(self, t: Transition, now_ms: int, *, history: bool = False) -> Applied:
        """Record one transition. ``history``: it comes from a reading loaded late (a backlog, a backfill): the
        alert's state follows it, but nobody is told (see :meth:`_raise` for how such an alert gets told)."""
        s = self.store
        if t.kind == "raise":
            scope = t.rule.condition.scope
            dev = t.device if scope == "device" else None
            building = t.device.building if scope != "department" else None  # a bus: its first meter's building
            new = NewAlert(rule=t.rule.id, category=t.rule.category.value, severity=t.rule.severity.value,
                           subject=t.subject, detail=t.obs.detail, ts=t.ts, zone=t.device.zone,
                           building=building, device=dev.id if dev else None,
                           department=t.department, value=t.obs.value, limit=t.obs.limit, unit=t.obs.unit,
                           texts=t.obs.texts)
            return Applied(raised=self._raise(new, now_ms, route=t.rule.route, duty_ms=t.ts, quiet=history,
                                              value=t.obs.value, limit=t.obs.limit))
        alert = s.get(t.alert_id) if t.alert_id else s.open_for(self.settings.site, t.rule.id, t.subject)
        if alert is None or alert.status == "resolved":
            return Applied(closed_by_hand=t.kind == "update")
        quiet = history or bool(alert.quiet)
        if t.kind == "update":
            cols: dict[str, Any] = {"value": t.obs.value, "last_ms": max(t.ts, alert.last_ms)}
            rise = t.rule.rise
            if rise and t.ts - alert.started_ms >= rise.after * 1000 and \
                    Severity(alert.severity).rank < rise.severity.rank:
                cols["severity"] = rise.severity.value
                s.update_alert(alert.id, **cols)
                s.event(alert.id, t.ts, "severity", None, old=alert.severity, new=rise.severity.value)
                if not quiet:
                    self._notify(s.get(alert.id), "raised", self._told(alert.id), None, now_ms)
            else:
                s.update_alert(alert.id, **cols)
            if alert.quiet and not history:
                self._confirmed(s.get(alert.id), t.ts, now_ms)
            return Applied()
        if t.reason is not None and t.obs.value is not None:  # its period ended: the period's final value
            s.update_alert(alert.id, value=t.obs.value)
            alert = s.get(alert.id)
        self._resolve(alert, "system", t.reason, t.ts, now_ms, tell=not quiet)
        return Applied()

    def _confirmed(self, alert: Alert, ts: int, now_ms: int) -> None:
        """A live reading keeps an alert raised from history going: it is news now, told as a raise is (to whoever
        is on duty now), and escalates from now on while nobody acknowledges it."""
        s = self.store
        if alert.status != "active":  # acknowledged meanwhile: somebody knows; its plan's run opens now
            s.update_alert(alert.id, quiet=0)
            self._start_run(alert.id, alert.plan, now_ms)
            return
        way = self.roster.route(alert.route, alert.category, alert.severity, alert.zone, alert.building)
        s.update_alert(alert.id, quiet=0, route=way.id, level=0, next_escalation_ms=_next_escalation(way, 0, now_ms))
        s.event(alert.id, ts, "confirmed", None)
        self._start_run(alert.id, alert.plan, now_ms)
        self._notify(s.get(alert.id), "raised", self.roster.recipients(way.levels[0], alert.zone, now_ms), way,
                     now_ms)

    # -- records (inspections, water tests): alerts raised by what people record -----------
    def record(self, a: NewAlert, now_ms: int, *, repeat: bool = True) -> int:
        """Raise ``a`` (its own transaction), or, while the same (rule, subject) is open, add it to that alert
        (``repeat``; otherwise only bring its detail and value up to date). Returns the alert's id."""
        s = self.store
        with s.tx():
            alert = s.open_for(self.settings.site, a.rule, a.subject)
            if alert is not None and not repeat:  # the same alert, kept current without an event each time
                if (alert.detail, alert.value, alert.texts) != (a.detail, a.value, a.said):
                    s.update_alert(alert.id, detail=a.detail, value=a.value, texts=a.said)
                return alert.id
            if alert is not None:
                s.update_alert(alert.id, value=a.value, last_ms=max(a.ts, alert.last_ms), detail=a.detail,
                               texts=a.said)
                s.event(alert.id, a.ts, "repeated", None, value=a.value, limit=a.limit, detail=a.detail)
                return alert.id
            return self._raise(a, now_ms, duty_ms=now_ms, value=a.value, limit=a.limit, detail=a.detail)

    def open(self, a: NewAlert, now_ms: int) -> int:
        """Inside ``store.tx``: raise ``a`` now, told to whoever is on duty now (a drill, a plan started by hand:
        the caller writes its own rows in the same transaction). Its id."""
        return self._raise(a, now_ms, duty_ms=now_ms, value=a.value, limit=a.limit, detail=a.detail, drill=a.drill)

    def _raise(self, a: NewAlert, now_ms: int, *, duty_ms: int, route: str | None = None, quiet: bool = False,
               **event: Any) -> int:
        """Insert ``a`` as an active alert on its route (``route`` names one; else the first that matches), its
        ``raised`` event (``event``) and the first level's notices to whoever is on duty at ``duty_ms``. ``quiet``:
        raised from history, no notices and no escalation until a live reading confirms it (:meth:`_confirmed`)."""
        s = self.store
        way = self.roster.route(route, a.category, a.severity, a.zone, a.building)
        plan = a.plan
        if plan is None and self.plans is not None:
            found = self.plans.for_alert(a.rule, a.category, a.severity)
            plan = found.id if found is not None else None
        alert_id = s.insert_alert(
            site=self.settings.site, rule=a.rule, subject=a.subject, device=a.device, building=a.building,
            zone=a.zone, department=a.department, category=a.category, severity=a.severity, status="active",
            value=a.value, limit_text=a.limit, unit=a.unit, detail=a.detail, texts=a.said, started_ms=a.ts,
            last_ms=a.ts, route=way.id, level=0, quiet=int(quiet), plan=plan, drill=a.drill,
            next_escalation_ms=None if quiet else _next_escalation(way, 0, now_ms))
        if quiet:
            s.event(alert_id, a.ts, "raised", None, history=True, **event)
            return alert_id
        s.event(alert_id, a.ts, "raised", None, **event)
        self._start_run(alert_id, plan, now_ms)
        self._notify(s.get(alert_id), "raised", self.roster.recipients(way.levels[0], a.zone, duty_ms), way, now_ms)
        return alert_id

    def _start_run(self, alert_id: int, plan_id: str | None, now_ms: int) -> None:
        """Open the run of the plan an alert activated (its steps' time limits count from now)."""
        plan = self.plans.plans.get(plan_id) if plan_id is not None and self.plans is not None else None
        if plan is not None:
            self.runs.start(alert_id, snapshot(plan), now_ms)

    def settle(self, rule: str, subject: str, reason: str, now_ms: int) -> int | None:
        """Resolve the open (rule, subject) alert, if any, because a record settled it; its id."""
        with self.store.tx():
            alert = self.store.open_for(self.settings.site, rule, subject)
            if alert is None:
                return None
            self._resolve(alert, "system", reason, now_ms, now_ms)
            return alert.id

    # -- people ------------------------------------------------------------------------
    def ack(self, alert_id: int, by: str, comment: str | None, now_ms: int) -> Alert:
        s = self.store
        with s.tx():
            alert = s.get(alert_id)
            if alert.status != "active":
                raise AlertStateError(f"alert #{alert_id} is {alert.status}; only an active alert can be acknowledged")
            s.update_alert(alert_id, status="acknowledged", ack_by=by, ack_ms=now_ms, ack_comment=comment,
                           next_escalation_ms=None)
            s.event(alert_id, now_ms, "acknowledged", by, comment=comment)
            told = [p for p in self._told(alert_id) if p.id != by]
            self._notify(s.get(alert_id), "acknowledged", told, None, now_ms, actor=by)
            return s.get(alert_id)

    def tick(self, alert_id: int, n: int, by: str, note: str | None, photos: list[str], now_ms: int) -> Alert:
        """Step ``n`` of the alert's plan done by ``by`` now (the run closes with the alert: nothing after)."""
        with self.store.tx():
            closed = self.store.get(alert_id).status == "resolved"
            self.runs.tick(alert_id, n, by, note, photos, now_ms, closed=closed)
            return self.store.get(alert_id)

    def resolve(self, alert_id: int, by: str, reason: str, now_ms: int) -> Alert:
        s = self.store
        with s.tx():
            alert = s.get(alert_id)
            if alert.status == "resolved":
                raise AlertStateError(f"alert #{alert_id} is already resolved")
            self._resolve(alert, by, reason, now_ms, now_ms)
            return s.get(alert_id)

    def _resolve(self, alert: Alert, by: str, reason: str | None, ts: int, now_ms: int, *, tell: bool = True) -> None:
        s = self.store
        s.update_alert(alert.id, status="resolved", resolved_ms=ts, resolved_by=by,
                       resolve_reason=reason or "condition cleared", next_escalation_ms=None, last_ms=max(ts,
                                                                                                         alert.last_ms))
        s.event(alert.id, ts, "resolved", by, reason=reason or "condition cleared")
        route = self.roster.routes.get(alert.route or "")
        if tell and (route is None or route.notify_resolved):
            self._notify(s.get(alert.id), "resolved", self._told(alert.id), route, now_ms, actor=by, reason=reason)

    # -- escalation --------------------------------------------------------------------
    def escalate(self, now_ms: int) -> int:
        """Climb one level for every active alert whose time is up; returns how many climbed."""
        n = 0
        for alert in self.store.due_escalations(self.settings.site, now_ms):
            route = self.roster.routes.get(alert.route or "")
            with self.store.tx():
                fresh = self.store.get(alert.id)  # read again under the write lock: another pass, or host, may have
                if fresh.status != "active" or fresh.next_escalation_ms is None or fresh.next_escalation_ms > now_ms:
                    continue  # climbed it, or it was acknowledged, meanwhile: once only
                level = fresh.level + 1
                if route is None or level >= len(route.levels):
                    self.store.update_alert(alert.id, next_escalation_ms=None)
                    continue
                nxt = _next_escalation(route, level, now_ms)
                self.store.update_alert(alert.id, level=level, next_escalation_ms=nxt)
                people = self.roster.recipients(route.levels[level], fresh.zone, now_ms)
                self.store.event(alert.id, now_ms, "escalated", None, level=level, to=[p.id for p in people])
                self._notify(self.store.get(alert.id), "escalated", people, route, now_ms, level=level)
                n += 1
        return n + self._late_steps(now_ms)

    def _late_steps(self, now_ms: int) -> int:
        """Tell every step past its time limit, once, one level up the alert's route (the crew leader after the
        electrician on duty), acknowledged or not: a step late is news of its own."""
        n = 0
        for alert_id, step_n in self.runs.late(self.settings.site, now_ms):
            with self.store.tx():
                if not self.runs.told_late(alert_id, step_n, now_ms):
                    continue
                alert = self.store.get(alert_id)
                run = self.runs.run(alert_id)
                if run is None:
                    continue
                step = run.step(step_n)
                route = self.roster.routes.get(alert.route or "")
                up = min(alert.level + 1, len(route.levels) - 1) if route is not None else 0
                people = self.roster.recipients(route.levels[up], alert.zone, now_ms) if route is not None else []
                self.store.event(alert_id, now_ms, "step_late", None, n=step_n, step=step.id, text=step.text.zh,
                                 due_ms=step.due_ms, to=[p.id for p in people])
                self._notify(alert, "step_late", people, route, now_ms, late_step=step_n)
                n += 1
        return n

    # -- notices -----------------------------------------------------------------------
    def subject_name(self, alert: Alert, language: str) -> str:
        """What the alert is about in people's words: its own (a round, a water point and parameter), else the
        device's or the department's name."""
        own = said(alert, "subject", language)
        if own:
            return own
        if alert.device:
            return self.names.device(alert.device) or alert.device
        return label(DEPARTMENTS, alert.subject, language)

    def person_name(self, person: str | None) -> str | None:
        """A roster person's name for their id (anyone else, e.g. a token's name, as it is)."""
        found = self.roster.people.get(person or "")
        return found.name if found is not None else person

    def _told(self, alert_id: int) -> list[Person]:
        ids = dict.fromkeys(n.recipient for n in self.store.notices(alert_id)
                            if n.recipient and n.event in ("raised", "escalated"))
        return [self.roster.people[i] for i in ids if i in self.roster.people]

    def role_name(self, role: str, language: str) -> str:
        """A plan's role as people read it: the built-in's name, else its holders' names."""
        known = ROLES.get(role)
        holders = self.roster.file.roles.get(role, [])
        names = ("、" if not language.lower().startswith("en") else ", ").join(
            self.roster.people[p].name for p in holders if p in self.roster.people)
        if known is None:
            return names or role
        return f"{known.text(language)} {names}" if names else known.text(language)

    def plan_lines(self, alert: Alert, language: str, late_step: int | None = None) -> list[str]:
        """What a message says of the alert's plan: its name, the first steps (or the late one) with who and by
        when, and where the checklist is."""
        run = self.runs.run(alert.id) if alert.plan else None
        if run is None:
            return []
        zh = not language.lower().startswith("en")
        tz = self.settings.tz

        def line(step: Any) -> str:
            who = self.role_name(step.role, language)
            by = ""
            if step.due_ms is not None:
                due = dt.datetime.fromtimestamp(step.due_ms / 1000, tz)
                start = dt.datetime.fromtimestamp(run.started_ms / 1000, tz)
                at = due.strftime("%H:%M" if due.date() == start.date() else "%m-%d %H:%M")
                by = f"，{minutes(step.within_s, True)}内（{at} 前）" if zh else \
                    f", within {minutes(step.within_s, False)} (by {at})"
            return f"第{step.n}步（{who}{by}）：{step.text.zh}" if zh else f"Step {step.n} ({who}{by}): {step.text.en}"

        head = f"应急预案：{run.name.zh}" if zh else f"Emergency plan: {run.name.en}"
        if late_step is not None:
            shown = [run.step(late_step)]
            head += "（步骤超时）" if zh else " (a step is late)"
        else:
            shown = [s for s in run.steps if s.done_ms is None][:2]
            if not shown:
                head += "（各步骤均已完成）" if zh else " (every step done)"
        link = f"{self.settings.public_url}/#plan/{alert.id}"
        return [head, *(line(s) for s in shown), f"处置清单（逐项勾选）：{link}" if zh else f"Checklist: {link}"]

    def _notify(self, alert: Alert, event: str, people: list[Person], route: Route | None, now_ms: int, *,
                level: int | None = None, actor: str | None = None, reason: str | None = None,
                late_step: int | None = None) -> None:
        cfg = self.settings
        level = alert.level if level is None else level
        names = self.names
        building = names.building(alert.building) or ""
        device = names.device(alert.device) or ""
        zone = names.zone(alert.zone) or ""
        payload = {"alert_id": alert.id, "site": cfg.site, "event": event, "rule": alert.rule,
                   "severity": alert.severity, "category": alert.category, "status": alert.status,
                   "device": alert.device, "device_name": device or None,
                   "building": alert.building, "building_name": building or None,
                   "zone": alert.zone, "zone_name": zone or None, "department": alert.department,
                   "value": alert.value, "unit": alert.unit, "limit": alert.limit_text,
                   "started_ms": alert.started_ms, "level": level, "plan": alert.plan, "drill": alert.drill}
        actor_name = self.person_name(actor)

        def text(language: str | None, person: str | None) -> tuple[str, str]:
            language = language or cfg.language
            name = self.rules.rule_name(alert.rule, language)
            ack = f"{cfg.public_url}/api/v1/alerts/{alert.id}"
            if person:
                ack += f"/ack?{ack_query(cfg.secret, alert.id, person, now_ms // 1000 + int(cfg.ack_link_ttl_s))}"
            plan = self.plan_lines(alert, language, late_step) if event in ("raised", "escalated", "step_late") else []
            return render(alert, event, language=language, rule_name=name, building=building, device=device,
                          subject=self.subject_name(alert, language), zone=zone, tz=cfg.tz, ack_url=ack,
                          actor=actor_name, reason=reason, console_url=f"{cfg.public_url}/#alerts/{alert.id}",
                          plan=plan)

        for person in people:
            title, body = text(person.language, person.id)
            for channel, url in self.roster.urls(person):
                self.store.enqueue(alert.id, event, level, channel, person.id, url, title, body,
                                   {**payload, "to": person.id}, now_ms, cfg.site)
        if route is not None:
            title, body = text(None, None)
            for channel, url in self.roster.group_urls(route):
                self.store.enqueue(alert.id, event, level, channel, None, url, title, body, payload, now_ms, cfg.site)
        if cfg.mqtt:
            title, body = text(None, None)
            topic = f"{cfg.topic_prefix}/{cfg.site}/alerts/{alert.severity}"
            self.store.enqueue(alert.id, event, level, "mqtt", None, f"mqtt:{topic}", title, body,
                               {**payload, "title": title}, now_ms, cfg.site)
