from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials

from alerts.book import AlertBook, ack_query
from alerts.desk import AlertDesk
from alerts.messages import localize, said
from alerts.store import Alert
from api import alert_page
from api.access import Scope
from api.deps import (
    AccessDep,
    AlertsDep,
    LanguageDep,
    PageDep,
    PrincipalDep,
    TimezoneDep,
    Viewer,
    bearer,
    get_alerts,
    get_principal,
    require,
)
from api.schemas import AckRequest, AlertEventPublic, AlertPublic, EvaluationFailurePublic, ResolveRequest
from api.timefmt import from_ms, to_ms
from api.tokens import Principal, Role

router = APIRouter(prefix="/alerts", tags=["alerts"])
AlertId = Annotated[int, Path(ge=1, le=2**63 - 1, description="alert id")]


def ack_query_of(alerts: AlertDesk, alert_id: int, person: str, expires_s: int) -> str:
    return ack_query(alerts.secret, alert_id, person, expires_s)


def public(a: Alert, alerts: AlertDesk, tz: TimezoneDep, language: str | None = None) -> AlertPublic:
    """An alert as people read it: the rule's name, limit and detail in ``language`` (default: the site's), and
    the names of its device, building and zone beside their ids."""
    desk = alerts.of(a)
    language = language or desk.book.settings.language
    name = desk.rules.rule_name(a.rule, language)
    names = desk.names
    own = said(a, "reading", language)
    return AlertPublic(
        id=a.id, site=desk.campus.site.id, site_name=desk.campus.site.name,
        rule=a.rule, name=name, category=a.category, severity=a.severity,  # type: ignore[arg-type]
        status=a.status, subject=a.subject, device=a.device, building=a.building,  # type: ignore[arg-type]
        subject_name=desk.book.subject_name(a, language), device_name=names.device(a.device),
        building_name=names.building(a.building), zone_name=names.zone(a.zone),
        zone=a.zone, department=a.department, value=a.value, unit=said(a, "unit", language) or a.unit,
        limit=said(a, "limit", language) or localize(a.limit_text, language),
        detail=said(a, "detail", language) or localize(a.detail, language), reading=own,
        started=from_ms(a.started_ms, tz), last_seen=from_ms(a.last_ms, tz),
        acknowledged_by=a.ack_by, acknowledged_by_name=desk.book.person_name(a.ack_by),
        acknowledged_at=from_ms(a.ack_ms, tz), ack_comment=a.ack_comment,
        resolved_at=from_ms(a.resolved_ms, tz), resolved_by=a.resolved_by,
        resolved_by_name=desk.book.person_name(a.resolved_by),
        resolve_reason=localize(a.resolve_reason, language),
        route=a.route, escalation_level=a.level, next_escalation=from_ms(a.next_escalation_ms, tz),
        plan=a.plan, plan_name=_plan_name(desk.book, a.plan, language), drill=a.drill)


def _plan_name(book: AlertBook, plan: str | None, language: str) -> str | None:
    found = book.plans.plans.get(plan) if plan is not None and book.plans is not None else None
    return found.name.text(language) if found is not None else plan


def _get(alerts: AlertDesk, alert_id: int, scope: Scope | None = None) -> Alert:
    """An alert; 404 also for one outside what the token may see (``scope``)."""
    a = alerts.store.get(alert_id)
    if scope is not None and not scope.alert(a.site or alerts.of(a).campus.site.id, a.building, a.zone):
        raise HTTPException(404, f"no alert #{alert_id}")
    return a


@router.get("", response_model=list[AlertPublic], summary="Alerts, the most severe first, then the newest",
            dependencies=[Viewer])
