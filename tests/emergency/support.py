"""What the plans tests share: the sample campus, rules and roster, and a plans document written to a folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from alerts.roster import load_roster
from alerts.rules import load_rules
from campus.model import load_campus
from emergency.plans import PlanBook, known_rules, load_plans, sample_plans_file
from tests.support.paths import ROOT, SAMPLE

CAMPUS = load_campus(SAMPLE)
RULES = known_rules(load_rules())
ROSTER = load_roster(ROOT / "alerts" / "sample_roster.yaml")
ROLES = ROSTER.role_names()


def minimal() -> dict[str, Any]:
    """A small valid plans document (one plan, two steps, a place with a photo, a contact)."""
    return {"plans": [{
        "id": "water-burst", "name": {"zh": "爆管", "en": "Burst"},
        "activates": {"rules": ["night-leak"], "severities": ["major", "critical"]},
        "steps": [{"id": "confirm", "text": {"zh": "确认", "en": "Confirm"}, "role": "on_duty", "within": "15min"},
                  {"id": "isolate", "text": {"zh": "关阀", "en": "Close the valve"}, "role": "crew_leader"}],
        "places": [{"what": "valve", "name": {"zh": "总阀", "en": "Main valve"}, "building": "dorm-1",
                    "where": {"zh": "地下室", "en": "Basement"}, "photo": "photos/dorm1-water-valve.jpg"}],
        "contacts": [{"name": {"zh": "自来水公司", "en": "Water company"}, "phone": "96116"}]}]}


def with_photos(folder: Path) -> Path:
    """``folder`` with the sample's photos copied under photos/."""
    shutil.copytree(sample_plans_file().parent / "photos", folder / "photos", dirs_exist_ok=True)
    return folder


def book(doc: Any, folder: Path) -> PlanBook:
    """The plan book of ``doc`` written as ``folder/plans.yaml`` (JSON is YAML), checked against the sample site."""
    path = folder / "plans.yaml"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return PlanBook(load_plans(path)[None], CAMPUS, RULES, ROLES, folder)
