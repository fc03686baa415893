from __future__ import annotations

from fastapi import APIRouter

from api.deps import AlertsDep
from api.schemas import RulePublic

router = APIRouter(prefix="/rules", tags=["rules"])


@router.get("", response_model=list[RulePublic], summary="The alert rules in force (and disabled ones)")
def list_rules(alerts: AlertsDep) -> list[RulePublic]:
    out = []
    for r in alerts.rule_file.rules:
        sched = r.schedule.model_dump(by_alias=True) if r.schedule is not None and not isinstance(r.schedule, str) \
            else r.schedule
        out.append(RulePublic(id=r.id, name=r.name.model_dump(), category=r.category.value,
                              severity=r.severity.value, enabled=r.enabled,
                              target=r.target.model_dump(exclude_defaults=True),
                              condition=r.condition.model_dump(mode="json", by_alias=True), for_s=r.for_,
                              count=r.count, schedule=sched, clear_for_s=r.clear.for_, route=r.route, note=r.note))
    return out