def list_alerts(alerts: AlertsDep, tz: TimezoneDep, page: PageDep, response: Response, principal: PrincipalDep,
                status: Annotated[Literal["open", "active", "acknowledged", "resolved"] | None,
                                  Query(description="open = active or acknowledged")] = None,
                category: Annotated[Literal["energy", "safety", "data"] | None, Query()] = None,
                severity: Annotated[Literal["critical", "major", "minor", "warning"] | None, Query()] = None,
                building: Annotated[str | None, Query(max_length=64)] = None,
                since: Annotated[datetime | None, Query(description="active at or after this time")] = None,
                zone: Annotated[str | None, Query(max_length=64, description="a responsibility zone (责任区)")] = None,
                site: Annotated[str | None, Query(max_length=64, description="one site's alerts")] = None,
                drills: Annotated[bool | None, Query(description="true: drills only; false: real alerts only; "
                                                                 "default both (a drill is marked drill)")] = None,
                language: LanguageDep = "zh-CN",
                ) -> list[AlertPublic]:
    if site is not None and not principal.scope.site(site):
        raise HTTPException(404, f"no site {site!r}")
    where = {"status": status, "category": category, "severity": severity, "building": building,
             "since_ms": to_ms(since, tz) if since else None, "zone": zone, "site": site,
             "visible": None if principal.scope.everything else principal.scope, "drills": drills}
    rows = alerts.store.query(**where, limit=page.limit, offset=page.offset)  # type: ignore[arg-type]
    total = alerts.store.count_matching(**where)  # type: ignore[arg-type]
    return [public(a, alerts, tz, language) for a in page.of(rows, response, total)]


@router.get("/evaluation-failures", response_model=list[EvaluationFailurePublic], dependencies=[Viewer],
            summary="Messages the alert engine could not evaluate, newest first (kept: the newest 10,000)")
def list_evaluation_failures(alerts: AlertsDep, tz: TimezoneDep, page: PageDep, response: Response,
                             access: AccessDep, request: Request,
                             site: Annotated[str | None, Query(max_length=64, description="one site's")] = None,
                             ) -> list[EvaluationFailurePublic]:
    topics = access.topics(request.app.state.settings.mqtt.topic_prefix, site)  # like dead letters: its own only
    rows = alerts.store.failures(page.limit, page.offset, topics)
    out = [EvaluationFailurePublic(id=f.id, at=from_ms(f.ts_ms, tz), topic=f.topic,
                                   payload=f.payload.decode("utf-8", "replace"), error=f.error) for f in rows]
    return page.of(out, response, alerts.store.failure_count(topics))


@router.get("/{alert_id}", response_model=AlertPublic, summary="One alert", dependencies=[Viewer])
def get_alert(alert_id: AlertId, alerts: AlertsDep, tz: TimezoneDep, language: LanguageDep,
              principal: PrincipalDep) -> AlertPublic:
    return public(_get(alerts, alert_id, principal.scope), alerts, tz, language)


@router.get("/{alert_id}/events", response_model=list[AlertEventPublic], dependencies=[Viewer],
            summary="Everything that happened to an alert, including each notification attempt")
def alert_events(alert_id: AlertId, alerts: AlertsDep, tz: TimezoneDep, page: PageDep,
                 response: Response, principal: PrincipalDep) -> list[AlertEventPublic]:
    _get(alerts, alert_id, principal.scope)
    events = page.of(alerts.store.events(alert_id), response)
    return [AlertEventPublic(id=e.id, at=from_ms(e.ts_ms, tz), type=e.type, actor=e.actor,
                             detail=e.detail) for e in events]


SignedBy = Annotated[str | None, Query(max_length=64, description="signed link: the person it was sent to")]
SignedExp = Annotated[int | None, Query(ge=0, le=2**62, description="signed link: expiry, epoch seconds")]
SignedSig = Annotated[str | None, Query(max_length=128, description="signed link: signature")]


def _link_holder(alerts: AlertDesk, alert_id: int, by: str | None, exp: int | None, sig: str | None) -> str:
    """The person a signed acknowledge link names, or :class:`_LinkRefused` with the reason (403 / 410)."""
    if by is None or exp is None or sig is None or not alerts.verify(alert_id, by, exp, sig):
        raise _LinkRefused(403, "链接无效 · Invalid link", "这个确认链接无效或已被修改。",
                           "This acknowledge link is invalid or was altered.")
    if exp < time.time():
        raise _LinkRefused(410, "链接已过期 · Link expired", "这个确认链接已过期，请在控制台中确认告警。",
                           "This link has expired: acknowledge the alert in the console.")
    return by


