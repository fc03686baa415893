"""GET /water-quality: every water-quality sensor's latest values against the limits its rules enforce (the water
board: green, amber, red; grey when it has gone quiet). Each role is held to its own limits and names the standard
they come from: drinking, canteen and secondary-supply water GB 5749; direct-drinking fountains CJ 94; water
heaters and their storage tanks the temperatures that keep Legionella down."""

from __future__ import annotations

import time
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request

from alerts.conditions.base import unit_of
from alerts.desk import AlertDesk
from alerts.limits import Limit, Standing, limits_for, worst
from api.deps import CampusDep, LanguageDep, ServiceDep
from api.schemas import LimitPublic, SensorBoardPublic, SensorValuePublic
from api.timefmt import from_ms
from campus.contract import Kind
from campus.labels import FIELDS, ROLES, CampusNames, label

router = APIRouter(tags=["water quality"])
STALE_INTERVALS = 3
# where each role's limits come from (the rules hold the numbers: alerts/default_rules.yaml)
STANDARDS: dict[str, tuple[str, str]] = {
    "drinking": ("GB 5749-2022 生活饮用水卫生标准", "GB 5749-2022 drinking water standard"),
    "canteen_water": ("GB 5749-2022 生活饮用水卫生标准", "GB 5749-2022 drinking water standard"),
    "secondary_supply": ("GB 5749-2022 生活饮用水卫生标准(二次供水)", "GB 5749-2022 drinking water standard "
                                                                "(secondary supply)"),
    "purified_drinking": ("CJ 94-2005 饮用净水水质标准", "CJ 94-2005 purified drinking water standard"),
    "water_heater_storage": ("军团菌控制：热水储存温度 (HSG274、WHO)", "Legionella control: storage temperature "
                                                                  "(HSG274, WHO)"),
    "water_heater_outlet": ("军团菌控制：热水出水温度 (HSG274、WHO)", "Legionella control: outlet temperature "
                                                                 "(HSG274, WHO)"),
}
# alerts.limits calls a value near within 10 % of a one-sided limit's value: right for a concentration (TDS 950
# against 1000), not for a temperature, where 10 % of 60 °C is 6 °C and a tank stored at 65 °C, as it should be,
# would be amber. A temperature is near within NEAR_C of its limit.
NEAR_C = 2.0


def judge(lim: Limit, value: float) -> Standing:
    """How ``value`` stands against ``lim`` on the board."""
    judged = lim.judge(value)
    if judged != "near" or lim.field != "temperature_c":
        return judged
    return "near" if any(edge is not None and abs(value - edge) < NEAR_C for edge in (lim.low, lim.high)) else "ok"


@router.get("/water-quality", response_model=list[SensorBoardPublic],
            summary="Water-quality sensors: latest values against their rules' limits, each role against its own "
                    "(GB 5749 for drinking water, storage and outlet temperatures for hot water)")
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
                standing=worst([judge(lim, value) for lim in mine]) if mine else None,
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
            standard=label(STANDARDS, dev.role, language) if dev.role in STANDARDS else None,
            last_seen=from_ms(last_ms, tz), standing=standing, values=values))
    return out


def _rule_name(desk: AlertDesk | None, site: str, rule_id: str, language: str) -> str:
    return desk.site(site).rules.rule_name(rule_id, language) if desk is not None else rule_id
