"""GET /flow: the energy flow of one kind over a month (能流图), incomer → buildings → items, with losses."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.deps import AccessDep, LanguageDep, SiteUsageDep, check_month
from api.schemas import FlowLinkPublic, FlowNodePublic, FlowPublic
from api.timefmt import from_ms
from campus.contract import Kind
from reports.buckets import Interval
from reports.consumption import UNIT, GroupBy
from reports.energy import month_bounds
from reports.flow import energy_flow

router = APIRouter(tags=["consumption"])


@router.get("/flow", response_model=FlowPublic,
            summary="The month's energy flow (能流图): incomer → buildings → energy items, with losses and 未分项")
def get_flow(
    usage: SiteUsageDep, access: AccessDep, language: LanguageDep,
    month: Annotated[str, Query(description="YYYY-MM in the site's time zone", examples=["2026-10"], max_length=7)],
    kind: Annotated[Kind, Query(description="electricity | water | gas")] = Kind.ELECTRICITY,
) -> FlowPublic:
    """Each meter's use is the consumption API's (``group_by=device``) over the month. A token narrowed to zones
    or buildings sees its buildings and their items only: no incomer and no losses (both are made of buildings it
    may not see)."""
    if kind is Kind.WATER_QUALITY:
        raise HTTPException(422, "kind=water_quality has no flow: choose electricity, water or gas")
    check_month(month)
    year, mon = month_bounds(month)
    tz = usage.tz
    start = datetime(year, mon, 1, tzinfo=tz)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=tz)
    result = usage.query(kind, start, end, Interval.MONTH, GroupBy.DEVICE, language=language,
                         now_ms=int(time.time() * 1000))
    use = {g.key: g.total for g in result.groups}
    whole = not access.scope.partial
    flow = energy_flow(usage.campus, kind, use, whole=whole, language=language)
    return FlowPublic(
        site=usage.campus.site.id, kind=kind, unit=UNIT[kind], month=month, start=from_ms(result.edges[0], tz),
        end=from_ms(result.edges[-1], tz), whole=whole,
        nodes=[FlowNodePublic(id=n.id, kind=n.kind, name=n.name, value=round(n.value, 6),  # type: ignore[arg-type]
                              code=n.code, devices=n.devices) for n in flow.nodes],
        links=[FlowLinkPublic(source=k.source, target=k.target, value=round(k.value, 6)) for k in flow.links])
