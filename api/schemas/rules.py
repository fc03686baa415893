"""The alert rules in force (tag: rules)."""

from __future__ import annotations

from pydantic import BaseModel


class RulePublic(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "id": "drinking-ph", "name": {"zh": "饮用水pH超出限值", "en": "Drinking water pH out of range"},
        "category": "safety", "severity": "major", "enabled": True, "target": {"roles": ["drinking"]},
        "condition": {"type": "threshold", "field": "ph", "below": 6.5, "above": 8.5}, "for_s": 600, "count": 1,
        "schedule": None, "clear_for_s": 600, "route": None, "note": "GB 5749-2022: pH 6.5–8.5"}]}}
    id: str
    name: dict[str, str]
    category: str
    severity: str
    enabled: bool
    target: dict[str, object]
    condition: dict[str, object]
    for_s: float
    count: int
    schedule: object | None
    clear_for_s: float
    route: str | None
    note: str
