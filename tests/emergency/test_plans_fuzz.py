"""A hostile plans file (random structures, mutated valid documents, any text, 10,000 plans or steps, huge texts,
paths that climb out of the folder) is only ever a ``ConfigError`` or a checked ``PlanBook``, quickly.

The bounds, in CPU time of the test's own thread with garbage collection held off (``tests.support.cost``): a
generated hostile document (a few tens of KiB at most) is parsed and checked, or refused, in under 0.5 s (measured:
a few ms); the checks of a huge document (everything after YAML has been read) refuse it in under 0.5 s, because the
file's bounds (100 plans, 50 steps, 50 places, 20 contacts, bounded texts) are checked before anything else."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from alerts.plans import PlanBook, PlanFile, parse_plans, sample_plans_file
from campus.errors import ConfigError
from tests.emergency.support import CAMPUS, ROLES, RULES, minimal, with_photos
from tests.support.cost import cpu_clock

BOUND_S = 0.5

HOSTILE: list[Any] = [None, True, -1, 0, 1e308, math.nan, math.inf, "NaN", "", "x" * 2000, [], {}, [[[[[]]]]],
                      "on_duty", "crew_leader", "crew_lead", "night-leak", "night-leek", "dorm-1", "dorm1", "critical",
                      "safety", "15min", "-5min", "1e999min", "99999d", "../photos/dorm1-water-valve.jpg",
                      "/etc/passwd", "photos/../../x.jpg", "photos/dorm1-water-valve.jpg", "photos/", "photos",
                      "photos/nope.png", "C:\\x.jpg", "a\x00.jpg", "\ud800.jpg", "é" * 200 + ".jpg", "96116", 96116,
                      "valve", "term", {"zh": "中", "en": "x"}, "A" * 70]
leaves = st.sampled_from(HOSTILE) | st.text(max_size=30) | st.integers() | st.floats()
structures = st.recursive(leaves, lambda inner: st.lists(inner, max_size=6)
                          | st.dictionaries(st.sampled_from(["plans", "id", "name", "zh", "en", "activates", "rules",
                                                             "categories", "severities", "steps", "text", "role",
                                                             "within", "places", "what", "building", "where",
                                                             "photo", "contacts", "phone", "drill"])
                                            | st.text(max_size=8), inner, max_size=6), max_leaves=40)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return with_photos(tmp_path_factory.mktemp("plans"))


def mutate(x: Any, data: st.DataObject) -> Any:
    """``x`` with random parts replaced by hostile values, dropped, or repeated."""
    if data.draw(st.integers(0, 9)) == 0:
        return data.draw(structures)
    if isinstance(x, dict):
        return {k: mutate(y, data) for k, y in x.items() if data.draw(st.integers(0, 12)) != 0}
    if isinstance(x, list):
        out = [mutate(y, data) for y in x]
        if out and data.draw(st.integers(0, 8)) == 0:
            out += out[:1] * data.draw(st.integers(1, 3))
        return out
    return x


def dump(doc: Any, as_json: bool) -> str:
    if as_json:
        return json.dumps(doc, ensure_ascii=False)   # NaN and Infinity as JSON's extension
    return yaml.safe_dump(doc, allow_unicode=True, default_flow_style=None)


def checked_or_refused(text: str, folder: Path) -> float:
    """Parse and check ``text``: a PlanBook or a ConfigError, nothing else; returns the CPU seconds taken."""
    with cpu_clock() as spent:
        try:
            book = PlanBook(parse_plans(text), CAMPUS, RULES, ROLES, folder)
        except ConfigError:
            pass
        else:
            for plan in book.plans.values():
                assert 1 <= len(plan.steps) <= 50
                assert len(plan.places) <= 50
                assert len(plan.contacts) <= 20
                assert {s.role for s in plan.steps} <= ROLES
                for place in plan.places:
                    if place.photo is not None:
                        assert book.photo(plan.id, plan.places.index(place)).is_relative_to(folder.resolve())
            book.for_alert("night-leak", "energy", "major")
        return spent()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(structures, st.booleans())
def test_random_structures_are_only_ever_a_config_error(folder: Path, doc: Any, as_json: bool) -> None:
    assert checked_or_refused(dump(doc, as_json), folder) < BOUND_S


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data(), st.booleans(), st.booleans())
def test_mutated_plans_are_only_ever_a_config_error_or_a_plan_book(folder: Path, data: st.DataObject,
                                                                     as_json: bool, sample: bool) -> None:
    doc = yaml.safe_load(sample_plans_file().read_text(encoding="utf-8")) if sample else minimal()
    assert checked_or_refused(dump(doc, as_json), folder) < BOUND_S   # unchanged, it is valid
    assert checked_or_refused(dump(mutate(doc, data), as_json), folder) < BOUND_S


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=400))
def test_any_text_is_only_ever_a_config_error(folder: Path, text: str) -> None:
    assert checked_or_refused(text, folder) < BOUND_S


def _plan(i: int, **changes: Any) -> dict[str, Any]:
    return {**minimal()["plans"][0], "id": f"p{i}", **changes}


STEP = {"id": "s", "text": {"zh": "步骤", "en": "Step"}, "role": "on_duty"}
HUGE: list[tuple[str, Any, str]] = [
    ("10,000 plans", {"plans": [_plan(i) for i in range(10_000)]}, "at most 100 items"),
    ("10,000 steps", {"plans": [_plan(0, steps=[dict(STEP, id=f"s{i}") for i in range(10_000)])]},
     "at most 50 items"),
    ("10,000 places", {"plans": [_plan(0, places=minimal()["plans"][0]["places"] * 10_000)]}, "at most 50 items"),
    ("10,000 rules", {"plans": [_plan(0, activates={"rules": ["night-leak"] * 10_000})]}, "at most 100 items"),
    ("a 1 MB step text", {"plans": [_plan(0, steps=[dict(STEP, text={"zh": "字" * 1_000_000, "en": "x"})])]},
     "at most 1000 characters"),
    ("a 1 MB photo path",
     {"plans": [_plan(0, places=[{**minimal()["plans"][0]["places"][0], "photo": "a/" * 500_000}])]},
     "at most 255 characters"),
]


@pytest.mark.parametrize(("doc", "error"), [h[1:] for h in HUGE], ids=[h[0] for h in HUGE])
def test_huge_documents_are_refused_quickly(doc: Any, error: str) -> None:
    with cpu_clock() as spent:
        with pytest.raises(ValidationError, match=error):
            PlanFile.model_validate(doc)
        assert spent() < BOUND_S


def test_a_full_file_is_checked_quickly(folder: Path) -> None:
    """100 plans of 50 steps, 50 places (each with its photo) and 20 contacts: the most a file may hold."""
    one = minimal()["plans"][0]
    doc = {"plans": [{**one, "id": f"p{i}", "steps": [dict(STEP, id=f"s{j}") for j in range(50)],
                      "places": one["places"] * 50, "contacts": one["contacts"] * 20} for i in range(100)]}
    with cpu_clock() as spent:
        book = PlanBook(PlanFile.model_validate(doc), CAMPUS, RULES, ROLES, folder)
        assert len(book.plans) == 100
        assert spent() < 5 * BOUND_S
