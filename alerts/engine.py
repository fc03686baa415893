"""The rule engine: readings and statuses in, alert transitions out. Pure state, no I/O.

Per device, readings are evaluated in timestamp order; a reading at or before the newest one
already evaluated (a duplicate, or late data) is stored by ingest but does not re-run rules —
a cumulative register loses nothing by it, the next step covers the gap. Per (rule, subject)
a small machine follows the condition's verdicts:

    idle ─FIRING─▶ pending ─(for and count met)─▶ active ─CLEAR for clear.for─▶ idle
    active ─resolved by hand─▶ held ─CLEAR─▶ idle      (a hand resolve is not undone by the same episode)

The state (register tracks, condition state, machines) is exported with :meth:`Engine.dirty`
and committed with the alerts it produced, so a restart continues exactly where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

from alerts.conditions import Env, Observation, Sample, Verdict
from alerts.rules import Rule, RuleBook
from campus.calendar import CampusCalendar
from campus.contract import REGISTER_FIELD, Reading
from campus.model import Device
from campus.registers import RegisterTrack

Key = tuple[str, str]  # (rule id, subject: device id or department)


@dataclass(slots=True)
class Transition:
    kind: Literal["raise", "update", "clear"]
    rule: Rule
    subject: str
    device: Device
    department: str
    obs: Observation
    ts: int
    alert_id: int | None = None


@dataclass
class EngineState:
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: dict[Key, dict[str, Any]] = field(default_factory=dict)


def _idle() -> dict[str, Any]:
    return {"ph": "idle", "since": None, "n": 0, "clear": None, "alert": None}


class Engine:
    def __init__(self, book: RuleBook, state: EngineState | None = None, *, watching_since_ms: int = 0) -> None:
        state = state or EngineState()
        self.devices, self.rules = state.devices, state.rules
        self.dirty_devices: set[str] = set()
        self.dirty_rules: set[Key] = set()
        self.tracks: dict[str, RegisterTrack] = {}
        self.watching_since_ms = watching_since_ms
        self.use(book)

    def use(self, book: RuleBook) -> None:
        """Switch to another rule book (campus or rule file changed); state is kept by key."""
        self.book = book
        campus = book.campus
        tz = ZoneInfo(campus.site.timezone)
        self.env = Env(campus, CampusCalendar(campus.calendar), dict(book.file.schedules), tz,
                       self.watching_since_ms)
        self.tracks = {}
        for dev_id, ds in self.devices.items():
            dev = book.devices.get(dev_id)
            if dev is not None and ds.get("reg"):
                self.tracks[dev_id] = RegisterTrack.restore(ds["reg"], multiplier=dev.multiplier,
                                                            rated_capacity=dev.rated_capacity)

    # -- inputs --------------------------------------------------------------------------
    def reading(self, r: Reading) -> list[Transition]:
        dev = self.book.devices.get(r.device)
        if dev is None:
            return []
        ds = self.devices.setdefault(r.device, {"ts": None})
        if ds["ts"] is not None and r.ts <= ds["ts"]:
            return []  # a duplicate or late reading: stored by ingest, rules have moved past it
        ds["ts"] = r.ts
        step = None
        reg_field = REGISTER_FIELD[dev.kind]
        if reg_field is not None and reg_field in r.values:
            track = self.tracks.get(r.device)
            if track is None:
                self.tracks[r.device] = RegisterTrack(r.ts, r.values[reg_field], multiplier=dev.multiplier,
                                                      rated_capacity=dev.rated_capacity)
            else:
                step = track.step(r.ts, r.values[reg_field])
        self.dirty_devices.add(r.device)
        rules = self.book.by_device.get(r.device)
        if not rules:
            return []
        dept = self.book.department[r.device]
        sample = Sample(dev, r, self.env.tz, step, dept)
        out = []
        for rule in rules:
            if rule.schedule is not None and not self.env.schedule(rule.schedule).contains(sample.local,
                                                                                           self.env.calendar):
                continue
            key = (rule.id, dept if rule.condition.scope == "department" else dev.id)
            st = self.rules.get(key) or self._state(key)
            obs = rule.condition.observe(sample, st["c"], self.env)
            if rule.condition.stateful:
                self.dirty_rules.add(key)
            if obs is not None:
                if st["p"]["ph"] != "idle" or obs.verdict is not Verdict.CLEAR:
                    self.dirty_rules.add(key)  # the machine may move; an idle CLEAR changes nothing
                t = self._advance(rule, key, st["p"], obs, r.ts, dev, dept)
                if t is not None:
                    out.append(t)
        return out

    def status(self, device: str, online: bool, ts: int) -> list[Transition]:
        dev = self.book.devices.get(device)
        if dev is None:
            return []
        out = []
        for rule in self.book.by_device.get(device, []):
            key = (rule.id, device)
            st = self._state(key)
            obs = rule.condition.status(online, ts, st["c"])
            if obs is not None:
                t = self._advance(rule, key, st["p"], obs, ts, dev, self.book.department[device])
                if t is not None:
                    out.append(t)
        return out

    def tick(self, now_ms: int) -> list[Transition]:
        out = []
        for rule in self.book.clocked:
            for dev in self.book.devices.values():
                if rule not in self.book.by_device[dev.id]:
                    continue
                key = (rule.id, dev.id)
                st = self.rules.get(key) or self._state(key)
                obs = rule.condition.tick(dev, st["c"], now_ms, self.env, self.devices.get(dev.id, {}).get("ts"))
                if obs is not None:
                    self.dirty_rules.add(key)
                    t = self._advance(rule, key, st["p"], obs, now_ms, dev, self.book.department[dev.id])
                    if t is not None:
                        out.append(t)
        return out

    def resolved_by_hand(self, rule_id: str, subject: str) -> None:
        st = self.rules.get((rule_id, subject))
        if st is not None and st["p"]["ph"] == "active":
            st["p"].update(ph="held", clear=None, alert=None)
            self.dirty_rules.add((rule_id, subject))

    def bind(self, key: Key, alert_id: int) -> None:
        self.rules[key]["p"]["alert"] = alert_id

    # -- the machine ---------------------------------------------------------------------
    def _state(self, key: Key) -> dict[str, Any]:
        st = self.rules.get(key)
        if st is None:
            st = self.rules[key] = {"p": _idle(), "c": {}}
        self.dirty_rules.add(key)
        return st

    def _advance(self, rule: Rule, key: Key, p: dict[str, Any], obs: Observation, ts: int, dev: Device,
                 dept: str) -> Transition | None:
        ph = p["ph"]
        if obs.verdict is Verdict.FIRING:
            if ph == "held":
                return None
            if ph == "active":
                p["clear"] = None
                return Transition("update", rule, key[1], dev, dept, obs, ts, p["alert"])
            if ph == "idle":
                p.update(ph="pending", since=ts, n=0)
            p["n"] += 1
            if ts - p["since"] >= rule.for_ms and p["n"] >= rule.count:
                p.update(ph="active", clear=None)
                return Transition("raise", rule, key[1], dev, dept, obs, ts)
            return None
        if obs.verdict is Verdict.CLEAR:
            if ph in ("pending", "held"):
                p.update(_idle())
            elif ph == "active":
                if p["clear"] is None:
                    p["clear"] = ts
                if ts - p["clear"] >= rule.clear.for_ * 1000:
                    alert = p["alert"]
                    p.update(_idle())
                    return Transition("clear", rule, key[1], dev, dept, obs, ts, alert)
            return None
        if ph == "pending":
            p.update(_idle())
        elif ph == "active":
            p["clear"] = None
        return None

    # -- persistence ---------------------------------------------------------------------
    def dirty(self) -> tuple[dict[str, dict[str, Any]], dict[Key, dict[str, Any]]]:
        """What changed since the last call, ready to commit (register tracks folded in)."""
        devices = {}
        for d in self.dirty_devices:
            ds = self.devices[d]
            track = self.tracks.get(d)
            if track is not None:
                ds["reg"] = track.state()
            devices[d] = ds
        rules = {k: self.rules[k] for k in self.dirty_rules}
        self.dirty_devices, self.dirty_rules = set(), set()
        return devices, rules
