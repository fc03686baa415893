"""The water balance (水平衡), night minimum flow (夜间最小流量) and the water-saving school's indicators
(节水型学校): GET /water/balance, /water/night-flow, /water/indicators. A token narrowed to zones or buildings sees
its buildings' balances and mains, never the site's incomer (``reports.water_balance.sees_site``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.deps import LanguageDep, RecordsDep, SiteUsageDep, check_month
from reports.night_flow import night_flow
from reports.water_balance import Point, balances
from reports.water_config import WaterSettings
from reports.water_indicators import indicators

router = APIRouter(tags=["water"])
MONTH = Query(pattern=r"^[0-9]{4}-[0-9]{2}$", description="YYYY-MM; default this month (site time)")


class PointPublic(BaseModel):
    period: str = Field(description="a day (YYYY-MM-DD) or the month (YYYY-MM)")
    inflow_m3: float | None
    outflow_m3: float | None
    loss_m3: float | None = Field(description="in − out; null with why when it cannot be judged")
    loss_pct: float | None
    beyond: bool = Field(description="|loss %| beyond the limit: a data alert (water-balance) is raised for it")
    why: str | None


class BalancePublic(BaseModel):
    level: str = Field(description="site (the incomer against the buildings' mains) or building (a main meter "
                                   "against its sub-meters)")
    key: str
    name: str
    inflow: list[str] = Field(description="the meters water comes in through, by name")
    outflow: list[str] = Field(description="the meters it goes out through, by name")
    limit_pct: float
    month: PointPublic | None
    days: list[PointPublic]


class WaterBalancePublic(BaseModel):
    site: str
    month: str
    balances: list[BalancePublic]
    note: str | None = Field(description="why there is no balance at all, if there is none")


class NightPublic(BaseModel):
    date: str = Field(description="the night, named by the date it ends on")
    min_m3h: float | None
    hour: str | None = Field(description="the hour the minimum fell in")
    why: str | None


class NightSeriesPublic(BaseModel):
    device: str
    name: str
    building: str | None = Field(description="the building's name; null for the site's incomer")
    level: str = Field(description="incomer or main")
    recent_m3h: float | None = Field(description="median of the last 7 nights")
    usual_m3h: float | None = Field(description="median of the up to 28 nights before them")
    rise_m3h: float | None
    rising: bool
    nights_above: int = Field(description="the latest nights in a row above the usual by [water] night_rise_m3h")
    nights: list[NightPublic]


class NightFlowPublic(BaseModel):
    site: str
    night_hours: str
    rise_m3h: float
    weeks: int
    meters: list[NightSeriesPublic]


class IndicatorsPublic(BaseModel):
    site: str
    month: str
    source: str = Field(description="incomer (the site's water incomer) or mains (the sum of the buildings' mains)")
    water_m3: float
    persons: int
    school_days: int
    litres_per_person_day: float | None = Field(description="the month's water ÷ persons ÷ school days (so far)")
    indicator_litres_per_person_day: float
    within: bool | None
    why: str | None
    first_level_required: int
    first_level_installed: int
    first_level_pct: float | None
    first_level_target_pct: float
    first_level_ok: bool | None
    first_level_missing: list[str] = Field(description="what has no first-level meter, by name")
    second_level_pct: float | None = Field(description="the mains' water that passes a sub-meter, %")
    second_level_target_pct: float
    second_level_ok: bool | None
    second_level_why: str | None


def _point(p: Point) -> PointPublic:
    return PointPublic(period=p.period, inflow_m3=p.inflow_m3, outflow_m3=p.outflow_m3, loss_m3=p.loss_m3,
                       loss_pct=p.loss_pct, beyond=p.beyond, why=p.why)


def _settings(request: Request) -> WaterSettings:
    water: WaterSettings = request.app.state.settings.water
    return water


def _month(month: str | None, usage: SiteUsageDep, now_ms: int) -> str:
    out = month or f"{dt.datetime.fromtimestamp(now_ms / 1000, usage.tz):%Y-%m}"
    check_month(out)
    return out


@router.get("/water/balance", response_model=WaterBalancePublic,
            summary="The water balance per day and for the month: the incomer against the buildings' mains, each "
                    "main against its sub-meters, loss % against the limits ([water])")
def get_balance(request: Request, usage: SiteUsageDep, records: RecordsDep, language: LanguageDep,
                month: Annotated[str | None, MONTH] = None) -> WaterBalancePublic:
    now = records.now_ms()
    month = _month(month, usage, now)
    usage.refresh(wait_s=usage.request_wait_s)
    found = balances(usage, month, _settings(request), now, language)
    note = None
    if not found:
        note = ("没有可比较的水表：需要校区进水总表（role: incomer），或带分表（parent:）的楼栋总表"
                if language != "en" else "nothing to balance: a water incomer (role: incomer), or a main meter with "
                "sub-meters (parent:), is needed")
    return WaterBalancePublic(site=usage.site_id, month=month, note=note, balances=[BalancePublic(
        level=b.level, key=b.key, name=b.name, inflow=b.inflow, outflow=b.outflow, limit_pct=b.limit_pct,
        month=None if b.month is None else _point(b.month), days=[_point(p) for p in b.days]) for b in found])


@router.get("/water/night-flow", response_model=NightFlowPublic,
            summary="Night minimum flow (夜间最小流量) of the incomer and each building's main, night by night, and "
                    "its trend: the last 7 nights against the 4 weeks before")
def get_night_flow(request: Request, usage: SiteUsageDep, records: RecordsDep, language: LanguageDep,
                   weeks: Annotated[int, Query(ge=1, le=12, description="weeks of nights (7 each), 1-12")] = 5,
                   ) -> NightFlowPublic:
    settings = _settings(request)
    usage.refresh(wait_s=usage.request_wait_s)
    found = night_flow(usage, weeks, settings, records.now_ms(), language)
    return NightFlowPublic(site=usage.site_id, night_hours=settings.night_hours, rise_m3h=settings.night_rise_m3h,
                           weeks=weeks, meters=[NightSeriesPublic(
                               device=s.device, name=s.name, building=s.building, level=s.level,
                               recent_m3h=s.recent_m3h, usual_m3h=s.usual_m3h, rise_m3h=s.rise_m3h, rising=s.rising,
                               nights_above=s.nights_above,
                               nights=[NightPublic(date=n.date, min_m3h=n.min_m3h, hour=n.hour, why=n.why)
                                       for n in s.nights]) for s in found])


@router.get("/water/indicators", response_model=IndicatorsPublic,
            summary="The water-saving school's indicators (节水型学校): litres per person per school day against "
                    "the configured indicator; first- and second-level metering coverage")
def get_indicators(request: Request, usage: SiteUsageDep, records: RecordsDep, language: LanguageDep,
                   month: Annotated[str | None, MONTH] = None) -> IndicatorsPublic:
    now = records.now_ms()
    month = _month(month, usage, now)
    usage.refresh(wait_s=usage.request_wait_s)
    i = indicators(usage, month, _settings(request), now, language)
    return IndicatorsPublic(
        site=usage.site_id, month=i.month, source=i.source, water_m3=i.water_m3, persons=i.persons,
        school_days=i.school_days, litres_per_person_day=i.litres_per_person_day,
        indicator_litres_per_person_day=i.indicator, within=i.within, why=i.why,
        first_level_required=i.first_required, first_level_installed=i.first_installed, first_level_pct=i.first_pct,
        first_level_target_pct=i.first_target_pct, first_level_ok=i.first_ok, first_level_missing=i.missing,
        second_level_pct=i.second_pct, second_level_target_pct=i.second_target_pct, second_level_ok=i.second_ok,
        second_level_why=i.second_why)
