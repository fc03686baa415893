"""A water test at a direct-drinking fountain (role purified_drinking) is held to CJ 94-2005: the purified-* rules'
limits for what the sensors measure, CJ 94's laboratory limits where it is stricter than GB 5749, no chlorine
floor (GB 5749's 2 mg/L ceiling stays); a test at the secondary-supply tank keeps GB 5749-2022."""

from __future__ import annotations

from alerts.rules import RuleBook, load_rules
from campus.model import load_campus
from records.water import Limit, limits, points, standard
from tests.support.paths import SAMPLE

CAMPUS = load_campus(SAMPLE)
BOOK = RuleBook(load_rules(), CAMPUS)
POINTS = points(CAMPUS)


def test_the_fountains_are_purified_points_with_a_filter() -> None:
    fountains = {p.id: (p.role, p.filter) for p in POINTS.values() if p.id.endswith("fountain")}
    assert fountains == dict.fromkeys(("d1-fountain", "ta-fountain", "tb-fountain", "of-fountain", "d2-fountain",
                                       "d3-fountain"), ("purified_drinking", True))
    assert (POINTS["tank-2nd"].role, POINTS["tank-2nd"].filter) == ("secondary_supply", False)


def test_a_fountain_sensor_point_uses_cj94() -> None:
    got = limits(BOOK, CAMPUS, POINTS["ta-fountain"])
    assert got["ph"] == Limit(6.0, 8.5, "purified-ph")
    assert got["turbidity_ntu"] == Limit(None, 0.5, "purified-turbidity")
    assert got["tds_mgl"] == Limit(None, 500.0, "purified-tds")
    assert got["free_chlorine_mgl"] == Limit(None, 2.0, "purified-chlorine")  # no floor: carbon removes it
    # laboratory parameters: CJ 94-2005 where stricter than GB 5749 ...
    assert got["colony_count"] == Limit(None, 50, None)           # GB 5749: 100
    assert got["total_hardness_mgl"] == Limit(None, 300, None)    # GB 5749: 450
    assert got["color"] == Limit(None, 5, None)                   # GB 5749: 15
    assert got["codmn_mgl"] == Limit(None, 2, None)               # GB 5749: 3
    # ... GB 5749 otherwise (a fountain's raw water is tap water)
    assert got["lead_mgl"] == Limit(None, 0.01, None)
    assert standard("purified_drinking") == "CJ 94-2005 饮用净水水质标准"


def test_a_point_without_a_sensor_uses_cj94_too() -> None:
    got = limits(BOOK, CAMPUS, POINTS["d2-fountain"])
    assert (got["ph"], got["colony_count"]) == (Limit(6.0, 8.5, "purified-ph"), Limit(None, 50, None))
    assert got["ph"].holds(6.2)   # 6.2 ≥ 6.0; GB 5749 would refuse it (6.5)
    assert not got["ph"].holds(5.9)


def test_the_secondary_supply_tank_keeps_gb5749() -> None:
    got = limits(BOOK, CAMPUS, POINTS["tank-2nd"])
    assert got["ph"] == Limit(6.5, 8.5, "drinking-ph")
    assert got["free_chlorine_mgl"] == Limit(0.05, 2.0, "drinking-chlorine")
    assert got["tds_mgl"] == Limit(None, 1000.0, "drinking-tds")
    assert got["colony_count"] == Limit(None, 100, None)
    assert standard("secondary_supply").startswith("GB 5749-2022")


def test_without_rules_only_the_laboratory_limits_remain() -> None:
    got = limits(None, CAMPUS, POINTS["ta-fountain"])
    assert "ph" not in got
    assert got["iron_mgl"] == Limit(None, 0.2, None)   # CJ 94: 0.20, GB 5749: 0.3
