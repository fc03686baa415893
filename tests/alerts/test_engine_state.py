"""The engine's per-rule state: typed in memory (:class:`RuleState`, :class:`Machine`), persisted in the
JSON form it has always had, so data directories written before and after read the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from alerts.engine import Engine, EngineState, Key, Machine, Phase, RuleState
from alerts.rules import RuleBook, load_rules
from alerts.store import AlertStore
from campus.contract import Reading
from campus.model import load_campus
from tests.support.paths import SAMPLE

T = 1_760_000_000_000
MIN = 60_000
BOOK = RuleBook(load_rules(), load_campus(SAMPLE))

# As the store holds them today: a dorm appliance alert raised by a power step (the condition keeps the
# level before the step), a drinking-water pH alert (a direct-drinking fountain: purified-ph), one pending and one
# resolved by hand.
DORM: Key = ("dorm-appliance", "d1-r101")
PH: Key = ("purified-ph", "ta-fountain")
PERSISTED: dict[Key, dict[str, Any]] = {
    DORM: {"p": {"ph": "active", "since": T - 5 * MIN, "n": 1, "clear": None, "alert": 7},
           "c": {"prev": 2.1, "base": 0.4}},
    PH: {"p": {"ph": "active", "since": T - 20 * MIN, "n": 3, "clear": T - 2 * MIN, "alert": 12}, "c": {}},
    ("purified-ph", "tb-fountain"): {"p": {"ph": "pending", "since": T - 10 * MIN, "n": 1, "clear": None,
                                           "alert": None}, "c": {}},
    ("purified-turbidity", "ta-fountain"): {"p": {"ph": "held", "since": T - 30 * MIN, "n": 2, "clear": None,
                                                  "alert": None}, "c": {}},
    ("device-stale", "d1-r102"): {"p": {"ph": "idle", "since": None, "n": 0, "clear": None, "alert": None},
                                  "c": {"offline": False}},
}


def reading(device: str, ts: int, **values: float) -> Reading:
    dev = BOOK.devices[device]
    return Reading(device, ts, dev.kind, "yucai", dev.building, BOOK.department[device], dev.zone or "", values)


def engine() -> Engine:
    """An engine restored from :data:`PERSISTED` as the store hands it over (fresh dicts, as orjson.loads)."""
    return Engine(BOOK, EngineState({}, {k: orjson.loads(orjson.dumps(v)) for k, v in PERSISTED.items()}),
                  watching_since_ms=T - 60 * MIN)


@pytest.mark.parametrize("key", list(PERSISTED))
def test_persisted_form_loads_typed_and_exports_byte_identical(key: Key) -> None:
    raw = orjson.dumps(PERSISTED[key])
    st = RuleState.from_json(orjson.loads(raw))
    assert st.machine.phase is Phase(PERSISTED[key]["p"]["ph"])
    assert st.condition == PERSISTED[key]["c"]
    assert orjson.dumps(st.to_json()) == raw


def test_typed_fields() -> None:
    st = RuleState.from_json(PERSISTED[DORM])
    assert st.machine == Machine(Phase.ACTIVE, since=T - 5 * MIN, count=1, clear=None, alert=7)
    assert RuleState().to_json() == {"p": {"ph": "idle", "since": None, "n": 0, "clear": None, "alert": None},
                                     "c": {}}


def test_an_unknown_phase_is_refused() -> None:
    with pytest.raises(ValueError, match="'paused'"):
        RuleState.from_json({"p": {**PERSISTED[PH]["p"], "ph": "paused"}, "c": {}})


def test_restored_engine_exports_nothing_until_something_changes() -> None:
    e = engine()
    assert e.rules[DORM].machine.phase is Phase.ACTIVE
    assert e.dirty() == ({}, {})


def test_a_restored_active_alert_stays_bound_then_clears() -> None:
    e = engine()
    # still firing: an update of alert 12, exported in today's form
    [t] = e.reading(reading("ta-fountain", T, ph=9.0))
    assert (t.kind, t.rule.id, t.subject, t.alert_id) == ("update", "purified-ph", "ta-fountain", 12)
    _, rules = e.dirty()
    assert orjson.dumps(rules[PH]) == orjson.dumps(
        {"p": {"ph": "active", "since": T - 20 * MIN, "n": 3, "clear": None, "alert": 12}, "c": {}})
    # clear for 30 min (clear: {for: 30min}) resolves alert 12
    assert e.reading(reading("ta-fountain", T + 10 * MIN, ph=7.2)) == []
    assert e.rules[PH].machine.clear == T + 10 * MIN
    [t] = e.reading(reading("ta-fountain", T + 40 * MIN, ph=7.1))
    assert (t.kind, t.alert_id) == ("clear", 12)
    assert e.dirty()[1][PH] == {"p": {"ph": "idle", "since": None, "n": 0, "clear": None, "alert": None}, "c": {}}


def test_restored_condition_state_carries_on() -> None:
    e = engine()
    # the condition remembers the level before the step (base 0.4): 2.0 kW is still the appliance
    assert e.reading(reading("d1-r101", T, power_kw=2.0)) == []
    assert e.rules[DORM].condition == {"prev": 2.0, "base": 0.4}
    assert e.rules[DORM].machine.phase is Phase.ACTIVE
    # back to the base: clear, and after clear.for (10 min) alert 7 is resolved
    assert e.reading(reading("d1-r101", T + 5 * MIN, power_kw=0.5)) == []
    [t] = e.reading(reading("d1-r101", T + 15 * MIN, power_kw=0.45))
    assert (t.kind, t.alert_id) == ("clear", 7)


def test_restored_pending_and_held_continue() -> None:
    e = engine()
    # pending with one FIRING (count: 2): the second raises
    [t] = e.reading(reading("tb-fountain", T, ph=5.9))
    assert (t.kind, t.subject) == ("raise", "tb-fountain")
    e.bind(("purified-ph", "tb-fountain"), 31)
    assert e.dirty()[1][("purified-ph", "tb-fountain")]["p"] == {
        "ph": "active", "since": T - 10 * MIN, "n": 2, "clear": None, "alert": 31}
    # held (resolved by hand): the same episode does not raise again; CLEAR ends it
    assert e.reading(reading("ta-fountain", T, turbidity_ntu=3.0)) == []
    assert e.rules[("purified-turbidity", "ta-fountain")].machine.phase is Phase.HELD
    assert e.reading(reading("ta-fountain", T + MIN, turbidity_ntu=0.3)) == []
    assert e.rules[("purified-turbidity", "ta-fountain")].machine.phase is Phase.IDLE


def test_resolved_by_hand_holds() -> None:
    e = engine()
    e.resolved_by_hand(*DORM)
    assert e.dirty()[1][DORM] == {"p": {"ph": "held", "since": T - 5 * MIN, "n": 1, "clear": None, "alert": None},
                                  "c": {"prev": 2.1, "base": 0.4}}


def test_store_round_trip(tmp_path: Path) -> None:
    """Old rows (today's dicts, saved as the store always saved them) load into an engine, and what the engine
    saves loads again the same."""
    store = AlertStore(tmp_path / "alerts.db")
    with store.tx():
        store.save_engine("yucai", {}, PERSISTED)
    e = Engine(BOOK, store.load_engine("yucai"))
    assert {k: st.to_json() for k, st in e.rules.items()} == PERSISTED
    e.reading(reading("ta-fountain", T, ph=9.0))
    with store.tx():
        store.save_engine("yucai", *e.dirty())
    again = Engine(BOOK, store.load_engine("yucai"))
    assert again.rules == e.rules
    store.close()
