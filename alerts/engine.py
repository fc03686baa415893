"""The rule engine: readings, statuses and meter health in, alert transitions out. Pure state, no I/O.

Per device, readings are evaluated in timestamp order; a reading at or before the newest one
already evaluated (a duplicate, or late data) is stored by ingest but does not re-run rules —
a cumulative register loses nothing by it, the next step covers the gap. Per (rule, subject)
a small machine follows the condition's verdicts:

    idle ─FIRING─▶ pending ─(for and count met)─▶ active ─CLEAR for clear.for─▶ idle
    active ─resolved by hand─▶ held ─CLEAR─▶ idle      (a hand resolve is not undone by the same episode)

The state (register tracks, condition state, machines) is exported with :meth:`Engine.dirty`
and committed with the alerts it produced, so a restart continues exactly where it stopped.
Per (rule, subject) it is a :class:`RuleState` (a :class:`Machine` and the condition's own dict);
it is persisted in its JSON form, ``{"p": {"ph", "since", "n", "clear", "alert"}, "c": {...}}``,
which :meth:`RuleState.from_json` reads and :meth:`RuleState.to_json` writes unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo

from alerts.conditions import Env, Observation, Sample, Verdict
from alerts.conditions.base import Condition, State
from alerts.conditions.silence import bus_of, subject_of
from alerts.rules import Rule, RuleBook
from campus.calendar import CampusCalendar
from campus.contract import REGISTER_FIELD, Health, Reading
from campus.model import Device
from campus.registers import RegisterTrack

Key = tuple[str, str]  # (rule id, subject: device id, department, or gateway/bus)


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
    reason: str | None = None  # a clear's reason when it is not the condition clearing (its period ended)


class Phase(StrEnum):
    IDLE = "idle"
    PENDING = "pending"  # FIRING seen, waiting for the rule's for and count
    ACTIVE = "active"    # raised: the alert stays until CLEAR has lasted clear.for
    HELD = "held"        # resolved by hand while the episode goes on: waits for CLEAR


@dataclass(slots=True)
class Machine:
    """The alert machine of one (rule, subject); JSON ``{"ph", "since", "n", "clear", "alert"}``."""

    phase: Phase = Phase.IDLE
    since: int | None = None  # pending: the first FIRING of the episode (ms)
    count: int = 0            # pending: FIRING verdicts in the episode
    clear: int | None = None  # active: the first CLEAR of the current clear run (ms)
    alert: int | None = None  # active: the raised alert's id, once the book bound it

    def reset(self) -> None:
        """Back to idle."""
        self.phase, self.since, self.count, self.clear, self.alert = Phase.IDLE, None, 0, None, None

    @classmethod
    def from_json(cls, p: Mapping[str, Any]) -> Machine:
        return cls(Phase(p["ph"]), p["since"], p["n"], p["clear"], p["alert"])

    def to_json(self) -> dict[str, Any]:
        return {"ph": self.phase.value, "since": self.since, "n": self.count, "clear": self.clear,
                "alert": self.alert}


@dataclass(slots=True)
class RuleState:
    """What the engine keeps per (rule, subject): its machine and the condition's own state."""

    machine: Machine = field(default_factory=Machine)
    condition: State = field(default_factory=dict)  # owned by the condition plug-in, JSON-able

    @classmethod
    def from_json(cls, st: Mapping[str, Any]) -> RuleState:
        """Today's persisted form, ``{"p": {...machine...}, "c": {...condition...}}``."""
        return cls(Machine.from_json(st["p"]), st["c"])

    def to_json(self) -> dict[str, Any]:
        return {"p": self.machine.to_json(), "c": self.condition}


@dataclass
class EngineState:
    """What the store loads: device state and rule state, the latter typed or in its JSON form."""

    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: dict[Key, RuleState | dict[str, Any]] = field(default_factory=dict)


