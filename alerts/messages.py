"""People-facing alert text, zh-CN first, English on request: what, where, the value and its
limit, since when, and how to acknowledge."""

from __future__ import annotations

import datetime as dt

from alerts.store import Alert

SEVERITY = {"zh": {"critical": "严重", "major": "重要", "minor": "一般", "warning": "提示"},
            "en": {"critical": "CRITICAL", "major": "MAJOR", "minor": "minor", "warning": "warning"}}
CATEGORY = {"zh": {"energy": "节能", "safety": "安全", "data": "数据"},
            "en": {"energy": "energy", "safety": "safety", "data": "data"}}
EVENT = {"zh": {"raised": "告警", "escalated": "升级", "acknowledged": "已确认", "resolved": "已恢复",
                "severity": "升级为" },
         "en": {"raised": "ALERT", "escalated": "ESCALATED", "acknowledged": "ACKNOWLEDGED", "resolved": "RESOLVED",
                "severity": "now"}}


def lang(language: str | None) -> str:
    return "en" if (language or "").lower().startswith("en") else "zh"


def _num(v: float | None) -> str:
    return "—" if v is None else f"{v:.4g}" if abs(v) < 1e4 else f"{v:,.0f}"


def render(alert: Alert, event: str, *, language: str | None, rule_name: str, building: str, device: str,
           zone: str, tz: dt.tzinfo, ack_url: str | None, actor: str | None = None,
           reason: str | None = None) -> tuple[str, str]:
    """(title, body) for one notice."""
    lg = lang(language)
    sev, cat = SEVERITY[lg][alert.severity], CATEGORY[lg][alert.category]
    since = dt.datetime.fromtimestamp(alert.started_ms / 1000, tz).strftime("%Y-%m-%d %H:%M")
    value = f"{_num(alert.value)} {alert.unit or ''}".strip()
    title = f"【{EVENT[lg][event]}·{sev}·{cat}】{rule_name} — {building}" if lg == "zh" else \
        f"[{EVENT[lg][event]} · {sev} · {cat}] {rule_name} — {building}"
    if lg == "zh":
        lines = [f"楼栋：{building}（{zone}）", f"设备：{device}", f"数值：{value}（限值 {alert.limit_text or '—'}）",
                 f"开始：{since}", f"告警编号：#{alert.id}"]
        if alert.detail:
            lines.append(f"说明：{alert.detail}")
        if event == "acknowledged":
            lines.append(f"确认人：{actor or alert.ack_by}{'，' + alert.ack_comment if alert.ack_comment else ''}")
        elif event == "resolved":
            lines.append(f"恢复：{reason or alert.resolve_reason or '条件已解除'}（{actor or alert.resolved_by}）")
        elif ack_url:
            lines.append(f"确认（停止升级）：{ack_url}")
    else:
        lines = [f"Building: {building} ({zone})", f"Device: {device}",
                 f"Value: {value} (limit {alert.limit_text or '—'})", f"Since: {since}", f"Alert: #{alert.id}"]
        if alert.detail:
            lines.append(f"Detail: {alert.detail}")
        if event == "acknowledged":
            lines.append(f"Acknowledged by: {actor or alert.ack_by}"
                         f"{' — ' + alert.ack_comment if alert.ack_comment else ''}")
        elif event == "resolved":
            lines.append(f"Resolved: {reason or alert.resolve_reason or 'condition cleared'} "
                         f"({actor or alert.resolved_by})")
        elif ack_url:
            lines.append(f"Acknowledge (stops escalation): {ack_url}")
    return title, "\n".join(lines)
