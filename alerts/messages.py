"""People-facing alert text, zh-CN first, English on request: what, where, the value and its
limit, since when, and how to acknowledge."""

from __future__ import annotations

import datetime as dt
import json
import re

from alerts.store import Alert
from campus.labels import CATEGORIES, FIELDS, SEVERITIES, Name, label
from campus.silence import in_chinese

# Chinese as everywhere else (ingest/labels.py); English shouts the serious ones in a message title
SEVERITY = {"zh": {k: zh for k, (zh, _) in SEVERITIES.items()},
            "en": {"critical": "CRITICAL", "major": "MAJOR", "minor": "minor", "warning": "warning"}}
CATEGORY = {"zh": {k: zh for k, (zh, _) in CATEGORIES.items()},
            "en": {"energy": "energy", "safety": "safety", "data": "data"}}
EVENT = {"zh": {"raised": "告警", "escalated": "升级", "acknowledged": "已确认", "resolved": "已恢复",
                "severity": "升级为", "step_late": "预案步骤超时"},
         "en": {"raised": "ALERT", "escalated": "ESCALATED", "acknowledged": "ACKNOWLEDGED", "resolved": "RESOLVED",
                "severity": "now", "step_late": "PLAN STEP LATE"}}
DRILL = {"zh": ("【演练】", "本次为应急演练，非真实事件，请按预案处置并逐项勾选。"),
         "en": ("[DRILL] ", "This is a DRILL, not a real event: respond as the plan says and tick each step.")}


# The conditions word their limits and details in English (stored with the alert); these say them in
# Chinese. A text none of them matches is shown as it is.
_EXACT_ZH = {"condition cleared": "条件已解除",
             "no readings": "无数据上报", "Last Will: offline": "设备遗嘱消息：离线", "offline": "离线",
             "minimum flow": "最小流量", "use while closed": "关闭时段用量", "hourly use": "小时用量",
             "new meter cycle": "新表计周期(换表或清零)", "implausible jump": "读数异常跳变"}
_WEEKDAY_ZH = dict(zip(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), "一二三四五六日", strict=True))
_PATTERNS_ZH: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(new meter cycle|implausible jump): (.+)$"), "{1}：{2}"),
    (re.compile(r"^month to date ([-\d.]+), projected to month end$"), "本月累计 {1}，推算至月末"),
    (re.compile(r"^projected to month end: ([-\d.]+)$"), "推算至月末：{1}"),
    (re.compile(r"^month ended: (\d{4}-\d\d)$"), "{1} 月已结束"),
    (re.compile(r"^(.*) / month$"), "{1} / 月"),
    (re.compile(r"^(.*) \(since 00:00\)$"), "{1}（自 00:00 起）"),
    (re.compile(r"^(.*) / ([\d.]+) h$"), "{1} / {2} 小时"),
    (re.compile(r"^(.*) \(closed\)$"), "{1}（关闭时段）"),
    (re.compile(r"^(.*) \(median (Mon|Tue|Wed|Thu|Fri|Sat|Sun) (\d\d):00\)$"), "{1}（同期周{w}{3}:00 中位数）"),
    (re.compile(r"^(.*) min$"), "{1} 分钟"),
]


def localize(text: str | None, language: str | None) -> str | None:
    """A condition's limit or detail text in ``language``: reading fields by name, phrases in Chinese."""
    if text is None or lang(language) == "en":
        return label(FIELDS, text, "en") if text in FIELDS else text
    if text in FIELDS:
        return label(FIELDS, text, "zh-CN")
    if text in _EXACT_ZH:
        return _EXACT_ZH[text]
    bus = in_chinese(text)  # a meter's health: the gateway's words ("no answer from … after 3 tries")
    if bus is not None:
        return bus
    for pattern, template in _PATTERNS_ZH:
        m = pattern.match(text)
        if m:
            groups = [m.group(0), *(localize(g, language) if g in _EXACT_ZH else g for g in m.groups())]
            return template.format(*groups, w=_WEEKDAY_ZH.get(m.group(2), "") if m.re.groups >= 2 else "")
    return text


def lang(language: str | None) -> str:
    return "en" if (language or "").lower().startswith("en") else "zh"


def words(texts: dict[str, Name]) -> str:
    """What :func:`said` reads back: an alert's words in both languages, as stored (``alerts.texts``)."""
    return json.dumps({k: {"zh": v.zh, "en": v.en} for k, v in texts.items()}, ensure_ascii=False)


def said(alert: Alert, key: str, language: str | None) -> str | None:
    """The alert's own words for ``key`` (subject, detail, limit, unit, reading) in ``language``, if it has them:
    alerts raised from records say their subject and reading in people's words, in both languages."""
    if not alert.texts:
        return None
    entry = json.loads(alert.texts).get(key)
    return None if entry is None else str(entry["en" if lang(language) == "en" else "zh"])


