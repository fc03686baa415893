"""Virtual meters' expressions (``campus.virtual``): parsed without eval, bounded, and checked at load with
errors that name what to fix."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campus.errors import ConfigError
from campus.model import parse_campus
from campus.virtual import MAX_CHAIN, MAX_CHARS, MAX_DEPTH, MAX_TERMS, parse

BASE = """
site: {id: s, name: 测试校区}
buildings:
  - {id: pr, name: 配电房, department: power_room}
  - {id: b1, name: 办公楼, department: office}
devices:
  - {id: pr-main, kind: electricity, building: pr, role: incomer}
  - {id: b1-elec, kind: electricity, building: b1}
  - {id: b1-water, kind: water, building: b1}
"""


def campus_with(*lines: str) -> str:
    return BASE + "".join(f"  - {line}\n" for line in lines)


def test_ids_with_hyphens_numbers_and_parentheses() -> None:
    assert parse("pr-main - c1-elec - c2-elec") == {"pr-main": 1.0, "c1-elec": -1.0, "c2-elec": -1.0}
    assert parse("0.5 * x + y * 2 - 2 * (a - b)") == {"x": 0.5, "y": 2.0, "a": -2.0, "b": 2.0}
    assert parse("-a + a + b") == {"b": 1.0}  # the same id twice adds up


@pytest.mark.parametrize(("text", "says"), [
    ("", "empty"), ("a -", "ends too soon"), ("a b", "join terms"), ("(a - b", "not closed"),
    ("a * b", "two meters"), ("2 * 3", "numbers only"), ("a - a", "adds up to nothing"), ("a / 2", "unexpected '/'"),
    ("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1), "nest"), (" + ".join(["a"] * (MAX_TERMS + 1)), "terms"),
    ("a" * (MAX_CHARS + 1), "characters"), ("1" * 400 + " * a", "too large"),
])
def test_malformed_expressions_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse(text)


ALPHABET = st.sampled_from(["a", "b", "x-1", "0.5", "2", " ", "+", "-", "*", "(", ")", "/", "é", "1e9", ".", "_"])


@settings(max_examples=200, deadline=None)
@given(st.lists(ALPHABET, max_size=60).map("".join))
def test_parse_never_crashes(text: str) -> None:
    try:
        terms = parse(text)
    except ValueError as exc:
        message = str(exc)
        terms = {}
    else:
        message = "parsed"
    assert message
    assert all(isinstance(v, float) and v != 0 for v in terms.values())


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_parse_takes_any_text(text: str) -> None:
    message = "parsed"
    try:
        parse(text)
    except ValueError as exc:
        message = str(exc)
    assert message


@pytest.mark.parametrize(("line", "says"), [
    ('{id: pub, kind: electricity, building: pr, virtual: "pr-main - nobody"}', "unknown device 'nobody'"),
    ('{id: pub, kind: electricity, building: pr, virtual: "pr-main - b1-water"}', "'b1-water' is water"),
    ('{id: pub, kind: electricity, building: pr, virtual: "pr-main - pub"}', "names itself"),
    ('{id: pub, kind: electricity, building: pr, virtual: "pr-main -"}', "virtual meter 'pub': the expression ends"),
    ('{id: pub, kind: electricity, building: pr, gateway: g1, virtual: "pr-main"}', "drop gateway"),
    ('{id: pub, kind: electricity, building: pr, multiplier: 2, virtual: "pr-main"}', "drop multiplier"),
    ('{id: pub, kind: electricity, building: pr, role: incomer, virtual: "pr-main"}', "cannot be the incomer"),
    ('{id: pub, kind: water_quality, building: pr, virtual: "pr-main"}', "water_quality"),
])
def test_load_refuses_what_cannot_be_computed(line: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        parse_campus(campus_with(line))


def test_a_circle_of_virtual_meters_is_named() -> None:
    with pytest.raises(ConfigError, match="circle .*v1 → v2 → v1"):
        parse_campus(campus_with('{id: v1, kind: electricity, building: pr, virtual: "pr-main - v2"}',
                                 '{id: v2, kind: electricity, building: pr, virtual: "v1 - b1-elec"}'))


def test_a_sub_meter_of_a_virtual_meter_is_refused() -> None:
    with pytest.raises(ConfigError, match="parent 'pub' is a virtual meter"):
        parse_campus(campus_with('{id: pub, kind: electricity, building: pr, virtual: "pr-main - b1-elec"}',
                                 "{id: sub, kind: electricity, building: pr, parent: pub}"))


def test_a_virtual_meter_publishes_nothing_and_counts_in_no_total() -> None:
    campus = parse_campus(campus_with('{id: pub, kind: electricity, building: pr, virtual: "pr-main - b1-elec"}'))
    pub = next(d for d in campus.devices if d.id == "pub")
    assert not pub.counts_in_totals
    assert "pub" not in {d.id for devs in campus.publishers().values() for d in devs}
    assert campus.virtual_terms() == {"pub": {"pr-main": 1.0, "b1-elec": -1.0}}


def test_a_coefficient_that_multiplies_out_too_large_is_refused() -> None:
    """Each number within 1e9, nested products beyond it: refused, never an infinite coefficient (its NaN days
    would break every roll-up of the site)."""
    nested = "999999999 * (" * 3 + "b1-elec" + ")" * 3
    with pytest.raises(ValueError, match="multiplies out above 1e"):
        parse(nested)
    chain = ['{id: v0, kind: electricity, building: pr, virtual: "100000 * b1-elec"}'] + [
        f'{{id: v{i}, kind: electricity, building: pr, virtual: "100000 * v{i - 1}"}}' for i in range(1, 3)]
    with pytest.raises(ConfigError, match="virtual meter 'v1': .*multiplies out above 1e"):
        parse_campus(campus_with(*chain))


def test_a_chain_of_virtual_meters_is_bounded_and_each_is_worked_out_once() -> None:
    """x_k = x_(k-1) + y_(k-1), y_k = x_(k-1) − y_(k-1): paths double at each step; the real terms do not."""
    lines = ['{id: x0, kind: electricity, building: pr, virtual: "pr-main"}',
             '{id: y0, kind: electricity, building: pr, virtual: "b1-elec"}']
    for k in range(1, MAX_CHAIN):
        lines += [f'{{id: x{k}, kind: electricity, building: pr, virtual: "x{k - 1} + y{k - 1}"}}',
                  f'{{id: y{k}, kind: electricity, building: pr, virtual: "x{k - 1} - y{k - 1}"}}']
    campus = parse_campus(campus_with(*lines))
    real = campus.virtual_real_terms()
    assert set(real[f"x{MAX_CHAIN - 1}"]) <= {"pr-main", "b1-elec"}
    deeper = [*lines, f'{{id: z, kind: electricity, building: pr, virtual: "x{MAX_CHAIN - 1}"}}']
    with pytest.raises(ConfigError, match=f"more than {MAX_CHAIN} deep"):
        parse_campus(campus_with(*deeper))
