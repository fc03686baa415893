"""Direct-drinking fountains (role purified_drinking) are held to CJ 94-2005, taps to GB 5749-2022: a healthy
fountain without chlorine raises nothing, a tap without it does; and every default rule says in its note which
standard it follows, or why its threshold is what it is."""

from __future__ import annotations

import re

import pytest
import yaml

from alerts.engine import Engine, Transition
from alerts.rules import RuleBook, default_rules_file, load_rules
from campus.contract import Reading
from campus.model import Campus
from tests.support.paths import SAMPLE

T = 1_773_111_600_000   # Tuesday 10 March 2026 11:00 in Shanghai (term time)
MIN = 60_000


def campus_with_a_tap() -> Campus:
    """The sample campus plus a drinking-water tap sensor (role drinking) in teaching building A."""
    doc = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    doc["devices"].append({"id": "ta-tap", "kind": "water_quality", "building": "teach-a", "name": "教学楼A饮用水龙头",
                           "interval_s": 600, "role": "drinking"})
    return Campus.model_validate(doc)


BOOK = RuleBook(load_rules(), campus_with_a_tap())


def feed(device: str, values: dict[str, float], n: int = 3) -> list[Transition]:
    """``n`` readings of ``values`` 10 minutes apart through a fresh engine (the drinking rules count 2)."""
    dev = BOOK.devices[device]
    engine = Engine(BOOK, watching_since_ms=T - 60 * MIN)
    out: list[Transition] = []
    for i in range(n):
        out += engine.reading(Reading(device, T + i * 10 * MIN, dev.kind, "yucai", dev.building,
                                      BOOK.department[device], dev.zone or "", values))
    return out


def raised(transitions: list[Transition]) -> set[tuple[str, str]]:
    return {(t.rule.id, t.subject) for t in transitions if t.kind == "raise"}


# what the sample's RO fountains read (simulators/model.py): no chlorine, a little salt
FOUNTAIN = {"ph": 7.0, "turbidity_ntu": 0.08, "free_chlorine_mgl": 0.0, "tds_mgl": 20.0, "temperature_c": 21.0}


def test_the_sample_fountains_are_purified_and_a_tap_is_drinking() -> None:
    roles = {d.id: d.role for d in BOOK.devices.values() if d.id.endswith("fountain")}
    assert roles == dict.fromkeys(("d1-fountain", "ta-fountain", "tb-fountain", "of-fountain"), "purified_drinking")
    assert BOOK.devices["ta-tap"].role == "drinking"


def test_a_fountain_without_chlorine_raises_nothing_a_tap_without_it_does() -> None:
    assert raised(feed("ta-fountain", FOUNTAIN)) == set()
    # the same water at a tap: 0.0 < 0.05 mg/L, GB 5749-2022's residual at the tap, on two readings
    assert raised(feed("ta-tap", FOUNTAIN)) == {("drinking-chlorine", "ta-tap")}


def test_ph_between_the_two_floors() -> None:
    """pH 6.2: inside CJ 94's 6.0–8.5, below GB 5749's 6.5."""
    water = {**FOUNTAIN, "free_chlorine_mgl": 0.3, "ph": 6.2}
    assert raised(feed("ta-fountain", water)) == set()
    assert raised(feed("ta-tap", water)) == {("drinking-ph", "ta-tap")}


def test_a_fountain_above_its_tds_limit_alerts() -> None:
    """TDS 620 mg/L: above CJ 94's 500, within GB 5749's 1000."""
    water = {**FOUNTAIN, "free_chlorine_mgl": 0.3, "tds_mgl": 620.0}
    assert raised(feed("ta-fountain", water)) == {("purified-tds", "ta-fountain")}
    assert raised(feed("ta-tap", water)) == set()
    assert raised(feed("ta-fountain", {**FOUNTAIN, "tds_mgl": 620.0}, n=1)) == set()  # one reading is a sensor


def test_a_fountain_above_its_turbidity_limit_alerts() -> None:
    """0.7 NTU: above CJ 94's 0.5, within GB 5749's 1."""
    water = {**FOUNTAIN, "free_chlorine_mgl": 0.3, "turbidity_ntu": 0.7}
    assert raised(feed("ta-fountain", water)) == {("purified-turbidity", "ta-fountain")}
    assert raised(feed("ta-tap", water)) == set()


STANDARD = re.compile(r"\b(GB(/T)? \d+|CJ \d+|JGJ(/T)? \d+|DB\d+(/T)? \d+|HSE HSG\d+|WHO)")


@pytest.mark.parametrize("rule", yaml.safe_load(default_rules_file().read_text(encoding="utf-8"))["rules"],
                         ids=lambda r: r["id"])
def test_every_default_rule_names_its_standard_or_its_reason(rule: dict[str, object]) -> None:
    note = str(rule.get("note", ""))
    assert STANDARD.search(note) or note.startswith("reason: "), f"{rule['id']}: note {note!r}"
    target = rule.get("target") or {}
    assert isinstance(target, dict)
    if "water_quality" in target.get("kinds", []):   # a water-quality limit comes from a standard, never a reason
        assert STANDARD.search(note), f"{rule['id']}: note {note!r} names no standard"
    if "purified_drinking" in target.get("roles", []):
        assert "CJ 94-2005" in note
        assert "drinking" not in target["roles"]
    elif set(target.get("roles", [])) & {"drinking", "canteen_water", "secondary_supply"}:
        assert "GB 5749-2022" in note
