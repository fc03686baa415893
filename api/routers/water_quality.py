"""GET /water-quality: every water-quality sensor's latest values against the limits its rules enforce
(the drinking-water board: green, amber, red; grey when it has gone quiet)."""

from __future__ import annotations

import time
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request

from alerts.conditions.base import unit_of
from alerts.desk import AlertDesk
from alerts.limits import Limit, limits_for, worst
from api.deps import CampusDep, LanguageDep, ServiceDep
from api.schemas import LimitPublic, SensorBoardPublic, SensorValuePublic
from api.timefmt import from_ms
from campus.contract import Kind
from campus.labels import FIELDS, ROLES, CampusNames, label

router = APIRouter(tags=["water quality"])
STALE_INTERVALS = 3


@router.get("/water-quality", response_model=list[SensorBoardPublic],
            summary="Water-quality sensors: latest values against their rules' limits (GB 5749 for drinking water)")
def board(service: ServiceDep, campus: CampusDep, language: LanguageDep,
          request: Request) -> list[SensorBoardPublic]:
    names = CampusNames(campus)
    tz = ZoneInfo(campus.site.timezone)
    desk: AlertDesk | None = getattr(request.app.state, "alerts", None)
    presence = service.presence.of_site(campus.site.id)
    now_ms = int(time.time() * 1000)
    out = []
    for dev in campus.devices:
        if dev.kind is not Kind.WATER_QUALITY:
            continue
        limits: list[Limit] = limits_for(desk.site(campus.site.id).rules, dev.id) if desk is not None else []
        sample = service.store.latest(campus.site.id, dev.id, dev.kind)
        values = []
        for field, value in (sample.values.items() if sample else ()):
            mine = [lim for lim in limits if lim.field == field]
            values.append(SensorValuePublic(
                field=field, name=label(FIELDS, field, language), value=value, unit=unit_of(field),
                standing=worst([lim.judge(value) for lim in mine]) if mine else None,
                limits=[LimitPublic(rule=lim.rule, rule_name=_rule_name(desk, campus.site.id, lim.rule, language),
                                    low=lim.low,
                                    high=lim.high) for lim in mine]))
        seen = presence.get(dev.id)
        last_ms = seen.last_seen_ms if seen and seen.last_seen_ms else (sample.ts if sample else None)
        stale = last_ms is None or now_ms - last_ms > STALE_INTERVALS * dev.interval_s * 1000
        standing = "stale" if stale else worst([v.standing for v in values if v.standing is not None])
        out.append(SensorBoardPublic(
            device=dev.id, name=dev.name or dev.id, building=dev.building,
            building_name=names.building(dev.building) or dev.building, role=dev.role,
            role_name=label(ROLES, dev.role, language) if dev.role else None,
            last_seen=from_ms(last_ms, tz), standing=standing, values=values))
    return out


def _rule_name(desk: AlertDesk | None, site: str, rule_id: str, language: str) -> str:
    return desk.site(site).rules.rule_name(rule_id, language) if desk is not None else rule_id