class _LinkRefused(Exception):
    def __init__(self, status: int, title: str, text_zh: str, text_en: str) -> None:
        super().__init__(title)
        self.status, self.title, self.text_zh, self.text_en = status, title, text_zh, text_en

    def response(self) -> HTMLResponse:
        return HTMLResponse(alert_page.refused(self.title, self.text_zh, self.text_en), status_code=self.status)


def _both(a: Alert, alerts: AlertDesk, tz: TimezoneDep) -> tuple[AlertPublic, AlertPublic]:
    return public(a, alerts, tz, "zh-CN"), public(a, alerts, tz, "en")


def _not_active(a: Alert, alerts: AlertDesk, tz: TimezoneDep) -> HTMLResponse:
    zh, en = _both(a, alerts, tz)
    status = alert_page.STATUS.get(a.status, (a.status, a.status))
    return HTMLResponse(alert_page.done(zh, en, f"告警 #{a.id} {status[0]}，无需再确认。",
                                        f"Alert #{a.id} is {status[1]}: nothing to acknowledge."))


@router.post("/{alert_id}/ack", response_model=AlertPublic, summary="Acknowledge: stops escalation",
             description="With an electrician's (or admin's) token, acknowledged in the token's name; or from a "
                         "signed acknowledge link's page (`by`, `exp`, `sig` in the query), in the name the link "
                         "was sent to. Who acknowledged never comes from the body.",
             responses={401: {"description": "no token and no signed link"}, 403: {"description": "role too low, "
                        "or the link's signature is invalid"}, 410: {"description": "the link has expired"}})
def ack(alert_id: AlertId, tz: TimezoneDep, request: Request,
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        body: AckRequest | None = None, by: SignedBy = None, exp: SignedExp = None, sig: SignedSig = None,
        ) -> Response:
    principal = None if sig is not None else require(Role.ELECTRICIAN)(get_principal(request, creds))
    alerts = get_alerts(request)
    if principal is None:
        try:
            who = _link_holder(alerts, alert_id, by, exp, sig)
        except _LinkRefused as refused:
            return refused.response()
        a = _get(alerts, alert_id)
        if a.status != "active":
            return _not_active(a, alerts, tz)
        a = alerts.ack(alert_id, who, "经链接确认 · via link")
        zh, en = _both(a, alerts, tz)
        name = zh.acknowledged_by_name or who
        return HTMLResponse(alert_page.done(zh, en, f"告警 #{a.id} 已由 {name} 确认，升级已停止。",
                                            f"Alert #{a.id} acknowledged by {name}; escalation stopped."))
    _get(alerts, alert_id, principal.scope)
    acked = alerts.ack(alert_id, principal.name, body.comment if body else None)
    return JSONResponse(jsonable_encoder(public(acked, alerts, tz)))


@router.get("/{alert_id}/ack", response_class=HTMLResponse, include_in_schema=False)
def ack_link(alert_id: AlertId, alerts: AlertsDep, tz: TimezoneDep, by: SignedBy = None, exp: SignedExp = None,
             sig: SignedSig = None) -> HTMLResponse:
    """The signed link in each message opens a confirmation page and changes nothing (mail and chat link
    scanners open links); its button POSTs to the same URL, which acknowledges."""
    try:
        who = _link_holder(alerts, alert_id, by, exp, sig)
    except _LinkRefused as refused:
        return refused.response()
    a = _get(alerts, alert_id)
    if a.status != "active":
        return _not_active(a, alerts, tz)
    zh, en = _both(a, alerts, tz)
    action = f"/api/v1/alerts/{a.id}/ack?{ack_query_of(alerts, a.id, who, int(exp or 0))}"
    return HTMLResponse(alert_page.confirm(zh, en, action, alerts.of(a).book.person_name(who) or who))


@router.post("/{alert_id}/resolve", response_model=AlertPublic, summary="Resolve by hand, with a reason",
             description="Resolved in the name of the caller's token.")
def resolve(alert_id: AlertId, body: ResolveRequest, alerts: AlertsDep, tz: TimezoneDep,
            principal: Annotated[Principal, Depends(require(Role.ELECTRICIAN))]) -> AlertPublic:
    _get(alerts, alert_id, principal.scope)
    return public(alerts.resolve(alert_id, principal.name, body.reason), alerts, tz)