class Engine:
    def __init__(self, book: RuleBook, state: EngineState | None = None, *, watching_since_ms: int = 0) -> None:
        state = state or EngineState()
        self.devices = state.devices
        self.rules: dict[Key, RuleState] = {
            k: st if isinstance(st, RuleState) else RuleState.from_json(st) for k, st in state.rules.items()}
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
                       self.watching_since_ms, self.devices,
                       any(r.condition.scope == "bus" for r in book.rules.values()))
        self.periodic = {r.id for r in book.rules.values()
                         if type(r.condition).period_end is not Condition.period_end}
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
            if rule.condition.scope == "bus" and bus_of(dev) is None:
                continue  # not polled on a gateway's bus
            key = (rule.id, self._subject(rule, dev, dept))
            st = self.rules.get(key) or self._state(key)
            if key[0] in self.periodic:
                ended = self._period_over(rule, key, st, r.ts, dev, dept)
                if ended is not None:
                    out.append(ended)
            obs = rule.condition.observe(sample, st.condition, self.env)
            if rule.condition.stateful:
                self.dirty_rules.add(key)
            if obs is not None:
                if st.machine.phase is not Phase.IDLE or obs.verdict is not Verdict.CLEAR:
                    self.dirty_rules.add(key)  # the machine may move; an idle CLEAR changes nothing
                t = self._advance(rule, key, st.machine, obs, r.ts, dev, dept)
                if t is not None:
                    out.append(t)
        return out

    def status(self, device: str, online: bool, ts: int) -> list[Transition]:
        dev = self.book.devices.get(device)
        if dev is None or dev.manual:
            return []  # a meter read by hand has no gateway and no Last Will: a status on its topic says nothing
        out = []
        for rule in self.book.by_device.get(device, []):
            if rule.condition.scope != "device":
                continue  # a Last Will speaks for a device
            key = (rule.id, device)
            st = self._state(key)
            obs = rule.condition.status(online, ts, st.condition)
            if obs is not None:
                t = self._advance(rule, key, st.machine, obs, ts, dev, self.book.department[device])
                if t is not None:
                    out.append(t)
        return out

    def health(self, device: str, h: Health) -> list[Transition]:
        """The gateway's last poll of a meter (the newest by its ``ts`` is kept); the clock's tick judges it."""
        if device not in self.book.devices:
            return []
        ds = self.devices.setdefault(device, {"ts": None})
        old = ds.get("health")
        if old is not None and old["ts"] > h.ts:
            return []
        ds["health"] = {"ok": h.ok, "code": h.code, "error": h.error, "last": h.last_answer, "ts": h.ts,
                        "gateway": h.gateway, "bus": h.bus}
        self.dirty_devices.add(device)
        return []

    @staticmethod
    def _subject(rule: Rule, dev: Device, dept: str) -> str:
        scope = rule.condition.scope
        if scope == "department":
            return dept
        key = bus_of(dev) if scope == "bus" else None
        return subject_of(key) if key is not None else dev.id

    def _tick_buses(self, rule: Rule, now_ms: int) -> list[Transition]:
        """One verdict per gateway bus, over the bus's meters the rule targets."""
        buses: dict[tuple[str, str], list[Device]] = {}
        for dev in self.book.devices.values():
            key = bus_of(dev)
            if key is not None and rule in self.book.by_device[dev.id]:
                buses.setdefault(key, []).append(dev)
        out = []
        for key, meters in buses.items():
            rk = (rule.id, subject_of(key))
            st = self.rules.get(rk) or self._state(rk)
            obs = rule.condition.tick_bus(meters, st.condition, now_ms, self.env)
            if obs is not None:
                self.dirty_rules.add(rk)
                t = self._advance(rule, rk, st.machine, obs, now_ms, meters[0], self.book.department[meters[0].id])
                if t is not None:
                    out.append(t)
        return out

    def tick(self, now_ms: int) -> list[Transition]:
        out = []
        for key in [k for k in self.rules if k[0] in self.periodic]:  # a month ends without a reading too
            rule, st = self.book.rules.get(key[0]), self.rules[key]
            end = rule.condition.period_end(st.condition, self.env) if rule is not None else None
            dev = self._device_of(key) if end is not None and now_ms >= end else None
            if rule is not None and dev is not None:
                ended = self._period_over(rule, key, st, now_ms, dev, self.book.department[dev.id])
                if ended is not None:
                    out.append(ended)
        for rule in self.book.clocked:
            if rule.condition.scope == "bus":
                out += self._tick_buses(rule, now_ms)
                continue
            for dev in self.book.devices.values():
                if rule not in self.book.by_device[dev.id]:
                    continue
                key = (rule.id, dev.id)
                st = self.rules.get(key) or self._state(key)
                obs = rule.condition.tick(dev, st.condition, now_ms, self.env, self.devices.get(dev.id, {}).get("ts"))
                if obs is not None:
                    self.dirty_rules.add(key)
                    t = self._advance(rule, key, st.machine, obs, now_ms, dev, self.book.department[dev.id])
                    if t is not None:
                        out.append(t)
        return out

    def resolved_by_hand(self, rule_id: str, subject: str) -> None:
        st = self.rules.get((rule_id, subject))
        if st is not None and st.machine.phase is Phase.ACTIVE:
            m = st.machine
            m.phase, m.clear, m.alert = Phase.HELD, None, None
            self.dirty_rules.add((rule_id, subject))

    def bind(self, key: Key, alert_id: int) -> None:
        self.rules[key].machine.alert = alert_id

    # -- periods (a budget's month) -------------------------------------------------------
    def _period_over(self, rule: Rule, key: Key, st: RuleState, now_ms: int, dev: Device,
                     dept: str) -> Transition | None:
        """Once ``now_ms`` is past the period the rule's state belongs to, the period's alert closes at the
        period's end with its final value, and the next period starts afresh (no alert, no data, no hold)."""
        end = rule.condition.period_end(st.condition, self.env)
        if end is None or now_ms < end:
            return None
        final = rule.condition.period_over(st.condition, self.env)
        m = st.machine
        alert, active = m.alert, m.phase is Phase.ACTIVE
        m.reset()
        self.dirty_rules.add(key)
        if not active:
            return None
        return Transition("clear", rule, key[1], dev, dept, final, end, alert, reason=final.detail)

    def _device_of(self, key: Key) -> Device | None:
        """A device the (rule, subject) key is about: the device, or one of the department's the rule watches."""
        dev = self.book.devices.get(key[1])
        if dev is not None:
            return dev
        return next((self.book.devices[d] for d, rules in self.book.by_device.items()
                     if self.book.department[d] == key[1] and any(r.id == key[0] for r in rules)), None)

    # -- the machine ---------------------------------------------------------------------
    def _state(self, key: Key) -> RuleState:
        st = self.rules.get(key)
        if st is None:
            st = self.rules[key] = RuleState()
        self.dirty_rules.add(key)
        return st

    def _advance(self, rule: Rule, key: Key, m: Machine, obs: Observation, ts: int, dev: Device,
                 dept: str) -> Transition | None:
        ph = m.phase
        if obs.verdict is Verdict.FIRING:
            if ph is Phase.HELD:
                return None
            if ph is Phase.ACTIVE:
                m.clear = None
                return Transition("update", rule, key[1], dev, dept, obs, ts, m.alert)
            if ph is Phase.IDLE or m.since is None:  # (pending always has since; without one, start over)
                m.phase, m.since, m.count = Phase.PENDING, ts, 0
            m.count += 1
            if ts - m.since >= rule.for_ms and m.count >= rule.count:
                m.phase, m.clear = Phase.ACTIVE, None
                return Transition("raise", rule, key[1], dev, dept, obs, ts)
            return None
        if obs.verdict is Verdict.CLEAR:
            if ph is Phase.PENDING or ph is Phase.HELD:
                m.reset()
            elif ph is Phase.ACTIVE:
                if m.clear is None:
                    m.clear = ts
                if ts - m.clear >= rule.clear.for_ * 1000:
                    alert = m.alert
                    m.reset()
                    return Transition("clear", rule, key[1], dev, dept, obs, ts, alert)
            return None
        if ph is Phase.PENDING:
            m.reset()
        elif ph is Phase.ACTIVE:
            m.clear = None
        return None

    # -- persistence ---------------------------------------------------------------------
    def dirty(self) -> tuple[dict[str, dict[str, Any]], dict[Key, dict[str, Any]]]:
        """What changed since the last call, ready to commit (register tracks folded in, rule state in its
        JSON form: what :meth:`RuleState.from_json` reads back)."""
        devices = {}
        for d in self.dirty_devices:
            ds = self.devices[d]
            track = self.tracks.get(d)
            if track is not None:
                ds["reg"] = track.state()
            devices[d] = ds
        rules = {k: self.rules[k].to_json() for k in self.dirty_rules}  # the JSON form, as persisted
        self.dirty_devices, self.dirty_rules = set(), set()
        return devices, rules
