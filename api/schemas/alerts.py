"""Alerts, their history, acknowledging and resolving (tag: alerts)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class AlertPublic(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "id": 12, "rule": "canteen-gas-closed", "name": "食堂非营业时间燃气流量", "category": "safety",
        "severity": "critical", "status": "acknowledged", "subject": "c1-gas", "subject_name": "一食堂燃气表",
        "device": "c1-gas", "device_name": "一食堂燃气表", "building": "canteen-1", "building_name": "第一食堂",
        "zone": "zone-north", "zone_name": "北区(生活区)责任区", "department": "canteen", "value": 6.2, "unit": "m³/h",
        "limit": "> 0.5", "detail": "gas flowing while the canteen is closed", "started": "2026-03-10T21:30:00+08:00",
        "last_seen": "2026-03-10T21:45:00+08:00", "acknowledged_by": "li",
        "acknowledged_at": "2026-03-10T21:41:00+08:00",
        "ack_comment": "已到现场，正在关阀", "resolved_at": None, "resolved_by": None, "resolve_reason": None,
        "route": None, "escalation_level": 1, "next_escalation": None, "site": "yucai", "site_name": "育才中学"}]}}
    id: int
    site: str = ""
    site_name: str = ""
    rule: str
    name: str = Field(description="the rule's name in the configured language")
    category: Literal["energy", "safety", "data"]
    severity: Literal["critical", "major", "minor", "warning"]
    status: Literal["active", "acknowledged", "resolved"]
    subject: str = Field(description="the device id, or the department for budget rules")
    subject_name: str = Field(description="the device's name, or the department's in the language asked for")
    device: str | None
    device_name: str | None
    building: str | None
    building_name: str | None
    zone: str | None
    zone_name: str | None
    department: str | None
    value: float | None
    unit: str | None
    limit: str | None
    detail: str | None
    reading: str | None = Field(default=None, description="value and limit in words, for alerts a number against a "
                                "limit does not say (an overdue round: 逾期 3 天 · 应于 2026-12-03 前完成)")
    started: datetime
    last_seen: datetime = Field(description="time of the newest reading that kept it active")
    acknowledged_by: str | None
    acknowledged_by_name: str | None = Field(default=None, description="the roster person's name, else as it is")
    acknowledged_at: datetime | None
    ack_comment: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolved_by_name: str | None = Field(default=None, description="the roster person's name, else as it is")
    resolve_reason: str | None
    route: str | None
    escalation_level: int
    next_escalation: datetime | None
    plan: str | None = Field(default=None, description="the emergency plan (应急预案) it activated: its checklist is "
                             "GET /api/v1/alerts/{id}/plan")
    plan_name: str | None = None
    drill: int | None = Field(default=None, description="the drill (演练) that raised it: not a real event, counted "
                              "in no report or statistic")


class AlertEventPublic(BaseModel):
    id: int
    at: datetime
    type: str = Field(description="raised (detail history: true when raised from readings loaded late, told "
                                  "nobody), confirmed (a live reading confirmed it: told now), severity, "
                                  "acknowledged, escalated, resolved, notified, notify_retry, notify_failed")
    actor: str | None
    detail: dict[str, object]


class AckRequest(BaseModel):
    """Who acknowledges is the caller's token (or the signed link), never a field here."""

    comment: str | None = Field(default=None, max_length=1000, examples=["已到现场，正在关阀"])


class ResolveRequest(BaseModel):
    """Who resolves is the caller's token, never a field here."""

    reason: str = Field(min_length=1, max_length=1000, examples=["更换传感器后读数正常"])


class EvaluationFailurePublic(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "id": 3, "at": "2026-11-22T08:15:02+08:00", "topic": "campus/yucai/c1-gas/reading",
        "payload": '{"ts": 1795000000, "values": {"volume_m3": 12}}',
        "error": "ZeroDivisionError: float division by zero"}]}}
    id: int
    at: datetime = Field(description="when the alert engine tried it")
    topic: str
    payload: str = Field(description="the message's first 4 KiB (UTF-8, invalid bytes replaced)")
    error: str = Field(description="what went wrong; the reading itself was stored by ingest")
