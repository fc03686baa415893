"""The plans file (应急预案): the sample campus's plans load against its campus, default rules and roster; each kind of
mistake is refused naming the plan, the step or place, the bad value and what to use instead; an alert finds the
first plan that matches it."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest

from alerts.plans import MAX_PHOTO_BYTES, PlanBook, PlanFile, load_plans, plans_folder, plans_of, sample_plans_file
from campus.errors import ConfigError, NotFound
from tests.emergency.support import CAMPUS, ROLES, RULES, book, minimal, with_photos


def test_the_sample_plans_load_against_the_sample_campus() -> None:
    files = load_plans(None)
    assert list(files) == [None]
    plans = PlanBook(files[None], CAMPUS, RULES, ROLES, plans_folder(None))
    assert list(plans.plans) == ["water-burst", "power-loss", "canteen-gas", "drinking-water", "pump-failure",
                                 "severe-weather"]
    for plan in plans.plans.values():
        assert 4 <= len(plan.steps) <= 7, plan.id
        assert plan.name.zh
        assert plan.name.en
        assert plan.contacts
        assert plan.places
        assert all(s.text.zh and s.text.en for s in plan.steps)
        assert {s.role for s in plan.steps} <= {"on_duty", "crew_leader", "canteen_manager", "office_head"}
        assert any(s.within is not None for s in plan.steps)
    assert "canteen_manager" in {s.role for s in plans.plans["canteen-gas"].steps}
    assert plans.plans["canteen-gas"].steps[0].within == 600
    assert plans.plans["pump-failure"].activates.by_hand
    assert plans.plans["severe-weather"].activates.by_hand
    phones = {c.phone for p in plans.plans.values() for c in p.contacts}
    assert {"95598", "96116", "96777", "119", "120"} <= phones
    photos = [plans.photo(p.id, i) for p in plans.plans.values() for i, place in enumerate(p.places) if place.photo]
    assert len(photos) >= 3
    for photo in photos:
        assert photo.stat().st_size < 100 * 1024
        assert photo.read_bytes()[:3] == b"\xff\xd8\xff"
        assert photo.is_relative_to(sample_plans_file().parent)


def test_the_sample_alerts_find_their_plans() -> None:
    plans = PlanBook(load_plans(None)[None], CAMPUS, RULES, ROLES, plans_folder(None))
    found = {rule: getattr(plans.for_alert(rule, category, severity), "id", None) for rule, category, severity in [
        ("night-leak", "energy", "major"), ("night-min-rise", "energy", "minor"), ("bus-silent", "data", "major"),
        ("canteen-gas-closed", "safety", "critical"), ("purified-tds", "safety", "minor"),
        ("water-test-limit", "safety", "major"), ("device-stale", "data", "minor"),
        ("teaching-power-after-hours", "energy", "minor")]}
    assert found == {"night-leak": "water-burst", "night-min-rise": "water-burst", "bus-silent": "power-loss",
                     "canteen-gas-closed": "canteen-gas", "purified-tds": "drinking-water",
                     "water-test-limit": "drinking-water", "device-stale": None, "teaching-power-after-hours": None}


def test_the_minimal_document_loads_and_gives_its_photo(tmp_path: Path) -> None:
    plans = book(minimal(), with_photos(tmp_path))
    assert plans.plans["water-burst"].steps[0].within == 900
    assert plans.photo("water-burst", 0) == (tmp_path / "photos" / "dorm1-water-valve.jpg").resolve()
    with pytest.raises(NotFound):
        plans.photo("water-burst", 1)
    with pytest.raises(NotFound):
        plans.photo("nope", 0)


def test_a_directory_holds_one_file_per_site(tmp_path: Path) -> None:
    doc = minimal()
    (tmp_path / "yucai.yaml").write_text(str(doc).replace("'", '"'), encoding="utf-8")
    (tmp_path / "mingde.yml").write_text("plans: []\n", encoding="utf-8")
    with_photos(tmp_path)
    files = load_plans(tmp_path)
    assert sorted(files, key=str) == ["mingde", "yucai"]
    assert plans_folder(tmp_path) == tmp_path
    assert plans_of(files, "yucai").plans[0].id == "water-burst"
    assert plans_of(files, "mingde").plans == []
    assert plans_of(files, "other").plans == []
    PlanBook(files["yucai"], CAMPUS, RULES, ROLES, plans_folder(tmp_path))


def edit(path: str, value: Any) -> dict[str, Any]:
    """The minimal document with one value changed, at a dotted path of keys and list indexes."""
    doc = minimal()
    *parents, last = path.split(".")
    node: Any = doc
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[int(last) if last.isdigit() else last] = value
    return doc


STEP = {"id": "s", "text": {"zh": "步骤", "en": "Step"}, "role": "on_duty"}
MISTAKES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown rule", edit("plans.0.activates.rules", ["night-leek"]),
     r"^plan water-burst: unknown rule 'night-leek'; use one of: bill-gap, bus-silent, .*night-leak, "
     r".*water-test-overdue \(did you mean 'night-leak'\?\)$"),
    ("unknown role", edit("plans.0.steps.1.role", "crew_lead"),
     r"^plan water-burst, step 2 \(isolate\): unknown role 'crew_lead'; use one of: canteen_manager, crew_leader, "
     r"office_head, on_duty \(did you mean 'crew_leader'\?\), or add it under roles: in the duty roster$"),
    ("unknown building", edit("plans.0.places.0.building", "dorm1"),
     r"^plan water-burst, place 1: unknown building 'dorm1'; use one of: boiler, canteen-1, .*dorm-1"),
    ("photo missing", edit("plans.0.places.0.photo", "photos/nope.jpg"),
     r"^plan water-burst, place 1: photo 'photos/nope.jpg' is not there"),
    ("photo escaping with ..", edit("plans.0.places.0.photo", "../photos/dorm1-water-valve.jpg"),
     r"photo '\.\./photos/dorm1-water-valve\.jpg' must be a path inside the plans file's folder"),
    ("photo escaping inside", edit("plans.0.places.0.photo", "photos/../../x.jpg"), r"no absolute path, no \.\."),
    ("absolute photo", edit("plans.0.places.0.photo", "/etc/passwd.jpg"), r"must be a path inside"),
    ("Windows photo", edit("plans.0.places.0.photo", "C:\\x.jpg"), r"must be a path inside"),
    ("photo not a picture type", edit("plans.0.places.0.photo", "photos/notes.txt"),
     r"must be a JPEG or PNG picture: use one of: \.jpg, \.jpeg, \.png"),
    ("photo not really a JPEG", edit("plans.0.places.0.photo", "photos/fake.jpg"), r"is not a JPG picture"),
    ("photo too large", edit("plans.0.places.0.photo", "photos/huge.png"), r"is 8\.0 MiB; make it at most 8 MiB"),
    ("duplicate plan ids", {"plans": minimal()["plans"] * 2}, r"plan id 'water-burst' is used twice"),
    ("duplicate step ids", edit("plans.0.steps.1.id", "confirm"),
     r"plans\.0: .*plan water-burst: step id 'confirm' is used twice"),
    ("too many steps", edit("plans.0.steps", [dict(STEP, id=f"s{i}") for i in range(51)]),
     r"plans\.0\.steps: List should have at most 50 items"),
    ("no steps", edit("plans.0.steps", []), r"plans\.0\.steps: List should have at least 1 item"),
    ("too many plans", {"plans": [dict(minimal()["plans"][0], id=f"p{i}") for i in range(101)]},
     r"plans: List should have at most 100 items"),
    ("too many contacts", edit("plans.0.contacts", minimal()["plans"][0]["contacts"] * 21), r"at most 20 items"),
    ("a plan id with capitals", edit("plans.0.id", "Water_Burst"), r"plans\.0\.id: String should match pattern"),
    ("a step text too long", edit("plans.0.steps.0.text", {"zh": "字" * 1001, "en": "x"}),
     r"plans\.0\.steps\.0\.text\.zh: String should have at most 1000 characters"),
    ("an English text missing", edit("plans.0.steps.0.text", {"zh": "确认"}), r"text\.en: Field required"),
    ("a time limit that is not one", edit("plans.0.steps.0.within", "soon"), r"'soon' is not a duration"),
    ("a time limit of a month", edit("plans.0.steps.0.within", "30d"),
     r"within: Value error, a time limit is more than 0 and at most 7d"),
    ("an unquoted phone number", edit("plans.0.contacts.0.phone", 96116), r"write the phone number in quotes"),
    ("an unknown kind of place", edit("plans.0.places.0.what", "tap"), r"what: Input should be 'valve', 'breaker'"),
    ("severities alone", edit("plans.0.activates", {"severities": ["critical"]}),
     r"severities without rules or categories never match an alert"),
    ("an unknown category", edit("plans.0.activates.categories", ["fire"]),
     r"categories\.0: Input should be 'energy', 'safety' or 'data'"),
    ("an unknown drill period", edit("plans.0.drill", "week"), r"drill: Input should be 'term', 'year'"),
    ("an unknown field", edit("plans.0.owner", "chen"), r"plans\.0\.owner: Extra inputs are not permitted"),
]


@pytest.mark.parametrize(("doc", "error"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_each_mistake_is_refused_with_what_to_fix(tmp_path: Path, doc: dict[str, Any], error: str) -> None:
    with_photos(tmp_path)
    (tmp_path / "photos" / "notes.txt").write_text("not a photo", encoding="utf-8")
    (tmp_path / "photos" / "fake.jpg").write_bytes(b"GIF89a....")
    with (tmp_path / "photos" / "huge.png").open("wb") as f:   # sparse: 8 MiB and a byte, nearly no disk
        f.write(b"\x89PNG\r\n\x1a\n")
        f.truncate(MAX_PHOTO_BYTES + 1)
    with pytest.raises(ConfigError, match=error):
        book(doc, tmp_path)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="symbolic links")
def test_a_photo_linked_from_outside_the_folder_is_refused(tmp_path: Path) -> None:
    outside = with_photos(tmp_path / "outside")
    inside = tmp_path / "plans"
    inside.mkdir()
    (inside / "photos").symlink_to(outside / "photos")
    with pytest.raises(ConfigError, match=r"place 1: photo 'photos/dorm1-water-valve.jpg' leads outside the plans "
                                          r"file's folder"):
        book(minimal(), inside)


def test_a_photo_needs_a_folder() -> None:
    file = PlanFile.model_validate(minimal())
    with pytest.raises(ConfigError, match=r"needs the plans file's folder"):
        PlanBook(file, CAMPUS, RULES, ROLES, None)
    without = copy.deepcopy(minimal())
    del without["plans"][0]["places"][0]["photo"]
    assert PlanBook(PlanFile.model_validate(without), CAMPUS, RULES, ROLES, None).plans


def test_a_missing_plans_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read plans file .*nope\.yaml"):
        load_plans(tmp_path / "nope.yaml")


def test_a_mistake_in_the_file_names_its_line(tmp_path: Path) -> None:
    text = sample_plans_file().read_text(encoding="utf-8")
    path = tmp_path / "plans.yaml"
    path.write_text(text.replace("drill: term", "drill: weekly", 1), encoding="utf-8")
    line = text.index("drill: term")
    with pytest.raises(ConfigError, match=rf"plans.yaml:{text[:line].count(chr(10)) + 1}: plans\.0\.drill"):
        load_plans(path)


def plan(pid: str, **activates: list[str]) -> dict[str, Any]:
    return {"id": pid, "name": {"zh": pid, "en": pid}, "activates": activates, "steps": [STEP]}


def test_an_alert_finds_the_first_plan_that_matches(tmp_path: Path) -> None:
    plans = book({"plans": [
        plan("leak-critical", rules=["night-leak"], severities=["critical"]),
        plan("gas", rules=["canteen-gas-closed"]),
        plan("any-energy", categories=["energy"]),
        plan("safety-major", categories=["safety"], severities=["major", "critical"]),
        plan("gas-again", rules=["canteen-gas-closed"]),
        plan("drill-only"),
    ]}, tmp_path)

    def found(rule: str, category: str, severity: str) -> str | None:
        got = plans.for_alert(rule, category, severity)
        return None if got is None else got.id

    assert found("night-leak", "energy", "critical") == "leak-critical"   # rule and severity
    assert found("night-leak", "energy", "major") == "any-energy"         # the severity misses: by category
    assert found("night-min-rise", "energy", "minor") == "any-energy"
    assert found("canteen-gas-closed", "safety", "critical") == "gas"     # the first of two that match wins
    assert found("drinking-ph", "safety", "major") == "safety-major"
    assert found("drinking-tds", "safety", "minor") is None               # category, but not the severities
    assert found("device-stale", "data", "minor") is None
    assert plans.plans["drill-only"].activates.by_hand


def test_a_file_that_is_not_utf8_says_so(tmp_path: Path) -> None:
    path = tmp_path / "plans.yaml"
    path.write_bytes("plans: []  # 应急预案\n".encode("gb18030"))
    with pytest.raises(ConfigError, match=r"cannot read plans file .*plans\.yaml: not UTF-8 text \(byte \d+\); save "
                                          r"it as UTF-8"):
        load_plans(path)
