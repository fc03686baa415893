"""GET /consumption: use per bucket and group, from the register rules."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import StringConstraints

from api.deps import LanguageDep, SiteUsageDep
from api.schemas import BucketPublic, ConsumptionPublic, FlaggedStepPublic, GroupUsePublic
from api.timefmt import bounded, from_ms
from campus.contract import Kind
from campus.items import items_of
from campus.model import Campus
from reports.buckets import Interval
from reports.consumption import UNIT, Consumption, GroupBy

router = APIRouter(tags=["consumption"])
MAX_BUCKETS = 10_000
GROUP_HELP = ("device lists every meter; the others add up main meters (sub-meters and the incomer are not added "
              "twice); item splits them by energy item (分项能耗), with 未分项 (unitemised, key 'unitemised') for what "
              "no sub-meter itemised: main meter − its itemised sub-meters, negative when they read more")


def when(value: str | None, tz: ZoneInfo, default: datetime) -> datetime:
    """A date (local midnight) or an RFC 3339 time (local when it has no offset)."""
    if value is None:
        return default
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, f"{value[:40]!r}: use a date (2026-03-01) or a time (2026-03-01T08:00:00+08:00)"
                            ) from None
    return bounded(parsed, tz)


@router.get("/consumption", response_model=ConsumptionPublic,
            summary="Use of electricity, water or gas per bucket and group, with coverage and flagged steps")
def get_consumption(
    usage: SiteUsageDep, language: LanguageDep, request: Request,
    kind: Annotated[Kind, Query(description="electricity | water | gas")] = Kind.ELECTRICITY,
    start: Annotated[str | None, Query(description="date or RFC 3339 time; default the 1st of this month",
                                       examples=["2026-03-01"])] = None,
    end: Annotated[str | None, Query(description="date or RFC 3339 time (exclusive); default now",
                                     examples=["2026-04-01"])] = None,
    interval: Annotated[Interval, Query(description="bucket size; start and end are rounded out to whole "
                                                    "buckets in the campus time zone")] = Interval.DAY,
    group_by: Annotated[GroupBy, Query(description=GROUP_HELP)] = GroupBy.BUILDING,
    device: Annotated[list[Annotated[str, StringConstraints(max_length=64)]] | None,
                      Query(description="only these meters (ids of at most 64 characters)", max_length=500)] = None,
) -> ConsumptionPublic:
    if kind is Kind.WATER_QUALITY:
        raise HTTPException(422, "kind=water_quality has no consumption: choose electricity, water or gas")
    tz = usage.tz
    now = datetime.now(tz)
    start_dt = when(start, tz, now.replace(day=1, hour=0, minute=0, second=0, microsecond=0))
    end_dt = when(end, tz, now)
    if start_dt >= end_dt:
        raise HTTPException(422, "start must be before end")
    per = {Interval.HOUR: 3600, Interval.DAY: 86400, Interval.MONTH: 28 * 86400}[interval]
    buckets = (end_dt - start_dt).total_seconds() / per
    if buckets > MAX_BUCKETS:
        raise HTTPException(422, f"more than {MAX_BUCKETS} buckets: choose a larger interval or a shorter range")
    campus = usage.campus
    n_groups = {GroupBy.DEVICE: len(device) if device else sum(1 for d in campus.devices if d.kind is kind),
              GroupBy.BUILDING: len(campus.buildings), GroupBy.ZONE: len(campus.zones) + 1, GroupBy.SITE: 1,
              GroupBy.DEPARTMENT: len({b.department for b in campus.buildings}),
              GroupBy.ITEM: len(items_of(kind)) + 1}[group_by]
    cap = int(request.app.state.settings.api.max_cells)
    if buckets * n_groups > cap:
        raise HTTPException(422, f"about {int(buckets)} buckets × {n_groups} groups is over the {cap} cell limit "
                                 f"([api] max_cells): choose a larger interval, a shorter range, fewer devices or "
                                 f"a coarser group_by")
    result = usage.query(kind, start_dt, end_dt, interval, group_by, language=language, devices=device,
                         now_ms=int(time.time() * 1000))
    edges = result.edges
    by_hand = {d.id for d in usage.whole.devices if d.manual}
    groups = [GroupUsePublic(
        key=g.key, name=g.name, total=round(g.total, 6), coverage=round(g.coverage(), 4), meters=g.meters,
        manual=[m for m in g.meters if m in by_hand], note=negative_note(result, g.meters, campus, language),
        buckets=[BucketPublic(start=from_ms(a, tz), end=from_ms(b, tz), value=round(g.totals[i], 6),
                              coverage=round(g.coverage(i), 4))
                 for i, (a, b) in enumerate(zip(edges, edges[1:], strict=False))])
        for g in (result.groups if group_by is GroupBy.ITEM else sorted(result.groups, key=lambda g: g.key))]
    flagged = [FlaggedStepPublic(device=f.device, start=from_ms(f.start_ms, tz), end=from_ms(f.end_ms, tz),
                                 flag=f.flag, register_from=f.raw_from, register_to=f.raw_to)  # type: ignore[arg-type]
               for f in result.flags]
    return ConsumptionPublic(kind=kind, unit=UNIT[kind], interval=interval.value, group_by=group_by.value,
                             start=from_ms(edges[0], tz), end=from_ms(edges[-1], tz),
                             total=round(result.total, 6), groups=groups, flagged=flagged,
                             complete_at=request.app.state.settings.report.completeness_min)


def negative_note(result: Consumption, meters: list[str], campus: Campus, language: str) -> str | None:
    """For a group by item holding a negative share: which meters its sub-meters outread, by name."""
    worst: dict[str, tuple[int, float]] = {}
    for neg in result.negative:
        if neg.meter in meters:
            count, low = worst.get(neg.meter, (0, 0.0))
            worst[neg.meter] = (count + 1, min(low, neg.amount))
    if not worst:
        return None
    names = {d.id: d.name or d.id for d in campus.devices}
    unit = UNIT[result.kind]
    if language.lower().startswith("en"):
        return "sub-meters read more than the meter above them (a negative share): " + "; ".join(
            f"{names.get(m, m)}: {n} bucket(s), lowest {low:.1f} {unit}" for m, (n, low) in worst.items())
    return "分表读数之和大于其上级表(该部分为负): " + "; ".join(
        f"{names.get(m, m)}: {n} 个时段, 最低 {low:.1f} {unit}" for m, (n, low) in worst.items())
