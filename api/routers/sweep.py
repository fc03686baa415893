"""The sweep (用能扫查): GET /sweep, a live snapshot of what is drawing power, water or gas now against what it should
draw (its standby while its building is closed, the same hour on days of the same kind); POST /sweep saves it as a
check round per zone, so the check leaves a record."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from api.deps import ContextDep, Electrician, PrincipalDep, RecordsDep, SiteUsageDep, TimezoneDep
from api.routers.inspections import public_round
from api.schemas import RoundPublic
from api.timefmt import at_ms
from records.recording import Answer, record_round
from records.sweep import LOOKBACK_WEEKS, Sweep, sweep

router = APIRouter(tags=["records"])


# The sweep's models are not in api.schemas: api.schemas has a BuildingPublic too (the campus's), so OpenAPI
# names this one's component after its module (api__routers__sweep__BuildingPublic); moving it would rename the
# component, and SweepPublic (and LinePublic, kept with it) stay beside it.
class LinePublic(BaseModel):
    device: str
    name: str
    building: str
    kind: str
    unit: str
    now: float | None = Field(description="use over the last hour, per hour; null: no reading in it")
    usual: float | None = Field(description="the same hour on earlier days of the same kind (their low quartile)")
    days: int = Field(description="how many earlier days the usual is taken from")
    closed: bool = Field(description="its building should be closed now (standby only): records.sweep.HOURS")
    standby: float | None = Field(description="what it may draw while its building is closed: a share of its "
                                              "average on a recent open day")
    expected: float | None = Field(description="what it should draw now: the usual, or the standby when closed "
                                               "and lower")
    excess: float = Field(description="now − expected: the lines are sorted by it, largest first")
    flagged: bool


class BuildingPublic(BaseModel):
    id: str
    name: str
    zone: str | None
    closed: bool = Field(description="should be closed now (standby only)")
    now: dict[str, float]
    usual: dict[str, float]
    flagged: list[str]


class SweepPublic(BaseModel):
    site: str
    at: dt.datetime
    day_kind: str = Field(description="school_day, offday (weekend or holiday in term) or vacation")
    quiet: bool = Field(description="a vacation, a day off or night (22:00-06:00): what is flagged should be off")
    lookback_weeks: int = Field(description="how far back the same hour is looked for")
    flagged: int
    buildings: list[BuildingPublic]
    lines: list[LinePublic]


def _public(s: Sweep, tz: ZoneInfo) -> SweepPublic:
    return SweepPublic(site=s.site, at=at_ms(s.at_ms, tz), day_kind=s.day_kind, quiet=s.quiet,
                       lookback_weeks=LOOKBACK_WEEKS, flagged=len(s.flagged),
                       buildings=[BuildingPublic(id=b.id, name=b.name, zone=b.zone, closed=b.closed, now=b.now,
                                                 usual=b.usual, flagged=b.flagged) for b in s.buildings],
                       lines=[LinePublic(device=x.device, name=x.name, building=x.building, kind=x.kind, unit=x.unit,
                                         now=x.now, usual=x.usual, days=x.days, closed=x.closed, standby=x.standby,
                                         expected=x.expected, excess=x.excess, flagged=x.flagged)
                              for x in s.lines])


@router.get("/sweep", response_model=SweepPublic, summary="What is still on: every meter now against its standby "
            "while closed and the same hour on the same kind of day, the outliers flagged, largest excess first")
def snapshot(usage: SiteUsageDep, records: RecordsDep, tz: TimezoneDep) -> SweepPublic:
    return _public(sweep(usage, records.now_ms()), tz)


@router.post("/sweep", response_model=list[RoundPublic], status_code=201, dependencies=[Electrician],
             summary="Take the sweep now and save it as a check round for each zone (the snapshot kept with it)")
def save(usage: SiteUsageDep, records: RecordsDep, ctx: ContextDep, principal: PrincipalDep,
         tz: TimezoneDep) -> list[RoundPublic]:
    if not ctx.sees(ctx.site, None, None):  # the snapshot is the whole site's (#21: one scope rule for records)
        raise HTTPException(403, "the sweep is the whole site's: saving it needs a token not narrowed to zones or "
                                 "buildings (GET /sweep shows it)")
    s = sweep(usage, records.now_ms())
    snap = _public(s, tz)
    names = {b.id: b.name for b in ctx.campus.buildings}
    out = []
    for zone in ctx.campus.zones or []:
        mine = {b.id for b in s.buildings if b.zone == zone.id}
        flagged = [x for x in s.flagged if x.building in mine]
        note = "；".join(f"{names.get(x.building, x.building)} {x.name}：{x.now or 0:.2f} {x.unit}"
                        f"（{'已关闭，应仅待机' if x.closed else '应为'} {x.expected or 0:.2f}）" for x in flagged)
        part = snap.model_copy(update={"buildings": [b for b in snap.buildings if b.id in mine],
                                       "lines": [x for x in snap.lines if x.building in mine],
                                       "flagged": len(flagged)})
        row, _ = record_round(records, ctx, template="sweep", zone=zone.id, building=None,
                              answers=[Answer(0, not flagged, note)], note=note, photos=[], by=principal.name,
                              hazards=False, snapshot=part.model_dump(mode="json"))
        out.append(public_round(row, records, tz))
    return out
