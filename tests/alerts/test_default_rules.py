"""Each default rule fires on its simulator fault, on the device the fault hits, and a normal
simulated month of the sample campus raises no alert at all (no false alarms)."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.support.drive import local, run_engine, simulation

# fault → (rule, subject) it must raise; a school week from Tuesday 10 March 2026 (term)
CASES = [
    # the sample's fountains are direct-drinking fountains (purified_drinking, CJ 94-2005): their own rules
    ("ph_excursion", "purified-ph", "d1-fountain"),
    ("turbidity_excursion", "purified-turbidity", "d1-fountain"),
    ("tds_high", "purified-tds", "d1-fountain"),
    # a fountain has no chlorine floor (its carbon removes chlorine): the fault hits the secondary-supply tank
    ("chlorine_low", "drinking-chlorine", "tank-2nd"),
    ("heater_cold", "hot-water-outlet-cold", "c1-heater"),
    ("gas_after_hours", "canteen-gas-closed", "c1-gas"),
    ("dorm_appliance", "dorm-appliance", "d1-r101"),
    ("water_leak", "night-leak", "d1-water"),
    ("lights_on_night", "teaching-power-after-hours", "ta-elec"),
    ("device_offline", "device-stale", "of-water"),
    ("meter_replaced", "register-anomaly", "d2-water"),
    ("implausible_jump", "register-anomaly", "d2-elec"),
]


@pytest.mark.parametrize(("fault", "rule", "subject"), CASES)
def test_default_rule_fires_on_its_fault(fault: str, rule: str, subject: str) -> None:
    raised = [(t.rule.id, t.subject) for t in run_engine(simulation(local(2026, 3, 10), 48, [fault]))
              if t.kind == "raise"]
    assert (rule, subject) in raised, f"{fault}: raised {raised}"
    assert {r for r, _ in raised} == {rule}, f"{fault} also raised unrelated rules: {raised}"


def test_storage_tank_below_60_for_30_minutes() -> None:
    raised = [(t.rule.id, t.subject) for t in run_engine(simulation(local(2026, 3, 10), 6, ["heater_cold:bo-tank"]))
              if t.kind == "raise"]
    assert raised == [("hot-water-storage-cold", "bo-tank")]


def test_department_over_budget_fires_once_a_week_of_data_projects_over_target() -> None:
    sim = simulation(local(2026, 9, 14), 9 * 24, ["over_budget"])
    raised = [(t.rule.id, t.subject, t.obs.detail) for t in run_engine(sim) if t.kind == "raise"]
    assert [(r, s) for r, s, _ in raised] == [("department-over-budget", "canteen")]
    assert float(raised[0][2].split(": ")[1]) > 30_000  # projected kWh above the canteens' monthly target


def test_department_water_over_budget() -> None:
    sim = simulation(local(2026, 9, 14), 8 * 24, ["water_over_budget"])
    raised = {(t.rule.id, t.subject) for t in run_engine(sim) if t.kind == "raise"}
    # a tap running day and night is also a night leak
    assert raised == {("department-water-over-budget", "canteen"), ("night-leak", "c1-water")}


def test_a_leak_that_lasts_rises_to_critical() -> None:
    transitions = run_engine(simulation(local(2026, 3, 10), 4 * 24, ["water_leak"]))
    leak = [t for t in transitions if t.rule.id == "night-leak"]
    assert [t.kind for t in leak][0] == "raise"
    rise = leak[0].rule.rise
    assert rise is not None
    assert rise.severity == "critical"
    assert any(t.kind == "update" and t.ts - leak[0].ts >= rise.after * 1000 for t in leak)


def test_a_normal_month_raises_no_alert() -> None:
    """30 days from 14 September 2026: term, weekends, the Mid-Autumn/National Day holidays and the
    make-up workdays around them."""
    transitions = run_engine(simulation(local(2026, 9, 14), 30 * 24, []))
    assert Counter((t.kind, t.rule.id) for t in transitions) == Counter()
