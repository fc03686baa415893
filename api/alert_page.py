"""The page a signed acknowledge link opens (from a mail or a chat message, on a phone): what the alert is, where,
its value against its limit and since when — in names, Chinese first with English beneath — and one button that
acknowledges in the name of the person the link was sent to. Styled by the console's stylesheet; every text is
escaped."""

from __future__ import annotations

from html import escape

from api.schemas import AlertPublic
from campus.labels import SEVERITIES, label

STATUS = {"active": ("未确认", "active"), "acknowledged": ("已确认", "acknowledged"),
          "resolved": ("已关闭", "resolved")}


def _num(v: float | None) -> str:
    return "—" if v is None else f"{v:,.0f}" if abs(v) >= 1e4 else f"{v:.4g}"


def _both(zh: str | None, en: str | None) -> str:
    """Chinese, and the English beneath when it says something else."""
    zh, en = zh or "—", en or ""
    return escape(zh) + (f'<small lang="en">{escape(en)}</small>' if en and en != zh else "")


def _fact(zh: str, en: str, value: str) -> str:
    return f'<dt>{escape(zh)} <span lang="en">{escape(en)}</span></dt><dd>{value}</dd>'


def summary(zh: AlertPublic, en: AlertPublic) -> str:
    """The alert as people read it, from its zh-CN and English forms."""
    sev = f'<span class="sev sev-{escape(zh.severity)}">{escape(label(SEVERITIES, zh.severity, "zh-CN"))} ' \
          f'<span lang="en">{escape(label(SEVERITIES, zh.severity, "en"))}</span></span>'
    status = STATUS.get(zh.status, (zh.status, zh.status))
    facts = []
    if zh.building_name:
        zone = f" <small>{escape(zh.zone_name)}</small>" if zh.zone_name else ""
        facts.append(_fact("楼栋", "Building", escape(zh.building_name) + zone))
    elif zh.zone_name:
        facts.append(_fact("责任区", "Zone", escape(zh.zone_name)))
    if zh.device_name and zh.device_name == zh.subject_name:
        facts.append(_fact("设备", "Device", escape(zh.device_name)))
    else:
        facts.append(_fact("对象", "About", _both(zh.subject_name, en.subject_name)))
    if zh.reading:
        facts.append(_fact("情况", "Status", f"<b>{_both(zh.reading, en.reading)}</b>"))
    else:
        unit = f" {zh.unit}" if zh.unit else ""
        facts.append(_fact("数值", "Value", f"<b>{escape(_num(zh.value) + unit)}</b>"))
        facts.append(_fact("限值", "Limit", _both(zh.limit, en.limit)))
    facts.append(_fact("开始", "Since", escape(zh.started.strftime("%Y-%m-%d %H:%M"))))
    if zh.detail:
        facts.append(_fact("说明", "Detail", _both(zh.detail, en.detail)))
    if zh.status == "acknowledged" and zh.acknowledged_by_name:
        facts.append(_fact("确认人", "Acknowledged by", escape(zh.acknowledged_by_name)))
    return (f'<div class="ack-head">{sev}<span class="status">{escape(status[0])} '
            f'<span lang="en">{escape(status[1])}</span></span><span class="muted">#{zh.id}</span></div>'
            f'<h2>{_both(zh.name, en.name)}</h2><dl class="ack-facts">{"".join(facts)}</dl>')


def page(title: str, body: str, severity: str | None = None) -> str:
    """A whole page: the console's stylesheet, a header bar, one card."""
    sev = f" sev-{escape(severity)}" if severity else ""
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
            f'<link rel="icon" href="data:,"><link rel="stylesheet" href="/static/console.css"></head>'
            f'<body class="ack-page">'
            f'<header><h1>meterwatch · 告警确认 <span lang="en">Acknowledge</span></h1></header>'
            f'<main><article class="ack-card{sev}">{body}</article></main></body></html>')


def console_link(alert_id: int) -> str:
    """To the alert in the console (the device's last 24 h beside it); the console asks for a token once."""
    return f'<p class="ack-more"><a href="/#alerts/{alert_id}">在控制台查看 · <span lang="en">Open in the console' \
           f'</span></a></p>'


def confirm(zh: AlertPublic, en: AlertPublic, action: str, person: str) -> str:
    """The page a link opens: the alert and the button (which POSTs to ``action``); changes nothing by itself."""
    button = (f'<form method="post" action="{escape(action)}"><button type="submit" class="ack-button">确认告警 · '
              f'<span lang="en">Acknowledge</span></button><p class="muted">以 {escape(person)} 的名义确认，'
              f'升级随即停止<br><span lang="en">as {escape(person)}; escalation stops</span></p></form>')
    return page(f"告警 #{zh.id} · Alert #{zh.id}", summary(zh, en) + button + console_link(zh.id), zh.severity)


def done(zh: AlertPublic, en: AlertPublic, text_zh: str, text_en: str) -> str:
    """After the button, or a link to an alert no longer active: what happened, and the alert."""
    said = f'<p class="ack-done">{escape(text_zh)}<br><span lang="en">{escape(text_en)}</span></p>'
    return page(f"告警 #{zh.id} · Alert #{zh.id}", said + summary(zh, en) + console_link(zh.id), zh.severity)


def refused(title: str, text_zh: str, text_en: str) -> str:
    return page(title, f'<h2>{escape(title)}</h2><p>{escape(text_zh)}<br><span lang="en">{escape(text_en)}</span></p>')