def _num(v: float | None) -> str:
    return "—" if v is None else f"{v:.4g}" if abs(v) < 1e4 else f"{v:,.0f}"


def reading(alert: Alert, language: str | None) -> str:
    """Value against limit as people read it: the alert's own words, else "7.2 mg/L (limit 6.5–8.5)"."""
    own = said(alert, "reading", language)
    if own:
        return own
    unit = said(alert, "unit", language) or alert.unit or ""
    value = f"{_num(alert.value)} {unit}".strip()
    limit = said(alert, "limit", language) or localize(alert.limit_text, language) or "—"
    return f"{value}（限值 {limit}）" if lang(language) == "zh" else f"{value} (limit {limit})"


def render(alert: Alert, event: str, *, language: str | None, rule_name: str, building: str, device: str,
           subject: str, zone: str, tz: dt.tzinfo, ack_url: str | None, actor: str | None = None,
           reason: str | None = None, console_url: str | None = None,
           plan: list[str] | None = None) -> tuple[str, str]:
    """(title, body) for one notice. ``building``, ``device``, ``zone``: names, empty when the alert has none;
    ``subject``: what the alert is about in people's words (a device's, a department's or a round's name). The
    title names what and where without empty parts; a drill's says so first. ``plan``: the lines of the emergency
    plan it activated (its first steps, the checklist's link)."""
    lg = lang(language)
    sev, cat = SEVERITY[lg][alert.severity], CATEGORY[lg][alert.category]
    since = dt.datetime.fromtimestamp(alert.started_ms / 1000, tz).strftime("%Y-%m-%d %H:%M")
    detail = said(alert, "detail", language) or localize(alert.detail, language)
    # what and where: "第一食堂 · 一食堂燃气表"; a round names its place itself; zone-wide: the zone, never "— "
    about = [p for p in (building if building not in subject else "", subject) if p] or ([zone] if zone else [])
    head = f"【{EVENT[lg][event]}·{sev}·{cat}】{rule_name}" if lg == "zh" else \
        f"[{EVENT[lg][event]} · {sev} · {cat}] {rule_name}"
    title = " — ".join([head, " · ".join(about)]) if about else head
    if alert.drill is not None:
        title = DRILL[lg][0] + title
    own = said(alert, "reading", language)
    is_dept = not device and alert.department is not None and alert.subject == alert.department
    if lg == "zh":
        lines = [f"楼栋：{building}（{zone}）" if building and zone else f"楼栋：{building}" if building else
                 f"责任区：{zone}" if zone else "",
                 f"设备：{device}" if device else f"部门：{subject}" if is_dept else f"对象：{subject}",
                 f"情况：{own}" if own else f"数值：{reading(alert, language)}",
                 f"开始：{since}", f"告警编号：#{alert.id}"]
        if detail:
            lines.append(f"说明：{detail}")
        if event == "acknowledged":
            lines.append(f"确认人：{actor or alert.ack_by}{'，' + alert.ack_comment if alert.ack_comment else ''}")
        elif event == "resolved":
            by = actor or alert.resolved_by
            by = "系统" if by == "system" else by
            lines.append(f"恢复：{localize(reason or alert.resolve_reason, language) or '条件已解除'}（{by}）")
        elif ack_url and alert.status == "active":
            lines.append(f"确认（停止升级）：{ack_url}")
        lines += plan or []
        if console_url:
            lines.append(f"详情与近24小时曲线：{console_url}")
    else:
        lines = [f"Building: {building} ({zone})" if building and zone else f"Building: {building}" if building
                 else f"Zone: {zone}" if zone else "",
                 f"Device: {device}" if device else f"Department: {subject}" if is_dept else f"About: {subject}",
                 f"Status: {own}" if own else f"Value: {reading(alert, language)}",
                 f"Since: {since}", f"Alert: #{alert.id}"]
        if detail:
            lines.append(f"Detail: {detail}")
        if event == "acknowledged":
            lines.append(f"Acknowledged by: {actor or alert.ack_by}"
                         f"{' — ' + alert.ack_comment if alert.ack_comment else ''}")
        elif event == "resolved":
            lines.append(f"Resolved: {localize(reason or alert.resolve_reason, language) or 'condition cleared'} "
                         f"({actor or alert.resolved_by})")
        elif ack_url and alert.status == "active":
            lines.append(f"Acknowledge (stops escalation): {ack_url}")
        lines += plan or []
        if console_url:
            lines.append(f"Details and the last 24 h: {console_url}")
    if alert.drill is not None:
        lines.insert(0, DRILL[lg][1])
    return title, "\n".join(line for line in lines if line)
