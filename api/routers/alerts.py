from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse

from alerts.book import AlertStateError
from alerts.desk import AlertDesk
from alerts.store import Alert
from api.deps import AlertsDep, Electrician, TimezoneDep, Viewer
from api.schemas import AckRequest, AlertEventPublic, AlertPublic, ResolveRequest
from api.timefmt import from_ms, to_ms
from ingest.errors import NotFound

router = APIRouter(prefix="/alerts", tags=["alerts"])


def public(a: Alert, alerts: AlertDesk, tz: TimezoneDep) -> AlertPublic:
    rule = alerts.rules.file_rule(a.rule)
    name = rule.name.text(alerts.book.settings.language) if rule else a.rule
    return AlertPublic(
        id=a.id, rule=a.rule, name=name, category=a.category, severity=a.severity,  # type: ignore[arg-type]
        status=a.status, subject=a.subject, device=a.device, building=a.building,  # type: ignore[arg-type]
        zone=a.zone, department=a.department, value=a.value, unit=a.unit, limit=a.limit_text, detail=a.detail,
        started=from_ms(a.started_ms, tz), last_seen=from_ms(a.last_ms, tz),  # type: ignore[arg-type]
        acknowledged_by=a.ack_by, acknowledged_at=from_ms(a.ack_ms, tz), ack_comment=a.ack_comment,
        resolved_at=from_ms(a.resolved_ms, tz), resolved_by=a.resolved_by, resolve_reason=a.resolve_reason,
        route=a.route, escalation_level=a.level, next_escalation=from_ms(a.next_escalation_ms, tz))


def _get(alerts: AlertDesk, alert_id: int) -> Alert:
    try:
        return alerts.store.get(alert_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc


@router.get("", response_model=list[AlertPublic], summary="Alerts, newest first", dependencies=[Viewer])
def list_alerts(alerts: AlertsDep, tz: TimezoneDep,
                status: Annotated[Literal["open", "active", "acknowledged", "resolved"] | None,
                                  Query(description="open = active or acknowledged")] = None,
                category: Annotated[Literal["energy", "safety", "data"] | None, Query()] = None,
                severity: Annotated[Literal["critical", "major", "minor", "warning"] | None, Query()] = None,
                building: Annotated[str | None, Query()] = None,
                since: Annotated[datetime | None, Query(description="active at or after this time")] = None,
                limit: Annotated[int, Query(ge=1, le=10_000)] = 500) -> list[AlertPublic]:
    rows = alerts.store.query(status=status, category=category, severity=severity, building=building,
                              since_ms=to_ms(since, tz) if since else None, limit=limit)
    return [public(a, alerts, tz) for a in rows]


@router.get("/{alert_id}", response_model=AlertPublic, summary="One alert", dependencies=[Viewer])
def get_alert(alert_id: int, alerts: AlertsDep, tz: TimezoneDep) -> AlertPublic:
    return public(_get(alerts, alert_id), alerts, tz)


@router.get("/{alert_id}/events", response_model=list[AlertEventPublic], dependencies=[Viewer],
            summary="Everything that happened to an alert, including each notification attempt")
def alert_events(alert_id: int, alerts: AlertsDep, tz: TimezoneDep) -> list[AlertEventPublic]:
    try:
        events = alerts.store.events(alert_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    return [AlertEventPublic(id=e.id, at=from_ms(e.ts_ms, tz), type=e.type, actor=e.actor,  # type: ignore[arg-type]
                             detail=e.detail) for e in events]


@router.post("/{alert_id}/ack", response_model=AlertPublic, summary="Acknowledge: stops escalation",
             dependencies=[Electrician])
def ack(alert_id: int, body: AckRequest, alerts: AlertsDep, tz: TimezoneDep) -> AlertPublic:
    _get(alerts, alert_id)
    try:
        return public(alerts.ack(alert_id, body.by, body.comment), alerts, tz)
    except AlertStateError as exc:
        raise HTTPException(409, str(exc)) from exc


@router.get("/{alert_id}/ack", response_class=HTMLResponse, include_in_schema=False)
def ack_link(alert_id: int, alerts: AlertsDep, by: str = "", sig: str = "") -> HTMLResponse:
    """The signed link in each message: one tap on a phone acknowledges as that person."""
    if not alerts.verify(alert_id, by, sig):
        return HTMLResponse(_page("链接无效 · Invalid link", "这个确认链接无效或已被修改。"), status_code=403)
    a = _get(alerts, alert_id)
    if a.status == "active":
        a = alerts.ack(alert_id, by, "via link")
        text = f"告警 #{a.id} 已由 {escape(by)} 确认，升级已停止。<br>Alert #{a.id} acknowledged; escalation stopped."
    else:
        text = f"告警 #{a.id} 当前状态：{escape(a.status)}。<br>Alert #{a.id} is {escape(a.status)}."
    return HTMLResponse(_page(f"告警 #{a.id}", text))


def _page(title: str, text: str) -> str:
    return (f'<!doctype html><html lang="zh-CN"><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width"><title>{escape(title)}</title><body style="font:18px sans-serif;'
            f'margin:2em"><h1>{escape(title)}</h1><p>{text}</p></body></html>')


@router.post("/{alert_id}/resolve", response_model=AlertPublic, summary="Resolve by hand, with a reason",
             dependencies=[Electrician])
def resolve(alert_id: int, body: ResolveRequest, alerts: AlertsDep, tz: TimezoneDep) -> AlertPublic:
    _get(alerts, alert_id)
    try:
        return public(alerts.resolve(alert_id, body.by, body.reason), alerts, tz)
    except AlertStateError as exc:
        raise HTTPException(409, str(exc)) from exc
