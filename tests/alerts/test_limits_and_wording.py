"""What people read about an alert: every limit and detail the default rules produce is said in Chinese on
the Chinese page (and left as it is in English), and the board's colours follow the plain rule in
``alerts/limits.py``."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from alerts.limits import Limit, limits_for
from alerts.messages import SEVERITY, localize
from alerts.rules import RuleBook, load_rules
from campus.labels import FIELDS, SEVERITIES, label
from campus.model import load_campus
from tests.support.drive import local, run_engine, simulation
from tests.support.paths import SAMPLE

FAULTS = ["ph_excursion", "turbidity_excursion", "heater_cold", "gas_after_hours", "dorm_appliance", "water_leak",
          "lights_on_night", "device_offline", "meter_replaced", "implausible_jump"]
UNITS = {"kWh", "kW", "NTU", "mg", "min"}  # units stay as they are in Chinese text
WORD = re.compile(r"[A-Za-z]{3,}")


def test_every_limit_and_detail_of_the_default_rules_reads_in_chinese() -> None:
    raised = [t for t in run_engine(simulation(local(2026, 3, 10), 48, FAULTS)) if t.kind == "raise"]
    assert len({t.rule.id for t in raised}) >= 8
    for t in raised:
        for text in (t.obs.limit, t.obs.detail):
            zh = localize(text, "zh-CN") or ""
            left = set(WORD.findall(zh)) - UNITS
            assert not left, f"{t.rule.id}: {text!r} → {zh!r} keeps English {left}"
            assert localize(text, "en") == (label(FIELDS, text, "en") if text in FIELDS else text)


def test_phrases_of_the_budget_and_window_rules() -> None:
    assert localize("month to date 7425.9, projected to month end", "zh-CN") == "本月累计 7425.9，推算至月末"
    assert localize("> 30000 / month", "zh-CN") == "> 30000 / 月"
    assert localize("projected to month end: 49705.0", "zh-CN") == "推算至月末：49705.0"
    assert localize("month ended: 2026-11", "zh-CN") == "2026-11 月已结束"
    assert localize("condition cleared", "zh-CN") == "条件已解除"
    assert localize("> 5 (since 00:00)", "zh-CN") == "> 5（自 00:00 起）"
    assert localize("> 2 / 1 h", "zh-CN") == "> 2 / 1 小时"
    assert localize("> 3 × 1.2 (median Mon 03:00)", "zh-CN") == "> 3 × 1.2（同期周一03:00 中位数）"
    assert localize("new meter cycle: 21076 → 0.5", "zh-CN") == "新表计周期(换表或清零)：21076 → 0.5"
    assert localize("free_chlorine_mgl", "zh-CN") == "游离氯"
    assert localize("anything else", "zh-CN") == "anything else"  # shown as it is
    assert localize(None, "zh-CN") is None


def test_severities_read_the_same_in_messages_and_reports() -> None:
    assert {k: SEVERITIES[k][0] for k in SEVERITIES} == SEVERITY["zh"] == {
        "critical": "严重", "major": "重要", "minor": "次要", "warning": "提示"}


finite = st.floats(-1e6, 1e6, allow_nan=False)


@given(finite, finite, finite)
def test_a_value_is_out_exactly_when_outside_a_band(a: float, b: float, v: float) -> None:
    low, high = sorted((a, b))
    standing = Limit("r", "ph", low, high).judge(v)
    assert (standing == "out") == (not low <= v <= high)
    if standing == "near":
        margin = 0.1 * (high - low)
        assert v < low + margin or v > high - margin


@given(st.floats(0.01, 1e6), finite)
def test_one_sided_limits(limit: float, v: float) -> None:
    above = Limit("r", "tds_mgl", None, limit).judge(v)
    below = Limit("r", "temperature_c", limit, None).judge(v)
    assert (above == "out") == (v > limit)
    assert (below == "out") == (v < limit)
    assert above != "near" or v > 0.9 * limit
    assert below != "near" or v < 1.1 * limit


def test_the_limits_of_a_drinking_fountain_come_from_its_rules() -> None:
    book = RuleBook(load_rules(), load_campus(SAMPLE))
    limits = {(lim.field, lim.low, lim.high) for lim in limits_for(book, "ta-fountain")}
    # a direct-drinking fountain (purified_drinking): CJ 94-2005, and free chlorine without a floor (GB 5749's ceiling)
    assert limits == {("ph", 6.0, 8.5), ("turbidity_ntu", None, 0.5), ("tds_mgl", None, 500.0),
                      ("free_chlorine_mgl", None, 2.0)}
    tank = {(lim.field, lim.low, lim.high) for lim in limits_for(book, "tank-2nd")}
    assert {("ph", 6.5, 8.5), ("turbidity_ntu", None, 1.0), ("free_chlorine_mgl", 0.05, 2.0)} <= tank
    assert ("temperature_c", 60.0, None) in {(x.field, x.low, x.high) for x in limits_for(book, "bo-tank")}
    assert limits_for(book, "c1-elec") == []
